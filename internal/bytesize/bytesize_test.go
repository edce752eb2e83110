package bytesize

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
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
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFormat(t *testing.T) {
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
			require.Equal(t, tt.want, Format(tt.in))
		})
	}
}

func TestApprox(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 512: "512 B", 1024: "1.0 KiB", 18637: "18.2 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		require.Equal(t, want, Approx(in), "Approx(%d)", in)
	}
}

func TestExact(t *testing.T) {
	for in, want := range map[int64]string{64 << 20: "64 MiB", 512 << 10: "512 KiB", 18637: "18.2 KiB", 1000: "1000 B"} {
		require.Equal(t, want, Exact(in), "Exact(%d)", in)
	}
}
