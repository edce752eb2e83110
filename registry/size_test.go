package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
