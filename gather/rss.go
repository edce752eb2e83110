package gather

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// peakRSS returns this process's peak resident set size in bytes, or 0 where the OS does not say.
// It counts this process only, not its workers. On Linux it reads VmHWM: getrusage's maxrss keeps
// the high-water mark of whatever process exec'd this one (a large parent that started it counts
// as this process's peak).
func peakRSS() int64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		s := bufio.NewScanner(bytes.NewReader(b))
		for s.Scan() {
			if rest, ok := bytes.CutPrefix(s.Bytes(), []byte("VmHWM:")); ok {
				kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}
