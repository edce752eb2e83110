//go:build !linux

package worker

import (
	"os/exec"
)

func restrict()              {}
func setMemoryBudget(uint64) {}
func prepare(cmd *exec.Cmd)  {}
func kill(pid int)           {}

// Supported reports whether this platform can run workers. Elsewhere the host runs collectors
// in-process: see RATIONALE.md "Why worker processes?".
const Supported = false
