package executor

import (
	"os"
	"time"

	"github.com/wasmcollector/wasmcollector/registry"
)

// bounds are an invocation's effective limits: the collector's or module's own, else the
// registry's defaults. Workers and records need them resolved; the in-process engine applies the
// same defaults itself.
type bounds struct {
	memory  uint64
	timeout time.Duration
	stdio   int64
}

func boundsOf(reg *registry.Registry, c *registry.Collector, memory uint64) bounds {
	b := bounds{memory: memoryLimit(reg, memory), timeout: c.Timeout, stdio: c.Limits.MaxStdioBytes}
	if b.timeout <= 0 {
		b.timeout = reg.Runtime.Timeout
	}
	if b.stdio <= 0 {
		b.stdio = reg.Limits.MaxStdioBytes
	}
	return b
}

// memoryLimit is a module's own memory limit, else the registry's default.
func memoryLimit(reg *registry.Registry, own uint64) uint64 {
	if own == 0 {
		return reg.Runtime.MemoryLimit
	}
	return own
}

// envValues reads the granted variables that are set, nil when none is.
func envValues(names []string) map[string]string {
	var env map[string]string
	for _, name := range names {
		if v, ok := os.LookupEnv(name); ok {
			if env == nil {
				env = map[string]string{}
			}
			env[name] = v
		}
	}
	return env
}
