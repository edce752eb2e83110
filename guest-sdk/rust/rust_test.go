// Package rust_test checks the Rust guest SDK (guest-sdk/rust) against the host: it builds Rust
// modules from source with Debian's rustc 1.63 during the test run, runs them through the CLI in
// process, and requires the Rust port of job_events (examples/job_events_rust) to write the same
// bytes as the Go example for the same slice and parameters.
package rust_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// Debian's toolchain: rustup's rustc, usually first in PATH, cannot use Debian's wasm std.
const (
	rustc       = "/usr/bin/rustc"
	cargo       = "/usr/bin/cargo"
	rustTarget  = "wasm32-wasi"
	installHint = "install rustc libstd-rust-dev-wasm32 (make deps)"
)

func requireToolchain(t *testing.T) { t.Helper(); testguests.RequireRust(t) }

func buildRust(t *testing.T, crateDir, lib string) string {
	t.Helper()
	return testguests.Rust(t, crateDir, lib)
}

// runCLI runs the CLI in process and returns its output, its log and its exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(args, &out, &errb)
	return out.Bytes(), errb.Bytes(), code
}

// TestSDKDeclaresABI checks that lib.rs imports exactly the ABI v1 functions, from the right
// module, and that its Status codes are the ABI's.
func TestSDKDeclaresABI(t *testing.T) {
	src, err := os.ReadFile("src/lib.rs")
	require.NoError(t, err)
	text := string(src)

	block := regexp.MustCompile(`(?s)#\[link\(wasm_import_module = "([^"]+)"\)\]\s*extern "C" \{(.*?)\n\s*\}`).FindAllStringSubmatch(text, -1)
	require.Len(t, block, 1, "one extern block with a wasm_import_module")
	assert.Equal(t, abi.ModuleName, block[0][1])
	var declared []string
	for _, m := range regexp.MustCompile(`\bfn\s+(\w+)\s*\(`).FindAllStringSubmatch(block[0][2], -1) {
		declared = append(declared, m[1])
	}
	assert.Equal(t, abi.Functions(), declared, "lib.rs declares the ABI functions, in ABI.md's order")

	assert.Contains(t, text, fmt.Sprintf("pub const MODULE_NAME: &str = %q;", abi.ModuleName))
	// Every ABI status is a Status variant with the same number and, in snake case, the same name.
	variants := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+) = (\d+),$`).FindAllStringSubmatch(text, -1) {
		variants[snake(m[1])] = m[2]
	}
	for code := abi.OK; code <= abi.QueryFailed; code++ {
		assert.Equal(t, fmt.Sprint(uint32(code)), variants[code.String()], "Status variant for %s", code)
		assert.Contains(t, text, fmt.Sprintf("=> %q,", code.String()), "Status::name gives %q", code.String())
	}
	assert.Contains(t, text, fmt.Sprintf("const NULL_FIELD: u32 = 0x%X;", abi.NullField))
	// CollectionType's variants carry the ABI's numbers.
	for name, code := range map[string]int{"dry_run": abi.CollectionDryRun, "manual": abi.CollectionManual, "scheduled": abi.CollectionScheduled} {
		assert.Equal(t, fmt.Sprint(code), variants[name], "CollectionType variant for %s", name)
	}
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

const jobEventsTOML = `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "config.wasm"

[[collector]]
key = "job_events"
version = "1.5"
format = "csv"
slicing = "4h"
module = "job_events.wasm"

[[collector]]
key = "job_events_rust"
version = "1.5"
format = "csv"
slicing = "4h"
module = "job_events_rust.wasm"
function = "job_events"
`

// TestJobEventsRustMatchesGo runs the Go example and its Rust port over the same slices and
// parameters and requires byte-identical CSV.
func TestJobEventsRustMatchesGo(t *testing.T) {
	reg := testguests.Registry(t, map[string]string{
		"config.wasm":          testguests.Go(t, "examples/config"),
		"job_events.wasm":      testguests.Go(t, "examples/job_events"),
		"job_events_rust.wasm": buildRust(t, "examples/job_events_rust", "job_events_rust"),
	}, jobEventsTOML)

	out, errs, code := runCLI(t, "validate", "-c", reg)
	require.Equal(t, 0, code, "%s", errs)
	assert.Contains(t, string(out), "ok (3 collectors in 3 modules)")

	for _, c := range []struct {
		name  string
		args  []string
		lines int // CSV lines including the header; 0: not checked
	}{
		{"4 hours", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T04:00:00Z"}, 4*600 + 1},
		{"7 an hour", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T04:00:00Z", "--param", "events_per_hour=7"}, 4*7 + 1},
		{"off the hour", []string{"--since", "2026-11-25T00:17:03.123456789Z", "--until", "2026-11-25T05:41:59.5Z"}, 0},
		{"off the hour, 7 an hour", []string{"--since", "2026-11-25T00:17:03.123456789Z", "--until", "2026-11-25T05:41:59.5Z", "--param", "events_per_hour=7"}, 0},
		{"across midnight, fast", []string{"--since", "2026-11-25T23:59:59.9Z", "--until", "2026-11-26T00:00:00.1Z", "--param", "events_per_hour=36000000"}, 2000 + 1},
		{"across the epoch", []string{"--since", "1969-12-31T22:00:00Z", "--until", "1970-01-01T02:00:00Z", "--param", "events_per_hour=997"}, 0},
		{"two months, 1 an hour", []string{"--since", "2026-01-01T00:00:00Z", "--until", "2026-03-01T00:00:00Z", "--param", "events_per_hour=1"}, 59*24 + 1},
		{"default since", []string{"--until", "2026-11-25T04:00:00Z", "--param", "events_per_hour=+60"}, 4*60 + 1},
		{"empty slice", []string{"--since", "2026-11-25T00:00:01Z", "--until", "2026-11-25T00:00:05Z"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			goOut, goErr, goCode := runCLI(t, append([]string{"run", "job_events", "-c", reg, "--log-level", "warn"}, c.args...)...)
			require.Equal(t, 0, goCode, "go: %s", goErr)
			rsOut, rsErr, rsCode := runCLI(t, append([]string{"run", "job_events_rust", "-c", reg, "--log-level", "warn"}, c.args...)...)
			require.Equal(t, 0, rsCode, "rust: %s", rsErr)
			requireSameBytes(t, goOut, rsOut)
			if c.lines > 0 {
				assert.Equal(t, c.lines, bytes.Count(rsOut, []byte("\n")))
			}
		})
	}

	t.Run("invalid parameter fails both with the same message", func(t *testing.T) {
		for _, v := range []string{"abc", "0", "3600000001", `1"2\3`} {
			msg := fmt.Sprintf("job_events: parameter events_per_hour is %q, want an integer from 1 to 3600000000", v)
			for _, key := range []string{"job_events", "job_events_rust"} {
				out, errs, code := runCLI(t, "run", key, "-c", reg, "--until", "2026-11-25T04:00:00Z", "--param", "events_per_hour="+v)
				assert.NotEqual(t, 0, code, "%s with %s", key, v)
				assert.Empty(t, out)
				assert.Contains(t, string(errs), "collector failed (code 1): "+msg, key)
			}
		}
	})
}

// requireSameBytes compares two outputs and reports the first line that differs, not megabytes.
func requireSameBytes(t *testing.T, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) && i < len(gl); i++ {
		if wl[i] != gl[i] {
			t.Fatalf("outputs differ at line %d (go %d bytes, rust %d bytes):\ngo:   %s\nrust: %s", i+1, len(want), len(got), wl[i], gl[i])
		}
	}
	t.Fatalf("outputs differ in length: go %d lines (%d bytes), rust %d lines (%d bytes)", len(wl), len(want), len(gl), len(got))
}

// TestSDKThroughHost runs the probe module (testdata/probe), one export per SDK behaviour.
func TestSDKThroughHost(t *testing.T) {
	db := filepath.Join(t.TempDir(), "probe.db")
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	for _, stmt := range []string{
		`CREATE TABLE t (id INTEGER, name TEXT)`,
		`INSERT INTO t VALUES (1, 'a'), (2, 'b, "c"'), (3, NULL)`,
	} {
		_, err := conn.Exec(stmt)
		require.NoError(t, err)
	}
	require.NoError(t, conn.Close())

	var toml strings.Builder
	fmt.Fprintf(&toml, "[datasources.db]\ndriver = \"sqlite\"\npath = %q\n", db)
	toml.WriteString("\n[[collector]]\nkey = \"config\"\nversion = \"1.0\"\nconfig = true\nmodule = \"config.wasm\"\n")
	collector := func(key, format, extra string) {
		fmt.Fprintf(&toml, "\n[[collector]]\nkey = %q\nversion = \"1\"\nformat = %q\nmodule = \"probe.wasm\"\n%s", key, format, extra)
	}
	collector("fails", "json", "")
	collector("ordinary_error", "json", "[collector.params]\nn = \"five\"\n")
	collector("ordinary_ok", "json", "function = \"ordinary_error\"\n[collector.params]\nn = 5\n")
	collector("display_error", "json", "")
	collector("panics", "json", "")
	collector("unflushed", "csv", "")
	collector("mistake", "csv", "")
	collector("second_doc", "json", "")
	collector("wrong_format", "json", "")
	collector("info", "json", "[collector.params]\nname = 'x \"y\"'\nlong = \""+strings.Repeat("L", 300)+"\"\nn = 5\n")
	collector("fields", "csv", "")
	collector("query", "json", "datasources = [\"db\"]\n")
	collector("stream", "csv", "datasources = [\"db\"]\n")
	collector("bad_sql", "json", "datasources = [\"db\"]\n")
	collector("denied", "json", "function = \"query\"\n")

	reg := testguests.Registry(t, map[string]string{
		"config.wasm": testguests.Go(t, "examples/config"),
		"probe.wasm":  buildRust(t, "guest-sdk/rust/testdata/probe", "probe"),
	}, toml.String())

	slice := []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T04:00:00.5Z"}
	for _, c := range []struct {
		key    string
		code   int    // 0 or not 0
		stdout string // exact
		stderr []string
	}{
		{key: "fails", code: 1, stderr: []string{`collector failed (code 1): probe: it failed, "on purpose"`}},
		// run takes any Display error: a parse error through ? into Box<dyn Error>, and a type of the
		// collector's own.
		{key: "ordinary_error", code: 1, stderr: []string{"collector failed (code 1): invalid digit found in string"}},
		{key: "ordinary_ok", stdout: `{"n":5}` + "\n"},
		{key: "display_error", code: 1, stderr: []string{"collector failed (code 1): probe: refused with code 7"}},
		// A panic traps (panic=abort); the hook logs and reports the message before the trap.
		{key: "panics", code: 1, stderr: []string{`level=ERROR msg="panic: probe: boom 42 at src/lib.rs:`, "failed: trap", "wasm error: unreachable"}},
		{key: "unflushed", code: 1, stdout: "a\n", stderr: []string{"collector failed (code 1): wasmcollector: csv writer dropped with 2 rows that were never sent: call flush before returning"}},
		{key: "mistake", code: 1, stdout: "a,b\n", stderr: []string{"collector failed (code 1): wasmcollector: csv_rows: invalid: csv row 1 has 1 fields, header has 2"}},
		{key: "second_doc", code: 1, stdout: "{}", stderr: []string{"failed: refused", "(status wrong_state)"}},
		{key: "wrong_format", code: 1, stderr: []string{"failed: refused", "(status wrong_format)"}},
		{key: "info", stdout: `{"since":"2026-11-25T00:00:00Z","until":"2026-11-25T04:00:00.5Z","full_sync":false,` +
			`"slice":"(2026-11-25T00:00:00Z, 2026-11-25T04:00:00.5Z]","collection_type":"dry-run","name":"x \"y\"",` +
			`"long_len":300,"missing":true,"params":{"long":"` + strings.Repeat("L", 300) + `","n":5,"name":"x \"y\""}}` + "\n"},
		{key: "fields", stdout: "text,null,empty,i64,u64,bool,time,opt\n" +
			"\"a, \"\"quoted\"\"\nline\",,\"\",-9223372036854775808,18446744073709551615,false,2025-03-01T12:00:00.25Z,\n" +
			"ü,x,\"\",-1,0,true,y,z\n"},
		{key: "query", stdout: `{"columns":[{"name":"id","type":"int"},{"name":"name","type":"text"}],"rows":[[2,"b, \"c\""],[3,null]]}` + "\n"},
		{key: "stream", stdout: "id,name\n1,a\n2,\"b, \"\"c\"\"\"\n3,\n", stderr: []string{"probe: streamed 3 rows"}},
		{key: "bad_sql", code: 1, stderr: []string{"collector failed (code 1): wasmcollector: db_query: query_failed: datasource \"db\": statement begins with SELEC"}},
		{key: "denied", code: 1, stderr: []string{"collector failed (code 1): wasmcollector: db_query: denied: data source \"db\" is not granted"}},
	} {
		t.Run(c.key, func(t *testing.T) {
			out, errs, code := runCLI(t, append([]string{"run", c.key, "-c", reg}, slice...)...)
			if c.code == 0 {
				require.Equal(t, 0, code, "%s", errs)
			} else {
				require.NotEqual(t, 0, code, "%s", errs)
			}
			assert.Equal(t, c.stdout, string(out))
			for _, s := range c.stderr {
				assert.Contains(t, string(errs), s)
			}
		})
	}
}

// TestCargoTest runs the crates' own unit tests and doc tests (pure logic: RFC 3339 formatting,
// CSV encoding and batching, Go's PCG) on the build machine, against the SDK's host stand-ins.
func TestCargoTest(t *testing.T) {
	requireToolchain(t)
	root := testguests.Root(t)
	tmp := t.TempDir()
	for _, crate := range []string{"guest-sdk/rust", "examples/job_events_rust"} {
		cmd := exec.Command(cargo, "test", "--offline", "--locked", "--manifest-path", filepath.Join(root, crate, "Cargo.toml"))
		cmd.Env = append(testguests.RustEnv(), "RUSTC="+rustc, "RUSTDOC=/usr/bin/rustdoc", "CARGO_HOME="+filepath.Join(tmp, "cargo-home"),
			"CARGO_TARGET_DIR="+filepath.Join(tmp, "target"), "CARGO_TERM_COLOR=never")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "cargo test %s:\n%s", crate, b)
		assert.Regexp(t, `test result: ok\. [1-9]\d* passed`, string(b), crate)
	}
}
