package cmdutil

import (
	"context"
	"log/slog"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Engine starts a runtime with the registry's settings.
func Engine(ctx context.Context, reg *registry.Registry, log *slog.Logger) (*runtime.Engine, error) {
	cfg := runtime.NewConfig().
		WithMemoryLimit(reg.Runtime.MemoryLimit).
		WithTimeout(reg.Runtime.Timeout).
		WithStdioLimit(reg.Limits.MaxStdioBytes).
		WithLogger(log)
	if reg.Runtime.CacheDir != "" {
		cfg = cfg.WithCacheDir(reg.Runtime.CacheDir)
	}
	return runtime.New(ctx, cfg)
}

// ModuleSpec describes a registry module to the runtime, with the exports its collectors need.
func ModuleSpec(reg *registry.Registry, m *registry.Module) runtime.ModuleSpec {
	spec := runtime.ModuleSpec{Name: m.Name, Path: m.Path, SHA256: m.SHA256, MemoryLimit: m.MemoryLimit}
	seen := map[string]bool{}
	for _, c := range reg.Collectors {
		if c.Module == m && !seen[c.Function] {
			seen[c.Function] = true
			spec.Functions = append(spec.Functions, c.Function)
		}
	}
	return spec
}

// Limits converts a collector's registry limits to the host's.
func Limits(c *registry.Collector) hostfuncs.Limits {
	return hostfuncs.Limits{
		MaxJSONBytes:   c.Limits.MaxJSONBytes,
		MaxBatchBytes:  c.Limits.MaxBatchBytes,
		MaxOutputBytes: c.Limits.MaxOutputBytes,
		MaxLogBytes:    c.Limits.MaxLogBytes,
	}
}
