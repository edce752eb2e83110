package gather

import (
	"context"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Executor runs one invocation of a collector under its limits, with the data sources granted to
// it, and reports what it handed over. Gather, run and check talk to nothing else that runs
// guests. The front door (package wasmcollector) builds the one [runtime] isolation asks for: each
// invocation in a supervised worker process (the default), or in this process.
type Executor interface {
	// Run invokes collector c with req (its slice, parameters, limits and output writer). A
	// failed invocation returns an error; Outcome is filled either way.
	Run(ctx context.Context, c *registry.Collector, req hostfuncs.Request) (Outcome, error)
	// Isolation names how invocations run: IsolationProcess or IsolationInProcess.
	Isolation() string
	// Check loads and checks module m (ABI, the exports its collectors need, memory) and runs
	// nothing; a failure is a *runtime.ModuleError.
	Check(ctx context.Context, m *registry.Module) error
}

// Isolation modes, as [runtime] isolation names them.
const (
	IsolationProcess   = registry.IsolationProcess
	IsolationInProcess = registry.IsolationInProcess
)

// Outcome is what one invocation reported.
type Outcome struct {
	Report  hostfuncs.Report
	Elapsed time.Duration
}

// Request describes an invocation of c over slice s as a collection of type typ: its key, format,
// bounds, parameters and limits. The caller adds the output and logger; the executor adds the
// data sources granted to c. Gather, the front door's Run and modulecheck build every invocation
// through it, so that all three hand a guest the same request.
func Request(c *registry.Collector, s Slice, typ hostfuncs.CollectionType) hostfuncs.Request {
	return hostfuncs.Request{
		Key: c.Key, Format: hostfuncs.Format(c.Format), Since: s.Since, Until: s.Until, FullSync: s.FullSync,
		CollectionType: typ, Params: c.Params, Limits: Limits(c),
	}
}

// Limits converts a collector's registry limits to the host's.
func Limits(c *registry.Collector) hostfuncs.Limits {
	return hostfuncs.Limits{
		MaxJSONBytes:   c.Limits.MaxJSONBytes,
		MaxBatchBytes:  c.Limits.MaxBatchBytes,
		MaxOutputBytes: c.Limits.MaxOutputBytes,
		MaxLogBytes:    c.Limits.MaxLogBytes,
	}
}
