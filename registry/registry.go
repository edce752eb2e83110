package registry

import (
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/runtime"
	"github.com/wasmcollector/wasmcollector/shipping"
	"github.com/wasmcollector/wasmcollector/state"
)

// Registry is everything collectors.toml and its sidecars declare, after defaults were applied.
//
// [Load] builds it; nothing modifies it afterwards, so it is safe for concurrent reads. The front
// door (package wasmcollector) keeps its own [Registry.Clone] and hands out copies, so nothing
// outside a host can change what it runs; code that passes a registry to gather directly must
// not modify it while a gather runs.
type Registry struct {
	// File is the absolute path of the root TOML file.
	File string
	// Runtime holds the [runtime] table after defaulting.
	Runtime Runtime
	// Limits holds the registry-wide output caps ([limits]) after defaulting; each collector's
	// own Limits start from these.
	Limits Limits
	// Gather holds the [gather] table after defaulting: packaging sizes, the collection window,
	// and where tarballs and bookkeeping go.
	Gather GatherSettings
	// License holds the [license] table: the default license gate (design.md D10).
	License LicenseSettings
	// Shipping holds the [shipping] table: where tarballs are uploaded.
	Shipping ShippingSettings
	// DataSources holds the [datasources.NAME] tables, by name.
	DataSources map[string]*DataSource
	// State holds the [state] table: where the bookkeeping and the gather lock live.
	State StateSettings
	// Trust holds the [trust] table: which keys may sign which modules.
	Trust TrustSettings
	// Serve holds the [serve] table: the schedule and the address of `wasmcollector serve`.
	Serve ServeSettings
	// Modules lists every module a collector references, once each, in order of first reference
	// (root file first, then sidecars sorted by file name).
	Modules []*Module
	// Collectors lists the collectors of the root file in declaration order, then those of each
	// sidecar, sidecars sorted by file name, each in declaration order.
	Collectors []*Collector
	// Disabled lists the modules whose sidecar has problems, in sidecar file name order. Their
	// modules and collectors are left out of Modules and Collectors, so that nothing runs them;
	// a gather records those collectors as failed. See [DisabledModule].
	Disabled []*DisabledModule
	// Warnings are what loads but most likely does not do what the operator wants, each with its
	// Code; they fail nothing, and `validate` prints them: [shipping] with a url and no
	// content_type, whose default only an ingress configured for service "wasmcollector" takes
	// (not console.redhat.com's) ([CodeMissing]); a module file in modules_dir that neither a
	// sidecar nor the root file declares ([CodeNoSidecar]); a NAME.toml that looks like a sidecar
	// but has no NAME.wasm beside it ([CodeNotFound]). The root file's first, then signatures that do
	// not verify while [trust] require_signatures is false (the modules run; a signature Code
	// such as [CodeBadSignature]), then the modules directory's in file name order.
	Warnings Problems
}

// DisabledModule is a module [Load] left out because its sidecar (a vendor's file) has
// problems, or its signature does not verify while [trust] requires one: a vendor's broken
// module costs its own collectors, never the rest of the registry.
type DisabledModule struct {
	// Name is the module's name, as in [Module].Name.
	Name string
	// Sidecar is the sidecar's path as problems show it; "" when the module has none (it was
	// disabled for a problem of its own, such as its signature).
	Sidecar string
	// Module is the module as far as Load built it; nil when the sidecar could not be read or
	// parsed, or declares no collector.
	Module *Module
	// Collectors are the collectors of the module (the sidecar's, and any in the root file that
	// name the module), as far as Load built them; they do not run.
	Collectors []*Collector
	// Problems are the problems of the sidecar or the module's signature, at least one.
	Problems Problems
}

// Collector returns every collector declared with key, in registry order, or nil if there is
// none. A key repeats only for sliced collectors (see the sample, "key").
func (r *Registry) Collector(key string) []*Collector {
	var out []*Collector
	for _, c := range r.Collectors {
		if c.Key == key {
			out = append(out, c)
		}
	}
	return out
}

// ConfigCollector returns the collector declared with config = true, or nil if there is none
// (which [Load] reports as a problem).
func (r *Registry) ConfigCollector() *Collector {
	for _, c := range r.Collectors {
		if c.Config {
			return c
		}
	}
	return nil
}

// Runtime is the [runtime] table: where modules live and the sandbox defaults every module and
// collector inherits.
type Runtime struct {
	// ModulesDir is the absolute directory holding the .wasm modules and their sidecars. TOML
	// `modules_dir`, relative to the root file's directory; default "modules".
	ModulesDir string
	// CacheDir is the compilation cache directory, absolute, or "" for the runtime's default
	// (resolved by the runtime, not here). TOML `cache_dir`, relative to the root file's directory.
	CacheDir string
	// MemoryLimit is the default linear-memory cap of a module instance, in bytes. TOML
	// `memory_limit`; default 64 MiB ([runtime.DefaultMemoryLimit]); a multiple of 64 KiB (one wasm page) from 1 MiB to 4 GiB.
	MemoryLimit uint64
	// Timeout is the default wall-clock limit of one invocation. TOML `timeout`; default 60s
	// ([runtime.DefaultTimeout]); more than 0 and at most 24h.
	Timeout time.Duration
	// Isolation is how invocations run: "process" (each in a supervised worker process, the
	// default) or "in-process". TOML `isolation`.
	Isolation string
	// Workers is the most worker processes alive at once; 0 means one per CPU. TOML `workers`.
	Workers int
	// CompileTimeout bounds the compilation of one module. TOML `compile_timeout`; default 30s
	// ([runtime.DefaultCompileTimeout]).
	CompileTimeout time.Duration
	// CacheMaxSize bounds the compilation cache on disk, pruned oldest first after a gather.
	// TOML `cache_max_size`; default 1 GiB; 0 never prunes.
	CacheMaxSize int64
	// MaxSidecarSize caps the size of a sidecar file, in bytes, checked before the file is read:
	// a larger sidecar disables its module. TOML `max_sidecar_size`; default 1 MiB; at least
	// 1 KiB, at most 64 MiB. (The root file has a fixed cap of 16 MiB.)
	MaxSidecarSize int64
}

// Isolation modes of [Runtime.Isolation].
const (
	IsolationProcess   = "process"
	IsolationInProcess = "in-process"
)

// Limits caps what one invocation of a collector may produce, in bytes. Every field is more
// than 0 after [Load].
type Limits struct {
	// MaxJSONBytes caps one JSON document. TOML `max_json_bytes`; default 16 MiB
	// ([hostfuncs.DefaultMaxJSONBytes]).
	MaxJSONBytes int64
	// MaxBatchBytes caps one batch of CSV rows. TOML `max_batch_bytes`; default 16 MiB
	// ([hostfuncs.DefaultMaxBatchBytes]).
	MaxBatchBytes int64
	// MaxOutputBytes caps everything one invocation emits. TOML `max_output_bytes`; default 1 GiB
	// ([hostfuncs.DefaultMaxOutputBytes]).
	MaxOutputBytes int64
	// MaxLogBytes caps the guest's log output. TOML `max_log_bytes`; default 64 KiB
	// ([hostfuncs.DefaultMaxLogBytes]).
	MaxLogBytes int64
	// MaxStdioBytes caps the guest's stdout and stderr. TOML `max_stdio_bytes`; default 64 KiB
	// ([runtime.DefaultStdioLimit]).
	MaxStdioBytes int64
}

// GatherSettings is the [gather] table: how a gather packages what collectors emit, how far
// back it reaches, and where its files go.
type GatherSettings struct {
	// MaxDataSize caps the uncompressed collector data in one tarball, in bytes (upstream's
	// MAX_DATA_SIZE); config, manifest and status files do not count, and a single larger file
	// still goes out alone. TOML `max_data_size`; default 200 MiB ([packaging.DefaultMaxDataSize]); at least 1 KiB.
	MaxDataSize int64
	// MaxWindow is how far back a gather reaches: no collector collects from before
	// until − MaxWindow (design.md D7). TOML `max_window`, a duration or whole days ("28d");
	// default 28 days; more than 0 and at most 3650 days.
	MaxWindow time.Duration
	// TarballBase starts every tarball name: <base>-<until>-<index>.tar.gz. TOML
	// `tarball_base`; default "analytics"; 1 to 64 letters, digits, "_", "." or "-".
	TarballBase string
	// OutDir is the absolute directory dry-run gathers leave their tarballs in. TOML `out_dir`,
	// relative to the root file's directory; default "out".
	OutDir string
	// StateDir is the absolute bookkeeping directory (last gather, entries, lock), or "" for
	// the default the CLI picks (state.DefaultDir). TOML `state_dir`, relative to the root
	// file's directory.
	StateDir string
	// StatusFile, when not "", is where the CLI's gather writes what each run did, as JSON,
	// replaced whole after every run: for node exporters' textfile collectors and monitoring that
	// reads files. TOML `status_file`, relative to the root file's directory; default "".
	StatusFile string
}

// LicenseSettings is the [license] table, read by the default license gate (design.md D10): a
// product may replace the gate in Go, and then these settings mean whatever it makes of them.
type LicenseSettings struct {
	// Required, when true, lets a gather run only if File exists and is not empty. TOML
	// `required`; default false.
	Required bool
	// File is the absolute path of the license file, or "" when unset. TOML `file`, relative to
	// the root file's directory; required when Required is true.
	File string
}

// ShippingSettings is the [shipping] table: where tarballs go and how to authenticate. Secrets
// are never in the TOML: it names the environment variable or file that holds each one.
type ShippingSettings struct {
	// URL is the ingress URL tarballs are uploaded to, http:// or https://. TOML `url`; default
	// "", meaning shipping is not configured: manual and scheduled gathers then refuse to run,
	// dry runs still work.
	URL string
	// ContentType is the content type of the uploaded part. TOML `content_type`; default
	// "application/vnd.redhat.wasmcollector.analytics+tgz", which only an ingress configured for
	// service "wasmcollector" takes: with URL set and this unset, Load adds a warning.
	ContentType string
	// Auth is user-pass (HTTP Basic, the default), x-rh-identity, mutual-tls or none.
	Auth string
	// Username is the user-pass user name (TOML `username`), or "" when UsernameEnv names the
	// environment variable holding it.
	Username, UsernameEnv string
	// PasswordEnv or PasswordFile names where the user-pass password is; one is required for
	// user-pass when URL is set.
	PasswordEnv, PasswordFile string
	// IdentityFile is a JSON identity for x-rh-identity; "" sends a development identity.
	IdentityFile string
	// ClientCert and ClientKey are the PEM files of mutual-tls; both required for it.
	ClientCert, ClientKey string
	// CABundle is a PEM bundle to trust instead of the system roots; "" = system roots.
	CABundle string
	// InsecureSkipVerify turns TLS verification off, with a warning on every run.
	InsecureSkipVerify bool
	// ConnectTimeout (default 31s) and Timeout (one upload attempt, default 5m).
	ConnectTimeout, Timeout time.Duration
	// MaxAttempts bounds the tries of one upload (default 5): transport errors, 5xx and 429 are
	// retried with backoff (D5).
	MaxAttempts int
	// RetryBackoff is the first wait before a retry (default 1s); each next wait may double, up
	// to a minute, with full jitter.
	RetryBackoff time.Duration
	// FailedKeep is how many unshipped tarballs to keep in <out_dir>/failed; default 20.
	FailedKeep int
	// Headers are extra request headers ([shipping.headers]); never nil.
	Headers map[string]string
}

// Defaults of the registry's tables. Each setting's default is declared by the package that owns
// the setting (runtime, hostfuncs, shipping, datasource, packaging, state); the registry refers to
// it, so that a default changes in one place. Those the registry alone owns are declared here; see
// the sample for why each is what it is.
const (
	defaultContentType    = shipping.DefaultContentType
	defaultAuth           = string(shipping.DefaultAuth)
	defaultConnectTimeout = shipping.DefaultConnectTimeout
	defaultUploadTimeout  = shipping.DefaultTimeout
	defaultMaxAttempts    = shipping.DefaultMaxAttempts
	defaultRetryBackoff   = shipping.DefaultInitialBackoff
	defaultFailedKeep     = shipping.DefaultFailedKeep
	defaultModulesDir     = "modules"
	defaultMemoryLimit    = runtime.DefaultMemoryLimit
	defaultMaxSidecarSize = DefaultMaxSidecarSize
	defaultTimeout        = runtime.DefaultTimeout
	defaultCompileTimeout = runtime.DefaultCompileTimeout
	defaultCacheMaxSize   = runtime.DefaultCacheMaxSize
	defaultMaxJSONBytes   = hostfuncs.DefaultMaxJSONBytes
	defaultMaxBatchBytes  = hostfuncs.DefaultMaxBatchBytes
	defaultMaxOutputBytes = hostfuncs.DefaultMaxOutputBytes
	defaultMaxLogBytes    = hostfuncs.DefaultMaxLogBytes
	defaultMaxStdioBytes  = runtime.DefaultStdioLimit
	defaultShippingGroup  = packaging.DefaultGroup
	defaultMaxDataSize    = packaging.DefaultMaxDataSize // upstream's Package.MAX_DATA_SIZE
	defaultMaxWindow      = 28 * 24 * time.Hour
	defaultTarballBase    = packaging.DefaultBase
	defaultOutDir         = "out"
	defaultStateDriver    = "file"
	defaultLockName       = state.DefaultLockName
	defaultDSMaxRows      = datasource.DefaultMaxRows
	defaultDSMaxBytes     = datasource.DefaultMaxBytes
	defaultDSTimeout      = datasource.DefaultTimeout
)

// DefaultMaxSidecarSize is the default of [runtime] max_sidecar_size (Runtime.MaxSidecarSize).
const DefaultMaxSidecarSize = 1 << 20

// Module is one WebAssembly module file that collectors live in.
type Module struct {
	// Name is the file name relative to Runtime.ModulesDir, slash-separated and cleaned, such as
	// "jobs.wasm" or "vendor/jobs.wasm".
	Name string
	// Path is the absolute path of the file.
	Path string
	// Source is the file the operator installed when Path is a private copy of it (serve runs
	// copies named by their sha256, so that an overwritten file changes nothing unchecked); ""
	// when Path is that file. A record names it, so that a replay finds the module after the
	// copy is gone.
	Source string
	// SHA256 is the lowercase hex sha256 the file is pinned to, or, when it is not pinned and
	// its signature verified, the sha256 of the bytes verified; "" otherwise. [Load] checked the
	// file against it; whoever reads the file later must check again, as the file may have
	// changed since (the runtime does, at compilation).
	SHA256 string
	// Signature is what Load found of the module's signature (NAME.wasm.minisig): nil when
	// collectors.toml has no [trust] table, so that nothing was checked.
	Signature *ModuleSignature
	// MemoryLimit is the linear-memory cap of an instance, in bytes: the operator's grant (root
	// [modules."NAME"] memory_limit, else Runtime.MemoryLimit), or the sidecar's lower request.
	MemoryLimit uint64
	// Timeout is the default timeout of the module's collectors: the operator's (root
	// [modules."NAME"] timeout, else Runtime.Timeout), or the sidecar's lower [module] timeout.
	// A sidecar's collector may not set a longer timeout than the operator's.
	Timeout time.Duration
	// Sidecar is the absolute path of the sidecar TOML that declares this module's collectors,
	// "" if there is none.
	Sidecar string
	// DataSources are granted to every collector of the module: root [modules."NAME"]
	// `datasources`. Only the operator's file grants; see Requested.
	DataSources []string
	// Mounts are host directories the module may read, as WASI preopens: root
	// [modules."NAME"] `mounts = {"/guest/path" = "host/dir"}`, host paths relative to
	// collectors.toml.
	Mounts []Mount
	// Env names host environment variables passed to the module (only those): root
	// [modules."NAME"] `env`.
	Env []string
	// Requested is what the module's sidecar asks for. [Load] refuses (disables) a module whose
	// sidecar asks for more than the operator grants; the grants above are what it gets.
	Requested Requests
}

// Requests is what a sidecar asks for its module: its [module] table and its collectors'
// datasources, timeouts and limits. Requests grant nothing; only collectors.toml grants.
type Requests struct {
	// Mounts are the [module] mounts, host directories resolved against the sidecar.
	Mounts []Mount
	// Env are the [module] env names.
	Env []string
	// DataSources are the [module] datasources and every collector's, each once.
	DataSources []string
	// MemoryLimit is the [module] memory_limit in bytes; 0 when unset.
	MemoryLimit uint64
	// Timeout is the longest of the [module] timeout and the collectors' timeouts; 0 when none
	// is set.
	Timeout time.Duration
	// Limits holds, per field, the highest [collector.limits] value of the sidecar's collectors
	// that is above the operator's [limits]; 0 where none is.
	Limits Limits
}

// Empty reports whether r asks for nothing.
func (r Requests) Empty() bool {
	return len(r.Mounts) == 0 && len(r.Env) == 0 && len(r.DataSources) == 0 && r.MemoryLimit == 0 &&
		r.Timeout == 0 && r.Limits == Limits{}
}

// Mount is one read-only directory granted to a module.
type Mount struct {
	// Guest is the absolute path the module sees.
	Guest string
	// Host is the absolute host directory behind it.
	Host string
}

// StateSettings is the [state] table. The default, "file", keeps the bookkeeping in
// [gather] state_dir with a file lock (one machine); "postgres" keeps it in a database shared by
// several nodes, serialised by an advisory lock (upstream-behaviour.md 3.2).
type StateSettings struct {
	// Driver is "file" (default) or "postgres".
	Driver string
	// DSN, or DSNEnv / DSNFile naming where the whole DSN is; PasswordEnv / PasswordFile name
	// where the password is. As for a postgres data source.
	DSN, DSNEnv, DSNFile, PasswordEnv, PasswordFile string
	// LockName names the advisory lock; default "gather_analytics_lock", upstream's.
	LockName string
}

// DataSource is a [datasources.NAME] table: a database collectors may read, read-only, when
// granted. Secrets are never in the TOML: it names the variable or file holding them.
type DataSource struct {
	// Name is the table's name, which grants use.
	Name string
	// Driver is "sqlite" or "postgres".
	Driver string
	// Path is the SQLite file (absolute).
	Path string
	// DSN is the PostgreSQL connection string without secrets; or DSNEnv / DSNFile name where
	// the whole DSN is.
	DSN, DSNEnv, DSNFile string
	// PasswordEnv or PasswordFile name where the PostgreSQL password is, if the DSN lacks one.
	PasswordEnv, PasswordFile string
	// MaxRows and MaxBytes cap what one query returns to a guest; Timeout caps one statement.
	// Defaults 1,000,000 rows, 64 MiB, 30s ([datasource.DefaultMaxRows], [datasource.DefaultMaxBytes],
	// [datasource.DefaultTimeout]).
	MaxRows, MaxBytes int64
	Timeout           time.Duration
	// AllowPrivilegedRole lets a PostgreSQL data source connect as a role that may do more than
	// read (superuser, owner, write privileges); without it such a role is refused. Default false.
	AllowPrivilegedRole bool
	// TimestampFormat (sqlite only) is how the source's timestamp columns are written, and so
	// how @since and @until are bound for them to compare correctly: "iso8601" (the default,
	// 2006-01-02T15:04:05.000000Z), "iso8601-seconds" (2006-01-02T15:04:05Z), "sqlite"
	// (2006-01-02 15:04:05, what CURRENT_TIMESTAMP writes), "sqlite-ms" (2006-01-02
	// 15:04:05.000), "unixepoch" (integer seconds) or "unixepoch-ms" (integer milliseconds).
	TimestampFormat string
}

// Values of Collector.TimeGuard.
const (
	TimeGuardFail = "fail"
	TimeGuardWarn = "warn"
)

// TimestampFormats lists the values DataSource.TimestampFormat may take.
var TimestampFormats = []string{"iso8601", "iso8601-seconds", "sqlite", "sqlite-ms", "unixepoch", "unixepoch-ms"}

// Format is the output format of a collector.
type Format string

// The formats a collector may declare.
const (
	// FormatJSON is one JSON document per invocation (the default).
	FormatJSON Format = "json"
	// FormatCSV is a header and rows, written and split by the host.
	FormatCSV Format = "csv"
)

// SlicingKind says whether and how a collector's collection window is cut into slices.
type SlicingKind int

// The kinds of slicing.
const (
	// SliceNone collects the whole window in one invocation (the default).
	SliceNone SlicingKind = iota
	// SliceFixed cuts the window into slices of Slicing.Interval.
	SliceFixed
	// SliceDaily cuts the window into one slice per day.
	SliceDaily
)

// String returns "none", "fixed" or "daily".
func (k SlicingKind) String() string {
	switch k {
	case SliceNone:
		return "none"
	case SliceFixed:
		return "fixed"
	case SliceDaily:
		return "daily"
	}
	return "unknown"
}

// Slicing is a collector's TOML `slicing`: "none", "daily" or a fixed interval such as "4h".
type Slicing struct {
	// Kind says how the window is cut.
	Kind SlicingKind
	// Interval is the slice length for SliceFixed, 0 otherwise.
	Interval time.Duration

	text string // as written in the TOML, for String
}

// String returns "none", "daily", or the interval as the user wrote it ("4h", "90m"); for a
// Slicing built in Go, the shortest form of the interval.
func (s Slicing) String() string {
	switch s.Kind {
	case SliceNone:
		return "none"
	case SliceDaily:
		return "daily"
	}
	if s.text != "" {
		return s.text
	}
	t := s.Interval.String()
	if strings.HasSuffix(t, "m0s") {
		t = strings.TrimSuffix(t, "0s")
	}
	if strings.HasSuffix(t, "h0m") {
		t = strings.TrimSuffix(t, "0m")
	}
	return t
}

// Collector is one [[collector]] entry: a function exported by a module, and how its output is
// collected.
type Collector struct {
	// Key names the output (member `./<key>.<format>` in tarballs). Unique, except that sliced
	// collectors may share a key: those of one module, or any of the root file (never a key a
	// sidecar declares with another module, [CodeKeyConflict]).
	Key string
	// Version is the collector's version, written to manifest.json.
	Version string
	// Description is free text for `wasmcollector list`.
	Description string
	// Format is FormatJSON (default) or FormatCSV.
	Format Format
	// Config marks the one collector whose output describes the installation; it runs first.
	Config bool
	// Slicing says how the collection window is cut; default none.
	Slicing Slicing
	// ShippingGroup names the group of collectors shipped together; default "default".
	ShippingGroup string
	// FullSyncIntervalDays is how often, in days, a sliced collector re-collects from the start
	// of the window; 0 means never.
	FullSyncIntervalDays int
	// Module is the module exporting Function; nil only when [Load] reported a problem with it.
	Module *Module
	// Function is the export to call; default Key.
	Function string
	// Params is the [collector.params] table handed to the guest, as decoded by BurntSushi/toml
	// (string, int64, float64, bool, time.Time, []any, map[string]any). Never nil.
	Params map[string]any
	// Limits are the registry's Limits, overridden field by field by [collector.limits].
	Limits Limits
	// Timeout limits one invocation: the collector's `timeout`, else Runtime.Timeout.
	Timeout time.Duration
	// DataSources are the data sources the collector may read: its own `datasources` and its
	// module's, each once, in that order.
	DataSources []string
	// TimeColumn, for a CSV collector, names the column the slice guard checks: the host checks
	// that every emitted row's value lies in the slice (since, until]. "" means no guard.
	TimeColumn string
	// TimeGuard is what a row outside the slice does: TimeGuardFail (default) fails the slice,
	// TimeGuardWarn logs a warning and keeps the row.
	TimeGuard string
	// Source is where the [[collector]] header is.
	Source Position
	// FunctionSource is where the collector names its function: its `function`, else its `key`
	// (which names the function then). Problems with the export, found when the module is
	// checked, point here.
	FunctionSource Position
}

// Position is a place in a TOML file.
type Position struct {
	// File is the file's path as problems show it: the path given to [Load], or for a sidecar
	// that path's directory joined with modules_dir and the sidecar's name.
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Field names the value in TOML terms, as [Problem].Field does: "collector[2]",
	// "collector[2].function".
	Field string
}
