package registry

import "time"

// The structs below are the schema: they mirror the TOML (see sample.toml) one field per key,
// and carry no behaviour. Each leaf is a value[T] and each table a table[T] (tables[T] for an
// array of tables), wrappers that never fail to decode (see decode.go): a value of the wrong
// type or an invalid one is recorded in its wrapper, not returned, so that one bad value costs
// only itself and every problem is reported at once. Validation (validate.go, module.go,
// datasource.go) then reads each wrapper once, turning what it recorded into a problem and what
// it holds into the model of registry.go, with the defaults.
//
// Adding a key: add a field here (its tag is the key, its type says what the value may be),
// then read it where the table is validated. Keys no field claims are reported as unknown.

// rootFile is collectors.toml.
type rootFile struct {
	Runtime     table[runtimeTable]                       `toml:"runtime"`
	Limits      table[limitsTable]                        `toml:"limits"`
	Gather      table[gatherTable]                        `toml:"gather"`
	License     table[licenseTable]                       `toml:"license"`
	Shipping    table[shippingTable]                      `toml:"shipping"`
	Modules     table[map[string]*table[moduleTable]]     `toml:"modules"`     // keyed by module name
	DataSources table[map[string]*table[dataSourceTable]] `toml:"datasources"` // keyed by data source name
	State       table[stateTable]                         `toml:"state"`
	Trust       table[trustTable]                         `toml:"trust"`
	Serve       table[serveTable]                         `toml:"serve"`
	Collector   tables[collectorTable]                    `toml:"collector"`
}

// sidecarFile is a NAME.toml beside NAME.wasm in the modules directory.
type sidecarFile struct {
	Module    table[moduleTable]     `toml:"module"`
	Collector tables[collectorTable] `toml:"collector"`
}

// runtimeTable is [runtime].
type runtimeTable struct {
	ModulesDir     value[string]  `toml:"modules_dir"`
	CacheDir       value[string]  `toml:"cache_dir"`
	MemoryLimit    value[Size]    `toml:"memory_limit"`
	Timeout        value[timeout] `toml:"timeout"`
	Isolation      value[string]  `toml:"isolation"` // process | in-process
	Workers        value[int64]   `toml:"workers"`
	CompileTimeout value[timeout] `toml:"compile_timeout"`
	CacheMaxSize   value[Size]    `toml:"cache_max_size"`
	// MaxSidecarSize caps a sidecar file, checked before it is read.
	MaxSidecarSize value[Size] `toml:"max_sidecar_size"`
}

// limitsTable is [limits] and [collector.limits].
type limitsTable struct {
	MaxJSONBytes   value[Size] `toml:"max_json_bytes"`
	MaxBatchBytes  value[Size] `toml:"max_batch_bytes"`
	MaxOutputBytes value[Size] `toml:"max_output_bytes"`
	MaxLogBytes    value[Size] `toml:"max_log_bytes"`
	MaxStdioBytes  value[Size] `toml:"max_stdio_bytes"`
}

// gatherTable is [gather].
type gatherTable struct {
	MaxDataSize value[Size]     `toml:"max_data_size"`
	MaxWindow   value[Duration] `toml:"max_window"` // days allowed
	TarballBase value[string]   `toml:"tarball_base"`
	OutDir      value[string]   `toml:"out_dir"`
	StateDir    value[string]   `toml:"state_dir"`
	StatusFile  value[string]   `toml:"status_file"`
}

// licenseTable is [license].
type licenseTable struct {
	Required value[bool]   `toml:"required"`
	File     value[string] `toml:"file"`
}

// shippingTable is [shipping].
type shippingTable struct {
	URL                value[string]         `toml:"url"`
	ContentType        value[string]         `toml:"content_type"`
	Auth               value[string]         `toml:"auth"`     // user-pass | x-rh-identity | mutual-tls | none
	Username           value[string]         `toml:"username"` // not a secret
	UsernameEnv        value[string]         `toml:"username_env"`
	PasswordEnv        value[string]         `toml:"password_env"`
	PasswordFile       value[string]         `toml:"password_file"`
	IdentityFile       value[string]         `toml:"identity_file"` // a JSON identity
	ClientCert         value[string]         `toml:"client_cert"`
	ClientKey          value[string]         `toml:"client_key"`
	CABundle           value[string]         `toml:"ca_bundle"`
	InsecureSkipVerify value[bool]           `toml:"insecure_skip_verify"`
	ConnectTimeout     value[timeout]        `toml:"connect_timeout"`
	Timeout            value[timeout]        `toml:"timeout"`
	MaxAttempts        value[int64]          `toml:"max_attempts"`
	RetryBackoff       value[timeout]        `toml:"retry_backoff"`
	FailedKeep         value[int64]          `toml:"failed_keep"`
	Headers            table[map[string]any] `toml:"headers"`  // header name → string
	Password           value[any]            `toml:"password"` // refused: secrets never sit in the TOML
}

// moduleTable is [modules."NAME.wasm"] in the root file, where it grants, and [module] in a
// sidecar, where it requests (see grant.go).
type moduleTable struct {
	DataSources value[[]string]       `toml:"datasources"` // data sources every collector of the module may use
	Mounts      table[map[string]any] `toml:"mounts"`      // guest path → host directory, read-only
	Env         value[[]string]       `toml:"env"`         // environment variables passed through
	SHA256      value[string]         `toml:"sha256"`      // 64 hex digits
	MemoryLimit value[Size]           `toml:"memory_limit"`
	Timeout     value[timeout]        `toml:"timeout"` // default and ceiling of the module's collectors
}

// dataSourceTable is [datasources.NAME].
type dataSourceTable struct {
	Driver       value[string]  `toml:"driver"` // sqlite | postgres
	Path         value[string]  `toml:"path"`   // sqlite file
	DSN          value[string]  `toml:"dsn"`    // postgres, without secrets
	DSNEnv       value[string]  `toml:"dsn_env"`
	DSNFile      value[string]  `toml:"dsn_file"`
	PasswordEnv  value[string]  `toml:"password_env"`
	PasswordFile value[string]  `toml:"password_file"`
	MaxRows      value[int64]   `toml:"max_rows"`
	MaxBytes     value[Size]    `toml:"max_bytes"`
	Timeout      value[timeout] `toml:"timeout"`
	Password     value[any]     `toml:"password"` // refused: secrets never sit in the TOML
	// AllowPrivilegedRole (postgres) lets the data source connect as a role that may do more
	// than read.
	AllowPrivilegedRole value[bool] `toml:"allow_privileged_role"`
	// TimestampFormat is how @since/@until are bound on sqlite: see DataSource.TimestampFormat.
	TimestampFormat value[string] `toml:"timestamp_format"`
}

// stateTable is [state]: where the bookkeeping lives.
type stateTable struct {
	Driver       value[string] `toml:"driver"` // file | postgres
	DSN          value[string] `toml:"dsn"`    // postgres, without secrets
	DSNEnv       value[string] `toml:"dsn_env"`
	DSNFile      value[string] `toml:"dsn_file"`
	PasswordEnv  value[string] `toml:"password_env"`
	PasswordFile value[string] `toml:"password_file"`
	LockName     value[string] `toml:"lock_name"` // advisory lock name
	Password     value[any]    `toml:"password"`  // refused: secrets never sit in the TOML
}

// trustTable is [trust]: which keys may sign which modules (trust.go).
type trustTable struct {
	RequireSignatures value[bool]           `toml:"require_signatures"`
	Keys              tables[trustKeyTable] `toml:"keys"`
}

// trustKeyTable is one [[trust.keys]].
type trustKeyTable struct {
	Name    value[string]    `toml:"name"`     // whose key, for people
	Pattern value[string]    `toml:"pattern"`  // module names it may sign, as path.Match
	Key     value[string]    `toml:"key"`      // minisign public key, "RWQ…"
	KeyFile value[string]    `toml:"key_file"` // or a minisign .pub file
	Expires value[time.Time] `toml:"expires"`  // a TOML date or datetime
}

// collectorTable is one [[collector]].
type collectorTable struct {
	Key                  value[string]         `toml:"key"`     // required
	Version              value[string]         `toml:"version"` // required
	Description          value[string]         `toml:"description"`
	Format               value[Format]         `toml:"format"`
	Config               value[bool]           `toml:"config"`
	Slicing              value[Slicing]        `toml:"slicing"`
	ShippingGroup        value[string]         `toml:"shipping_group"`
	FullSyncIntervalDays value[int64]          `toml:"full_sync_interval_days"`
	Module               value[string]         `toml:"module"` // required in the root file
	Function             value[string]         `toml:"function"`
	Timeout              value[timeout]        `toml:"timeout"`
	Params               table[map[string]any] `toml:"params"` // free-form, handed to the guest
	DataSources          value[[]string]       `toml:"datasources"`
	Limits               table[limitsTable]    `toml:"limits"`
	TimeColumn           value[string]         `toml:"time_column"` // the slice guard's column
	TimeGuard            value[string]         `toml:"time_guard"`  // fail | warn
}

// serveTable is [serve]: how `wasmcollector serve` schedules gathers and where it serves its
// page. Its flags override each key.
type serveTable struct {
	Interval      value[Duration] `toml:"interval"`
	Cron          value[string]   `toml:"cron"` // excludes interval
	Jitter        value[Duration] `toml:"jitter"`
	Listen        value[string]   `toml:"listen"` // host:port
	BasicAuthFile value[string]   `toml:"basic_auth_file"`
	Watch         value[bool]     `toml:"watch"`
	RecordDir     value[string]   `toml:"record_dir"`
	Record        value[string]   `toml:"record"` // all | failures
	RecordKeep    value[int64]    `toml:"record_keep"`
	RecordKeepB   value[Size]     `toml:"record_keep_bytes"`
	RecordOutput  value[bool]     `toml:"record_output"`
	RecordSecrets value[bool]     `toml:"record_secrets"`
}
