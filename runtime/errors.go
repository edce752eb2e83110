package runtime

import (
	"errors"
	"fmt"
)

// ModuleErrorKind classifies why a module cannot be used, so that callers (check, validate, a
// worker's host) sort failures by kind and never by message text.
type ModuleErrorKind string

// Module error kinds. The values are stable: they cross the worker protocol.
const (
	// ModuleUnreadable: the file cannot be read, or is not a regular file.
	ModuleUnreadable ModuleErrorKind = "unreadable"
	// ModuleTooLarge: over a size cap of the host (the 64 MiB file, the tables' entries).
	ModuleTooLarge ModuleErrorKind = "too_large"
	// ModuleMismatch: the bytes do not match the pinned sha256.
	ModuleMismatch ModuleErrorKind = "sha256_mismatch"
	// ModuleNotWasm: not a WebAssembly module at all (no \0asm magic).
	ModuleNotWasm ModuleErrorKind = "not_wasm"
	// ModuleInvalid: a WebAssembly binary that does not decode, validate or compile.
	ModuleInvalid ModuleErrorKind = "invalid"
	// ModuleCompileTimeout: compilation passed compile_timeout. Such errors also match
	// [ErrCompileTimeout] with errors.Is.
	ModuleCompileTimeout ModuleErrorKind = "compile_timeout"
	// ModuleABI: a valid module that does not fit ABI v1: an import the host does not serve or
	// serves with another type, an imported memory, table or global, no exported "memory", a
	// WASI command instead of a reactor, a bad _initialize.
	ModuleABI ModuleErrorKind = "abi"
	// ModuleMemory: the declared minimum memory is over the module's memory limit.
	ModuleMemory ModuleErrorKind = "memory"
	// ModuleExport: a collector function the spec names is missing or not () -> i32.
	ModuleExport ModuleErrorKind = "export"
	// ModuleBadSpec: the ModuleSpec itself is unusable (memory limit, mounts).
	ModuleBadSpec ModuleErrorKind = "spec"
	// ModuleCanceled: the load was abandoned (the caller's context ended, the engine closed).
	ModuleCanceled ModuleErrorKind = "canceled"
)

// ModuleErrorKinds lists every kind, for validating one that crossed a process boundary.
var ModuleErrorKinds = []ModuleErrorKind{
	ModuleUnreadable, ModuleTooLarge, ModuleMismatch, ModuleNotWasm, ModuleInvalid, ModuleCompileTimeout,
	ModuleABI, ModuleMemory, ModuleExport, ModuleBadSpec, ModuleCanceled,
}

// CompileFailed reports whether the kind means the module did not compile (as opposed to a
// compiled module the host refuses).
func (k ModuleErrorKind) CompileFailed() bool {
	return k == ModuleNotWasm || k == ModuleInvalid || k == ModuleCompileTimeout
}

// ModuleError is a module that cannot be used: unreadable, not WebAssembly, a pin mismatch, or a
// mismatch with ABI v1 (unknown import, missing export, memory over the limit). Kind says which.
type ModuleError struct {
	Module string // module name
	Kind   ModuleErrorKind
	Err    error
	// Functions, for kind ModuleExport, are the collector functions at fault, every one of them
	// in the order the spec named them: a caller fails only the collectors calling them and
	// runs the module's others. Empty for other kinds.
	Functions []*FunctionError
}

func (e *ModuleError) Error() string { return fmt.Sprintf("module %s: %v", e.Module, e.Err) }
func (e *ModuleError) Unwrap() error { return e.Err }

// FunctionError is a collector function a module does not export, or exports with a type other
// than () -> i32. Its message says which, lists the module's collector functions (the exports of
// that type, runtime internals left out, at most maxListedExports) and, where the binary shows
// its likely cause, the fix: a Go module whose source used TinyGo's //export.
type FunctionError struct {
	Function string `json:"function"`
	Message  string `json:"message"`
}

func (e *FunctionError) Error() string { return e.Message }

// ErrCompileTimeout marks a module whose compilation passed compile_timeout.
var ErrCompileTimeout = errors.New("compile timeout")

// kindError gives an error from deep in the loader the kind its *ModuleError takes. Its message
// is the wrapped error's.
type kindError struct {
	kind ModuleErrorKind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// withKind marks err (nil stays nil) as of kind.
func withKind(kind ModuleErrorKind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// kindOf returns the kind err was marked with, else def.
func kindOf(err error, def ModuleErrorKind) ModuleErrorKind {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return def
}
