package gather

import (
	"errors"
	"fmt"
	"time"
)

// Window is the time window of one gather, worked out as upstream does (upstream-behaviour.md
// 3.4) with the window length from the TOML (D7).
type Window struct {
	// Since is the explicit start, after clamping; zero when none was given, in which case each
	// collector starts from its own bookkeeping.
	Since time.Time
	// Until is the end of every collector's window.
	Until time.Time
	// LastGather is the fallback start for keys without an entry: the last gather, or the
	// horizon (Until − max window) when there was none or it is older.
	LastGather time.Time
	// Clamps says, one line each, what was moved and why; the gather logs them as warnings.
	Clamps []string
}

// ErrBadInterval is returned when the interval is empty after clamping (D9: exit 2, nothing
// written). Use errors.Is.
var ErrBadInterval = errors.New("gather: bad interval")

// ComputeWindow applies the interval rules: future times are clamped to now; an explicit since
// caps until at since + maxWindow; without since, until defaults to now; since must be before
// until; the last gather is clamped to the horizon until − maxWindow.
func ComputeWindow(now, since, until, lastGather time.Time, maxWindow time.Duration) (Window, error) {
	w := Window{}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if until.After(now) {
		w.Clamps = append(w.Clamps, fmt.Sprintf("end of the interval %s is in the future; using now (%s)", ts(until), ts(now)))
		until = now
	}
	if since.After(now) {
		w.Clamps = append(w.Clamps, fmt.Sprintf("start of the interval %s is in the future; using now (%s)", ts(since), ts(now)))
		since = now
	}
	switch {
	case !since.IsZero() && !until.IsZero():
		if limit := since.Add(maxWindow); until.After(limit) {
			w.Clamps = append(w.Clamps, fmt.Sprintf("end of the interval %s is more than %s after its start; using %s",
				ts(until), formatWindow(maxWindow), ts(limit)))
			until = limit
		}
	case !since.IsZero():
		until = since.Add(maxWindow)
		if until.After(now) {
			until = now
		}
	case until.IsZero():
		until = now
	}
	if !since.IsZero() && !since.Before(until) {
		w.Clamps = append(w.Clamps, fmt.Sprintf("start of the interval %s is not before its end %s", ts(since), ts(until)))
		return w, fmt.Errorf("%w: start %s is not before end %s", ErrBadInterval, ts(since), ts(until))
	}
	horizon := until.Add(-maxWindow)
	if !since.IsZero() && since.Before(horizon) { // unreachable after the cap above; kept for parity
		since = horizon
	}
	switch {
	case lastGather.IsZero():
		lastGather = horizon
	case lastGather.Before(horizon):
		w.Clamps = append(w.Clamps, fmt.Sprintf("last gather %s is more than %s before %s; starting at %s",
			ts(lastGather), formatWindow(maxWindow), ts(until), ts(horizon)))
		lastGather = horizon
	}
	w.Since, w.Until, w.LastGather = since, until, lastGather
	return w, nil
}

// Start returns where a collector's window starts: the explicit since, else the key's entry or
// the last gather, whichever is later, but never before the horizon.
func (w Window) Start(entry time.Time, maxWindow time.Duration) time.Time {
	if !w.Since.IsZero() {
		return w.Since
	}
	start := w.LastGather
	if !entry.IsZero() {
		start = entry
	}
	if horizon := w.Until.Add(-maxWindow); start.Before(horizon) {
		start = horizon
	}
	return start
}

func formatWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
