// Package registry reads collectors.toml, the file that declares which analytics collectors
// wasmcollector runs, which WebAssembly module each lives in, the limits they run under, and how
// a gather packages, gates and ships their output.
//
// It sits at the very start of the flow (see design.md "The flow"): [Load] turns the root TOML
// file, plus the sidecar TOML files dropped beside modules in the modules directory, into a
// [Registry] that gather, the runtime and the CLI consume. The package does no I/O beyond reading
// those files, hashing the module files that carry a sha256 pin and verifying signatures; it never
// compiles or runs a module.
//
// # What Load does
//
//   - parses the root file and every sidecar (a NAME.toml beside a NAME.wasm in the modules
//     directory) once, with github.com/BurntSushi/toml, into the schema: one set of structs
//     mirroring the TOML (schema.go) whose leaves convert themselves and record, rather than
//     return, what is wrong with them, so that decoding never stops at a bad value;
//   - applies defaults in one place (runtime settings, output limits, gather settings, per-module
//     memory limits, per-collector format, function name, shipping group and timeout);
//   - validates everything and reports every problem at once as [Problems], each naming the file,
//     the line (when known) and the field, so that `wasmcollector validate` can print them all;
//   - holds each sidecar's requests (mounts, environment, data sources, limits: [Requests])
//     against what the root file grants: only the operator's file grants, a sidecar asks;
//   - disables, rather than fails on, a module whose sidecar has a problem ([DisabledModule]), so
//     that one vendor's file cannot cost the others their collectors;
//   - caps every file's size and nesting before it is parsed;
//   - with a [trust] table, verifies each module's signature (NAME.wasm.minisig, covering the
//     module and its sidecar) against the keys trusted for its name (trust.go), disabling a
//     module that fails when signatures are required and warning otherwise ([Registry.Warnings]).
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
// # Adding a key
//
// Add a field to the struct of its table in schema.go: the tag is the key, the type says what
// the value may be (value[string], value[Size], value[timeout], value[[]string], table[...]).
// Then read it once where that table is validated (validate.go, module.go, datasource.go): get
// reports the problem the value recorded, at its line, and returns the value to put into the
// model of registry.go, else the default declared by the package owning the setting. Unknown and
// wrong-case keys need nothing more. Document the key in sample.toml.
//
// # Concurrency
//
// A [Registry] is not modified after [Load] returns; it is safe to read from many goroutines.
package registry
