package wasmcollector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/replay"
)

// RunOptions say which collector [Host.Run] runs, for which slice, and where its output goes.
type RunOptions struct {
	// Key is the collector's key.
	Key string
	// Function picks the entry with this export when several entries share the key (sliced
	// collectors may); default the first.
	Function string
	// Since and Until bound the slice (Since, Until]. Until defaults to now, Since to one slice
	// before Until: the collector's slicing interval, or a day. The config collector gets no
	// slice unless one is given.
	Since, Until time.Time
	// FullSync tells the collector this is a full sync.
	FullSync bool
	// Params override the collector's TOML params, by name.
	Params map[string]any
	// Output receives the JSON document, or the CSV header and rows, one row per Write.
	Output io.Writer
	// Record, when set, records the invocation (what the host gave the guest and what it
	// produced) for `wasmcollector replay`; make it with replay.NewFileRecorder.
	Record *replay.Recorder
}

// RunResult is what [Host.Run] ran and what the invocation reported.
type RunResult struct {
	// Collector is (a copy of) the registry entry that ran.
	Collector *registry.Collector
	// Since and Until are the slice it ran for; zero for the config collector without one.
	Since, Until time.Time
	// Outcome is what the invocation handed over, and how long it took.
	gather.Outcome
}

// ErrEmptySlice is returned by [Host.Run] when Since is not before Until.
var ErrEmptySlice = errors.New("wasmcollector: empty slice")

// CollectorError says why [Host.Run] has nothing to run for a key.
type CollectorError struct {
	// Key is the key asked for; Function the export asked for, if any.
	Key, Function string
	// Disabled is the module the collector lives in when its sidecar has problems; nil when
	// the key or function is not in the registry at all.
	Disabled *registry.DisabledModule
}

func (e *CollectorError) Error() string {
	switch {
	case e.Disabled != nil:
		return fmt.Sprintf("collector %q does not run: its module %s is disabled by problems in its sidecar:\n%s",
			e.Key, e.Disabled.Name, e.Disabled.Problems.Error())
	case e.Function != "":
		return fmt.Sprintf("collector %q has no entry with function %q", e.Key, e.Function)
	}
	return fmt.Sprintf("no collector with key %q", e.Key)
}

// Run runs one collector for one slice, in the same sandbox and under the same limits as a
// gather, and writes its output to opts.Output. Nothing is packaged, shipped or entered in the
// bookkeeping (opts.Record may keep the invocation for replay): it is a vendor's development
// loop, and a product's way to show what a collector sends. The
// result is filled even when the invocation fails (a *runtime.InvocationError says how).
func (h *Host) Run(ctx context.Context, opts RunOptions) (*RunResult, error) {
	c, err := h.pick(opts.Key, opts.Function)
	if err != nil {
		return nil, err
	}
	res := &RunResult{Collector: c.Clone(), Since: opts.Since, Until: opts.Until}
	if !c.Config || !res.Since.IsZero() || !res.Until.IsZero() {
		if res.Until.IsZero() {
			res.Until = h.now().UTC().Truncate(time.Second)
		}
		if res.Since.IsZero() {
			width := 24 * time.Hour
			if c.Slicing.Kind == registry.SliceFixed {
				width = c.Slicing.Interval
			}
			res.Since = res.Until.Add(-width)
		}
		if !res.Since.Before(res.Until) {
			return nil, fmt.Errorf("%w: since %s is not before until %s", ErrEmptySlice,
				res.Since.Format(time.RFC3339), res.Until.Format(time.RFC3339))
		}
	}
	params := maps.Clone(c.Params)
	if len(opts.Params) > 0 {
		if params == nil {
			params = map[string]any{}
		}
		maps.Copy(params, opts.Params)
	}
	exec, err := h.Executor(ctx)
	if err != nil {
		return nil, err
	}
	ctx = replay.WithRecorder(ctx, opts.Record)
	req := gather.Request(c, gather.Slice{Since: res.Since, Until: res.Until, FullSync: opts.FullSync}, DryRun)
	req.Params, req.Output, req.Logger = params, opts.Output, h.log
	res.Outcome, err = exec.Run(ctx, c, req)
	return res, err
}

// pick finds the collector Run runs.
func (h *Host) pick(key, function string) (*registry.Collector, error) {
	cs := h.reg.Collector(key)
	if len(cs) == 0 {
		for _, d := range h.reg.Disabled {
			for _, c := range d.Collectors {
				if c.Key == key {
					return nil, &CollectorError{Key: key, Disabled: d}
				}
			}
		}
		return nil, &CollectorError{Key: key}
	}
	if function == "" {
		return cs[0], nil
	}
	for _, c := range cs {
		if c.Function == function {
			return c, nil
		}
	}
	return nil, &CollectorError{Key: key, Function: function}
}
