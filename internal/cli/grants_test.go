package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// sidecarFile writes a sidecar's text to a file of its own, for testguests.Registry to copy.
func sidecarFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sidecar.toml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// tarballText returns every member of every tarball in dir, concatenated.
func tarballText(t *testing.T, dir string) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tar.gz"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	var b strings.Builder
	for _, p := range paths {
		for _, f := range testguests.ReadTarball(t, p) {
			b.WriteString(f.Name + "\n" + string(f.Data) + "\n")
		}
	}
	return b.String()
}

// TestSidecarCannotGrantItself is issue 11 item 1, as written: a vendor's sidecar grants its
// module a mount of "/", the variable SECRET_TOKEN and 4 GiB. validate passed it, and a gather
// shipped a host secret file and the variable. Now the sidecar is refused at load, with what to
// add to collectors.toml, and a gather through the real CLI ships neither.
func TestSidecarCannotGrantItself(t *testing.T) {
	secretDir := t.TempDir()
	secretFile := filepath.Join(secretDir, "secret.txt")
	require.NoError(t, os.WriteFile(secretFile, []byte("host-file-secret-4711"), 0o600))
	t.Setenv("SECRET_TOKEN", "env-secret-0815")

	sidecar := `[module]
mounts = {"/host" = "/"}
env = ["SECRET_TOKEN"]
memory_limit = "4GiB"

[[collector]]
key = "steal"
version = "1.0"
[collector.params]
file = "/host` + secretFile + `"
`
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	root := `
[gather]
out_dir = "` + out + `"
state_dir = "` + filepath.Join(dir, "state") + `"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "rows"
version = "2.0"
format = "csv"
module = "pointers.wasm"
function = "ok_csv"
`
	reg := testguests.Registry(t, map[string]string{
		"pointers.wasm": testguests.WAT(t, "pointers"),
		"steal.wasm":    testguests.Go(t, "internal/testguests/secretprobe"),
		"steal.toml":    sidecarFile(t, sidecar),
	}, root)
	side := filepath.Join(filepath.Dir(reg), "modules", "steal.toml")

	stdout, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 1, code, errs)
	for _, want := range []string{
		side + `:2: module.mounts."/host": the module requests mount "/host" = "/", which collectors.toml does not grant; to grant it, add to collectors.toml:
  [modules."steal.wasm"]
  mounts = { "/host" = "/" }`,
		side + `:3: module.env: the module requests environment variable "SECRET_TOKEN", which collectors.toml does not grant; to grant it, add to collectors.toml:
  [modules."steal.wasm"]
  env = ["SECRET_TOKEN"]`,
		side + `:4: module.memory_limit: the module requests memory_limit 4 GiB, above the 64 MiB collectors.toml allows it; lower it, or to grant it, add to collectors.toml:
  [modules."steal.wasm"]
  memory_limit = "4 GiB"`,
		"module steal.wasm: disabled, its collectors do not run (problems above)",
		"3 problems",
	} {
		assert.Contains(t, stdout, want)
	}

	gather := []string{"gather", "-c", reg, "--dry-run", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--log-level", "warn"}
	stdout, errs, code = runCLI(t, gather...)
	require.Equal(t, 3, code, "partial failure, not bad config (2): %s%s", stdout, errs)
	assert.Regexp(t, `steal\s+failed`, stdout)
	assert.Regexp(t, `rows\s+ok`, stdout)
	assert.Contains(t, errs, "module disabled: its sidecar has problems")
	_, errs, code = runCLI(t, "run", "steal", "-c", reg)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, `collector "steal" does not run: its module steal.wasm is disabled by problems in its sidecar (wasmcollector validate):`)
	shipped := tarballText(t, out)
	assert.Contains(t, shipped, "./rows.csv", "the other collectors ran")
	assert.NotContains(t, shipped, "host-file-secret-4711")
	assert.NotContains(t, shipped, "env-secret-0815")

	// The control: granted by the operator, exactly as the problems say, the same module does
	// read both. So the probe works, and only the grant stood in its way.
	require.NoError(t, os.RemoveAll(out))
	require.NoError(t, os.WriteFile(reg, append(must(os.ReadFile(reg)), []byte(`
[modules."steal.wasm"]
mounts = { "/host" = "/" }
env = ["SECRET_TOKEN"]
memory_limit = "4 GiB"
`)...), 0o644))
	stdout, errs, code = runCLI(t, "validate", "-c", reg)
	require.Equal(t, 0, code, stdout+errs)
	assert.Contains(t, stdout, "module steal.wasm: granted mounts /host=/; env SECRET_TOKEN; memory 4096 MiB; timeout 1m0s; requested mounts /host=/; env SECRET_TOKEN; memory 4096 MiB")
	stdout, _, code = runCLI(t, "validate", "-c", reg, "-o", "json")
	require.Equal(t, 0, code)
	var report struct {
		Access []struct {
			Module    string
			Granted   map[string]any
			Requested map[string]any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	require.Len(t, report.Access, 1)
	assert.Equal(t, "steal.wasm", report.Access[0].Module)
	assert.Equal(t, map[string]any{"mounts": map[string]any{"/host": "/"}, "env": []any{"SECRET_TOKEN"}, "memory_limit": float64(4 << 30), "timeout": "1m0s"}, report.Access[0].Granted)
	assert.Equal(t, map[string]any{"mounts": map[string]any{"/host": "/"}, "env": []any{"SECRET_TOKEN"}, "memory_limit": float64(4 << 30)}, report.Access[0].Requested)
	stdout, errs, code = runCLI(t, gather...)
	require.Equal(t, 0, code, stdout+errs)
	shipped = tarballText(t, out)
	assert.Contains(t, shipped, "host-file-secret-4711")
	assert.Contains(t, shipped, "env-secret-0815")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBrokenSidecarAmongSeveral is issue 11 item 5: one invalid sidecar made the whole gather
// exit 2, losing every other vendor's collectors. Now validate reports it, and a gather runs the
// rest, records the broken module's collectors as failed and exits 3 (partial), not 2.
func TestBrokenSidecarAmongSeveral(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	pointers := testguests.WAT(t, "pointers")
	reg := testguests.Registry(t, map[string]string{
		"pointers.wasm": pointers,
		"extra.wasm":    pointers,
		"extra.toml":    sidecarFile(t, "[[collector]]\nkey = \"extra\"\nversion = \"1.0\"\nfunction = \"ok\"\n"),
		"broken.wasm":   pointers,
		"broken.toml":   sidecarFile(t, "[[collector]]\nkey = \"broken_one\"\nversion = \"1.0\"\nfunction = \"ok\"\n\n[[collector]]\nkey = \"broken_two\"\nversion = 2\nfunction = \"ok\"\n"),
	}, `
[gather]
out_dir = "`+out+`"
state_dir = "`+filepath.Join(dir, "state")+`"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "rows"
version = "2.0"
format = "csv"
module = "pointers.wasm"
function = "ok_csv"
`)
	side := filepath.Join(filepath.Dir(reg), "modules", "broken.toml")

	stdout, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 1, code, errs)
	assert.Contains(t, stdout, side+":8: collector[1].version: must be a string, not an integer\n")
	assert.Contains(t, stdout, "module broken.wasm: disabled")
	stdout, _, code = runCLI(t, "validate", "-c", reg, "-o", "json")
	require.Equal(t, 1, code)
	var report struct {
		Valid    bool     `json:"valid"`
		Disabled []string `json:"disabled"`
		Problems []struct {
			File string `json:"file"`
		} `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	assert.False(t, report.Valid)
	assert.Equal(t, []string{"broken.wasm"}, report.Disabled)
	require.Len(t, report.Problems, 1)
	assert.Equal(t, side, report.Problems[0].File)

	stdout, errs, code = runCLI(t, "list", "-c", reg)
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `broken_one \(disabled\)\s+1.0\s+json\s+broken.wasm:ok`, stdout)
	assert.Regexp(t, `broken.wasm\s+disabled: 1 problem in `, stdout)
	assert.Regexp(t, `extra.wasm\s+memory 64 MiB; timeout 1m0s\s+nothing`, stdout)

	stdout, errs, code = runCLI(t, "gather", "-c", reg, "--dry-run", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--log-level", "error")
	require.Equal(t, 3, code, "partial failure, not bad config (2): %s%s", stdout, errs)
	for _, want := range []string{`config\s+ok`, `rows\s+ok`, `extra\s+ok`, `broken_one\s+failed`, `broken_two\s+failed`} {
		assert.Regexp(t, want, stdout)
	}
	assert.Contains(t, errs, "collectors not run: their module is disabled")
	shipped := tarballText(t, out)
	assert.Contains(t, shipped, "./extra.json")
	assert.Contains(t, shipped, "./rows.csv")

	// -o json carries the reason.
	stdout, _, code = runCLI(t, "gather", "-c", reg, "--dry-run", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--log-level", "error", "-o", "json", "--subset", "broken_two")
	require.Equal(t, 3, code)
	var res struct {
		Collectors []struct{ Key, Status, Error string }
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Collectors, 2)
	assert.Equal(t, "broken_two", res.Collectors[0].Key)
	assert.Equal(t, "module broken.wasm is disabled: "+side+":8: collector[1].version: must be a string, not an integer; wasmcollector validate shows them all", res.Collectors[0].Error)
}
