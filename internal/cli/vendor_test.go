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

// vendorReport is the part of `validate -o json` these tests read.
type vendorReport struct {
	Valid    bool
	Problems []struct {
		File, Field, Message, Code string
		Line                       int
	}
	Warnings []struct {
		File, Message, Code string
	}
	Disabled []string
}

func validateJSON(t *testing.T, reg string) vendorReport {
	t.Helper()
	out, errs, _ := runCLI(t, "validate", "-c", reg, "-o", "json")
	var r vendorReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out+errs)
	return r
}

// vendorRegistry is a registry whose module vendor.wasm comes with its sidecar, as a vendor ships
// it; the root file declares only the config collector. extraRuntime goes into [runtime].
func vendorRegistry(t *testing.T, sidecar string, extraRuntime ...string) (reg, sidecarPath string) {
	t.Helper()
	dir := t.TempDir()
	reg = testguests.Registry(t, map[string]string{"vendor.wasm": testguests.WAT(t, "vendor_exports")}, `
[gather]
out_dir = "`+filepath.Join(dir, "out")+`"
state_dir = "`+filepath.Join(dir, "state")+`"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "vendor.wasm"
function = "config"
`, extraRuntime...)
	sidecarPath = filepath.Join(filepath.Dir(reg), "modules", "vendor.toml")
	require.NoError(t, os.WriteFile(sidecarPath, []byte(sidecar), 0o644))
	return reg, sidecarPath
}

// TestFunctionNotExported: a sidecar entry naming a function the module does not export is
// reported at the sidecar's file and line, with the module's collector functions (not its
// internals); it fails only that collector: validate reports nothing else, list lists every
// collector, and a gather runs the module's other collectors, in both isolations.
func TestFunctionNotExported(t *testing.T) {
	const sidecar = `[[collector]]
key = "jobs"
version = "1.0"

[[collector]]
key = "hosts"
version = "1.0"
function = "hostz"
`
	for _, isolation := range []string{"process", "in-process"} {
		t.Run(isolation, func(t *testing.T) {
			reg, side := vendorRegistry(t, sidecar, `isolation = "`+isolation+`"`)

			out, errs, code := runCLI(t, "validate", "-c", reg)
			require.Equal(t, 1, code, out+errs)
			want := side + `:8: collector[1].function: module vendor.wasm: function "hostz" is not exported by the module; ` +
				"its collector functions are config, jobs\n"
			assert.Contains(t, out, want)
			assert.Contains(t, out, "\n1 problem\n", "the module's other collectors have no problem")
			for _, internal := range []string{"_initialize", "__internal", "helper", "collectors.toml"} {
				assert.NotContains(t, out, internal)
			}
			r := validateJSON(t, reg)
			require.Len(t, r.Problems, 1)
			assert.Equal(t, "not-exported", r.Problems[0].Code)
			assert.Equal(t, side, r.Problems[0].File)
			assert.Equal(t, 8, r.Problems[0].Line)
			assert.Empty(t, r.Disabled)

			out, errs, code = runCLI(t, "list", "-c", reg)
			require.Equal(t, 0, code, errs)
			assert.Regexp(t, `(?m)^jobs\s+1\.0`, out)
			assert.Regexp(t, `(?m)^hosts\s+1\.0`, out)
			assert.NotContains(t, out, "disabled")

			out, errs, code = runCLI(t, "gather", "-c", reg, "--dry-run", "-o", "json", "--log-level", "error",
				"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z")
			assert.Equal(t, 3, code, "some collectors failed: %s", errs)
			var res struct {
				Collectors []struct{ Key, Status, Error string }
				Tarballs   []struct{ Path string }
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res), out+errs)
			status := map[string]string{}
			for _, c := range res.Collectors {
				status[c.Key] = c.Status
				if c.Key == "hosts" {
					assert.Contains(t, c.Error, `function "hostz" is not exported by the module; its collector functions are config, jobs`)
					assert.Contains(t, c.Error, `(collector "hosts", declared at `+side+":8)")
				}
			}
			assert.Equal(t, map[string]string{"config": "ok", "jobs": "ok", "hosts": "failed"}, status)
			require.Len(t, res.Tarballs, 1)
			var members []string
			for _, f := range testguests.ReadTarball(t, res.Tarballs[0].Path) {
				members = append(members, f.Name)
			}
			assert.Contains(t, members, "./jobs.json", "the module's other collector shipped")
		})
	}
}

// TestWrongTarget: modules built with the Go toolchain for the wrong target, from source in this
// run, each get one line naming the fix: GOOS=js, a WASI command, TinyGo's //export.
func TestWrongTarget(t *testing.T) {
	const pkg = "internal/testguests/tinygoexport"
	tests := []struct {
		name    string
		module  func() string
		problem string
	}{
		{"GOOS=js", func() string { return testguests.GoTarget(t, pkg, "js", false) },
			`built for GOOS=js (imports from "gojs", for a JavaScript host); build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared`},
		{"TinyGo's //export", func() string { return testguests.GoTarget(t, pkg, "wasip1", true) },
			`function "jobs" is not exported by the module; the module exports no collector function (a function of type () -> (i32)); ` +
				`a Go module exports it with //go:wasmexport jobs (the Go toolchain ignores TinyGo's //export)`},
		{"a WASI command", func() string { return testguests.GoTarget(t, pkg, "wasip1", false) },
			`is a WASI command (exports _start): build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared, ` +
				`and export each collector with //go:wasmexport NAME (the Go toolchain ignores TinyGo's //export)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := testguests.Registry(t, map[string]string{
				"vendor.wasm": testguests.WAT(t, "vendor_exports"),
				"wrong.wasm":  tt.module(),
			}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "vendor.wasm"
function = "config"
`, `compile_timeout = "5m"`)
			side := filepath.Join(filepath.Dir(reg), "modules", "wrong.toml")
			require.NoError(t, os.WriteFile(side, []byte("[[collector]]\nkey = \"jobs\"\nversion = \"1.0\"\n"), 0o644))

			out, errs, code := runCLI(t, "validate", "-c", reg)
			require.Equal(t, 1, code, out+errs)
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.HasPrefix(l, side) {
					lines = append(lines, l)
				}
			}
			require.Len(t, lines, 1, "one line for the module:\n%s", out)
			assert.True(t, strings.HasPrefix(lines[0], side+":"), lines[0])
			assert.Contains(t, lines[0], tt.problem)
			assert.Contains(t, out, "\n1 problem\n")
		})
	}
}

// TestSameKeyTwoModules: two vendors' sidecars declaring one key is a validate problem naming both
// files and lines; only the later module (sidecars load in file name order) is disabled.
func TestSameKeyTwoModules(t *testing.T) {
	reg, side := vendorRegistry(t, "[[collector]]\nkey = \"jobs\"\nversion = \"1.0\"\n")
	modDir := filepath.Dir(side)
	b, err := os.ReadFile(testguests.WAT(t, "vendor_exports"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "zother.wasm"), b, 0o644))
	other := filepath.Join(modDir, "zother.toml")
	require.NoError(t, os.WriteFile(other, []byte("[[collector]]\nkey = \"config_copy\"\nversion = \"1.0\"\nfunction = \"config\"\n\n[[collector]]\nkey = \"jobs\"\nversion = \"2.0\"\n"), 0o644))

	out, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 1, code, out+errs)
	assert.Contains(t, out, other+`:7: collector[1].key: key "jobs" is also declared by module vendor.wasm at `+side+
		`:1; collectors of two modules must not share a key (both would write ./jobs.json)`)
	assert.Contains(t, out, "module zother.wasm: disabled")
	r := validateJSON(t, reg)
	require.Len(t, r.Problems, 1)
	assert.Equal(t, "key-conflict", r.Problems[0].Code)
	assert.Equal(t, []string{"zother.wasm"}, r.Disabled)
}

// TestStrayFiles: a .wasm without a sidecar that nothing names gets a warning from validate and
// stops nothing; with modules_dir = "." (as the scaffold writes it) other TOML files beside
// collectors.toml are not sidecars.
func TestStrayFiles(t *testing.T) {
	dir := t.TempDir()
	wasm, err := os.ReadFile(testguests.WAT(t, "vendor_exports"))
	require.NoError(t, err)
	files := map[string]string{
		"collectors.toml": "[runtime]\nmodules_dir = \".\"\ncache_dir = " + `"` + filepath.Join(testguests.CacheDir(t), "wazero") + `"` + `

[[collector]]
key = "config"
version = "1.0"
config = true
module = "vendor.wasm"
function = "config"
`,
		"vendor.wasm": string(wasm),
		"vendor.toml": "[[collector]]\nkey = \"jobs\"\nversion = \"1.0\"\n",
		"stray.wasm":  string(wasm),
		"Cargo.toml":  "[package]\nname = \"logins\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		"config.toml": "[[collector]]\nname = \"not ours\"\n\n[server]\nport = 1\n",
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	reg := filepath.Join(dir, "collectors.toml")
	out, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 0, code, out+errs)
	assert.Contains(t, out, "warning: "+filepath.Join(dir, "stray.wasm")+": module stray.wasm has no sidecar stray.toml beside it")
	assert.Contains(t, out, "ok (2 collectors in 1 module, 1 warning)")
	for _, other := range []string{"Cargo", "config.toml"} {
		assert.NotContains(t, out, other)
	}
	r := validateJSON(t, reg)
	assert.True(t, r.Valid)
	require.Len(t, r.Warnings, 1)
	assert.Equal(t, "no-sidecar", r.Warnings[0].Code)

	// Commands that load the registry to work with it (list, gather, run, serve) log each
	// warning, so that an operator who never runs validate still hears of it.
	out, errs, code = runCLI(t, "list", "-c", reg)
	require.Equal(t, 0, code, out+errs)
	assert.Contains(t, errs, "module stray.wasm has no sidecar stray.toml beside it")
	assert.Contains(t, errs, "code=no-sidecar")

	// Several such modules are one line (make demo's modules directory holds five).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stray2.wasm"), wasm, 0o644))
	out, errs, code = runCLI(t, "list", "-c", reg)
	require.Equal(t, 0, code, out+errs)
	assert.Contains(t, errs, "2 modules in "+dir+" have no sidecar and nothing names them, so nothing gathers them: stray.wasm, stray2.wasm")
	assert.Equal(t, 1, strings.Count(errs, "no-sidecar"), errs)
}
