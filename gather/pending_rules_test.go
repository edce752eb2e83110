package gather

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/state"
)

func TestAbsorbAndCovered(t *testing.T) {
	h := func(n int) time.Time { return time.Date(2026, 11, 26, n, 0, 0, 0, time.UTC) }
	slice := func(key string, from, to, part, parts int) state.PendingSlice {
		return state.PendingSlice{Key: key, Since: h(from), Until: h(to), Part: part, Parts: parts}
	}
	rec := func(name string, shipped bool, slices ...state.PendingSlice) state.Pending {
		return state.Pending{Name: name, Path: "/p/" + name, SHA256: strings.Repeat("a", 64), Shipped: shipped, Slices: slices}
	}
	tests := []struct {
		name        string
		entry       time.Time
		pending     []state.Pending
		wantEntry   time.Time
		wantKept    []string // names of the records left
		wantCovered time.Time
	}{
		{name: "nothing pending", entry: h(1), wantEntry: h(1)},
		{name: "one shipped slice advances and is dropped", entry: h(1),
			pending: []state.Pending{rec("a", true, slice("k", 1, 2, 1, 1))}, wantEntry: h(2), wantCovered: h(2)},
		{name: "unshipped slice holds the key but covers its window", entry: h(1),
			pending: []state.Pending{rec("a", false, slice("k", 1, 2, 1, 1))}, wantEntry: h(1), wantKept: []string{"a"}, wantCovered: h(2)},
		{name: "a later shipped slice waits for the earlier pending one", entry: h(1),
			pending:   []state.Pending{rec("a", false, slice("k", 1, 2, 1, 1)), rec("b", true, slice("k", 2, 3, 1, 1))},
			wantEntry: h(1), wantKept: []string{"a", "b"}, wantCovered: h(3)},
		{name: "both shipped: the key moves over both", entry: h(1),
			pending:   []state.Pending{rec("b", true, slice("k", 2, 3, 1, 1)), rec("a", true, slice("k", 1, 2, 1, 1))},
			wantEntry: h(3), wantCovered: h(3)},
		{name: "a slice in two parts advances only when both shipped", entry: h(1),
			pending:   []state.Pending{rec("a", true, slice("k", 1, 2, 1, 2)), rec("b", false, slice("k", 1, 2, 2, 2))},
			wantEntry: h(1), wantKept: []string{"a", "b"}, wantCovered: h(2)},
		{name: "a slice with a part never recorded is collected again", entry: h(1),
			pending:   []state.Pending{rec("a", true, slice("k", 1, 2, 1, 2)), rec("c", true, slice("k", 2, 3, 1, 1))},
			wantEntry: h(1), wantKept: []string{"a", "c"}, wantCovered: time.Time{}},
		{name: "other keys in the same tarball wait for theirs", entry: h(1),
			pending:   []state.Pending{rec("a", true, slice("k", 1, 2, 1, 1), slice("other", 1, 2, 1, 1)), rec("b", false, slice("other", 0, 1, 1, 1))},
			wantEntry: h(2), wantKept: []string{"a", "b"}, wantCovered: h(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantCovered, covered(tt.pending, "k"), "covered")
			st := state.State{Entries: map[string]time.Time{"k": tt.entry}, Pending: tt.pending}
			absorb(&st)
			require.Equal(t, tt.wantEntry, st.Entries["k"], "entry")
			var kept []string
			for _, p := range st.Pending {
				kept = append(kept, p.Name)
			}
			require.Equal(t, tt.wantKept, kept)
		})
	}
}
