// Package executor runs collectors' invocations for the gather, run and check: [ProcessExecutor]
// in supervised worker processes (the default, [runtime] isolation = "process"),
// [EngineExecutor] in this process. Both implement [gather.Executor], open the data sources
// granted to each collector, and build the runtime's view of a module from the registry.
package executor
