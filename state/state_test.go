package state

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	t0 = time.Date(2026, 11, 26, 16, 16, 54, 531620000, time.UTC)
	t1 = time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)
	t2 = time.Date(2026, 11, 20, 3, 12, 9, 100000000, time.UTC)
)

func TestClone(t *testing.T) {
	s := State{LastGather: t0, Entries: map[string]time.Time{"a": t1}}
	c := s.Clone()
	require.Equal(t, s, c)
	c.Entries["b"] = t2
	require.NotContains(t, s.Entries, "b", "the clone shares no map with the original")

	require.NotNil(t, State{}.Clone().Entries)
}

func TestReset(t *testing.T) {
	full := func() State {
		return State{LastGather: t0, Entries: map[string]time.Time{
			"events": t1, "events_full": t2, "events_2": t1, "jobs": t1,
		}}
	}
	tests := []struct {
		name  string
		start State
		key   string
		want  State
	}{
		{
			name:  "key and its full sync",
			start: full(),
			key:   "events",
			want:  State{LastGather: t0, Entries: map[string]time.Time{"events_2": t1, "jobs": t1}},
		},
		{
			name:  "key without full sync",
			start: full(),
			key:   "jobs",
			want:  State{LastGather: t0, Entries: map[string]time.Time{"events": t1, "events_full": t2, "events_2": t1}},
		},
		{
			name:  "unknown key changes nothing",
			start: full(),
			key:   "nope",
			want:  full(),
		},
		{
			name:  "everything",
			start: full(),
			key:   "",
			want:  State{Entries: map[string]time.Time{}},
		},
		{
			name:  "nil entries",
			start: State{LastGather: t0},
			key:   "events",
			want:  State{LastGather: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start
			s.Reset(tt.key)
			require.Equal(t, tt.want, s)
		})
	}
}
