// Package registry reads collectors.toml, the file that declares which analytics collectors
// wasmcollector runs, which WebAssembly module each lives in, the limits they run under, and how
// a gather packages, gates and ships their output.
//
// It sits at the very start of the flow (see design.md "The flow"): [Load] turns the root TOML
// file, plus the sidecar TOML files dropped beside modules in the modules directory, into a
// [Registry] that gather, the runtime and the CLI consume. The package does no I/O beyond reading
// those files and hashing the module files that carry a sha256 pin; it never compiles or runs a
// module.
//
// # What Load does
//
//   - decodes the root file and every sidecar (a NAME.toml beside a NAME.wasm in the modules
//     directory) with github.com/BurntSushi/toml;
//   - applies defaults in one place (runtime settings, output limits, gather settings, per-module
//     memory limits, per-collector format, function name, shipping group and timeout);
//   - validates everything and reports every problem at once as [Problems], each naming the file,
//     the line (when known) and the field, so that `wasmcollector validate` can print them all;
//   - holds each sidecar's requests (mounts, environment, data sources, limits: [Requests])
//     against what the root file grants: only the operator's file grants, a sidecar asks;
//   - disables, rather than fails on, a module whose sidecar has a problem ([DisabledModule]), so
//     that one vendor's file cannot cost the others their collectors;
//   - caps every file's size and nesting before it is parsed.
//
// Each [Problem] carries a [Code] saying what kind of problem it is; act on the code, never on
// the message. [LoadSidecar] reads one sidecar alone, with every rule of Load, for tools that
// check a vendor's module before any product loads it (`wasmcollector check`).
//
// Defaults are declared by the package that owns each setting (runtime, hostfuncs, shipping,
// datasource, packaging, state) and the registry refers to them; sizes are parsed and printed by
// internal/bytesize.
//
// The schema is documented, option by option, in the embedded sample returned by [Sample].
//
// # Concurrency
//
// A [Registry] is not modified after [Load] returns; it is safe to read from many goroutines.
package registry
