package gather

import (
	"slices"
	"time"

	"github.com/wasmcollector/wasmcollector/state"
)

// bookkeeping advances the state over what this gather delivered (D3, D4):
//
//   - a key advances to the end of the last slice such that it and every earlier slice of this
//     run was gathered and shipped; a failed or unshipped slice stops it there, so the next run
//     collects that window again;
//   - a key that delivered nothing and has no entry yet gets the start of its window, so that the
//     last gather moving on cannot skip it;
//   - several entries with one key (sliced collectors may share a key) advance it only as far as
//     the one that got least far;
//   - <key>_full moves to when the full sync finished, only when all of it was delivered;
//   - only collector keys are written, and, when final, the last gather moves to the window's end.
//
// Then the pending tarballs (state.Pending) are absorbed: a key advances over its slices the
// ingress acknowledged, in time order up to the first one still pending, and never past one
// that is still pending; records wholly behind their keys' entries are dropped.
//
// It is computed from the state as loaded, so it can be saved after every shipment and again at
// the end: collectors that have not run yet are left alone until then.
func (g *gatherer) bookkeeping(final bool) state.State {
	st := g.base.Clone()
	type progress struct {
		end     time.Time
		stalled bool
		start   time.Time
	}
	byKey := map[string]*progress{}
	var order []string
	for _, r := range g.runs {
		if r.c.Config || len(r.slices) == 0 || (!final && !r.slices[0].attempted()) {
			continue
		}
		p := byKey[r.c.Key]
		if p == nil {
			p = &progress{start: r.slices[0].slice.Since}
			byKey[r.c.Key] = p
			order = append(order, r.c.Key)
		}
		var end, finished time.Time
		all := true
		for _, s := range r.slices {
			if !s.delivered() {
				all = false
				break
			}
			end = s.slice.Until
			if s.finished.After(finished) {
				finished = s.finished
			}
		}
		switch {
		case end.IsZero():
			p.stalled = true
		case p.end.IsZero() || end.Before(p.end):
			p.end = end
		}
		if r.fullSync && all {
			st.Entries[r.c.Key+"_full"] = finished
		}
	}
	for _, key := range order {
		p := byKey[key]
		if from := unacknowledgedFrom(g.pending, key); !from.IsZero() && p.end.After(from) {
			p.end = from // never past data that is still pending
		}
		switch {
		case !p.stalled && p.end.After(st.Entries[key]):
			st.Entries[key] = p.end
		case p.stalled && st.Entries[key].IsZero():
			st.Entries[key] = p.start
		}
	}
	if final {
		st.LastGather = g.window.Until
	}
	st.Pending = slices.Clone(g.pending)
	absorb(&st)
	return st
}
