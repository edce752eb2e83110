package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// TestMessagesCount: counts read as English ("1 problem", "0 documents"), and a collector that
// reported its own failure is "failed", not "failed: failed".
func TestMessagesCount(t *testing.T) {
	reg := testguests.Registry(t, map[string]string{"outputs.wasm": testguests.WAT(t, "outputs")}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "outputs.wasm"
function = "json_1000"

[[collector]]
key = "gives_up"
version = "1.0"
module = "outputs.wasm"
function = "fail_and_return_zero"

[[collector]]
key = "bad_json"
version = "1.0"
module = "outputs.wasm"
function = "invalid_json"
`)
	_, errs, code := runCLI(t, "run", "gives_up", "-c", reg)
	require.Equal(t, 1, code)
	assert.Regexp(t, `gives_up \(\S+, \S+\]: failed, 0 documents, `, errs)
	assert.NotContains(t, errs, "failed: failed")
	_, errs, _ = runCLI(t, "run", "bad_json", "-c", reg)
	assert.Regexp(t, `bad_json \(\S+, \S+\]: failed: \S+, 0 documents, `, errs, "other kinds are still named")

	bad := filepath.Join(t.TempDir(), "collectors.toml")
	require.NoError(t, os.WriteFile(bad, []byte("[runtime]\nmodules_dir = \""+filepath.Dir(reg)+"/modules\"\ntimeout = \"never\"\n[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\nmodule = \"outputs.wasm\"\nfunction = \"json_1000\"\n"), 0o644))
	out, _, code := runCLI(t, "validate", "-c", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "\n1 problem\n")
	_, errs, code = runCLI(t, "list", "-c", bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "wasmcollector: 1 problem in the registry:")
}

// TestValidateExitCodes: validate exits 2 when the root file cannot be read or parsed (as its
// --help says), 1 when it loads with problems, in text and JSON alike.
func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	syntax := filepath.Join(dir, "syntax.toml")
	require.NoError(t, os.WriteFile(syntax, []byte("[runtime\n"), 0o644))
	problems := filepath.Join(dir, "problems.toml")
	require.NoError(t, os.WriteFile(problems, []byte("[runtime]\nbogus = 1\n"), 0o644))
	for _, tc := range []struct {
		name, path, want string
		code             int
	}{
		{"missing", filepath.Join(dir, "missing.toml"), "cannot read file", 2},
		{"syntax", syntax, "invalid TOML", 2},
		{"problems", problems, "unknown key", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"validate", "-c", tc.path}, {"validate", "-c", tc.path, "-o", "json"}} {
				out, errs, code := runCLI(t, args...)
				assert.Equal(t, tc.code, code, "%v: %s%s", args, out, errs)
				assert.Contains(t, out, tc.want, "%v", args)
			}
		})
	}
}
