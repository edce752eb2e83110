package checkcmd_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the fixture database

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

type item struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

type report struct {
	Module string `json:"module"`
	SHA256 string `json:"sha256"`
	Passed bool   `json:"passed"`
	Checks []item `json:"checks"`
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(append(args, "--log-level", "error"), &out, &errb)
	return out.String(), errb.String(), code
}

// module copies a built module into a fresh directory as name.wasm, with sidecar as name.toml
// when it is not "", and returns the module's path.
func module(t *testing.T, built, name, sidecar string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(built)
	require.NoError(t, err)
	path := filepath.Join(dir, name+".wasm")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	if sidecar != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".toml"), []byte(sidecar), 0o644))
	}
	return path
}

// check runs `check -o json` on path and returns the report and the exit code.
func check(t *testing.T, path string, args ...string) (report, int) {
	t.Helper()
	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	// check compiles in this race-instrumented process: a cold Go module takes tens of seconds on
	// a loaded machine, so the default 30 s compile_timeout would fail it for the wrong reason.
	out, errs, code := runCLI(t, append([]string{"check", path, "-o", "json", "--cache-dir", cache, "--compile-timeout", "5m"}, args...)...)
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "stdout: %s\nstderr: %s", out, errs)
	return rep, code
}

func byStatus(rep report, status string) map[string]item {
	out := map[string]item{}
	for _, it := range rep.Checks {
		if it.Status == status {
			out[it.Name] = it
		}
	}
	return out
}

func names(m map[string]item) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

const configSidecar = `
[[collector]]
key = "config"
version = "1.0"
config = true
[collector.params]
install_uuid = "11111111-2222-3333-4444-555555555555"
`

const jobEventsSidecar = `
[[collector]]
key = "job_events"
version = "1.5"
format = "csv"
slicing = "4h"
[collector.params]
events_per_hour = 120
`

func TestCheckPassesExamples(t *testing.T) {
	t.Run("config", func(t *testing.T) {
		path := module(t, testguests.Go(t, "examples/config"), "config", configSidecar)
		rep, code := check(t, path)
		require.Equal(t, 0, code, "%+v", rep)
		assert.True(t, rep.Passed)
		assert.Len(t, rep.SHA256, 64)
		assert.Empty(t, byStatus(rep, "fail"))
		for _, name := range []string{"read", "size", "compile", "abi", "memory", "sidecar", "exports", "run config (no slice)"} {
			assert.Contains(t, byStatus(rep, "pass"), name)
		}
		assert.Contains(t, byStatus(rep, "pass")["abi"].Detail, "ABI v1")
		assert.Contains(t, byStatus(rep, "pass")["run config (no slice)"].Detail, "1 document")
	})

	t.Run("job_events", func(t *testing.T) {
		path := module(t, testguests.Go(t, "examples/job_events"), "job_events", jobEventsSidecar)
		rep, code := check(t, path)
		require.Equal(t, 0, code, "%+v", rep)
		assert.Empty(t, byStatus(rep, "fail"))
		warn := byStatus(rep, "warn")
		require.Contains(t, warn, "sidecar")
		assert.Contains(t, warn["sidecar"].Detail, "no config collector (a product's registry provides one)")
		pass := byStatus(rep, "pass")
		assert.Contains(t, pass["run job_events (empty slice)"].Detail, "0 rows, 18 columns")
		// The sample slice is the last hour: 120 events.
		assert.Contains(t, pass["run job_events (sample slice)"].Detail, "120 rows, 18 columns")
		assert.Contains(t, pass["exports"].Detail, "job_events: () -> i32")
		assert.Contains(t, []string{"pass", "warn"}, statusOf(rep, "startup"))
	})

	t.Run("text output and --toml", func(t *testing.T) {
		path := module(t, testguests.Go(t, "examples/job_events"), "job_events", "")
		side := filepath.Join(t.TempDir(), "elsewhere.toml")
		require.NoError(t, os.WriteFile(side, []byte(jobEventsSidecar), 0o644))
		cache := filepath.Join(testguests.CacheDir(t), "wazero")
		out, errs, code := runCLI(t, "check", path, "--toml", side, "--cache-dir", cache)
		require.Equal(t, 0, code, out+errs)
		assert.Regexp(t, `(?m)^PASS  read +`, out)
		assert.Regexp(t, `(?m)^WARN  sidecar +`+regexpQuote(side)+`: 1 collector: job_events \(csv, 4h\)`, out)
		assert.Regexp(t, `(?m)^PASS  run job_events \(sample slice\) +120 rows`, out)
		assert.Contains(t, out, "job_events.wasm: fit to ship, ") // the sidecar warns; startup may, on a busy machine
	})

	t.Run("data sources are not run", func(t *testing.T) {
		sidecar := strings.Replace(jobEventsSidecar, "[collector.params]", "datasources = [\"awx\"]\n[collector.params]", 1)
		path := module(t, testguests.Go(t, "examples/job_events"), "job_events", sidecar)
		rep, code := check(t, path)
		require.Equal(t, 0, code, "%+v", rep)
		warn := byStatus(rep, "warn")
		require.Contains(t, warn, "run job_events")
		assert.Equal(t, "needs data source awx; check runs without databases unless given --fixture awx=FILE", warn["run job_events"].Detail)
		// The sidecar only asks for the data source; check grants it, and says so loudly.
		require.Contains(t, warn, "grants")
		assert.Equal(t, "WARNING: check granted the sidecar's requests to run the module; a product's operator must grant them explicitly, in collectors.toml:\n"+
			"  [modules.\"job_events.wasm\"]\n  datasources = [\"awx\"]", warn["grants"].Detail)
	})
}

func TestCheckGrantsTheSidecarsRequests(t *testing.T) {
	// The sidecar of issue 11 item 1: check runs the vendor's own module, so it grants the
	// requests (the collectors run), and warns that an operator must grant them explicitly.
	t.Setenv("SECRET_TOKEN", "s3cret")
	side := "[module]\nmounts = { \"/host\" = \"/\" }\nenv = [\"SECRET_TOKEN\"]\nmemory_limit = \"4GiB\"\ntimeout = \"2m\"\n" + sidecarFor("ok", "", "")
	path := module(t, testguests.WAT(t, "pointers"), "pointers", side)
	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"check", path, "--cache-dir", cache, "--log-level", "warn"}, &stdout, &stderr)
	out, errs := stdout.String(), stderr.String()
	require.Equal(t, 0, code, out+errs)
	assert.Regexp(t, `(?m)^WARN  grants +WARNING: check granted`, out)
	assert.Contains(t, out, "WARNING: check granted the sidecar's requests to run the module; a product's operator must grant them explicitly, in collectors.toml:\n"+
		"  [modules.\"pointers.wasm\"]\n  mounts = { \"/host\" = \"/\" }\n  env = [\"SECRET_TOKEN\"]\n  memory_limit = \"4 GiB\"\n  timeout = \"2m\"\n")
	assert.Regexp(t, `(?m)^PASS  memory +.*the sidecar's memory_limit of 4 GiB`, out)
	assert.Regexp(t, `(?m)^PASS  run ok \(sample slice\)`, out)
	assert.Contains(t, errs, "check granted what the sidecar requests; a product's operator must grant these explicitly in collectors.toml")
}

// TestCheckFixture: with --fixture, a collector reading a data source runs against the vendor's
// SQLite database, and the slice guard checks its rows: a query that ignores @since and @until
// fails the check, naming the row, its value and the bounds; one that binds them passes.
func TestCheckFixture(t *testing.T) {
	db := filepath.Join(t.TempDir(), "fixture.db")
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = conn.Exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, modified DATETIME)`)
	require.NoError(t, err)
	for i, at := range []string{"2026-11-26 09:30:00", "2026-11-26 10:00:00", "2026-11-26 10:00:01", "2026-11-25 10:00:00"} {
		_, err = conn.Exec(`INSERT INTO events VALUES (?, ?)`, i+1, at)
		require.NoError(t, err)
	}
	require.NoError(t, conn.Close())
	sidecar := func(query string) string {
		return `
[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "1h"
function = "stream"
datasources = ["product"]
time_column = "modified"
[collector.params]
source = "product"
sql = "` + query + `"
`
	}
	probe := testguests.Go(t, "internal/testguests/dbprobe")
	args := []string{"--fixture", "product=" + db, "--timestamp-format", "sqlite", "--until", "2026-11-26T10:00:00Z"}

	path := module(t, probe, "dbprobe", sidecar("SELECT id, modified FROM events WHERE modified > @since AND modified <= @until"))
	rep, code := check(t, path, args...)
	require.Equal(t, 0, code, "%+v", rep)
	assert.Equal(t, "pass", statusOf(rep, "run events (sample slice)"))
	assert.Contains(t, byStatus(rep, "pass")["run events (sample slice)"].Detail, "2 rows")

	path = module(t, probe, "dbprobe", sidecar("SELECT id, modified FROM events ORDER BY id"))
	rep, code = check(t, path, args...)
	require.Equal(t, 1, code, "%+v", rep)
	assert.Equal(t, `slice guard: row 3: modified = "2026-11-26T10:00:01Z" is outside the slice (2026-11-26T09:00:00Z, 2026-11-26T10:00:00Z]`,
		byStatus(rep, "fail")["run events (sample slice)"].Detail)

	_, errs, code := runCLI(t, "check", path, "--fixture", "product")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `--fixture "product": want NAME=FILE`)
}

func statusOf(rep report, name string) string {
	for _, it := range rep.Checks {
		if it.Name == name {
			return it.Status
		}
	}
	return ""
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `.`, `\.`, `(`, `\(`, `)`, `\)`, `+`, `\+`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`, `$`, `\$`, `^`, `\^`, `|`, `\|`, `{`, `\{`, `}`, `\}`)
	return r.Replace(s)
}

func sidecarFor(key, function, format string) string {
	s := "[[collector]]\nkey = \"" + key + "\"\nversion = \"1.0\"\n"
	if function != "" {
		s += "function = \"" + function + "\"\n"
	}
	if format != "" {
		s += "format = \"" + format + "\"\n"
	}
	return s
}

// TestCheckFailsHostile checks that each hostile module fails on the item that names its problem,
// and on no other.
func TestCheckFailsHostile(t *testing.T) {
	corrupt := filepath.Join(t.TempDir(), "corrupt.wasm")
	good, err := os.ReadFile(testguests.WAT(t, "pointers"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(corrupt, good[:len(good)/2], 0o644))
	notWasm := filepath.Join(t.TempDir(), "text.wasm")
	require.NoError(t, os.WriteFile(notWasm, []byte("this is not a module"), 0o644))

	cases := []struct {
		name    string
		built   string
		sidecar string
		fails   map[string]string // item → text its detail contains
	}{
		{"unknown_import", testguests.WAT(t, "unknown_import"), sidecarFor("collect", "", ""),
			map[string]string{"abi": "imports env.steal_secrets, which this host does not provide"}},
		{"abi_v2", testguests.WAT(t, "abi_v2"), sidecarFor("collect", "", ""),
			map[string]string{"abi": `ABI "wasmcollector_v2" is not supported`}},
		{"memory_hog", testguests.WAT(t, "memory_hog"), sidecarFor("hog", "", ""),
			map[string]string{"memory": "memory declaration over the limit: declares 40000 pages"}},
		{"command", testguests.WAT(t, "command"), sidecarFor("collect", "", ""),
			map[string]string{"abi": "is a WASI command (exports _start): build it as a reactor"}},
		{"no_memory", testguests.WAT(t, "no_memory"), "",
			map[string]string{"abi": `exports no memory named "memory"`}},
		{"wrong_signature", testguests.WAT(t, "wrong_signature"), "",
			map[string]string{"abi": "imports wasmcollector_v1.emit_json with type (i64) -> (i32)"}},
		{"corrupt", corrupt, "", map[string]string{"compile": "invalid WebAssembly"}},
		{"not_wasm", notWasm, "", map[string]string{"compile": "not a WebAssembly module"}},
		{"bad_export", testguests.WAT(t, "bad_export"), sidecarFor("collect", "", ""),
			map[string]string{"exports": `function "collect" has type (i32) -> (i32), want () -> (i32)`}},
		{"missing_export", testguests.WAT(t, "spin"), sidecarFor("spin", "", "") + sidecarFor("gone", "", ""),
			map[string]string{"exports": `function "gone" is not exported by the module`}},
		{"spin", testguests.WAT(t, "spin"), sidecarFor("spin", "", ""),
			map[string]string{"run spin (empty slice)": "timeout: timed out after 500ms", "run spin (sample slice)": "timeout: timed out after 500ms"}},
		{"grow_bomb", testguests.WAT(t, "grow_bomb"), sidecarFor("grow_bomb", "", ""),
			map[string]string{"run grow_bomb (empty slice)": "memory: memory limit of 64 MiB reached", "run grow_bomb (sample slice)": "memory: "}},
		{"invalid_json", testguests.WAT(t, "outputs"), sidecarFor("bad", "invalid_json", ""),
			map[string]string{"run bad (empty slice)": "refused: ", "run bad (sample slice)": "refused: "}},
		{"bad_sidecar", testguests.WAT(t, "spin"), sidecarFor("spin", "", "xml"),
			map[string]string{"sidecar": `bad_sidecar.toml:4: collector[0].format: invalid format "xml": must be "json" or "csv"`}},
		{"go_hostile", testguests.Go(t, "internal/testguests/hostile"),
			sidecarFor("go_panic", "", "") + sidecarFor("go_spin", "", "") + sidecarFor("go_exit", "", "") + sidecarFor("ok", "", ""),
			map[string]string{
				"run go_panic (empty slice)": "trap: wasm error: unreachable", "run go_panic (sample slice)": "trap: ",
				"run go_spin (empty slice)": "timeout: ", "run go_spin (sample slice)": "timeout: ",
				"run go_exit (empty slice)": "exit: guest exited with code 3", "run go_exit (sample slice)": "exit: ",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := strings.TrimSuffix(filepath.Base(tc.built), ".wasm")
			if strings.HasPrefix(name, "wat-") || strings.HasPrefix(name, "go-") {
				name = tc.name
			}
			path := module(t, tc.built, name, tc.sidecar)
			timeout := "500ms" // WAT modules start in microseconds
			switch tc.name {
			case "grow_bomb":
				timeout = "20s" // copying memory as it grows is slow under the race detector
			case "go_hostile":
				timeout = "3s" // a Go module starts in milliseconds, more on a busy machine
			}
			rep, code := check(t, path, "--timeout", timeout)
			assert.Equal(t, 1, code)
			assert.False(t, rep.Passed)
			fails := byStatus(rep, "fail")
			assert.ElementsMatch(t, keys(tc.fails), names(fails), "%+v", rep.Checks)
			for item, want := range tc.fails {
				assert.Contains(t, fails[item].Detail, want, item)
			}
			if tc.name == "go_hostile" {
				assert.Equal(t, "pass", statusOf(rep, "run ok (sample slice)"))
			}
		})
	}
}

func TestCheckRead(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		rep, code := check(t, filepath.Join(t.TempDir(), "nope.wasm"))
		assert.Equal(t, 1, code)
		require.Len(t, rep.Checks, 1)
		assert.Equal(t, item{Name: "read", Status: "fail", Detail: rep.Checks[0].Detail}, rep.Checks[0])
		assert.Contains(t, rep.Checks[0].Detail, "no such file or directory")
	})
	t.Run("over 64 MiB", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.wasm")
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		require.NoError(t, os.Truncate(path, 64<<20+1))
		rep, code := check(t, path)
		assert.Equal(t, 1, code)
		require.Len(t, rep.Checks, 1)
		assert.Contains(t, rep.Checks[0].Detail, "over the 64 MiB module size limit")
	})
	t.Run("missing --toml", func(t *testing.T) {
		path := module(t, testguests.WAT(t, "spin"), "spin", "")
		rep, code := check(t, path, "--toml", filepath.Join(t.TempDir(), "none.toml"))
		assert.Equal(t, 1, code)
		assert.Equal(t, []string{"sidecar"}, names(byStatus(rep, "fail")))
		assert.Contains(t, byStatus(rep, "fail")["sidecar"].Detail, "cannot read file")
	})
	t.Run("no sidecar", func(t *testing.T) {
		path := module(t, testguests.WAT(t, "spin"), "spin", "")
		rep, code := check(t, path)
		assert.Equal(t, 0, code)
		assert.Contains(t, byStatus(rep, "warn")["sidecar"].Detail, "no sidecar")
		assert.Equal(t, "skip", statusOf(rep, "exports"))
	})
}

func TestCheckMounts(t *testing.T) {
	side := "[module]\nmounts = { \"/data\" = \"data\", \"/etc/product\" = \"/definitely/not/here\" }\n" + sidecarFor("ok", "", "")
	path := module(t, testguests.WAT(t, "pointers"), "pointers", side)
	require.NoError(t, os.Mkdir(filepath.Join(filepath.Dir(path), "data"), 0o755))
	rep, code := check(t, path)
	require.Equal(t, 0, code, "%+v", rep.Checks)
	warn := byStatus(rep, "warn")
	require.Contains(t, warn, "sidecar")
	assert.Contains(t, warn["sidecar"].Detail, `pointers.toml:2: module.mounts."/etc/product": host directory /definitely/not/here does not exist or is not a directory (on this machine; collectors run without the mount)`)
	assert.NotContains(t, warn["sidecar"].Detail, `"/data"`)
	assert.Contains(t, warn["grants"].Detail, `mounts = { "/data" = "`+filepath.Join(filepath.Dir(path), "data")+`" }`, "the grant names the user's directory")
	// The relative mount resolves beside the user's sidecar, so the module loads with it.
	assert.Equal(t, "pass", statusOf(rep, "run ok (sample slice)"))
	assert.Empty(t, statusOf(rep, "load"))
}

func TestCheckJSONShape(t *testing.T) {
	path := module(t, testguests.WAT(t, "pointers"), "pointers", sidecarFor("ok", "", "")+sidecarFor("ok_csv", "", "csv"))
	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	out, errs, code := runCLI(t, "check", path, "-o", "json", "--cache-dir", cache)
	require.Equal(t, 0, code, errs)
	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.ElementsMatch(t, []string{"module", "sha256", "passed", "checks", "signature"}, keys(doc))
	assert.JSONEq(t, `{"file": "`+path+`.minisig", "present": false, "verified": false, "problem": "unsigned"}`, string(doc["signature"]))
	assert.JSONEq(t, `true`, string(doc["passed"]))
	assert.JSONEq(t, `"`+path+`"`, string(doc["module"]))
	var checks []map[string]any
	require.NoError(t, json.Unmarshal(doc["checks"], &checks))
	var got []string
	for _, c := range checks {
		assert.ElementsMatch(t, []string{"name", "status", "detail"}, keys(c))
		assert.Contains(t, []any{"pass", "warn", "fail", "skip"}, c["status"])
		got = append(got, c["name"].(string))
	}
	assert.Equal(t, []string{"read", "size", "compile", "abi", "memory", "sidecar", "signature", "exports", "startup",
		"run ok (empty slice)", "run ok (sample slice)", "run ok_csv (empty slice)", "run ok_csv (sample slice)"}, got)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCheckExitCodes(t *testing.T) {
	path := module(t, testguests.WAT(t, "spin"), "spin", "")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"check"}, 2},
		{[]string{"check", path, "--bogus"}, 2},
		{[]string{"check", path, "--timeout", "0s"}, 2},
		{[]string{"check", path, "-o", "yaml"}, 2},
		{[]string{"check", path}, 0},
		{[]string{"check", module(t, testguests.WAT(t, "command"), "command", "")}, 1},
	} {
		_, errs, code := runCLI(t, tc.args...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
	}
}

func TestCheckHostileSidecar(t *testing.T) {
	// check decodes the sidecar itself before the registry does; a hostile one must be refused
	// as the registry refuses it, never reach the decoder (2M nested arrays overflowed its stack).
	for name, side := range map[string]string{
		"deep":  "x = " + strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000) + "\n",
		"small": "x = " + strings.Repeat("{a=", 100) + "1" + strings.Repeat("}", 100) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := module(t, testguests.WAT(t, "pointers"), "pointers", side)
			rep, code := check(t, path)
			assert.Equal(t, 1, code)
			fail := byStatus(rep, "fail")
			require.Contains(t, fail, "sidecar")
			if name == "deep" {
				assert.Contains(t, fail["sidecar"].Detail, "over the 1048576-byte cap a product's registry applies by default")
			} else {
				assert.Contains(t, fail["sidecar"].Detail, "pointers.toml:1: nests deeper than 64 levels")
			}
		})
	}
}

// TestCheckCompileTimeout: --compile-timeout bounds the compilation, and a module over it fails
// the compile item by its kind; a bound that is not positive is bad input.
func TestCheckCompileTimeout(t *testing.T) {
	bomb := module(t, testguests.CompileBomb(t, "nested_blocks", 100_000), "bomb", "[[collector]]\nkey = \"bomb\"\nversion = \"1.0\"\nfunction = \"bomb\"\n")
	start := time.Now()
	// A cache directory of its own: a cached compilation would not be bounded by anything.
	out, errs, code := runCLI(t, "check", bomb, "-o", "json", "--cache-dir", t.TempDir(), "--compile-timeout", "1s")
	require.Equal(t, 1, code, out+errs)
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, "fail: compile timeout: compilation did not finish within 1s (compile_timeout)", detail(rep, "compile"))
	assert.Less(t, time.Since(start), 2*time.Minute)

	_, errs, code = runCLI(t, "check", bomb, "--compile-timeout", "0s")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--compile-timeout 0s: must be more than 0")
}
