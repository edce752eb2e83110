package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr string
	}{
		{name: "bytes", in: "1024", want: 1024},
		{name: "zero", in: "0", want: 0},
		{name: "explicit bytes", in: "10B", want: 10},
		{name: "KiB", in: "512KiB", want: 512 << 10},
		{name: "MiB", in: "64MiB", want: 64 << 20},
		{name: "space before unit", in: "16 MiB", want: 16 << 20},
		{name: "GiB", in: "1GiB", want: 1 << 30},
		{name: "TiB", in: "2TiB", want: 2 << 40},
		{name: "decimal MB", in: "100MB", want: 100_000_000},
		{name: "decimal KB", in: "3KB", want: 3000},
		{name: "unit case ignored", in: "64mib", want: 64 << 20},
		{name: "surrounding spaces", in: " 8 KiB ", want: 8 << 10},
		{name: "largest", in: "9223372036854775807", want: 1<<63 - 1},
		{name: "empty", in: "", wantErr: `invalid size "": want a number of bytes with an optional unit, such as "64MiB"`},
		{name: "unit only", in: "MiB", wantErr: `invalid size "MiB": want a number`},
		{name: "negative", in: "-5", wantErr: `invalid size "-5": want a number`},
		{name: "fraction", in: "1.5GiB", wantErr: `invalid size "1.5GiB": fractions are not supported, use a smaller unit`},
		{name: "unknown unit", in: "12XB", wantErr: `invalid size "12XB": unknown unit "XB" (valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)`},
		{name: "bare prefix", in: "5M", wantErr: `unknown unit "M"`},
		{name: "overflow by unit", in: "9000000TiB", wantErr: `invalid size "9000000TiB": too large`},
		{name: "overflow by digits", in: "99999999999999999999", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		name string
		in   int64
		want string
	}{
		{"bytes", 1500000, "1500000 bytes"},
		{"zero", 0, "0 bytes"},
		{"KiB", 512 << 10, "512 KiB"},
		{"GiB", 8 << 30, "8 GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formatSize(tt.in))
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "days", in: "28d", want: 28 * 24 * time.Hour},
		{name: "one day", in: "1d", want: 24 * time.Hour},
		{name: "zero days", in: "0d", want: 0},
		{name: "leading zeros", in: "007d", want: 7 * 24 * time.Hour},
		{name: "surrounding spaces", in: " 3d ", want: 3 * 24 * time.Hour},
		{name: "Go duration", in: "672h", want: 672 * time.Hour},
		{name: "Go duration, mixed units", in: "1h30m", want: 90 * time.Minute},
		{name: "negative Go duration", in: "-5h", want: -5 * time.Hour},
		{name: "largest days", in: "106751d", want: 106751 * 24 * time.Hour},
		{name: "empty", in: "", wantErr: `invalid duration "": use a Go duration such as "672h" or whole days such as "28d"`},
		{name: "d alone", in: "d", wantErr: `invalid duration "d": use a Go duration`},
		{name: "fraction of days", in: "1.5d", wantErr: `invalid duration "1.5d"`},
		{name: "days mixed with hours", in: "1d12h", wantErr: `invalid duration "1d12h"`},
		{name: "negative days", in: "-3d", wantErr: `invalid duration "-3d"`},
		{name: "upper-case D", in: "3D", wantErr: `invalid duration "3D"`},
		{name: "space before unit", in: "3 d", wantErr: `invalid duration "3 d"`},
		{name: "bare number", in: "28", wantErr: `invalid duration "28"`},
		{name: "too many days", in: "106752d", wantErr: `invalid duration "106752d": too large`},
		{name: "overflowing digits", in: "99999999999999999999d", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
