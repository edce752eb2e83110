package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

// hostileRegistry declares good and bad collectors over the WAT test guests, which compile fast.
func hostileRegistry(t *testing.T) string {
	t.Helper()
	return testguests.Registry(t, map[string]string{
		"pointers.wasm": testguests.WAT(t, "pointers"),
		"outputs.wasm":  testguests.WAT(t, "outputs"),
		"spin.wasm":     testguests.WAT(t, "spin"),
	}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "bad_json"
version = "1.0"
module = "outputs.wasm"
function = "invalid_json"

[[collector]]
key = "rows"
version = "1.0"
format = "csv"
module = "pointers.wasm"
function = "ok_csv"

[[collector]]
key = "spin"
version = "1.0"
module = "spin.wasm"
timeout = "100ms"
`)
}

func TestRootHelp(t *testing.T) {
	out, _, code := runCLI(t, "--help")
	require.Equal(t, 0, code)
	for _, want := range []string{"list", "validate", "run", "version", "Exit codes:", "4  another gather holds the lock", "--config"} {
		assert.Contains(t, out, want)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "version", "-o", "json")
	require.Equal(t, 0, code)
	var info map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	assert.Equal(t, "wasmcollector_v1", info["abi"])
	assert.NotEmpty(t, info["version"])
	assert.True(t, strings.HasPrefix(info["go"], "go"))
	assert.Equal(t, "process", info["isolation"], "worker processes on Linux")
}

func TestList(t *testing.T) {
	reg := hostileRegistry(t)
	out, errs, code := runCLI(t, "list", "-c", reg)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	assert.Regexp(t, `^KEY\s+VERSION\s+FORMAT\s+MODULE\s+SLICING\s+GROUP\s+DESCRIPTION$`, lines[0])
	assert.Regexp(t, `^config \(config\)\s+1.0\s+json\s+pointers.wasm:ok\s+none\s+default`, lines[1])

	out, _, code = runCLI(t, "list", "-c", reg, "-o", "json")
	require.Equal(t, 0, code)
	var entries []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	require.Len(t, entries, 4)
	assert.Equal(t, "rows", entries[2]["key"])
	assert.Equal(t, "csv", entries[2]["format"])
	assert.Equal(t, "ok_csv", entries[2]["function"])
}

func TestRunFailures(t *testing.T) {
	reg := hostileRegistry(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"refused output", []string{"run", "bad_json"}, 1,
			`wasmcollector: collector "bad_json": module outputs.wasm: function invalid_json: emit_json: document is not valid JSON (status invalid)`},
		{"timeout", []string{"run", "spin"}, 1, `wasmcollector: collector "spin": module spin.wasm: function spin: timed out after 100ms`},
		{"unknown key", []string{"run", "nope"}, 2, `wasmcollector: no collector with key "nope" (wasmcollector list shows them)`},
		{"bad time", []string{"run", "rows", "--since", "yesterday"}, 2, `wasmcollector: --since "yesterday": not a time`},
		{"empty interval", []string{"run", "rows", "--since", "2026-11-02", "--until", "2026-11-01"}, 2,
			"wasmcollector: --since 2026-11-02T00:00:00Z is not before --until 2026-11-01T00:00:00Z"},
		{"bad param", []string{"run", "rows", "--param", "novalue"}, 2, `wasmcollector: --param "novalue": want name=value`},
		{"unknown flag", []string{"run", "rows", "--frobnicate"}, 2, "unknown flag: --frobnicate"},
		{"missing argument", []string{"run"}, 2, "accepts 1 arg(s), received 0"},
		{"unknown command", []string{"gatherr"}, 2, `unknown command "gatherr"`},
		{"bad output format", []string{"list", "-o", "yaml"}, 2, `--output "yaml": must be text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, append(tt.args, "-c", reg, "--log-level", "error")...)
			assert.Equal(t, tt.code, code, errs)
			assert.Contains(t, errs, tt.stderr)
			assert.NotContains(t, errs, "goroutine", "no stack traces")
			assert.NotContains(t, errs, "wasm stack trace")
			if tt.code != 0 {
				assert.Empty(t, out, "nothing on stdout when it failed")
			}
		})
	}
}

func TestRunOutFileNotLeftOnFailure(t *testing.T) {
	reg := hostileRegistry(t)
	path := filepath.Join(t.TempDir(), "out.json")
	_, _, code := runCLI(t, "run", "bad_json", "-c", reg, "--out", path, "--log-level", "error")
	require.Equal(t, 1, code)
	assert.NoFileExists(t, path)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary file left behind")

	_, errs, code := runCLI(t, "run", "rows", "-c", reg, "--out", path, "--log-level", "error")
	require.Equal(t, 0, code, errs)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "a\na\n", string(b))
}

func TestValidate(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		out, errs, code := runCLI(t, "validate", "-c", hostileRegistry(t))
		require.Equal(t, 0, code, errs)
		assert.Contains(t, out, "ok (4 collectors in 3 modules)")
	})
	t.Run("every problem at once, TOML and modules", func(t *testing.T) {
		reg := testguests.Registry(t, map[string]string{
			"pointers.wasm":       testguests.WAT(t, "pointers"),
			"unknown_import.wasm": testguests.WAT(t, "unknown_import"),
		}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "not_there"

[[collector]]
key = "x"
version = "1.0"
format = "xml"
module = "unknown_import.wasm"
function = "collect"
colour = "blue"
`)
		out, _, code := runCLI(t, "validate", "-c", reg)
		require.Equal(t, 1, code)
		for _, want := range []string{
			"collectors.toml:16: collector[1].format: invalid format \"xml\"",
			"collectors.toml:19: collector[1].colour: unknown key",
			"4 problems",
		} {
			assert.Contains(t, out, want)
		}
		// At the line naming the function, not the module's first collector.
		assert.Regexp(t, `collectors.toml:11: collector\[0\]\.function: module pointers.wasm: function "not_there" is not exported`, out)
		assert.Regexp(t, `collectors.toml:13: module unknown_import.wasm: imports env.steal_secrets, which this host does not provide`, out)

		out, _, code = runCLI(t, "validate", "-c", reg, "-o", "json")
		require.Equal(t, 1, code)
		var report struct {
			Valid    bool
			Problems []struct {
				File, Field, Message string
				Line                 int
			}
		}
		require.NoError(t, json.Unmarshal([]byte(out), &report))
		assert.False(t, report.Valid)
		assert.Len(t, report.Problems, 4)
	})
	t.Run("other commands refuse a broken registry with exit 2", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "collectors.toml")
		require.NoError(t, os.WriteFile(path, []byte("[[collector]]\nkey = \n"), 0o644))
		_, errs, code := runCLI(t, "list", "-c", path)
		assert.Equal(t, 2, code)
		assert.Contains(t, errs, "collectors.toml:2")
	})
}
