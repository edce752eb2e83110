package gather

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/registry"
)

func TestSlices(t *testing.T) {
	at := func(d, h, m int) time.Time { return time.Date(2024, 6, d, h, m, 0, 0, time.UTC) }
	fixed := func(d time.Duration) registry.Slicing {
		return registry.Slicing{Kind: registry.SliceFixed, Interval: d}
	}
	daily := registry.Slicing{Kind: registry.SliceDaily}
	tests := []struct {
		name         string
		slicing      registry.Slicing
		start, until time.Time
		want         [][2]time.Time
	}{
		{"unsliced", registry.Slicing{}, at(1, 0, 0), at(3, 0, 0), [][2]time.Time{{at(1, 0, 0), at(3, 0, 0)}}},
		{"4h, exact", fixed(4 * time.Hour), at(1, 0, 0), at(1, 12, 0),
			[][2]time.Time{{at(1, 0, 0), at(1, 4, 0)}, {at(1, 4, 0), at(1, 8, 0)}, {at(1, 8, 0), at(1, 12, 0)}}},
		{"4h, last shortened", fixed(4 * time.Hour), at(1, 1, 30), at(1, 9, 0),
			[][2]time.Time{{at(1, 1, 30), at(1, 5, 30)}, {at(1, 5, 30), at(1, 9, 0)}}},
		{"window shorter than a slice", fixed(4 * time.Hour), at(1, 1, 0), at(1, 2, 0), [][2]time.Time{{at(1, 1, 0), at(1, 2, 0)}}},
		{"daily, first slice ends at the next midnight", daily, at(1, 15, 0), at(3, 6, 0),
			[][2]time.Time{{at(1, 15, 0), at(2, 0, 0)}, {at(2, 0, 0), at(3, 0, 0)}, {at(3, 0, 0), at(3, 6, 0)}}},
		{"daily from midnight", daily, at(1, 0, 0), at(3, 0, 0), [][2]time.Time{{at(1, 0, 0), at(2, 0, 0)}, {at(2, 0, 0), at(3, 0, 0)}}},
		{"daily across a month end", daily, time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC), time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC),
			[][2]time.Time{{time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC), time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)},
				{time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)}}},
		{"empty window", fixed(time.Hour), at(2, 0, 0), at(2, 0, 0), nil},
		{"inverted window", registry.Slicing{}, at(3, 0, 0), at(2, 0, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Slices(tt.slicing, tt.start, tt.until, false)
			var pairs [][2]time.Time
			for _, s := range got {
				pairs = append(pairs, [2]time.Time{s.Since, s.Until})
			}
			require.Equal(t, tt.want, pairs)
		})
	}
	t.Run("28 days of 4h slices", func(t *testing.T) {
		require.Len(t, Slices(fixed(4*time.Hour), at(2, 0, 0), at(30, 0, 0), true), 168)
	})
}
