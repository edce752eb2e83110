package packaging

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The expected texts are what Python 3 prints for str(datetime) and timedelta.seconds.
func TestPyTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"zero is empty", time.Time{}, ""},
		{"microseconds", time.Date(2026, 11, 26, 16, 16, 54, 531620000, time.UTC), "2026-11-26 16:16:54.531620+00:00"},
		{"leading zero microseconds", time.Date(2026, 11, 26, 16, 16, 54, 1000, time.UTC), "2026-11-26 16:16:54.000001+00:00"},
		{"no fraction when whole", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), "2026-11-26 00:00:00+00:00"},
		{"nanoseconds truncated", time.Date(2026, 11, 26, 0, 0, 0, 999, time.UTC), "2026-11-26 00:00:00+00:00"},
		{"converted to utc", time.Date(2026, 11, 26, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-11-26 00:00:00+00:00"},
		{"year padded", time.Date(5, 1, 2, 0, 0, 0, 0, time.UTC), "0005-01-02 00:00:00+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, pyTime(tt.in))
		})
	}
}

func TestPyElapsed(t *testing.T) {
	start := time.Date(2026, 11, 26, 16, 16, 54, 531620000, time.UTC)
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"none", 0, "0"},
		{"truncated", 1900 * time.Millisecond, "1"},
		{"below a microsecond ignored", 999 * time.Nanosecond, "0"},
		{"days dropped", 24*time.Hour + 5900*time.Millisecond, "5"},
		{"minus one second", -time.Second, "86399"},
		{"minus half a second", -500 * time.Millisecond, "86399"},
		{"minus a day and a second", -24*time.Hour - time.Second, "86399"},
		{"minus exactly a day", -24 * time.Hour, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, pyElapsed(start, start.Add(tt.d)))
		})
	}
	t.Run("zero start or finish is 0", func(t *testing.T) {
		require.Equal(t, "0", pyElapsed(time.Time{}, start))
		require.Equal(t, "0", pyElapsed(start, time.Time{}))
	})
}

func TestStatusCSV(t *testing.T) {
	tests := []struct {
		name string
		rows []StatusRow
		want string
	}{
		{"header only", nil, "collection_start_timestamp,since,until,file_name,status,elapsed\r\n"},
		{
			"minimal quoting",
			[]StatusRow{{"", "", "", `a,b"c` + "\n\r.csv", "ok", "0"}, {"t", "s", "u", " sp\tx ", "failed", "1"}},
			"collection_start_timestamp,since,until,file_name,status,elapsed\r\n" +
				",,,\"a,b\"\"c\n\r.csv\",ok,0\r\n" +
				"t,s,u, sp\tx ,failed,1\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendStatusCSV(nil, tt.rows)
			require.Equal(t, tt.want, string(got))
			back, err := parseStatus(got)
			require.NoError(t, err)
			if tt.rows == nil {
				require.Empty(t, back)
			} else {
				require.Equal(t, tt.rows, back)
			}
		})
	}
}
