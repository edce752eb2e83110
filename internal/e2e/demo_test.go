package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/registry"
)

// demoShipping is the [shipping] table of the repository's collectors.toml, the one `make demo`
// ships with, up to the next comment block or table.
func demoShipping(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testguests.Root(t), "collectors.toml"))
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "\n[shipping]\n")
	require.GreaterOrEqual(t, i, 0, "collectors.toml has a [shipping] table")
	var lines []string
	for _, line := range strings.Split(s[i+1:], "\n")[1:] {
		if strings.HasPrefix(line, "[") || strings.HasPrefix(line, "##") {
			break
		}
		lines = append(lines, line)
	}
	return "[shipping]\n" + strings.Join(lines, "\n") + "\n"
}

// freePort returns a loopback port nothing listens on (now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// TestDemoPort runs scripts/demo, as `make demo` does, with DEMO_PORT set to a port other than
// the default: the local ingress must listen there and the gather must ship there. The script
// and collectors.toml's [shipping] table are the repository's, in a directory of their own
// laid out as the repository (build/wasmcollector, build/modules); the collector is a small one,
// not the AWX product, whose database the demo would generate for minutes.
func TestDemoPort(t *testing.T) {
	testguests.UseWorkerBinary(t)
	root := t.TempDir()
	for _, dir := range []string{"scripts", "build/modules"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
	}
	script, err := os.ReadFile(filepath.Join(testguests.Root(t), "scripts", "demo"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "scripts", "demo"), script, 0o755))
	require.NoError(t, os.Symlink(os.Getenv("WASMCOLLECTOR_WORKER_BINARY"), filepath.Join(root, "build", "wasmcollector")))
	wasm, err := os.ReadFile(testguests.WAT(t, "pointers"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "build", "modules", "pointers.wasm"), wasm, 0o644))
	// The demo generates the product's database when build/awx.db is missing; this registry
	// reads no database.
	require.NoError(t, os.WriteFile(filepath.Join(root, "build", "awx.db"), []byte("not read"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "collectors.toml"), []byte(`[runtime]
modules_dir = "build/modules"
cache_dir = "`+filepath.Join(testguests.CacheDir(t), "wazero")+`"

[gather]
state_dir = "build/state"

`+demoShipping(t)+`
[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "rows"
version = "1.0"
format = "csv"
module = "pointers.wasm"
function = "ok_csv"
`), 0o644))

	run := func(port string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "scripts", "demo"))
		cmd.Env = append(os.Environ(), "DEMO_PORT="+port, "WASMCOLLECTOR_CONFIG=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	port := freePort(t)
	require.NotEqual(t, 18080, port)
	out, err := run(strconv.Itoa(port))
	require.NoError(t, err, out)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/ingress/v1/upload"
	assert.Contains(t, out, "demo: local ingress at "+url+"\n", "the ingress listened on DEMO_PORT")
	assert.Contains(t, out, "demo: the ingress stored 1 tarball in build/received", "the gather shipped there")
	stored, err := filepath.Glob(filepath.Join(root, "build", "received", "*.tar.gz"))
	require.NoError(t, err)
	assert.Len(t, stored, 1)
	assert.NotContains(t, out, "warning:", "the demo's [shipping] sets content_type")

	reg, err := registry.Load(filepath.Join(root, "collectors.demo.toml"))
	require.NoError(t, err)
	assert.Equal(t, url, reg.Shipping.URL)
	assert.Equal(t, filepath.Join(root, "build", "demo-password"), reg.Shipping.PasswordFile, "paths resolve as in collectors.toml")

	for _, bad := range []string{"x80", "0", "65536", "-1"} {
		out, err := run(bad)
		require.Error(t, err, bad)
		assert.Equal(t, 2, err.(*exec.ExitError).ExitCode())
		assert.Contains(t, out, "demo: DEMO_PORT="+bad+" is not a port number")
	}
}
