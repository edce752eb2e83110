package registry

import "github.com/BurntSushi/toml"

// The structs below mirror the TOML schema (see sample.toml) and carry no behaviour.
//
// Why `any` and toml.Primitive rather than typed fields? BurntSushi/toml stops at the first value
// it cannot store, and we owe the user every problem at once. So scalars decode into `any` and are
// type-checked field by field in validate.go, and every nested table is a toml.Primitive decoded
// on its own, so that one table of the wrong shape (`limits = 5`) costs only that table. Keys no
// struct field claims show up in toml.MetaData.Undecoded and are reported as unknown.

// rootFile is collectors.toml.
type rootFile struct {
	Runtime     toml.Primitive `toml:"runtime"`     // runtimeTable
	Limits      toml.Primitive `toml:"limits"`      // limitsTable
	Gather      toml.Primitive `toml:"gather"`      // gatherTable
	License     toml.Primitive `toml:"license"`     // licenseTable
	Shipping    toml.Primitive `toml:"shipping"`    // shippingTable
	Modules     toml.Primitive `toml:"modules"`     // map[string]toml.Primitive of moduleTable, keyed by module name
	DataSources toml.Primitive `toml:"datasources"` // map[string]toml.Primitive of dataSourceTable
	State       toml.Primitive `toml:"state"`       // stateTable
	Collector   toml.Primitive `toml:"collector"`   // []toml.Primitive of collectorTable
}

// dataSourceTable is [datasources.NAME].
type dataSourceTable struct {
	Driver       any `toml:"driver"`        // sqlite | postgres
	Path         any `toml:"path"`          // sqlite file
	DSN          any `toml:"dsn"`           // postgres, without secrets
	DSNEnv       any `toml:"dsn_env"`       // environment variable holding the DSN
	DSNFile      any `toml:"dsn_file"`      // file holding the DSN
	PasswordEnv  any `toml:"password_env"`  // environment variable holding the password
	PasswordFile any `toml:"password_file"` // file holding the password
	MaxRows      any `toml:"max_rows"`      // integer
	MaxBytes     any `toml:"max_bytes"`     // size
	Timeout      any `toml:"timeout"`       // duration
	Password     any `toml:"password"`      // refused: secrets never sit in the TOML
	// AllowPrivilegedRole (bool, postgres) lets the data source connect as a role that may do
	// more than read.
	AllowPrivilegedRole any `toml:"allow_privileged_role"`
	// TimestampFormat is how @since/@until are bound on sqlite: see DataSource.TimestampFormat.
	TimestampFormat any `toml:"timestamp_format"`
}

// sidecarFile is a NAME.toml beside NAME.wasm in the modules directory.
type sidecarFile struct {
	Module    toml.Primitive `toml:"module"`    // moduleTable
	Collector toml.Primitive `toml:"collector"` // []toml.Primitive of collectorTable
}

// runtimeTable is [runtime].
type runtimeTable struct {
	ModulesDir  any `toml:"modules_dir"`  // string
	CacheDir    any `toml:"cache_dir"`    // string
	MemoryLimit any `toml:"memory_limit"` // size
	Timeout     any `toml:"timeout"`      // duration string

	Isolation      any `toml:"isolation"`       // process | in-process
	Workers        any `toml:"workers"`         // integer
	CompileTimeout any `toml:"compile_timeout"` // duration string
	CacheMaxSize   any `toml:"cache_max_size"`  // size
	// MaxSidecarSize caps a sidecar file, checked before it is read.
	MaxSidecarSize any `toml:"max_sidecar_size"` // size
}

// limitsTable is [limits] and [collector.limits]; every value is a size.
type limitsTable struct {
	MaxJSONBytes   any `toml:"max_json_bytes"`
	MaxBatchBytes  any `toml:"max_batch_bytes"`
	MaxOutputBytes any `toml:"max_output_bytes"`
	MaxLogBytes    any `toml:"max_log_bytes"`
	MaxStdioBytes  any `toml:"max_stdio_bytes"`
}

// gatherTable is [gather].
type gatherTable struct {
	MaxDataSize any `toml:"max_data_size"` // size
	MaxWindow   any `toml:"max_window"`    // duration string, days allowed
	TarballBase any `toml:"tarball_base"`  // string
	OutDir      any `toml:"out_dir"`       // string
	StateDir    any `toml:"state_dir"`     // string
}

// stateTable is [state]: where the bookkeeping lives.
type stateTable struct {
	Driver       any `toml:"driver"`        // file | postgres
	DSN          any `toml:"dsn"`           // postgres, without secrets
	DSNEnv       any `toml:"dsn_env"`       // environment variable holding the DSN
	DSNFile      any `toml:"dsn_file"`      // file holding the DSN
	PasswordEnv  any `toml:"password_env"`  // environment variable holding the password
	PasswordFile any `toml:"password_file"` // file holding the password
	LockName     any `toml:"lock_name"`     // advisory lock name
	Password     any `toml:"password"`      // refused: secrets never sit in the TOML
}

// licenseTable is [license].
type licenseTable struct {
	Required any `toml:"required"` // bool
	File     any `toml:"file"`     // string
}

// shippingTable is [shipping].
type shippingTable struct {
	URL                any            `toml:"url"`                  // string
	ContentType        any            `toml:"content_type"`         // string
	Auth               any            `toml:"auth"`                 // user-pass | x-rh-identity | mutual-tls | none
	Username           any            `toml:"username"`             // string (not a secret)
	UsernameEnv        any            `toml:"username_env"`         // environment variable name
	PasswordEnv        any            `toml:"password_env"`         // environment variable name
	PasswordFile       any            `toml:"password_file"`        // path
	IdentityFile       any            `toml:"identity_file"`        // path to a JSON identity
	ClientCert         any            `toml:"client_cert"`          // path
	ClientKey          any            `toml:"client_key"`           // path
	CABundle           any            `toml:"ca_bundle"`            // path
	InsecureSkipVerify any            `toml:"insecure_skip_verify"` // bool
	ConnectTimeout     any            `toml:"connect_timeout"`      // duration
	Timeout            any            `toml:"timeout"`              // duration
	MaxAttempts        any            `toml:"max_attempts"`         // integer
	RetryBackoff       any            `toml:"retry_backoff"`        // duration
	FailedKeep         any            `toml:"failed_keep"`          // integer
	Headers            toml.Primitive `toml:"headers"`              // map[string]string
	Password           any            `toml:"password"`             // refused: secrets never sit in the TOML
}

// moduleTable is [modules."NAME.wasm"] in the root file, where it grants, and [module] in a
// sidecar, where it requests (see grant.go).
type moduleTable struct {
	DataSources any            `toml:"datasources"`  // []string: data sources every collector of the module may use
	Mounts      toml.Primitive `toml:"mounts"`       // map guest path → host directory, read-only
	Env         any            `toml:"env"`          // []string: environment variables passed through
	SHA256      any            `toml:"sha256"`       // 64 hex digits
	MemoryLimit any            `toml:"memory_limit"` // size
	Timeout     any            `toml:"timeout"`      // duration string: default and ceiling of the module's collectors
}

// collectorTable is one [[collector]].
type collectorTable struct {
	Key                  any            `toml:"key"`                     // string, required
	Version              any            `toml:"version"`                 // string, required
	Description          any            `toml:"description"`             // string
	Format               any            `toml:"format"`                  // "json" | "csv"
	Config               any            `toml:"config"`                  // bool
	Slicing              any            `toml:"slicing"`                 // "none" | "daily" | duration
	ShippingGroup        any            `toml:"shipping_group"`          // string
	FullSyncIntervalDays any            `toml:"full_sync_interval_days"` // integer
	Module               any            `toml:"module"`                  // string, required in the root file
	Function             any            `toml:"function"`                // string
	Timeout              any            `toml:"timeout"`                 // duration string
	Params               toml.Primitive `toml:"params"`                  // map[string]any
	DataSources          any            `toml:"datasources"`             // []string
	Limits               toml.Primitive `toml:"limits"`                  // limitsTable
	TimeColumn           any            `toml:"time_column"`             // string: the slice guard's column
	TimeGuard            any            `toml:"time_guard"`              // "fail" | "warn"
}
