package cmdutil

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wasmcollector/wasmcollector/registry"
)

// Access is what a module may use, as validate and list show it: what collectors.toml grants it,
// or what its sidecar requests (registry.Requests). Empty fields are left out of JSON.
type Access struct {
	DataSources []string          `json:"datasources,omitempty"`
	Mounts      map[string]string `json:"mounts,omitempty"` // guest path → host directory
	Env         []string          `json:"env,omitempty"`
	MemoryLimit uint64            `json:"memory_limit,omitempty"` // bytes
	Timeout     string            `json:"timeout,omitempty"`
}

// Granted returns what collectors.toml grants m (after any lowering by its sidecar).
func Granted(m *registry.Module) Access {
	return access(m.DataSources, m.Mounts, m.Env, m.MemoryLimit, m.Timeout.String())
}

// Requested returns what m's sidecar asks for.
func Requested(m *registry.Module) Access {
	r := m.Requested
	timeout := ""
	if r.Timeout > 0 {
		timeout = r.Timeout.String()
	}
	return access(r.DataSources, r.Mounts, r.Env, r.MemoryLimit, timeout)
}

func access(ds []string, mounts []registry.Mount, env []string, mem uint64, timeout string) Access {
	a := Access{DataSources: ds, Env: env, MemoryLimit: mem, Timeout: timeout}
	if len(mounts) > 0 {
		a.Mounts = map[string]string{}
		for _, m := range mounts {
			a.Mounts[m.Guest] = m.Host
		}
	}
	return a
}

// String is one line for people: "datasources awx; mounts /etc/awx=/etc/awx; env TZ; memory
// 64 MiB; timeout 1m0s", or "nothing".
func (a Access) String() string {
	var parts []string
	if len(a.DataSources) > 0 {
		parts = append(parts, "datasources "+strings.Join(a.DataSources, ","))
	}
	if len(a.Mounts) > 0 {
		var ms []string
		for g, h := range a.Mounts {
			ms = append(ms, g+"="+h)
		}
		slices.Sort(ms)
		parts = append(parts, "mounts "+strings.Join(ms, ","))
	}
	if len(a.Env) > 0 {
		parts = append(parts, "env "+strings.Join(a.Env, ","))
	}
	if a.MemoryLimit > 0 {
		if a.MemoryLimit%(1<<20) == 0 {
			parts = append(parts, fmt.Sprintf("memory %d MiB", a.MemoryLimit>>20))
		} else {
			parts = append(parts, fmt.Sprintf("memory %d KiB", a.MemoryLimit>>10))
		}
	}
	if a.Timeout != "" {
		parts = append(parts, "timeout "+a.Timeout)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}
