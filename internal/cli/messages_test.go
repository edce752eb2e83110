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
