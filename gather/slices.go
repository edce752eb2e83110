package gather

import (
	"time"

	"github.com/wasmcollector/wasmcollector/registry"
)

// Slice is the window of one invocation: (Since, Until].
type Slice struct {
	Since, Until time.Time
	// FullSync is set on every slice of a full sync (upstream 5.3); the guest reads it from
	// slice_bounds.
	FullSync bool
}

// Slices cuts (start, until] as a collector's TOML slicing says (D11): one slice when unsliced;
// consecutive fixed intervals from start, the last one shortened; or calendar days in UTC, the
// first ending at the first midnight after start. An empty window has no slices.
func Slices(s registry.Slicing, start, until time.Time, fullSync bool) []Slice {
	if !start.Before(until) {
		return nil
	}
	next := func(t time.Time) time.Time { return until }
	switch s.Kind {
	case registry.SliceFixed:
		next = func(t time.Time) time.Time { return t.Add(s.Interval) }
	case registry.SliceDaily:
		next = func(t time.Time) time.Time {
			y, m, d := t.UTC().Date()
			return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		}
	}
	var out []Slice
	for from := start; from.Before(until); {
		to := next(from)
		if to.After(until) {
			to = until
		}
		out = append(out, Slice{Since: from, Until: to, FullSync: fullSync})
		from = to
	}
	return out
}
