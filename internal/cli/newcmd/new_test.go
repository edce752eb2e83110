package newcmd_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(append(args, "--log-level", "warn"), &out, &errb)
	return out.String(), errb.String(), code
}

// needTools fails the test when the toolchain a language needs is missing.
func needTools(t *testing.T, lang string) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("make"); err != nil {
		missing = append(missing, "make")
	}
	switch lang {
	case "c":
		if _, err := exec.LookPath("clang"); err != nil {
			missing = append(missing, "clang")
		}
		if _, err := os.Stat("/usr/lib/wasm32-wasi/libc.a"); err != nil {
			missing = append(missing, "wasi-libc (/usr/lib/wasm32-wasi)")
		}
	case "rust":
		for _, p := range []string{"/usr/bin/rustc", "/usr/bin/cargo"} {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, p)
			}
		}
		if out, err := exec.Command("/usr/bin/rustc", "--print", "target-list").Output(); err == nil && !strings.Contains(string(out), "wasm32-wasi") {
			missing = append(missing, "rustc target wasm32-wasi")
		}
	}
	if len(missing) > 0 {
		t.Fatalf("toolchain for %s missing: %s (make deps installs it)", lang, strings.Join(missing, ", "))
	}
}

// offline is the environment of a project's build: no module proxy, no checksum database, an empty
// module cache and no workspace, so a build that needs anything from the network fails.
func offline(t *testing.T) []string {
	return append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local",
		"GOWORK=off", "GOMODCACHE="+t.TempDir())
}

// TestNewProjectsBuildRunAndCheck writes a project in each language, builds it with its own
// Makefile, runs its collector through the CLI and checks it. Each project builds as written,
// offline, with the SDK copied from this binary.
func TestNewProjectsBuildRunAndCheck(t *testing.T) {
	// Workers are a wasmcollector built without the race detector, as operators run it: this race
	// test binary re-executed as the worker compiles a 3 MB Go module 5–10× slower, past the 30 s
	// compile timeout on a loaded machine.
	testguests.UseWorkerBinary(t)
	cache := filepath.Join(testguests.CacheDir(t), "wazero")

	for _, lang := range []string{"go", "c", "rust"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			needTools(t, lang)
			dir := t.TempDir()
			name := "logins_" + lang
			out, errs, code := runCLI(t, "new", "--lang", lang, name, "--dir", dir)
			require.Equal(t, 0, code, errs)
			proj := filepath.Join(dir, name)
			assert.Contains(t, out, "wrote "+proj)
			for _, f := range []string{"Makefile", "README.md", name + ".toml", "collectors.toml", ".gitignore"} {
				assert.FileExists(t, filepath.Join(proj, f))
			}

			// Build with the project's own Makefile, without the network.
			mk := exec.Command("make", "-C", proj)
			mk.Env = offline(t)
			b, err := mk.CombinedOutput()
			require.NoError(t, err, "make:\n%s", b)
			require.FileExists(t, filepath.Join(proj, name+".wasm"))

			// modules_dir = ".": other TOML files beside collectors.toml (a Cargo manifest, a
			// tool's config with a [[collector]] of its own) are not sidecars.
			for f, body := range map[string]string{
				"Cargo.toml":  "[package]\nname = \"other\"\nversion = \"0.1.0\"\n",
				"config.toml": "[server]\nport = 8080\n\n[[collector]]\nname = \"not ours\"\n",
			} {
				require.NoError(t, os.WriteFile(filepath.Join(proj, f), []byte(body), 0o644))
			}
			reg := filepath.Join(proj, "collectors.toml")
			out, errs, code = runCLI(t, "validate", "-c", reg)
			require.Equal(t, 0, code, out+errs)
			assert.Contains(t, out, "ok (2 collectors in 1 module)\n", "no problem, no warning")

			// The sidecar's rows_per_hour = 4: two hours hold 8 grid points, the first at 00:15.
			rows := runCSV(t, reg, name, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T02:00:00Z")
			require.Len(t, rows, 9, "header and 8 rows")
			assert.Equal(t, []string{"id", "at", "value"}, rows[0])
			at, err := time.Parse(time.RFC3339, rows[1][1])
			require.NoError(t, err)
			assert.Equal(t, time.Date(2026, 11, 25, 0, 15, 0, 0, time.UTC), at)
			assert.Equal(t, "2026-11-25T02:00:00Z", rows[8][1])
			id, err := strconv.ParseInt(rows[1][0], 10, 64)
			require.NoError(t, err)
			assert.Equal(t, at.UnixNano()/int64(15*time.Minute), id)
			assert.Equal(t, strconv.FormatInt(id%100, 10), rows[1][2])

			// The parameter is read: 60 an hour.
			rows = runCSV(t, reg, name, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--param", "rows_per_hour=60")
			assert.Len(t, rows, 61)
			// An empty slice still has the header.
			rows = runCSV(t, reg, name, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T00:10:00Z")
			assert.Equal(t, [][]string{{"id", "at", "value"}}, rows)
			// A bad parameter fails the collector with its message.
			_, errs, code = runCLI(t, "run", name, "-c", reg, "--param", "rows_per_hour=0")
			assert.Equal(t, 1, code)
			assert.Contains(t, errs, "rows_per_hour")

			out, errs, code = runCLI(t, "run", "config", "-c", reg)
			require.Equal(t, 0, code, errs)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
			assert.Equal(t, map[string]any{"name": name}, doc)

			out, errs, code = runCLI(t, "check", filepath.Join(proj, name+".wasm"), "--cache-dir", cache,
				// check compiles in this (race-instrumented) process, cold: minutes on a loaded machine
				"--compile-timeout", "5m")
			require.Equal(t, 0, code, out+errs)
			assert.Contains(t, out, name+".wasm: fit to ship")
			assert.NotContains(t, out, "FAIL")
		})
	}
}

func runCSV(t *testing.T, reg, key string, args ...string) [][]string {
	t.Helper()
	out, errs, code := runCLI(t, append([]string{"run", key, "-c", reg}, args...)...)
	require.Equal(t, 0, code, errs)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err, out)
	return rows
}

func TestNewFiles(t *testing.T) {
	root := testguests.Root(t)
	sdkSrc := filepath.Join(root, "guest-sdk", "go")

	t.Run("go: the SDK copied in", func(t *testing.T) {
		dir := t.TempDir()
		out, errs, code := runCLI(t, "new", "acme", "--dir", dir)
		require.Equal(t, 0, code, errs)
		assert.Contains(t, out, "wasmcollector-sdk/")
		proj := filepath.Join(dir, "acme")
		gomod, err := os.ReadFile(filepath.Join(proj, "go.mod"))
		require.NoError(t, err)
		assert.Contains(t, string(gomod), "module example.com/acme\n")
		sdkMod, err := os.ReadFile(filepath.Join(sdkSrc, "go.mod"))
		require.NoError(t, err)
		goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(sdkMod)
		require.NotNil(t, goLine, "guest-sdk/go/go.mod has a go line")
		assert.Contains(t, string(gomod), "\n"+string(goLine)+"\n", "the SDK's go line")
		assert.Contains(t, string(gomod), "\nrequire github.com/wasmcollector/wasmcollector/guest-sdk/go v0.0.0\n")
		assert.Contains(t, string(gomod), "\nreplace github.com/wasmcollector/wasmcollector/guest-sdk/go => ./wasmcollector-sdk\n")
		main, err := os.ReadFile(filepath.Join(proj, "main.go"))
		require.NoError(t, err)
		assert.Contains(t, string(main), "//go:wasmexport acme\n")
		assert.Contains(t, string(main), `collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"`)

		// The copy is the SDK module of this source tree, file for file, without its tests.
		var want []string
		require.NoError(t, filepath.WalkDir(sdkSrc, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") || (!strings.HasSuffix(p, ".go") && d.Name() != "go.mod") {
				return err
			}
			rel, err := filepath.Rel(sdkSrc, p)
			want = append(want, filepath.ToSlash(rel))
			return err
		}))
		require.Contains(t, want, "abi/abi.go")
		var got []string
		copyDir := filepath.Join(proj, "wasmcollector-sdk")
		require.NoError(t, filepath.WalkDir(copyDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(copyDir, p)
			got = append(got, filepath.ToSlash(rel))
			return err
		}))
		assert.ElementsMatch(t, want, got)
		for _, f := range want {
			a, err := os.ReadFile(filepath.Join(sdkSrc, filepath.FromSlash(f)))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(copyDir, filepath.FromSlash(f)))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(a, b), "wasmcollector-sdk/%s differs from guest-sdk/go/%s", f, f)
		}
		readme, err := os.ReadFile(filepath.Join(proj, "README.md"))
		require.NoError(t, err)
		assert.Contains(t, string(readme), "| `wasmcollector-sdk/` |")
		assert.NotContains(t, string(readme), "wasmcollector-sdk/csv.go", "the copy is listed as one directory")
	})

	t.Run("go --sdk: a replace to the checkout, built offline", func(t *testing.T) {
		needTools(t, "go")
		abs, err := filepath.Abs(root)
		require.NoError(t, err)
		dir := t.TempDir()
		_, errs, code := runCLI(t, "new", "acme", "--dir", dir, "--sdk", abs)
		require.Equal(t, 0, code, errs)
		proj := filepath.Join(dir, "acme")
		gomod, err := os.ReadFile(filepath.Join(proj, "go.mod"))
		require.NoError(t, err)
		assert.Contains(t, string(gomod), "\nreplace github.com/wasmcollector/wasmcollector/guest-sdk/go => "+filepath.Join(abs, "guest-sdk", "go")+"\n")
		assert.NoDirExists(t, filepath.Join(proj, "wasmcollector-sdk"))
		mk := exec.Command("make", "-C", proj)
		mk.Env = offline(t)
		b, err := mk.CombinedOutput()
		require.NoError(t, err, "make:\n%s", b)
		assert.FileExists(t, filepath.Join(proj, "acme.wasm"))
	})

	t.Run("go --sdk: a checkout path with spaces and quotes is quoted in go.mod", func(t *testing.T) {
		abs, err := filepath.Abs(root)
		require.NoError(t, err)
		odd := filepath.Join(t.TempDir(), `my "src" dir`, "wasmcollector")
		require.NoError(t, os.MkdirAll(filepath.Dir(odd), 0o755))
		require.NoError(t, os.Symlink(abs, odd))
		dir := t.TempDir()
		_, errs, code := runCLI(t, "new", "acme", "--dir", dir, "--sdk", odd)
		require.Equal(t, 0, code, errs)
		// go itself parses the go.mod: the replace's target is the path, whole.
		cmd := exec.Command("go", "mod", "edit", "-json")
		cmd.Dir = filepath.Join(dir, "acme")
		cmd.Env = offline(t)
		b, err := cmd.Output()
		require.NoError(t, err, "go mod edit -json: %s", b)
		var mod struct {
			Replace []struct{ New struct{ Path string } }
		}
		require.NoError(t, json.Unmarshal(b, &mod), string(b))
		require.Len(t, mod.Replace, 1)
		assert.Equal(t, filepath.Join(odd, "guest-sdk", "go"), mod.Replace[0].New.Path)
	})

	t.Run("sidecar and registry", func(t *testing.T) {
		dir := t.TempDir()
		_, errs, code := runCLI(t, "new", "--lang", "c", "acme-2", "--dir", dir)
		require.Equal(t, 0, code, errs)
		side, err := os.ReadFile(filepath.Join(dir, "acme-2", "acme-2.toml"))
		require.NoError(t, err)
		for _, want := range []string{`key = "acme-2"`, `format = "csv"`, `slicing = "1h"`, "rows_per_hour = 4"} {
			assert.Contains(t, string(side), want)
		}
		assert.NotContains(t, string(side), "config = true")
		reg, err := os.ReadFile(filepath.Join(dir, "acme-2", "collectors.toml"))
		require.NoError(t, err)
		assert.Contains(t, string(reg), `modules_dir = "."`)
		assert.Contains(t, string(reg), "config = true")
		header, err := os.ReadFile(filepath.Join(dir, "acme-2", "wasmcollector.h"))
		require.NoError(t, err)
		assert.Contains(t, string(header), "#define WASMCOLLECTOR_H")
		src, err := os.ReadFile(filepath.Join(dir, "acme-2", "acme-2.c"))
		require.NoError(t, err)
		assert.Contains(t, string(src), `export_name("acme-2")`)
	})

	t.Run("rust crate", func(t *testing.T) {
		dir := t.TempDir()
		_, errs, code := runCLI(t, "new", "--lang", "rust", "acme", "--dir", dir)
		require.Equal(t, 0, code, errs)
		assert.FileExists(t, filepath.Join(dir, "acme", "wasmcollector-sdk", "Cargo.toml"))
		assert.FileExists(t, filepath.Join(dir, "acme", "wasmcollector-sdk", "src", "lib.rs"))
		cargo, err := os.ReadFile(filepath.Join(dir, "acme", "collector", "Cargo.toml"))
		require.NoError(t, err)
		assert.Contains(t, string(cargo), `wasmcollector = { path = "../wasmcollector-sdk" }`)
	})
}

func TestNewBadInput(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "taken"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "taken", "x"), nil, 0o644))
	// A checkout from before the Go SDK was a module of its own: no guest-sdk/go/go.mod.
	old := filepath.Join(dir, "old")
	require.NoError(t, os.MkdirAll(filepath.Join(old, "guest-sdk", "go"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(old, "go.mod"), []byte("module github.com/wasmcollector/wasmcollector\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"new"}, "accepts 1 arg"},
		{[]string{"new", "bad name", "--dir", dir}, `name "bad name"`},
		{[]string{"new", "9lives", "--dir", dir}, "starting with a letter"},
		{[]string{"new", "config", "--dir", dir}, `name "config"`},
		{[]string{"new", "ok", "--lang", "cobol", "--dir", dir}, `--lang "cobol"`},
		{[]string{"new", "taken", "--dir", dir}, "exists and is not empty"},
		{[]string{"new", "ok", "--dir", dir, "--sdk", dir}, "not a wasmcollector checkout"},
		{[]string{"new", "ok", "--dir", dir, "--sdk", old}, "has no guest-sdk/go/go.mod"},
	} {
		_, errs, code := runCLI(t, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errs)
		assert.Contains(t, errs, tc.want, tc.args)
	}
	_, err := os.Stat(filepath.Join(dir, "ok"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
}
