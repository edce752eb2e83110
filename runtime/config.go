package runtime

import (
	"log/slog"
	"time"
)

// Config holds the engine's knobs. It is an immutable value: each With method returns a copy, so
// a Config is safe to share. Validation happens in [New].
type Config struct {
	memoryLimit uint64
	timeout     time.Duration
	cacheDir    string
	noCache     bool
	stdioLimit  int64
	logger      *slog.Logger
	// noInterrupt turns wazero's interrupt flag off (the zero value keeps it on).
	noInterrupt    bool
	compileTimeout time.Duration
}

// NewConfig returns the defaults: 64 MiB of memory per instance, 60 s per invocation, the on-disk
// compilation cache under the user cache directory, 64 KiB of captured stdout/stderr.
func NewConfig() Config {
	return Config{memoryLimit: DefaultMemoryLimit, timeout: DefaultTimeout, stdioLimit: DefaultStdioLimit, compileTimeout: DefaultCompileTimeout}
}

// Defaults of the runtime's settings; collectors.toml's [runtime] and [limits] tables default to
// them (registry refers to these, it does not repeat them).
const (
	// DefaultMemoryLimit caps the linear memory of a module instance: 64 MiB.
	DefaultMemoryLimit = 64 << 20
	// DefaultTimeout is the wall-clock limit of one invocation: 60 s.
	DefaultTimeout = 60 * time.Second
	// DefaultStdioLimit caps the captured stdout and stderr of one invocation, each: 64 KiB.
	DefaultStdioLimit = 64 << 10
	// DefaultCompileTimeout bounds the compilation of one module: 30 s.
	DefaultCompileTimeout = 30 * time.Second
	// DefaultCacheMaxSize bounds the compilation cache on disk (see [PruneCache]): 1 GiB.
	DefaultCacheMaxSize = 1 << 30
	// MaxModuleBytes is the largest module file the runtime loads: 64 MiB.
	MaxModuleBytes = maxModuleBytes
)

// WithCompileTimeout bounds how long loading a module may spend compiling it. Default 30 s.
// Compilation cannot be interrupted inside a process (wazero #2329): an engine stops waiting and
// fails the load, and the process executor kills the worker that compiles.
func (c Config) WithCompileTimeout(d time.Duration) Config { c.compileTimeout = d; return c }

// WithInterruptCheck turns wazero's interrupt flag (WithCloseOnContextDone) on or off. Default on,
// and it must stay on in any process that must survive its guests: without it a spinning guest
// cannot be stopped and freezes the Go garbage collector of the whole process. Turn it off only
// where a supervisor kills the process at the deadline (the worker processes of the process
// executor): guest code then runs 1.6–3× faster. See RATIONALE.md "Why worker processes?".
func (c Config) WithInterruptCheck(on bool) Config { c.noInterrupt = !on; return c }

// WithMemoryLimit sets the default linear-memory limit in bytes for modules whose [ModuleSpec]
// sets none. It must be a multiple of 64 KiB (one page), at most 4 GiB. Default 64 MiB: a Go guest
// starts at about 3 MiB, and collectors stream their output instead of holding it.
func (c Config) WithMemoryLimit(bytes uint64) Config { c.memoryLimit = bytes; return c }

// WithTimeout sets the default deadline of one invocation (instantiation, initialisation and the
// call). Default 60 s.
func (c Config) WithTimeout(d time.Duration) Config { c.timeout = d; return c }

// WithCacheDir sets the directory of the on-disk compilation cache. Default "" means
// os.UserCacheDir()/wasmcollector/wazero. The cache holds native code: keep it private.
func (c Config) WithCacheDir(dir string) Config { c.cacheDir = dir; return c }

// WithoutCache turns the on-disk compilation cache off; modules are still compiled once per
// engine.
func (c Config) WithoutCache() Config { c.noCache = true; return c }

// WithStdioLimit sets how many bytes of a guest's stdout and of its stderr are kept per
// invocation; the rest is counted and dropped. Default 64 KiB.
func (c Config) WithStdioLimit(n int64) Config { c.stdioLimit = n; return c }

// WithLogger sets the logger for engine events and guest stdout/stderr. Default slog.Default().
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }
