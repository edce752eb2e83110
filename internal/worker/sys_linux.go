//go:build linux

package worker

import (
	"os/exec"
	"runtime/debug"
	"syscall"
)

// dataOverhead is what a worker needs besides guest memory: the Go runtime, wazero and the
// compiled code it holds, data-source drivers, query results in flight. RLIMIT_DATA is set to
// this plus the module's memory limit before each invocation, so host-side work done for a guest
// (a query building a huge value, say) ends the worker, not the host.
const dataOverhead = 512 << 20

// restrict drops what a worker does not need, before any guest runs: it can gain no privileges
// (setuid binaries), dumps no core, and holds few files.
func restrict() {
	const prSetNoNewPrivs = 38
	_, _, _ = syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0)
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 256, Max: 256})
	// The collector works harder before the address-space limit is near.
	debug.SetMemoryLimit(dataOverhead / 2)
}

// setMemoryBudget sets the data limit for an invocation of a module with the given memory limit.
// Only the soft limit moves, so a later job with a larger module can raise it again.
func setMemoryBudget(memoryLimit uint64) {
	if raceEnabled {
		return // the race detector's shadow memory alone is over any such limit
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		return
	}
	lim.Cur = min(dataOverhead+memoryLimit, lim.Max)
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, &lim)
}

// prepare sets what the host arranges for a worker before it starts: its own process group
// (killed as a whole) and death with its parent.
func prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// kill ends a worker's process group at once.
func kill(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// Supported reports whether this platform can run workers.
const Supported = true
