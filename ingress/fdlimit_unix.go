//go:build unix

package ingress

import (
	"math"
	"syscall"
)

// fitFileLimit returns want lowered, if need be, so that that many connections fit in the
// process's open-file limit with their temporary files and a reserve.
func fitFileLimit(want int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return want // unlimited, or too large to matter
	}
	fit := (int(rl.Cur) - fdReserve) / fdsPerConn
	return max(min(fit, want), 1)
}
