package registry

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const requestingSidecar = `[module]
mounts = { "/data" = "data" }
env = ["TOKEN"]
memory_limit = "128MiB"
timeout = "2m"

[[collector]]
key = "jobs"
version = "1"
datasources = ["awx"]
[collector.limits]
max_json_bytes = "32MiB"
`

func TestLoadSidecarAlone(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"v/jobs.wasm": wasmBytes, "v/jobs.toml": requestingSidecar, "v/data/x": ""})
	side := filepath.Join(dir, "v", "jobs.toml")

	t.Run("requests are problems unless granted", func(t *testing.T) {
		sc, ps := LoadSidecar(side, SidecarOptions{})
		require.NotNil(t, sc)
		var codes []Code
		for _, p := range ps {
			require.Equal(t, side, p.File, "problems name the real sidecar: %v", p)
			codes = append(codes, p.Code)
		}
		// memory_limit, timeout, the mount, the environment variable, the data source, the limit.
		require.Equal(t, []Code{CodeNotGranted, CodeNotGranted, CodeNotGranted, CodeNotGranted, CodeNotGranted, CodeNotGranted}, codes, "%v", ps)
		require.Equal(t, 2, ps[0].Line, "sorted by line: the mount first: %v", ps[0])
	})

	t.Run("granted", func(t *testing.T) {
		sc, ps := LoadSidecar(side, SidecarOptions{GrantRequests: true})
		require.Empty(t, ps)
		m := sc.Module
		require.Equal(t, "jobs.wasm", m.Name)
		require.Equal(t, filepath.Join(dir, "v", "jobs.wasm"), m.Path)
		require.Equal(t, uint64(128<<20), m.MemoryLimit)
		require.Equal(t, 2*time.Minute, m.Timeout)
		require.Equal(t, []Mount{{Guest: "/data", Host: filepath.Join(dir, "v", "data")}}, m.Mounts, "host directories resolve beside the sidecar")
		require.Equal(t, []string{"TOKEN"}, m.Env)
		require.Equal(t, []string{"awx"}, m.DataSources)
		require.Len(t, sc.Collectors, 1)
		c := sc.Collectors[0]
		require.Same(t, m, c.Module)
		require.Equal(t, int64(32<<20), c.Limits.MaxJSONBytes)
		require.Equal(t, []string{"awx"}, c.DataSources)
		require.Equal(t, []*Module{m}, sc.Registry.Modules)
		require.Equal(t, sc.Collectors, sc.Registry.Collectors)
		require.Equal(t, "  [modules.\"jobs.wasm\"]\n  datasources = [\"awx\"]\n  mounts = { \"/data\" = \""+filepath.Join(dir, "v", "data")+"\" }\n  env = [\"TOKEN\"]\n  memory_limit = \"128 MiB\"\n  timeout = \"2m\"\n  [limits]\n  max_json_bytes = \"32 MiB\"\n",
			m.Requested.GrantTOML(m.Name))
		require.Equal(t, defaultLimits().MaxBatchBytes, c.Limits.MaxBatchBytes, "defaults elsewhere")
	})

	t.Run("module file given apart", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"elsewhere/jobs.wasm": wasmBytes})
		sc, ps := LoadSidecar(side, SidecarOptions{Module: filepath.Join(dir, "elsewhere", "jobs.wasm"), GrantRequests: true})
		require.Empty(t, ps)
		require.Equal(t, filepath.Join(dir, "elsewhere", "jobs.wasm"), sc.Module.Path)
	})

	t.Run("module file named apart", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"bare/jobs": wasmBytes, "bare/jobs.toml": "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"jobs.wasm\"\n"})
		sc, ps := LoadSidecar(filepath.Join(dir, "bare", "jobs.toml"), SidecarOptions{Module: filepath.Join(dir, "bare", "jobs"), Name: "jobs.wasm"})
		require.Empty(t, ps)
		require.Equal(t, "jobs.wasm", sc.Module.Name)
		require.Equal(t, filepath.Join(dir, "bare", "jobs"), sc.Module.Path)
	})

	t.Run("missing module file", func(t *testing.T) {
		sc, ps := LoadSidecar(side, SidecarOptions{Module: filepath.Join(dir, "gone.wasm"), GrantRequests: true})
		require.NotNil(t, sc)
		require.Len(t, ps, 1)
		require.Equal(t, CodeNotFound, ps[0].Code)
		require.Contains(t, ps[0].Message, "gone.wasm does not exist")
	})

	t.Run("sha256 pin checked against the module", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"p/m.wasm": wasmBytes, "p/m.toml": "[module]\nsha256 = \"" + sha256Hex("other") + "\"\n[[collector]]\nkey = \"a\"\nversion = \"1\"\n"})
		_, ps := LoadSidecar(filepath.Join(dir, "p", "m.toml"), SidecarOptions{})
		require.Len(t, ps, 1)
		require.Equal(t, CodeMismatch, ps[0].Code)
		require.Equal(t, 2, ps[0].Line)
	})

	t.Run("bad data source name", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"d/m.wasm": wasmBytes, "d/m.toml": "[[collector]]\nkey = \"a\"\nversion = \"1\"\ndatasources = [\"no way\"]\n"})
		_, ps := LoadSidecar(filepath.Join(dir, "d", "m.toml"), SidecarOptions{GrantRequests: true})
		require.Len(t, ps, 1)
		require.Equal(t, CodeInvalid, ps[0].Code)
		require.Equal(t, "collector[0].datasources", ps[0].Field)
	})

	t.Run("not TOML", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"s/m.wasm": wasmBytes, "s/m.toml": "[[collector]\n"})
		sc, ps := LoadSidecar(filepath.Join(dir, "s", "m.toml"), SidecarOptions{})
		require.Nil(t, sc)
		require.Len(t, ps, 1)
		require.Equal(t, CodeSyntax, ps[0].Code)
		require.Positive(t, ps[0].Line)
	})

	t.Run("over the size cap", func(t *testing.T) {
		_, ps := LoadSidecar(side, SidecarOptions{MaxSize: 10})
		require.Len(t, ps, 1)
		require.Equal(t, CodeTooLarge, ps[0].Code)
	})
}
