package gather

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Executor runs one invocation of a collector under its limits, with the data sources granted to
// it, and reports what it handed over. Gather, run and check talk to nothing else that runs
// guests: [ProcessExecutor] runs each invocation in a supervised worker process (the default),
// [EngineExecutor] in this process.
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

// EngineExecutor runs collectors in-process on a [runtime.Engine], loading each module on first
// use. It is safe for concurrent use.
type EngineExecutor struct {
	eng *runtime.Engine
	reg *registry.Registry
	ds  *DataSources

	mu      sync.Mutex
	modules map[*registry.Module]*loadedModule
}

type loadedModule struct {
	once sync.Once
	mod  *runtime.Module
	err  error
}

// NewEngineExecutor returns an executor for reg's collectors on eng. The caller closes eng, and
// the executor (which closes the data sources it opened).
func NewEngineExecutor(eng *runtime.Engine, reg *registry.Registry) *EngineExecutor {
	return &EngineExecutor{eng: eng, reg: reg, ds: NewDataSources(reg), modules: map[*registry.Module]*loadedModule{}}
}

// Isolation implements Executor.
func (x *EngineExecutor) Isolation() string { return IsolationInProcess }

// Check implements Executor.
func (x *EngineExecutor) Check(ctx context.Context, m *registry.Module) error {
	_, err := x.load(ctx, m)
	return err
}

// Close closes the data sources the executor opened.
func (x *EngineExecutor) Close() error { return x.ds.Close() }

// Run implements Executor. A module that fails to load fails every collector in it, each with
// the same *runtime.ModuleError.
func (x *EngineExecutor) Run(ctx context.Context, c *registry.Collector, req hostfuncs.Request) (Outcome, error) {
	mod, err := x.load(ctx, c.Module)
	if err != nil {
		return Outcome{}, err
	}
	granted, err := x.ds.Granted(ctx, c)
	if err != nil {
		return Outcome{}, err
	}
	req.DataSources = granted
	res, err := mod.Invoke(ctx, runtime.Call{
		Function: c.Function, Invocation: hostfuncs.NewInvocation(req),
		Timeout: c.Timeout, StdioLimit: c.Limits.MaxStdioBytes,
	})
	return Outcome{Report: res.Output, Elapsed: res.Elapsed}, err
}

// load loads a module once per executor.
func (x *EngineExecutor) load(ctx context.Context, m *registry.Module) (*runtime.Module, error) {
	x.mu.Lock()
	lm := x.modules[m]
	if lm == nil {
		lm = &loadedModule{}
		x.modules[m] = lm
	}
	x.mu.Unlock()
	lm.once.Do(func() { lm.mod, lm.err = x.eng.Load(ctx, ModuleSpec(x.reg, m)) })
	return lm.mod, lm.err
}

// NewEngine starts a runtime with the registry's settings.
func NewEngine(ctx context.Context, reg *registry.Registry, log *slog.Logger) (*runtime.Engine, error) {
	cfg := runtime.NewConfig().
		WithMemoryLimit(reg.Runtime.MemoryLimit).
		WithTimeout(reg.Runtime.Timeout).
		WithStdioLimit(reg.Limits.MaxStdioBytes).
		WithLogger(log)
	if reg.Runtime.CompileTimeout > 0 {
		cfg = cfg.WithCompileTimeout(reg.Runtime.CompileTimeout)
	}
	if reg.Runtime.CacheDir != "" {
		cfg = cfg.WithCacheDir(reg.Runtime.CacheDir)
	}
	return runtime.New(ctx, cfg)
}

// ModuleSpec describes a registry module to the runtime, with the exports its collectors need.
func ModuleSpec(reg *registry.Registry, m *registry.Module) runtime.ModuleSpec {
	spec := runtime.ModuleSpec{Name: m.Name, Path: m.Path, SHA256: m.SHA256, MemoryLimit: m.MemoryLimit, Env: m.Env}
	for _, mt := range m.Mounts {
		spec.Mounts = append(spec.Mounts, runtime.Mount{Host: mt.Host, Guest: mt.Guest})
	}
	seen := map[string]bool{}
	for _, c := range reg.Collectors {
		if c.Module == m && !seen[c.Function] {
			seen[c.Function] = true
			spec.Functions = append(spec.Functions, c.Function)
		}
	}
	return spec
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
