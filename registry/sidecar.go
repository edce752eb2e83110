package registry

import (
	"path/filepath"
	"slices"
	"strings"
)

// SidecarOptions tunes [LoadSidecar].
type SidecarOptions struct {
	// Module is the path of the module file the sidecar declares collectors of; "" means the
	// sidecar's path with ".wasm" for ".toml". The file must exist; a sha256 pin in the sidecar
	// is checked against it.
	Module string
	// Name is the module's name as collectors.toml would know it, such as "jobs.wasm"; "" means
	// the base name of Module.
	Name string
	// MaxSize caps the sidecar file, as [runtime] max_sidecar_size does in a registry; 0 means
	// [DefaultMaxSidecarSize].
	MaxSize int64
	// GrantRequests grants the module everything its sidecar requests (mounts, environment
	// variables, data sources, memory limit, timeouts, limits), as an operator would by writing
	// [Requests.GrantTOML] into collectors.toml. Without it a request above the defaults is a
	// problem ([CodeNotGranted]), as in a registry whose collectors.toml grants nothing.
	GrantRequests bool
}

// Sidecar is a sidecar loaded on its own by [LoadSidecar]: its module and collectors as a
// product's registry would load them, with the registry's defaults where collectors.toml would
// have its settings.
type Sidecar struct {
	// File is the sidecar's path as given.
	File string
	// Module is the module the sidecar describes, nil when it declares no collector. Its
	// Requested says what the sidecar asks for.
	Module *Module
	// Collectors are the sidecar's collectors, in declaration order.
	Collectors []*Collector
	// Registry holds Module and Collectors and the defaults of every other setting (no data
	// source is declared: a product declares them), so that the collectors can run as a gather
	// runs them. Its File is "".
	Registry *Registry
}

// LoadSidecar reads and validates one sidecar without a root file, as `wasmcollector check`
// does for a vendor's module before any product loads it. Every rule of [Load] applies to the
// sidecar, except that no config collector is required and data sources need not be declared
// (a product's collectors.toml declares them). Problems name the sidecar by path as given, and
// host directories (mounts) resolve against the sidecar's directory, as in a registry.
//
// The Sidecar is nil only when the file cannot be read or is not valid TOML; otherwise it is
// built as far as the problems allow, like the registry Load returns with an error.
func LoadSidecar(path string, opts SidecarOptions) (*Sidecar, Problems) {
	l := newLoader()
	l.alone, l.grantAll = true, opts.GrantRequests
	sc := l.loadSidecar(path, opts)
	l.sortProblems()
	if len(l.problems) == 0 {
		return sc, nil
	}
	return sc, l.problems
}

func (l *loader) loadSidecar(name string, opts SidecarOptions) *Sidecar {
	modPath := opts.Module
	if modPath == "" {
		modPath = strings.TrimSuffix(name, ".toml") + ".wasm"
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		l.problems = append(l.problems, &Problem{Code: CodeUnreadable, File: name, Message: err.Error()})
		return nil
	}
	modAbs, err := filepath.Abs(modPath)
	if err != nil {
		l.problems = append(l.problems, &Problem{Code: CodeUnreadable, File: name, Message: err.Error()})
		return nil
	}
	dir := filepath.Dir(abs)
	l.reg = &Registry{
		Runtime: defaultRuntime(), Limits: defaultLimits(), Gather: defaultGather(dir),
		Shipping: defaultShipping(), DataSources: map[string]*DataSource{}, State: defaultState(),
	}
	if opts.MaxSize > 0 {
		l.reg.Runtime.MaxSidecarSize = opts.MaxSize
	}
	// The module's directory stands for modules_dir: the module's Path is its file.
	l.reg.Runtime.ModulesDir = filepath.Dir(modAbs)
	l.modulesShow, l.modulesOK = filepath.Dir(modPath), true
	module := opts.Name
	if module == "" {
		module = filepath.Base(modAbs)
	}
	src := l.sidecar(name, abs, module)
	if src == nil {
		return nil
	}
	st := l.state(module)
	st.hasSide = true
	if st.mod != nil {
		st.mod.Path = modAbs // the file given, whatever its name
	}
	if l.grantAll && st.mod != nil {
		st.root = grantOf(st.side, src, module, l.entries)
	}
	l.finishModules()
	l.checkRequests()
	l.finishGrants()
	l.checkDuplicates()
	return &Sidecar{File: name, Module: st.mod, Collectors: l.reg.Collectors, Registry: l.reg}
}

// grantOf returns the grant of everything a sidecar requests: its [module] table (side, nil
// when absent) and the data sources of its collectors.
func grantOf(side *moduleCfg, src *source, module string, entries []entry) *moduleCfg {
	g := &moduleCfg{src: src, p: path{}.key("module"), name: module}
	if side != nil {
		c := *side
		c.sha = "" // a pin is not a grant
		g = &c
	}
	for _, e := range entries {
		for _, n := range e.c.DataSources {
			if !slices.Contains(g.ds, n) {
				g.ds = append(g.ds, n)
			}
		}
	}
	return g
}

// The defaults of each table, as [Load] starts from them; see the doc comment of each field.

func defaultRuntime() Runtime {
	return Runtime{ModulesDir: defaultModulesDir, MemoryLimit: defaultMemoryLimit, Timeout: defaultTimeout,
		Isolation: IsolationProcess, CompileTimeout: defaultCompileTimeout, CacheMaxSize: defaultCacheMaxSize,
		MaxSidecarSize: defaultMaxSidecarSize}
}

func defaultLimits() Limits {
	return Limits{MaxJSONBytes: defaultMaxJSONBytes, MaxBatchBytes: defaultMaxBatchBytes,
		MaxOutputBytes: defaultMaxOutputBytes, MaxLogBytes: defaultMaxLogBytes, MaxStdioBytes: defaultMaxStdioBytes}
}

// defaultGather resolves out_dir against base, the root file's directory.
func defaultGather(base string) GatherSettings {
	return GatherSettings{MaxDataSize: defaultMaxDataSize, MaxWindow: defaultMaxWindow,
		TarballBase: defaultTarballBase, OutDir: filepath.Join(base, defaultOutDir)}
}

func defaultShipping() ShippingSettings {
	return ShippingSettings{ContentType: defaultContentType, Auth: defaultAuth, ConnectTimeout: defaultConnectTimeout,
		Timeout: defaultUploadTimeout, MaxAttempts: defaultMaxAttempts, FailedKeep: defaultFailedKeep,
		RetryBackoff: defaultRetryBackoff, Headers: map[string]string{}}
}

func defaultState() StateSettings {
	return StateSettings{Driver: defaultStateDriver, LockName: defaultLockName}
}
