package collector

import (
	"math/rand"
	"testing"
	"time"
)

// TestAppendRFC3339Nano: the hand-written formatter writes exactly what time.RFC3339Nano does,
// over the whole range of years and fractions, on both sides of the epoch.
func TestAppendRFC3339Nano(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	times := []time.Time{
		time.Unix(0, 0), time.Unix(-1, 999999000), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2000, 2, 29, 12, 0, 0, 5, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 100000000, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 0, 0, 6, 123456000, time.UTC),
	}
	for range 200000 {
		times = append(times, time.Unix(r.Int63n(2*253402300800)-62135596800, int64(r.Intn(1e9))))
		times = append(times, time.Unix(r.Int63n(4e9), int64(r.Intn(1000))*1e6))
	}
	var cache dateCache
	for i, ts := range times {
		want := ts.UTC().Format(time.RFC3339Nano)
		if got := string(appendRFC3339Nano(nil, ts.Unix(), ts.Nanosecond())); got != want {
			t.Fatalf("%d.%09d: %s, want %s", ts.Unix(), ts.Nanosecond(), got, want)
		}
		// Through the cache, also for a second time on the same day.
		next := ts.Add(time.Duration(i%3) * time.Second)
		for _, tt := range []time.Time{ts, next} {
			if got, want := string(appendRFC3339NanoCached(nil, tt.Unix(), tt.Nanosecond(), &cache)), tt.UTC().Format(time.RFC3339Nano); got != want {
				t.Fatalf("cached %d.%09d: %s, want %s", tt.Unix(), tt.Nanosecond(), got, want)
			}
		}
	}
}
