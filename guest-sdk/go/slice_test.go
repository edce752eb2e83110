package collector

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

func sliceRecord(since, until int64, flags uint32) *[abi.SliceRecordSize]byte {
	var rec [abi.SliceRecordSize]byte
	binary.LittleEndian.PutUint64(rec[abi.SliceSinceOffset:], uint64(since))
	binary.LittleEndian.PutUint64(rec[abi.SliceUntilOffset:], uint64(until))
	binary.LittleEndian.PutUint32(rec[abi.SliceFlagsOffset:], flags)
	return &rec
}

func TestDecodeSlice(t *testing.T) {
	since := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 3, 1, 4, 0, 0, 123, time.UTC)
	tests := []struct {
		name string
		rec  *[abi.SliceRecordSize]byte
		want SliceInfo
		str  string
	}{
		{"unset", sliceRecord(0, 0, 0), SliceInfo{}, "(-, -]"},
		{"both set", sliceRecord(since.UnixNano(), until.UnixNano(), abi.SliceFlagSinceSet|abi.SliceFlagUntilSet),
			SliceInfo{Since: since, Until: until, HasSince: true, HasUntil: true},
			"(2025-03-01T00:00:00Z, 2025-03-01T04:00:00.000000123Z]"},
		{"until only, full sync", sliceRecord(0, until.UnixNano(), abi.SliceFlagUntilSet|abi.SliceFlagFullSync),
			SliceInfo{Until: until, HasUntil: true, FullSync: true},
			"(-, 2025-03-01T04:00:00.000000123Z]"},
		{"epoch since is set by flag, not by value", sliceRecord(0, 1, abi.SliceFlagSinceSet|abi.SliceFlagUntilSet),
			SliceInfo{Since: time.Unix(0, 0).UTC(), Until: time.Unix(0, 1).UTC(), HasSince: true, HasUntil: true},
			"(1970-01-01T00:00:00Z, 1970-01-01T00:00:00.000000001Z]"},
		{"values ignored without flags", sliceRecord(5, 6, 0), SliceInfo{}, "(-, -]"},
		{"before the epoch", sliceRecord(-1_000_000_000, 0, abi.SliceFlagSinceSet),
			SliceInfo{Since: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), HasSince: true},
			"(1969-12-31T23:59:59Z, -]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeSlice(tt.rec)
			if got != tt.want {
				t.Fatalf("decodeSlice = %+v, want %+v", got, tt.want)
			}
			if got.HasSince && got.Since.Location() != time.UTC || got.HasUntil && got.Until.Location() != time.UTC {
				t.Fatalf("bounds not in UTC: %v", got)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestSliceContains(t *testing.T) {
	since := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	s := SliceInfo{Since: since, Until: until, HasSince: true, HasUntil: true}
	tests := []struct {
		name  string
		slice SliceInfo
		t     time.Time
		want  bool
	}{
		{"since is excluded", s, since, false},
		{"just after since", s, since.Add(1), true},
		{"until is included", s, until, true},
		{"after until", s, until.Add(1), false},
		{"open start", SliceInfo{Until: until, HasUntil: true}, time.Unix(0, 0), true},
		{"open end", SliceInfo{Since: since, HasSince: true}, until.Add(time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.slice.Contains(tt.t); got != tt.want {
				t.Fatalf("Contains(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestCollectionTypeName(t *testing.T) {
	tests := []struct {
		code int32
		want string
	}{
		{abi.CollectionDryRun, "dry-run"},
		{abi.CollectionManual, "manual"},
		{abi.CollectionScheduled, "scheduled"},
		{0, ""},
		{4, ""},
	}
	for _, tt := range tests {
		if got := collectionTypeName(tt.code); got != tt.want {
			t.Errorf("collectionTypeName(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}
