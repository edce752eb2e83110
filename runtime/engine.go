package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

const (
	pageSize = 64 << 10
	// maxModuleBytes caps the module file: compilation cannot be cancelled (wazero #2329), so its
	// input is bounded instead. Go guests are 2–3 MB.
	maxModuleBytes = 64 << 20
)

// Engine compiles and runs collector modules. It is safe for concurrent use; Close it when done.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	cache wazero.CompilationCache

	sb *sandbox

	mu        sync.Mutex
	closed    bool
	compiled  map[string]*compileJob // by module sha256
	snapshots []*snapshot            // released at Close
	compiling int                    // compilations running, abandoned ones included
}

// keep registers a snapshot to release when the engine closes.
func (e *Engine) keep(s *snapshot) {
	e.mu.Lock()
	e.snapshots = append(e.snapshots, s)
	e.mu.Unlock()
}

// sandbox is the wazero runtime every module runs in, with the host modules it provides. The
// memory limit is enforced per instance by a memory allocator (memory.go), not by the runtime, so
// one runtime serves modules with different limits.
type sandbox struct {
	r        wazero.Runtime
	provided map[string]map[string]api.FunctionDefinition // import module → function → definition
}

// compileJob makes concurrent loads of the same module wait for one compilation.
type compileJob struct {
	done chan struct{}
	mod  *compiledModule // nil when the module did not compile or failed the check
	info *ModuleInfo     // set once wazero compiled the module, even if it failed the check
	err  error
}

type compiledModule struct {
	cm       wazero.CompiledModule
	sb       *sandbox
	sha      string
	hasInit  bool
	minPages uint32
	exports  map[string]api.FunctionDefinition
	goBuilt  bool // built by the Go toolchain, for hints (check.go)
	// restore is set when cm is the module's restorable variant (snapshot.go).
	restore *restoreInfo
}

// restoreInfo is what instantiating the restorable variant must do by hand.
type restoreInfo struct {
	segments []dataSegment
	globals  []string
	hasStart bool
}

// New returns an engine for cfg. It fails on an impossible setting or an unusable cache directory.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	switch {
	case cfg.memoryLimit == 0 || cfg.memoryLimit%pageSize != 0 || cfg.memoryLimit > 1<<32:
		return nil, fmt.Errorf("runtime: memory limit %d bytes: must be a multiple of 64 KiB up to 4 GiB", cfg.memoryLimit)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("runtime: timeout %s: must be positive", cfg.timeout)
	case cfg.compileTimeout <= 0:
		return nil, fmt.Errorf("runtime: compile timeout %s: must be positive", cfg.compileTimeout)
	case cfg.stdioLimit < 0:
		return nil, fmt.Errorf("runtime: stdio limit %d: must not be negative", cfg.stdioLimit)
	}
	e := &Engine{cfg: cfg, log: cfg.logger, compiled: map[string]*compileJob{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	if !cfg.noCache {
		dir := cfg.cacheDir
		if dir == "" {
			var err error
			if dir, err = DefaultCacheDir(); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("runtime: compilation cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("runtime: compilation cache %s: %w", dir, err)
		}
		e.cache = cache
	}
	sb, err := newSandbox(ctx, e.cache, !cfg.noInterrupt)
	if err != nil {
		if e.cache != nil {
			e.cache.Close(ctx)
		}
		return nil, err
	}
	e.sb = sb
	return e, nil
}

// Close closes every runtime and compiled module, then the cache. Invocations still running are
// stopped.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for _, s := range e.snapshots {
		s.mem.close()
	}
	if e.compiling > 0 {
		// An abandoned compilation still uses the runtime: the last one to finish closes it
		// (closing it under a compilation crashes wazero).
		return nil
	}
	return e.release(ctx)
}

// release closes the runtime, then the cache. Called with e.mu held, once nothing compiles.
func (e *Engine) release(ctx context.Context) error {
	errs := []error{e.sb.r.Close(ctx)}
	if e.cache != nil {
		// The cache outlives the runtimes that use it (extism/go-sdk #99).
		errs = append(errs, e.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

func newSandbox(ctx context.Context, cache wazero.CompilationCache, interrupt bool) (*sandbox, error) {
	// The compiler where wazero has one (amd64, arm64). The interrupt flag is off only in worker
	// processes, which the parent kills at the deadline: see RATIONALE.md "Why worker processes?".
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(interrupt)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("runtime: instantiate WASI: %w", err)
	}
	if err := hostfuncs.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("runtime: %w", err)
	}
	sb := &sandbox{r: r, provided: map[string]map[string]api.FunctionDefinition{}}
	for _, name := range []string{wasi_snapshot_preview1.ModuleName, hostModuleName} {
		sb.provided[name] = r.Module(name).ExportedFunctionDefinitions()
	}
	return sb, nil
}

// ModuleSpec says which module to load and what it must provide.
type ModuleSpec struct {
	// Name names the module in errors and logs. Default: the base name of Path.
	Name string
	// Path is the module file. Ignored when Wasm is set.
	Path string
	// Wasm is the module's bytes, for modules that do not come from a file.
	Wasm []byte
	// SHA256 pins the content (lowercase hex); a mismatch refuses the module. "" pins nothing.
	SHA256 string
	// MemoryLimit is this module's linear-memory limit in bytes; 0 takes the engine default.
	MemoryLimit uint64
	// Functions are the exports the module must have, each with type () -> i32.
	Functions []string
	// Mounts are host directories the module may read, read-only. Default none.
	Mounts []Mount
	// Env names host environment variables the module sees, with the host's values (those that
	// are set). Default none.
	Env []string
	// LookupEnv finds the values of Env; default os.LookupEnv. A worker process, whose own
	// environment is empty, serves the values its parent granted.
	LookupEnv func(name string) (string, bool)
}

// Mount grants a module read access to a host directory. Nothing outside Host is reachable from
// Guest: not with "..", not through a symlink (the mount is an [os.Root]).
type Mount struct {
	Host  string // absolute host directory
	Guest string // absolute path the module sees
}

// Module is a compiled, checked module, ready for [Module.Invoke]. It is safe for concurrent use:
// each invocation gets its own instance.
type Module struct {
	name   string
	limit  uint64
	c      *compiledModule
	e      *Engine
	mounts []Mount
	env    []string
	lookup func(string) (string, bool)

	snapMu    sync.Mutex
	snap      *snapshot
	snapTried bool // a snapshot was taken or failed: do not try again
}

// Name returns the module's name as given in its spec.
func (m *Module) Name() string { return m.name }

// SHA256 returns the lowercase hex sha256 of the module's bytes.
func (m *Module) SHA256() string { return m.c.sha }

// MemoryLimit returns the module's memory limit in bytes.
func (m *Module) MemoryLimit() uint64 { return m.limit }

// Load reads, verifies, compiles (once per engine for each content and memory limit) and checks a
// module. Every failure is a *ModuleError naming the module and the problem, with its kind.
func (e *Engine) Load(ctx context.Context, spec ModuleSpec) (*Module, error) {
	name := spec.Name
	if name == "" {
		name = filepath.Base(spec.Path)
	}
	fail := func(kind ModuleErrorKind, err error) (*Module, error) {
		return nil, &ModuleError{Module: name, Kind: kindOf(err, kind), Err: err}
	}
	wasm := spec.Wasm
	if wasm == nil {
		var err error
		if wasm, err = readModule(spec.Path); err != nil {
			return fail(ModuleUnreadable, err)
		}
	}
	sha, compiled, err := prepare(wasm, spec.SHA256)
	if err != nil {
		return fail(ModuleInvalid, err)
	}
	limit := spec.MemoryLimit
	if limit == 0 {
		limit = e.cfg.memoryLimit
	}
	if limit%pageSize != 0 || limit > 1<<32 {
		return fail(ModuleBadSpec, fmt.Errorf("memory limit %d bytes: must be a multiple of 64 KiB up to 4 GiB", limit))
	}
	job, err := e.compile(ctx, compiled, sha)
	if err != nil {
		return fail(ModuleCanceled, err)
	}
	c := job.mod
	if c == nil {
		return fail(ModuleInvalid, job.err)
	}
	if min := uint64(c.minPages) * pageSize; min > limit {
		return fail(ModuleMemory, fmt.Errorf("memory declaration over the limit: declares %d pages (%s) at least, the limit is %s",
			c.minPages, bytesize.Format(int64(min)), bytesize.Format(int64(limit))))
	}
	var bad []*FunctionError
	for _, fn := range spec.Functions {
		if fe := checkCollectorExport(c.exports, fn, c.goBuilt); fe != nil && !slices.ContainsFunc(bad, func(b *FunctionError) bool { return b.Function == fn }) {
			bad = append(bad, fe)
		}
	}
	if len(bad) > 0 {
		errs := make([]error, len(bad))
		for i, fe := range bad {
			errs[i] = fe
		}
		return nil, &ModuleError{Module: name, Kind: ModuleExport, Err: errors.Join(errs...), Functions: bad}
	}
	for _, mt := range spec.Mounts {
		if !filepath.IsAbs(mt.Guest) {
			return fail(ModuleBadSpec, fmt.Errorf("mount %s: the guest path must be absolute", mt.Guest))
		}
		if st, err := os.Stat(mt.Host); err != nil || !st.IsDir() {
			return fail(ModuleBadSpec, fmt.Errorf("mount %s: host directory %s is not a directory", mt.Guest, mt.Host))
		}
	}
	lookup := spec.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Module{name: name, limit: limit, c: c, e: e, mounts: spec.Mounts, env: spec.Env, lookup: lookup}, nil
}

// prepare checks a module's bytes against its pin (pin "" pins nothing) and returns their sha256
// and the bytes to compile: table maximums capped, data segments merged. The pin and the cache key
// stay the file's.
func prepare(wasm []byte, pin string) (sha string, compiled []byte, err error) {
	sum := sha256.Sum256(wasm)
	sha = hex.EncodeToString(sum[:])
	if pin != "" && !strings.EqualFold(pin, sha) {
		return "", nil, withKind(ModuleMismatch, fmt.Errorf("sha256 mismatch: pinned %s, file has %s", strings.ToLower(pin), sha))
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return "", nil, withKind(ModuleNotWasm, errors.New("not a WebAssembly module (no \\0asm magic)"))
	}
	compiled, err = limitTables(wasm)
	if err == nil {
		compiled, err = mergeData(compiled)
	}
	return sha, compiled, err
}

// readModule reads a module file. It opens without blocking and refuses anything but a regular
// file, so a FIFO or a device swapped in for a module cannot hang or flood the host.
func readModule(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fileKind(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxModuleBytes {
		return nil, withKind(ModuleTooLarge, fmt.Errorf("%s is over the %d MiB module size limit", path, maxModuleBytes>>20))
	}
	return b, nil
}

// compile compiles and checks a module once per engine for each content, and returns the finished
// job, which holds the module or why it failed. The error is for a compilation that did not finish:
// abandoned (kind ModuleCanceled, the default the caller gives) or over the compile timeout.
func (e *Engine) compile(ctx context.Context, wasm []byte, sha string) (*compileJob, error) {
	key := sha
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errors.New("engine is closed")
	}
	if job, ok := e.compiled[key]; ok {
		e.mu.Unlock()
		<-job.done
		return job, nil
	}
	job := &compileJob{done: make(chan struct{})}
	e.compiled[key] = job

	// Compilation cannot be interrupted (wazero #2329). It runs on its own goroutine so that the
	// caller's context still ends the wait; in-process, an abandoned compilation keeps its CPU until
	// it finishes (the process executor kills its worker instead).
	e.compiling++
	e.mu.Unlock()
	go func() {
		job.mod, job.info, job.err = compileAndCheck(context.WithoutCancel(ctx), e.sb, wasm, sha)
		close(job.done)
		e.mu.Lock()
		e.compiling--
		if e.closed && e.compiling == 0 {
			_ = e.release(context.Background())
		}
		e.mu.Unlock()
	}()
	timeout := e.cfg.compileTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-job.done:
		return job, nil
	case <-ctx.Done():
		e.forget(key, job)
		return nil, fmt.Errorf("compilation abandoned: %w", context.Cause(ctx))
	case <-timer.C:
		e.forget(key, job)
		return nil, withKind(ModuleCompileTimeout,
			fmt.Errorf("%w: compilation did not finish within %s (compile_timeout)", ErrCompileTimeout, timeout))
	}
}

// forget drops an abandoned compilation so that a later load tries again.
func (e *Engine) forget(key string, job *compileJob) {
	e.mu.Lock()
	if e.compiled[key] == job {
		delete(e.compiled, key)
	}
	e.mu.Unlock()
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeDevice != 0 || m&os.ModeCharDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	default:
		return m.Type().String()
	}
}

// compileAndCheck compiles a module and checks it against the sandbox. info is set once the module
// compiled, even when the check fails.
func compileAndCheck(ctx context.Context, sb *sandbox, wasm []byte, sha string) (_ *compiledModule, info *ModuleInfo, _ error) {
	// The restorable variant where the module allows one (snapshot.go); the module as it is
	// otherwise, or if the variant does not compile.
	var restore *restoreInfo
	var cm wazero.CompiledModule
	var err error
	if variant, segments, globals, hasStart, ok := restorableVariant(wasm); ok {
		if cm, err = sb.r.CompileModule(ctx, variant); err == nil {
			restore = &restoreInfo{segments: segments, globals: globals, hasStart: hasStart}
		}
	}
	if restore == nil {
		if cm, err = sb.r.CompileModule(ctx, wasm); err != nil {
			return nil, nil, withKind(ModuleInvalid, fmt.Errorf("invalid WebAssembly: %w", err))
		}
	}
	info = moduleInfo(cm, wasm)
	c := &compiledModule{cm: cm, sb: sb, sha: sha, exports: cm.ExportedFunctions(), restore: restore, goBuilt: info.BuiltByGo}
	if err := checkModule(cm, sb, c.goBuilt); err != nil {
		cm.Close(ctx)
		return nil, info, withKind(ModuleABI, err)
	}
	_, c.hasInit = c.exports["_initialize"]
	c.minPages = cm.ExportedMemories()["memory"].Min()
	return c, info, nil
}
