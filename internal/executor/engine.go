package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/replay"
	"github.com/wasmcollector/wasmcollector/runtime"
)

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
	err  error // the module's failure: every collector of it fails
	// bad are the collector functions the module lacks (see [Functions]): only their
	// collectors fail. check is the error naming them all, for Check.
	bad   map[string]*runtime.FunctionError
	check error
}

// NewEngineExecutor returns an executor for reg's collectors on eng. The caller closes eng, and
// the executor (which closes the data sources it opened).
func NewEngineExecutor(eng *runtime.Engine, reg *registry.Registry) *EngineExecutor {
	return &EngineExecutor{eng: eng, reg: reg, ds: NewDataSources(reg), modules: map[*registry.Module]*loadedModule{}}
}

// Isolation implements Executor.
func (x *EngineExecutor) Isolation() string { return gather.IsolationInProcess }

// Check implements Executor.
func (x *EngineExecutor) Check(ctx context.Context, m *registry.Module) error {
	lm := x.load(ctx, m)
	if lm.check != nil {
		return lm.check
	}
	return lm.err
}

// Close closes the data sources the executor opened.
func (x *EngineExecutor) Close() error { return x.ds.Close() }

// Run implements Executor. A module that fails to load fails every collector in it, each with
// the same *runtime.ModuleError; a collector function the module lacks fails only the
// collectors calling it.
func (x *EngineExecutor) Run(ctx context.Context, c *registry.Collector, req hostfuncs.Request) (gather.Outcome, error) {
	lm := x.load(ctx, c.Module)
	if lm.err != nil {
		return gather.Outcome{}, lm.err
	}
	if fe := lm.bad[c.Function]; fe != nil {
		return gather.Outcome{}, FunctionFailure(c, fe)
	}
	mod := lm.mod
	granted, err := x.ds.Granted(ctx, c)
	if err != nil {
		return gather.Outcome{}, err
	}
	req.DataSources = granted
	call := runtime.Call{Function: c.Function, Timeout: c.Timeout, StdioLimit: c.Limits.MaxStdioBytes}
	rec := replay.RecorderFrom(ctx)
	var spec replay.Spec
	var ri *replay.Invocation
	if rec != nil {
		var ok bool
		if spec, ok = rec.Begin(c.Key, c.Function, req.Since); ok {
			if ri, err = replay.Start(spec, x.recordHeader(c, req, mod)); err != nil {
				rec.Done(spec, replay.Info{}, err)
				ri = nil
			} else {
				req.DataSources, req.Output, call.MountFS, call.Sys = ri.Sources(req.DataSources), ri.Output(req.Output), ri.MountFS, ri.Sys()
				req.Logger = ri.Logger(req.Logger)
			}
		}
	}
	call.Invocation = hostfuncs.NewInvocation(req)
	res, err := mod.Invoke(ctx, call)
	if ri != nil {
		ri.Stdio(res.Stdout.Text, res.Stderr.Text)
		info, rerr := ri.Close(res.Output, res.ReturnCode, err)
		rec.Done(spec, info, rerr)
	}
	return gather.Outcome{Report: res.Output, Elapsed: res.Elapsed}, err
}

// recordHeader describes an invocation of c for its record.
func (x *EngineExecutor) recordHeader(c *registry.Collector, req hostfuncs.Request, mod *runtime.Module) replay.Header {
	spec := ModuleSpec(x.reg, c.Module)
	b := boundsOf(x.reg, c, spec.MemoryLimit)
	var mounts []string
	for _, m := range spec.Mounts {
		mounts = append(mounts, m.Guest)
	}
	return replay.NewHeader(req, replay.ModuleInfo{Name: spec.Name, Path: spec.Path, Source: c.Module.Source, SHA256: mod.SHA256(),
		Function: c.Function, MemoryLimit: b.memory}, envValues(spec.Env), mounts, b.timeout, b.stdio)
}

// load loads a module once per executor. A module lacking some of its collectors' functions
// is loaded again without them, for its other collectors.
func (x *EngineExecutor) load(ctx context.Context, m *registry.Module) *loadedModule {
	x.mu.Lock()
	lm := x.modules[m]
	if lm == nil {
		lm = &loadedModule{}
		x.modules[m] = lm
	}
	x.mu.Unlock()
	lm.once.Do(func() {
		spec := ModuleSpec(x.reg, m)
		lm.mod, lm.err = x.eng.Load(ctx, spec)
		if bad := Functions(lm.err); bad != nil {
			lm.bad, lm.check = bad, lm.err
			spec.Functions = slices.DeleteFunc(spec.Functions, func(fn string) bool { return bad[fn] != nil })
			lm.mod, lm.err = x.eng.Load(ctx, spec) // compiled already: no second compilation
		}
	})
	return lm
}

// Functions returns, when err is a *runtime.ModuleError of kind export naming functions, those
// functions by name; else nil.
func Functions(err error) map[string]*runtime.FunctionError {
	var me *runtime.ModuleError
	if !errors.As(err, &me) || me.Kind != runtime.ModuleExport || len(me.Functions) == 0 {
		return nil
	}
	bad := make(map[string]*runtime.FunctionError, len(me.Functions))
	for _, fe := range me.Functions {
		bad[fe.Function] = fe
	}
	return bad
}

// FunctionFailure is the error of collector c, whose function the module lacks (fe): a
// *runtime.ModuleError of kind export naming the function and where the collector is declared,
// the sidecar's file and line for a vendor's collector.
func FunctionFailure(c *registry.Collector, fe *runtime.FunctionError) error {
	at := c.FunctionSource
	if at.File == "" {
		at = c.Source
	}
	return &runtime.ModuleError{Module: c.Module.Name, Kind: runtime.ModuleExport, Functions: []*runtime.FunctionError{fe},
		Err: fmt.Errorf("%s (collector %q, declared at %s:%d)", fe.Message, c.Key, at.File, at.Line)}
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
		// By name, not pointer: m may come from a copy of reg (a Host hands out clones), and a
		// check that matched no collector would check no export.
		if c.Module != nil && c.Module.Name == m.Name && !seen[c.Function] {
			seen[c.Function] = true
			spec.Functions = append(spec.Functions, c.Function)
		}
	}
	return spec
}
