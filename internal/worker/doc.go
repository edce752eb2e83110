// Package worker runs collector invocations in supervised child processes: the process-isolated
// executor's machinery.
//
// The host re-executes its own binary with the argument [Arg]; [Main] then serves jobs over its
// stdin and stdout in length-prefixed frames (protocol.go), one at a time, with wazero's interrupt
// flag off, so guest code runs at full speed. The host side, [Pool], keeps up to Size workers,
// enforces every deadline by killing the worker's process group (a spinning guest, a compile bomb
// and a blocked host call all end the same way), and replaces a dead or killed worker with a
// fresh one for the next job. A worker starts with an empty environment, no descriptors but its
// three pipes, its own process group, no new privileges, no core dumps, few open files, and a
// data limit of the module's memory limit plus an overhead before each invocation: whatever a
// module does, the worst outcome is that its own invocation fails.
//
// The host treats a worker like guest memory: frames are size-capped, results are checked
// against the job, and a worker that breaks the protocol is killed.
package worker
