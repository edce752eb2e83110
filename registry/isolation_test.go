package registry

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The [runtime] keys of the process executor: isolation, workers, compile_timeout, cache_max_size.
func TestLoadExecutorSettings(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": "[runtime]\nisolation = \"in-process\"\nworkers = 3\ncompile_timeout = \"5s\"\ncache_max_size = \"100MiB\"\n" +
			configCollector,
		"modules/jobs.wasm": wasmBytes,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, IsolationInProcess, reg.Runtime.Isolation)
	require.Equal(t, 3, reg.Runtime.Workers)
	require.Equal(t, 5*time.Second, reg.Runtime.CompileTimeout)
	require.Equal(t, int64(100<<20), reg.Runtime.CacheMaxSize)
}

func TestLoadExecutorProblems(t *testing.T) {
	tests := []struct {
		name, toml, field, msg string
	}{
		{"unknown isolation", `isolation = "vm"`, "runtime.isolation", `unknown isolation "vm": want "process"`},
		{"isolation not a string", `isolation = true`, "runtime.isolation", "must be a string, not a boolean"},
		{"negative workers", `workers = -1`, "runtime.workers", "workers -1 must be from 0 (one per CPU) to 256"},
		{"too many workers", `workers = 100000`, "runtime.workers", "workers 100000 must be from 0 (one per CPU) to 256"},
		{"zero compile timeout", `compile_timeout = "0s"`, "runtime.compile_timeout", `timeout "0s" must be more than 0`},
		{"bad cache size", `cache_max_size = "lots"`, "runtime.cache_max_size", `invalid size "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"collectors.toml":   "[runtime]\n" + tt.toml + "\n" + configCollector,
				"modules/jobs.wasm": wasmBytes,
			})
			_, err := Load(filepath.Join(dir, "collectors.toml"))
			require.Error(t, err)
			require.ErrorContains(t, err, "collectors.toml:2: "+tt.field+": "+tt.msg)
		})
	}
}
