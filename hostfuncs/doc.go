// Package hostfuncs is the host side of ABI v1: the import module "wasmcollector_v1" that collector
// modules call to hand over JSON documents and CSV rows, read their time slice and parameters, log
// and report failure.
//
// It sits between the runtime, which instantiates guests, and packaging, which receives their
// output: every call is checked (bounds, caps, UTF-8, JSON validity, CSV field counts) and the
// accepted output is written straight to the [io.Writer] of the [Request]; nothing is buffered
// beyond one row. ABI.md in this directory is the contract; each function's doc mirrors its entry.
//
// Per-invocation state is an [*Invocation], carried in the context given to wazero with
// [WithInvocation]. The host module itself is stateless and shared by every guest of a runtime.
package hostfuncs
