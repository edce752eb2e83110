// Package runtime runs collector modules under wazero in a sandbox: compile each module once
// (keyed by sha256, with an on-disk compilation cache), check it against ABI v1 before anything
// runs, and give every invocation a fresh instance with a memory limit, a deadline and capped
// stdout/stderr, closed after use and after any error.
//
// The sandbox grants nothing: no files, environment, arguments, network or stdin. Guests get real
// clocks and crypto/rand randomness. Tables are capped before compiling (see RATIONALE.md "Why
// does the host rewrite table maximums?"), and a module file must be a regular file. wazero's
// interrupt flag is on unless Config.WithInterruptCheck(false): without it a spinning guest cannot
// be stopped and freezes the Go garbage collector for the whole process, so only a worker process
// that its parent kills at the deadline turns it off (see RATIONALE.md "Why worker processes?").
//
// A module that cannot be used fails [Engine.Load] with a *[ModuleError] whose Kind says why (not
// WebAssembly, invalid, compile timeout, ABI, memory, export…); a failed invocation is an
// *[InvocationError] with its own Kind. [Engine.Inspect] returns what a module declares
// ([ModuleInfo]: imports, exports, memory) from the same compilation, for reports.
//
// Typical use:
//
//	eng, err := runtime.New(ctx, runtime.NewConfig().WithTimeout(30*time.Second))
//	...
//	defer eng.Close(ctx)
//	mod, err := eng.Load(ctx, runtime.ModuleSpec{Path: "jobs.wasm", Functions: []string{"jobs"}})
//	...
//	inv := hostfuncs.NewInvocation(hostfuncs.Request{Key: "jobs", Format: hostfuncs.FormatCSV, Output: w})
//	res, err := mod.Invoke(ctx, runtime.Call{Function: "jobs", Invocation: inv})
package runtime
