package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
)

// TestConfigDiscovery: -c, then $WASMCOLLECTOR_CONFIG, then ./collectors.toml, then the system
// file. Each candidate is a broken registry, so the error names the file that was read.
func TestConfigDiscovery(t *testing.T) {
	dir := t.TempDir()
	broken := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("[runtime]\ntimeout = \"never\"\n"), 0o644))
		return p
	}
	system, env, flag := broken("etc/collectors.toml"), broken("env.toml"), broken("flag.toml")
	old := cli.SystemConfig
	cli.SystemConfig = system
	t.Cleanup(func() { cli.SystemConfig = old })

	work := filepath.Join(dir, "work")
	require.NoError(t, os.MkdirAll(work, 0o755))
	t.Chdir(work)
	t.Setenv("WASMCOLLECTOR_CONFIG", "")

	// validate lists the problems on stdout, each with the file as it was named.
	out, _, code := runCLI(t, "validate")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, system+":2: runtime.timeout", "no flag, no variable, no ./collectors.toml: the system file")

	broken("work/collectors.toml")
	out, _, _ = runCLI(t, "validate")
	assert.Contains(t, out, "\ncollectors.toml:2: runtime.timeout")
	assert.NotContains(t, out, system, "./collectors.toml comes before the system file")

	t.Setenv("WASMCOLLECTOR_CONFIG", env)
	out, _, _ = runCLI(t, "validate")
	assert.Contains(t, out, env+":2: runtime.timeout", "the variable comes before ./collectors.toml")

	out, _, _ = runCLI(t, "validate", "-c", flag)
	assert.Contains(t, out, flag+":2: runtime.timeout", "-c comes first")
}

func TestVersionFlag(t *testing.T) {
	out, errs, code := runCLI(t, "--version")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `^wasmcollector \S+\n$`, out)
}
