package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSlicingString(t *testing.T) {
	tests := []struct {
		name string
		s    Slicing
		want string
	}{
		{"zero value", Slicing{}, "none"},
		{"daily", Slicing{Kind: SliceDaily}, "daily"},
		{"fixed as written", Slicing{Kind: SliceFixed, Interval: 4 * time.Hour, text: "240m"}, "240m"},
		{"fixed built in Go, hours", Slicing{Kind: SliceFixed, Interval: 4 * time.Hour}, "4h"},
		{"fixed built in Go, minutes", Slicing{Kind: SliceFixed, Interval: 90 * time.Minute}, "1h30m"},
		{"fixed built in Go, seconds", Slicing{Kind: SliceFixed, Interval: 90 * time.Second}, "1m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.s.String())
		})
	}
}

func TestParseSlicing(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Slicing
		wantErr string
	}{
		{name: "empty", in: "", want: Slicing{}},
		{name: "none", in: "none", want: Slicing{}},
		{name: "daily", in: "daily", want: Slicing{Kind: SliceDaily, text: "daily"}},
		{name: "hours", in: "4h", want: Slicing{Kind: SliceFixed, Interval: 4 * time.Hour, text: "4h"}},
		{name: "shortest", in: "1m", want: Slicing{Kind: SliceFixed, Interval: time.Minute, text: "1m"}},
		{name: "longest", in: "672h", want: Slicing{Kind: SliceFixed, Interval: 28 * 24 * time.Hour, text: "672h"}},
		{name: "too short", in: "59s", wantErr: "at least 1m0s"},
		{name: "too long", in: "673h", wantErr: "at most 672h0m0s"},
		{name: "negative", in: "-4h", wantErr: "at least 1m0s"},
		{name: "word", in: "Daily", wantErr: `invalid slicing "Daily": use "none", "daily" or a duration such as "4h"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := parseSlicing(tt.in)
			if tt.wantErr != "" {
				require.Contains(t, msg, tt.wantErr)
				return
			}
			require.Empty(t, msg)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSlicingKindString(t *testing.T) {
	require.Equal(t, "none", SliceNone.String())
	require.Equal(t, "fixed", SliceFixed.String())
	require.Equal(t, "daily", SliceDaily.String())
}
