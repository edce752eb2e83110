package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/internal/worker"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/replay"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// ProcessExecutor runs every invocation in a worker process of a [worker.Pool]: guest code runs
// with wazero's interrupt flag off (full speed), every deadline is enforced by killing the worker,
// and nothing a module does (a compile bomb, a table or memory bomb, host-side work, a crash) can
// reach this process. Data sources are opened by the workers, read-only, as in-process. It is safe
// for concurrent use; Close it when done.
type ProcessExecutor struct {
	pool *worker.Pool
	reg  *registry.Registry
	log  *slog.Logger

	mu     sync.Mutex
	failed map[*registry.Module]error // modules that failed to load: their later collectors fail at once
	// bad are the collector functions each module lacks: their collectors fail at once, and the
	// module's other collectors load it without them.
	bad     map[*registry.Module]map[string]*runtime.FunctionError
	sources map[string]datasource.Config // data sources with their secrets resolved, once per executor
}

// NewProcessExecutor returns an executor for reg's collectors running in a pool of worker
// processes (reg's [runtime] workers, default one per CPU).
func NewProcessExecutor(reg *registry.Registry, log *slog.Logger) *ProcessExecutor {
	if log == nil {
		log = slog.Default()
	}
	return &ProcessExecutor{
		pool: worker.NewPool(worker.Config{Size: reg.Runtime.Workers, Logger: log}),
		reg:  reg, log: log, failed: map[*registry.Module]error{}, sources: map[string]datasource.Config{},
		bad: map[*registry.Module]map[string]*runtime.FunctionError{},
	}
}

// Isolation implements Executor.
func (x *ProcessExecutor) Isolation() string { return gather.IsolationProcess }

// Parallelism is how many invocations the executor runs at once: the gather runs that many
// ahead of the one it is placing.
func (x *ProcessExecutor) Parallelism() int { return x.pool.Size() }

// Prestart starts n workers ahead of the first invocation.
func (x *ProcessExecutor) Prestart(n int) error { return x.pool.Prestart(n) }

// Close stops the workers.
func (x *ProcessExecutor) Close() error { return x.pool.Close() }

// WorkerStats returns the pool's counters: workers started, killed and dead.
func (x *ProcessExecutor) WorkerStats() worker.Stats { return x.pool.Stats() }

// splitOutput is an output a worker can write itself: a [packaging.Splitter].
type splitOutput interface {
	Target() (dir, name string, maxBytes int64)
	Compression() (packaging.MemberSpec, bool)
	Adopt(parts []packaging.Part) error
}

// Run implements Executor. A module that fails to load fails every collector in it, each with
// the same *runtime.ModuleError; a collector function the module lacks fails only the
// collectors calling it.
func (x *ProcessExecutor) Run(ctx context.Context, c *registry.Collector, req hostfuncs.Request) (gather.Outcome, error) {
	for {
		x.mu.Lock()
		err, fe := x.failed[c.Module], x.bad[c.Module][c.Function]
		x.mu.Unlock()
		switch {
		case err != nil:
			return gather.Outcome{}, err
		case fe != nil:
			return gather.Outcome{}, FunctionFailure(c, fe)
		}
		out, err, retry := x.run(ctx, c, req)
		if !retry {
			return out, err
		}
		// The module lacks another collector's function: it failed to load before running
		// anything, and loads now without that function.
	}
}

// run runs one job for Run. retry says the module failed to load for lacking functions that
// are now known, c's function not among them.
func (x *ProcessExecutor) run(ctx context.Context, c *registry.Collector, req hostfuncs.Request) (_ gather.Outcome, _ error, retry bool) {
	job, err := x.job(c, req)
	if err != nil {
		return gather.Outcome{}, err, false
	}
	var stream io.Writer
	split, isSplit := req.Output.(splitOutput)
	if isSplit {
		job.Output.Dir, job.Output.Name, job.Output.MaxBytes = split.Target()
		if spec, ok := split.Compression(); ok {
			job.Output.Compress = &spec
		}
		job.Output.Kind = worker.OutputSplit
	} else {
		job.Output.Kind, stream = worker.OutputStream, req.Output
	}
	log := req.Logger
	if log == nil {
		log = x.log
	}
	rec := replay.RecorderFrom(ctx)
	if rec != nil {
		if spec, ok := rec.Begin(c.Key, c.Function, req.Since); ok {
			job.Record = &spec
		}
	}
	res, err := x.pool.Run(ctx, job, stream, log)
	if job.Record != nil {
		x.settleRecord(rec, job.Record, c, res)
	}
	if err != nil {
		return gather.Outcome{}, err, false
	}
	out := gather.Outcome{Elapsed: res.Elapsed, Report: hostfuncs.Report{
		Rows: res.Report.Rows, Bytes: res.Report.Bytes, JSONDocuments: res.Report.JSONDocuments,
		LogDropped: res.Report.LogDropped, FailMessage: res.Report.FailMessage,
	}}
	if res.Report.Refused != nil {
		out.Report.Refused = res.Report.Refused
	}
	if isSplit && res.Error == nil {
		if err := split.Adopt(res.Parts); err != nil {
			return out, &runtime.InvocationError{Module: c.Module.Name, Function: c.Function, Kind: runtime.KindOutput, Err: err}, false
		}
	}
	if res.Error != nil {
		err := x.invocationError(res.Error, c)
		var me *runtime.ModuleError
		if bad := Functions(err); bad != nil {
			x.mu.Lock()
			if x.bad[c.Module] == nil {
				x.bad[c.Module] = map[string]*runtime.FunctionError{}
			}
			for fn, fe := range bad {
				x.bad[c.Module][fn] = fe
			}
			x.mu.Unlock()
			return out, nil, true // Run fails c if its function is among them
		} else if errors.As(err, &me) {
			x.mu.Lock()
			x.failed[c.Module] = err
			x.mu.Unlock()
		}
		return out, err, false
	}
	return out, nil, false
}

// settleRecord tells the recorder what the worker's recording of a job produced. A worker that
// ended before closing its record (killed at its deadline, a cap or by a signal; crashed) left
// what it had flushed: the record is finalised here with how the invocation ended, so that it
// can be read and replayed.
func (x *ProcessExecutor) settleRecord(rec *replay.Recorder, spec *replay.Spec, c *registry.Collector, res *worker.Result) {
	switch {
	case res == nil || (res.Record == nil && res.RecordError == ""):
		if _, err := os.Stat(spec.Path); err != nil {
			rec.Done(*spec, replay.Info{Path: spec.Path}, nil) // the invocation never started: nothing to record
			return
		}
		if res == nil || res.Error == nil {
			rec.Done(*spec, replay.Info{Path: spec.Path}, replay.ErrWorkerLost)
			return
		}
		kind := string(res.Error.Kind)
		switch {
		case res.Error.Signal != "" && res.Error.Kind != runtime.KindMemory:
			kind = replay.KindKilled
		case kind == "":
			kind = replay.KindHost
		}
		info, err := replay.Finalize(*spec, kind, x.invocationError(res.Error, c).Error())
		if err != nil {
			x.log.Warn("a record its worker left unfinished could not be finalised", "record", spec.Path, "error", err)
			err = fmt.Errorf("%w: %w", replay.ErrWorkerLost, err)
		}
		rec.Done(*spec, info, err)
	case res.Record == nil:
		rec.Done(*spec, replay.Info{Path: spec.Path}, errors.New(res.RecordError))
	case res.RecordError != "":
		rec.Done(*spec, *res.Record, errors.New(res.RecordError))
	default:
		rec.Done(*spec, *res.Record, nil)
	}
}

// Check implements Executor: it loads and checks the module in a worker, under the compile
// deadline, and runs nothing.
func (x *ProcessExecutor) Check(ctx context.Context, m *registry.Module) error {
	job := &worker.Job{Module: x.moduleSpec(m), CompileOnly: true, CompileTimeout: x.compileTimeout(),
		Timeout: x.reg.Runtime.Timeout, Output: worker.Output{Kind: worker.OutputStream}, Engine: x.engine()}
	res, err := x.pool.Run(ctx, job, io.Discard, x.log)
	if err != nil {
		return err
	}
	if res.Error != nil {
		return x.invocationError(res.Error, &registry.Collector{Module: m})
	}
	return nil
}

func (x *ProcessExecutor) invocationError(ei *worker.ErrorInfo, c *registry.Collector) error {
	return ei.Err(c.Module.Name, c.Function)
}

func (x *ProcessExecutor) compileTimeout() time.Duration {
	if d := x.reg.Runtime.CompileTimeout; d > 0 {
		return d
	}
	return runtime.DefaultCompileTimeout
}

// engine is the workers' engine configuration. The cache directory is resolved here: a worker's
// environment is empty, so it could not find the user's cache directory itself.
func (x *ProcessExecutor) engine() worker.Engine {
	if dir := x.reg.Runtime.CacheDir; dir != "" {
		return worker.Engine{CacheDir: dir}
	}
	dir, err := runtime.DefaultCacheDir()
	if err != nil {
		return worker.Engine{NoCache: true}
	}
	return worker.Engine{CacheDir: dir}
}

func (x *ProcessExecutor) moduleSpec(m *registry.Module) worker.ModuleSpec {
	spec := ModuleSpec(x.reg, m)
	return worker.ModuleSpec{Name: spec.Name, Path: spec.Path, Source: m.Source, SHA256: spec.SHA256, MemoryLimit: memoryLimit(x.reg, spec.MemoryLimit),
		Functions: spec.Functions, Mounts: spec.Mounts, Env: envValues(spec.Env)}
}

// job describes an invocation of c completely, for a worker.
func (x *ProcessExecutor) job(c *registry.Collector, req hostfuncs.Request) (*worker.Job, error) {
	params, err := tomlparam.Encode(req.Params)
	if err != nil {
		return nil, fmt.Errorf("collector %s: %w", c.Key, err)
	}
	spec := x.moduleSpec(c.Module)
	b := boundsOf(x.reg, c, spec.MemoryLimit)
	x.mu.Lock()
	bad := x.bad[c.Module]
	spec.Functions = slices.DeleteFunc(spec.Functions, func(fn string) bool { return bad[fn] != nil })
	x.mu.Unlock()
	job := &worker.Job{
		Module: spec, Function: c.Function, Timeout: b.timeout, CompileTimeout: x.compileTimeout(),
		StdioLimit: b.stdio, Engine: x.engine(),
		Request: worker.Request{Key: req.Key, Format: req.Format, Since: req.Since, Until: req.Until, FullSync: req.FullSync,
			CollectionType: req.CollectionType, Params: params, Limits: req.Limits},
	}
	for _, name := range c.DataSources {
		dc, err := x.dataSource(name)
		if err != nil {
			return nil, err
		}
		job.DataSources = append(job.DataSources, dc)
	}
	return job, nil
}

// dataSource returns a data source's configuration, its secrets read once per executor rather
// than once per invocation, as the in-process executor opens each source once.
func (x *ProcessExecutor) dataSource(name string) (datasource.Config, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if dc, ok := x.sources[name]; ok {
		return dc, nil
	}
	cfg := x.reg.DataSources[name]
	if cfg == nil {
		return datasource.Config{}, fmt.Errorf("data source %q is not declared", name)
	}
	dc, err := dataSourceConfig(cfg)
	if err != nil {
		return dc, err
	}
	x.sources[name] = dc
	return dc, nil
}

// New returns the executor reg's [runtime] isolation asks for, and a function that
// releases it (workers, engine, data sources) and prunes the compilation cache to
// cache_max_size. Where worker processes are not supported, "process" falls back to in-process
// with a warning.
func New(ctx context.Context, reg *registry.Registry, log *slog.Logger) (gather.Executor, func() error, error) {
	if log == nil {
		log = slog.Default()
	}
	prune := func() error {
		if reg.Runtime.CacheMaxSize <= 0 {
			return nil
		}
		n, err := runtime.PruneCache(reg.Runtime.CacheDir, reg.Runtime.CacheMaxSize)
		if n > 0 {
			log.Info("pruned the compilation cache", "removed", n, "cache_max_size", reg.Runtime.CacheMaxSize)
		}
		return err
	}
	if reg.Runtime.Isolation != registry.IsolationInProcess {
		if worker.Supported {
			x := NewProcessExecutor(reg, log)
			return x, func() error { return errors.Join(x.Close(), prune()) }, nil
		}
		log.Warn("worker processes are not supported on this platform; collectors run in-process")
	}
	eng, err := NewEngine(ctx, reg, log)
	if err != nil {
		return nil, nil, err
	}
	x := NewEngineExecutor(eng, reg)
	return x, func() error { return errors.Join(x.Close(), eng.Close(ctx), prune()) }, nil
}
