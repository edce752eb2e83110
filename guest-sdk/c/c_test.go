// Package c_test tests the C SDK, guest-sdk/c/wasmcollector.h. It builds C collectors with clang
// during the test run (Debian clang, lld, wasi-libc and libclang-rt-dev-wasm32: `make deps`), runs
// them through the CLI, and checks that the C port of the job_events example writes byte for byte
// the CSV the Go example writes.
package c_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	_ "modernc.org/sqlite"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// buildC compiles one C file (relative to the repository root, or absolute) against the SDK header
// with clang and returns the module's path. Builds are cached by a hash of the sources, flags and
// compiler.
func buildC(t *testing.T, src string) string {
	t.Helper()
	return testguests.C(t, src)
}

// sqliteDB writes a small SQLite database for the data-source collectors.
func sqliteDB(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", file)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE t (id INTEGER NOT NULL, name TEXT NOT NULL);
		INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');`)
	require.NoError(t, err)
	return file
}

const registryTOML = `
[datasources.db]
driver = "sqlite"
path = %q

[[collector]]
key = "config"
version = "1.0"
config = true
module = "sdk.wasm"

[[collector]]
key = "job_events"
version = "1.5"
format = "csv"
module = "job_events.wasm"

[[collector]]
key = "job_events_c"
version = "1.5"
format = "csv"
module = "job_events_c.wasm"
function = "job_events"

[[collector]]
key = "reads"
version = "1.0"
module = "sdk.wasm"
[collector.params]
name = "acme, \"inc\""
count = 42
long = %q
flag = true

[[collector]]
key = "query"
version = "1.0"
module = "sdk.wasm"
datasources = ["db"]

[[collector]]
key = "stream"
version = "1.0"
format = "csv"
module = "sdk.wasm"
datasources = ["db"]

[[collector]]
key = "formats"
version = "1.0"
format = "csv"
module = "sdk.wasm"
`

// csvFailures are CSV collectors of sdk.c that must fail; JSON ones are declared in jsonFailures.
var csvFailures = []string{"bad_count", "before_header", "second_header", "open_row", "big_row", "wrong_format"}
var jsonFailures = []string{"fails", "fails_zero"}

var longParam = strings.Repeat("0123456789", 30)

// registry builds the modules and writes a registry holding every collector of this package; it
// returns the path of its collectors.toml.
func registry(t *testing.T) string {
	t.Helper()
	mods := map[string]string{
		"sdk.wasm":          buildC(t, "guest-sdk/c/testdata/sdk.c"),
		"job_events_c.wasm": buildC(t, "examples/job_events_c/job_events.c"),
		"job_events.wasm":   testguests.Go(t, "examples/job_events"),
	}
	toml := fmt.Sprintf(registryTOML, sqliteDB(t), longParam)
	for _, key := range csvFailures {
		toml += fmt.Sprintf("\n[[collector]]\nkey = %q\nversion = \"1.0\"\nformat = \"csv\"\nmodule = \"sdk.wasm\"\n", key)
	}
	for _, key := range jsonFailures {
		toml += fmt.Sprintf("\n[[collector]]\nkey = %q\nversion = \"1.0\"\nmodule = \"sdk.wasm\"\n", key)
	}
	return testguests.Registry(t, mods, toml)
}

func run(t *testing.T, reg string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(append(append([]string{"run"}, args...), "-c", reg), &out, &errb)
	return out.String(), errb.String(), code
}

// failure returns the CLI's error line ("wasmcollector: collector …"), or "".
func failure(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "wasmcollector: ") {
			return line
		}
	}
	return ""
}

const (
	failParam = -1
	anyRows   = -2
)

// TestJobEventsIdentical runs the Go job_events example and its C port over the same slices and
// parameters and requires the same bytes, exit code and error message.
func TestJobEventsIdentical(t *testing.T) {
	reg := registry(t)
	cases := []struct {
		name string
		args []string
		rows int // data rows expected; failParam when the parameter is refused, anyRows when not counted
	}{
		{"four hours", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T04:00:00Z"}, 2400},
		{"seven per hour", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T04:00:00Z", "--param", "events_per_hour=7"}, 28},
		{"off the hour", []string{"--since", "2026-11-25T00:00:00.123456Z", "--until", "2026-11-25T04:00:00.5Z"}, 2400},
		{"off the hour, odd step", []string{"--since", "2026-11-25T00:17:00.123456Z", "--until", "2026-11-25T01:03:10.999999Z", "--param", "events_per_hour=7001"}, anyRows},
		{"across midnight, many batches", []string{"--since", "2026-11-25T23:00:00Z", "--until", "2026-11-26T01:00:00Z", "--param", "events_per_hour=10000"}, 20000},
		{"leap day", []string{"--since", "2028-02-29T23:30:00Z", "--until", "2028-03-01T00:30:00Z", "--param", "events_per_hour=3000"}, 3000},
		{"before the epoch", []string{"--since", "1969-12-31T23:30:00Z", "--until", "1970-01-01T00:30:00.000001Z", "--param", "events_per_hour=3600"}, 3600},
		{"one per microsecond", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T00:00:00.005Z", "--param", "events_per_hour=3600000000"}, 5000},
		{"empty slice", []string{"--since", "2026-11-25T00:00:00.5Z", "--until", "2026-11-25T00:00:00.6Z"}, 0},
		{"plus sign", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--param", "events_per_hour=+12"}, 12},
		{"not a number", []string{"--param", `events_per_hour=x"y	z\`}, failParam},
		{"zero", []string{"--param", "events_per_hour=0"}, failParam},
		{"minus zero", []string{"--param", "events_per_hour=-0"}, failParam},
		{"too many", []string{"--param", "events_per_hour=3600000001"}, failParam},
		{"overflow", []string{"--param", "events_per_hour=99999999999999999999"}, failParam},
		{"empty", []string{"--param", "events_per_hour="}, failParam},
		{"unicode", []string{"--param", "events_per_hour=é1"}, failParam},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--log-level", "warn")
			goOut, goErr, goCode := run(t, reg, append([]string{"job_events"}, args...)...)
			cOut, cErr, cCode := run(t, reg, append([]string{"job_events_c"}, args...)...)
			require.Equal(t, goCode, cCode, "exit code\nGo: %s\nC: %s", goErr, cErr)
			require.True(t, goOut == cOut, "outputs differ: Go %d bytes, C %d bytes; first difference at byte %d",
				len(goOut), len(cOut), firstDiff(goOut, cOut))
			assert.Equal(t, failure(goErr), strings.ReplaceAll(failure(cErr), "job_events_c", "job_events"))
			switch {
			case tc.rows == failParam:
				assert.Equal(t, 1, cCode)
				assert.Contains(t, failure(cErr), "want an integer from 1 to 3600000000")
				assert.Empty(t, cOut)
			case tc.rows >= 0:
				require.Equal(t, 0, cCode, cErr)
				assert.Equal(t, tc.rows+1, strings.Count(cOut, "\n"), "header and rows (no field holds a newline)")
			default:
				require.Equal(t, 0, cCode, cErr)
			}
		})
	}
	t.Run("the output is the documented CSV", func(t *testing.T) {
		out, errs, code := run(t, reg, "job_events_c", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--log-level", "warn")
		require.Equal(t, 0, code, errs)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 601)
		assert.Equal(t, "id,created,modified,job_created,uuid,parent_uuid,event,task_action,failed,changed,playbook,play,task,role,job_id,host_id,host_name,duration", strings.Join(recs[0], ","))
		assert.Equal(t, "2026-11-25T00:00:06.000000Z", recs[1][1])
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, recs[1][4])
		assert.Contains(t, out, `,"",`, "empty host names are quoted")
	})
}

func firstDiff(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func TestJSONCollectors(t *testing.T) {
	reg := registry(t)

	t.Run("config", func(t *testing.T) {
		out, errs, code := run(t, reg, "config", "--log-level", "warn")
		require.Equal(t, 0, code, errs)
		assert.JSONEq(t, `{"collection_type":"dry-run","has_since":false,"has_until":false}`, out)
	})

	t.Run("reads", func(t *testing.T) {
		out, errs, code := run(t, reg, "reads", "--since", "2026-11-25T00:00:00.123456789Z", "--until", "2026-11-25T04:00:00.5Z", "--log-level", "debug")
		require.Equal(t, 0, code, errs)
		assert.NotContains(t, errs, "SDK CHECK FAILED")
		assert.NotContains(t, errs, "\uFFFD", "wc_logf cut a character in two")
		assert.Contains(t, errs, "reads: done")
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		assert.Equal(t, "dry-run", doc["collection_type"])
		assert.Equal(t, `acme, "inc"`, doc["name"])
		assert.Equal(t, "42", doc["count"])
		assert.Equal(t, abi.BufferTooSmall.String(), doc["count_small"])
		assert.EqualValues(t, 2, doc["count_len"])
		assert.Equal(t, abi.NotFound.String(), doc["missing"])
		assert.Equal(t, longParam, doc["long"])
		assert.Equal(t, map[string]any{"name": `acme, "inc"`, "count": 42.0, "long": longParam, "flag": true}, doc["params"])
		assert.Equal(t, true, doc["has_since"])
		assert.Equal(t, true, doc["has_until"])
		assert.Equal(t, false, doc["full_sync"])
		since := time.Date(2026, 11, 25, 0, 0, 0, 123456789, time.UTC)
		assert.Equal(t, float64(since.UnixNano()), doc["since_ns"])
		assert.Equal(t, "2026-11-25T00:00:00.123456789Z", doc["since"])
		assert.Equal(t, "2026-11-25T04:00:00.500Z", doc["until_ms"])
	})

	t.Run("query", func(t *testing.T) {
		out, errs, code := run(t, reg, "query", "--log-level", "warn")
		require.Equal(t, 0, code, errs)
		assert.NotContains(t, errs, "SDK CHECK FAILED")
		var doc struct {
			Result struct {
				Columns []struct{ Name string }
				Rows    [][]any
			}
			Cursor             [][]any
			Bad, Error, Denied string
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		require.Len(t, doc.Result.Columns, 2)
		assert.Equal(t, "name", doc.Result.Columns[1].Name)
		assert.Equal(t, [][]any{{2.0, "b"}, {3.0, "c"}}, doc.Result.Rows)
		assert.Equal(t, doc.Result.Rows, doc.Cursor, "the row cursor reads the same rows")
		assert.Equal(t, abi.QueryFailed.String(), doc.Bad)
		assert.Contains(t, doc.Error, "no such table")
		assert.Equal(t, abi.Denied.String(), doc.Denied)
	})
}

func TestCSVCollectors(t *testing.T) {
	reg := registry(t)

	t.Run("stream then writer rows", func(t *testing.T) {
		out, errs, code := run(t, reg, "stream", "--log-level", "warn")
		require.Equal(t, 0, code, errs)
		assert.NotContains(t, errs, "SDK CHECK FAILED")
		assert.Equal(t, "id,name\n1,a\n2,b\n3,c\n99,\"tail, \"\"quoted\"\"\"\n100,\n", out)
	})

	t.Run("formats", func(t *testing.T) {
		var first string
		// 400 bytes hold one row, 1000 two or three: every batch boundary falls somewhere else.
		for _, cp := range []string{"", "cap=400", "cap=1000"} {
			args := []string{"formats", "--log-level", "warn"}
			if cp != "" {
				args = append(args, "--param", cp)
			}
			out, errs, code := run(t, reg, args...)
			require.Equal(t, 0, code, errs)
			assert.NotContains(t, errs, "SDK CHECK FAILED")
			if first == "" {
				first = out
				checkFormats(t, out)
			} else {
				require.True(t, first == out, "%s: output differs from the default buffer's", cp)
			}
		}
	})
}

// checkFormats checks every row of the formats collector against Go's formatting.
func checkFormats(t *testing.T, out string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+16+2000)
	assert.Equal(t, "ns,u64,bool,nano,sec,milli,micro,nine,dec3,dec0,dec18,null,empty,text", strings.Join(recs[0], ","))
	// encoding/csv cannot tell NULL from "": count the raw forms.
	assert.Equal(t, 2016, strings.Count(out, `,,"","a,b ""c""`+"\nd\r\né\"\n"), "NULL, empty and quoted text")
	seen := map[string]bool{}
	for _, r := range recs[1:] {
		ns, err := strconv.ParseInt(r[0], 10, 64)
		require.NoError(t, err, r[0])
		tm := time.Unix(0, ns).UTC()
		want := []string{
			r[0], strconv.FormatUint(uint64(ns), 10), strconv.FormatBool(ns&1 != 0),
			tm.Format(time.RFC3339Nano), tm.Format(time.RFC3339),
			tm.Format("2006-01-02T15:04:05.000Z07:00"), tm.Format("2006-01-02T15:04:05.000000Z07:00"),
			tm.Format("2006-01-02T15:04:05.000000000Z07:00"),
			decimal(ns, 3), decimal(ns, 0), decimal(ns, 18), "", "", "a,b \"c\"\nd\né",
		}
		require.Equal(t, want, r, "ns %d", ns)
		seen[tm.Format("2006")[:2]] = true
	}
	assert.True(t, seen["16"] && seen["19"] && seen["22"], "centuries covered: %v", seen)
}

// decimal formats v / 10^scale with exactly scale decimals.
func decimal(v int64, scale int) string {
	u := uint64(v)
	sign := ""
	if v < 0 {
		u, sign = -u, "-"
	}
	p := uint64(1)
	for range scale {
		p *= 10
	}
	s := sign + strconv.FormatUint(u/p, 10)
	if scale > 0 {
		s += fmt.Sprintf(".%0*d", scale, u%p)
	}
	return s
}

// TestFailures checks that what the C writer catches, and wc_fail, fail the invocation with the
// host's message (or the collector's own, for wc_fail).
func TestFailures(t *testing.T) {
	reg := registry(t)
	cases := map[string]string{
		"bad_count":     `function bad_count: csv_rows: batch 1 row 3 (row 3 of the output): row has 2 fields, header has 3 (status invalid)`,
		"before_header": `function before_header: csv_rows: rows before the header (status wrong_state)`,
		"second_header": `function second_header: csv_header: the header is already set (status wrong_state)`,
		"open_row":      `function open_row: collector failed: collector: csv writer holds an unfinished row: call wc_csv_end_row before wc_csv_flush`,
		"big_row":       `function big_row: collector failed (code 1): collector: csv row 2 is larger than the writer's buffer (64 bytes)`,
		"wrong_format":  `function wrong_format: emit_json: collector "wrong_format" has format csv (status wrong_format)`,
		"fails":         `function fails: collector failed (code 2): acme is down: 3 of 7 hosts, "web"`,
		"fails_zero":    `function fails_zero: collector failed: gave up`,
	}
	require.Len(t, cases, len(csvFailures)+len(jsonFailures))
	keys := make([]string, 0, len(cases))
	for k := range cases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			// Rows written before the failure may be on stdout; a gather discards the file.
			_, errs, code := run(t, reg, key, "--log-level", "warn")
			assert.Equal(t, 1, code)
			assert.NotContains(t, errs, "SDK CHECK FAILED")
			assert.Equal(t, fmt.Sprintf("wasmcollector: collector %q: module sdk.wasm: %s", key, cases[key]), failure(errs))
		})
	}
}

// TestHeaderMatchesABI checks that wasmcollector.h declares exactly the ABI's functions, from the
// ABI's module, and the same numbers as the Go SDK's abi package; and that a module built from it
// imports them.
func TestHeaderMatchesABI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testguests.Root(t), "guest-sdk", "c", "wasmcollector.h"))
	require.NoError(t, err)
	header := string(b)

	var declared []string
	for _, m := range regexp.MustCompile(`import_module\("([^"]*)"\),\s*import_name\("([^"]*)"\)`).FindAllStringSubmatch(header, -1) {
		assert.Equal(t, abi.ModuleName, m[1], "import module of %s", m[2])
		declared = append(declared, m[2])
	}
	assert.Equal(t, abi.Functions(), declared, "import_name attributes, in ABI order")
	assert.Contains(t, header, `#define WC_ABI_MODULE "`+abi.ModuleName+`"`)

	consts := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)(?:^#define\s+|\b)(WC_[A-Z0-9_]+)(?:\s+|\s*=\s*)(-?(?:0x[0-9A-Fa-f]+|\d+))u?\b`).FindAllStringSubmatch(header, -1) {
		v, err := strconv.ParseInt(m[2], 0, 64)
		require.NoError(t, err, m[0])
		consts[m[1]] = v
	}
	want := map[string]int64{
		"WC_LOG_DEBUG": abi.LogDebug, "WC_LOG_INFO": abi.LogInfo, "WC_LOG_WARN": abi.LogWarn, "WC_LOG_ERROR": abi.LogError,
		"WC_COLLECTION_DRY_RUN": abi.CollectionDryRun, "WC_COLLECTION_MANUAL": abi.CollectionManual,
		"WC_COLLECTION_SCHEDULED": abi.CollectionScheduled,
		"WC_SLICE_RECORD_SIZE":    abi.SliceRecordSize, "WC_SLICE_FLAG_SINCE_SET": abi.SliceFlagSinceSet,
		"WC_SLICE_FLAG_UNTIL_SET": abi.SliceFlagUntilSet, "WC_SLICE_FLAG_FULL_SYNC": abi.SliceFlagFullSync,
		"WC_NULL_FIELD": abi.NullField, "WC_NO_HOST": -1,
		"WC_TAG_NULL": abi.TagNull, "WC_TAG_INT": abi.TagInt, "WC_TAG_FLOAT": abi.TagFloat, "WC_TAG_TEXT": abi.TagText,
		"WC_TAG_BOOL": abi.TagBool, "WC_TAG_TIMESTAMP": abi.TagTimestamp, "WC_TAG_BYTES": abi.TagBytes,
	}
	for st := abi.OK; st <= abi.QueryFailed; st++ {
		want["WC_"+strings.ToUpper(st.String())] = int64(st)
		assert.Contains(t, header, `"`+st.String()+`"`, "wc_status_name knows %s", st)
	}
	for name, v := range want {
		got, ok := consts[name]
		if assert.True(t, ok, "%s is not defined", name) {
			assert.Equal(t, v, got, name)
		}
	}
	// Slice record offsets, as wc_slice reads them.
	assert.Contains(t, header, fmt.Sprintf("wc__get_u32(rec + %d)", abi.SliceFlagsOffset))
	assert.Contains(t, header, fmt.Sprintf("wc__get_u32(rec + %d)", abi.SliceUntilOffset))

	// sdk.c calls every function: its module imports exactly the ABI's, and only WASI besides.
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	mod, err := os.ReadFile(buildC(t, "guest-sdk/c/testdata/sdk.c"))
	require.NoError(t, err)
	cm, err := r.CompileModule(ctx, mod)
	require.NoError(t, err)
	var imported []string
	for _, fn := range cm.ImportedFunctions() {
		module, name, _ := fn.Import()
		switch module {
		case abi.ModuleName:
			imported = append(imported, name)
		case "wasi_snapshot_preview1":
		default:
			t.Errorf("unexpected import %s.%s", module, name)
		}
	}
	want13 := abi.Functions()
	sort.Strings(want13)
	sort.Strings(imported)
	assert.Equal(t, want13, imported)
	assert.Contains(t, cm.ExportedFunctions(), "_initialize", "a reactor")
	assert.NotContains(t, cm.ExportedFunctions(), "_start")
}

// TestHeaderExample builds the example at the top of wasmcollector.h and runs its two collectors.
func TestHeaderExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testguests.Root(t), "guest-sdk", "c", "wasmcollector.h"))
	require.NoError(t, err)
	header := string(b)
	start := strings.Index(header, " *   #include \"wasmcollector.h\"")
	end := strings.Index(header, " * ERRORS")
	require.True(t, start > 0 && end > start, "the EXAMPLE section of the header comment")
	var src strings.Builder
	for _, line := range strings.Split(header[start:end], "\n") {
		src.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, " *"), "   ") + "\n")
	}
	file := filepath.Join(t.TempDir(), "example.c")
	require.NoError(t, os.WriteFile(file, []byte(src.String()), 0o644))
	reg := testguests.Registry(t, map[string]string{
		"sdk.wasm":     buildC(t, "guest-sdk/c/testdata/sdk.c"),
		"example.wasm": buildC(t, file),
	}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "sdk.wasm"

[[collector]]
key = "logins"
version = "1.0"
format = "csv"
module = "example.wasm"

[[collector]]
key = "counts"
version = "1.0"
module = "example.wasm"
`)
	out, errs, code := run(t, reg, "logins", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T00:03:00Z", "--log-level", "info")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "id,user,at,source_ip\n"+
		"0,\"alice, admin\",2026-11-25T00:01:00Z,\n"+
		"1,\"alice, admin\",2026-11-25T00:02:00Z,\n"+
		"2,\"alice, admin\",2026-11-25T00:03:00Z,\n", out)
	assert.Contains(t, errs, "logins: 3 rows")
	out, errs, code = run(t, reg, "counts", "--log-level", "warn")
	require.Equal(t, 0, code, errs)
	assert.JSONEq(t, `{"hosts": 10}`, out)
}
