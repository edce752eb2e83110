package gather

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func day(m time.Month, d int) time.Time { return time.Date(2024, m, d, 0, 0, 0, 0, time.UTC) }

// TestComputeWindow is the examples table of upstream-behaviour.md 3.4 (N = 2024-06-30, W = 28
// days), plus the clamps and the D7 window length.
func TestComputeWindow(t *testing.T) {
	const w = 28 * 24 * time.Hour
	now := day(6, 30)
	var none time.Time
	tests := []struct {
		name                    string
		since, until, lg, entry time.Time
		window                  time.Duration
		wantSince, wantUntil    time.Time
		clamps                  int
		err                     bool
	}{
		{name: "no history", wantSince: day(6, 2), wantUntil: day(6, 30)},
		{name: "last gather", lg: day(6, 29), wantSince: day(6, 29), wantUntil: day(6, 30)},
		{name: "entry beats last gather", lg: day(6, 29), entry: day(6, 29).Add(12 * time.Hour), wantSince: day(6, 29).Add(12 * time.Hour), wantUntil: day(6, 30)},
		{name: "both older than the horizon", lg: day(4, 1), entry: day(5, 1), wantSince: day(6, 2), wantUntil: day(6, 30), clamps: 1},
		{name: "since only", since: day(6, 1), lg: day(6, 29), entry: day(6, 29), wantSince: day(6, 1), wantUntil: day(6, 29)},
		{name: "until cut to since plus window", since: day(5, 1), until: day(6, 30), wantSince: day(5, 1), wantUntil: day(5, 29), clamps: 1},
		{name: "horizon moves with until", until: day(6, 20), wantSince: day(5, 23), wantUntil: day(6, 20)},
		{name: "future since", since: time.Date(2024, 7, 5, 0, 0, 0, 0, time.UTC), err: true, clamps: 2},
		{name: "since after until", since: day(6, 20), until: day(6, 10), err: true, clamps: 1},
		{name: "future until clamped", until: time.Date(2024, 7, 5, 0, 0, 0, 0, time.UTC), lg: day(6, 29), wantSince: day(6, 29), wantUntil: day(6, 30), clamps: 1},
		{name: "shorter window (D7)", window: 7 * 24 * time.Hour, lg: day(6, 1), wantSince: day(6, 23), wantUntil: day(6, 30), clamps: 1},
		{name: "since only, capped at now", since: day(6, 20), wantSince: day(6, 20), wantUntil: day(6, 30)},
		{name: "equal since and until", since: day(6, 10), until: day(6, 10), err: true, clamps: 1},
		{name: "entry in the future of until starts at the entry", until: day(6, 20), entry: day(6, 25), wantSince: day(6, 25), wantUntil: day(6, 20)},
		{name: "explicit since wins over entry", since: day(6, 10), until: day(6, 12), entry: day(6, 11), wantSince: day(6, 10), wantUntil: day(6, 12)},
		{name: "zero last gather and zero entry", since: none, wantSince: day(6, 2), wantUntil: day(6, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			win := tt.window
			if win == 0 {
				win = w
			}
			got, err := ComputeWindow(now, tt.since, tt.until, tt.lg, win)
			require.Len(t, got.Clamps, tt.clamps, "clamps: %q", got.Clamps)
			if tt.err {
				require.ErrorIs(t, err, ErrBadInterval)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantUntil, got.Until)
			require.Equal(t, tt.wantSince, got.Start(tt.entry, win))
		})
	}
}
