package e2e_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// The values table: every type, with NULLs, extremes, unicode and CSV-special text.
const valsSQL = "SELECT id, i, f, t, b, ts, raw FROM vals ORDER BY id"

var valsRows = []string{
	"1, NULL, NULL, NULL, NULL, NULL, NULL",
	"2, -1, -0.5, '', false, %s, %s",
	"3, 9223372036854775807, 1.7976931348623157e308, 'héllo, \"wörld\"' || char10 || '日本', true, %s, %s",
	"4, -9223372036854775808, 5e-324, 'plain', true, %s, %s",
	"5, 0, %s, 'x', false, %s, %s",
}

// valsDatabases creates the values table in SQLite and in PostgreSQL, with the same values.
func valsDatabases(t *testing.T) []backend {
	t.Helper()
	times := []string{"1969-12-31T23:59:59.999999Z", "2026-11-25T00:00:06.123456Z", "2099-01-01T00:00:00Z", "1900-02-03T04:05:06Z"}

	file := filepath.Join(t.TempDir(), "vals.db")
	db, err := sql.Open("sqlite", file)
	require.NoError(t, err)
	defer db.Close()
	stmts := []string{"CREATE TABLE vals (id integer PRIMARY KEY, i integer, f real, t text, b boolean, ts timestamp, raw blob)"}
	lite := func(ts string) string {
		p, err := time.Parse(time.RFC3339Nano, ts)
		require.NoError(t, err)
		return "'" + p.UTC().Format("2006-01-02T15:04:05.000000Z") + "'"
	}
	blobs := []string{"x''", "x'00ff0a2c22'", "x'e697a5'", "x'01'"}
	for i, r := range valsRows {
		if i == 0 {
			stmts = append(stmts, "INSERT INTO vals VALUES ("+r+")")
			continue
		}
		args := []any{lite(times[i-1]), blobs[i-1]}
		if i == 4 {
			args = []any{"9e999", lite(times[i-1]), blobs[i-1]}
		}
		stmts = append(stmts, "INSERT INTO vals VALUES ("+strings.ReplaceAll(fmt.Sprintf(r, args...), "char10", "char(10)")+")")
	}
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}

	dsn := testpg.DSN(t)
	c, err := pgconn.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer c.Close(context.Background())
	pg := []string{"CREATE TABLE vals (id bigint PRIMARY KEY, i bigint, f double precision, t text, b boolean, ts timestamptz, raw bytea)"}
	for i, r := range valsRows {
		if i == 0 {
			pg = append(pg, "INSERT INTO vals VALUES ("+r+")")
			continue
		}
		blob := `'\x` + strings.TrimSuffix(strings.TrimPrefix(blobs[i-1], "x'"), "'") + `'`
		args := []any{"'" + times[i-1] + "'", blob}
		if i == 4 {
			args = []any{"'Infinity'", "'" + times[i-1] + "'", blob}
		}
		pg = append(pg, "INSERT INTO vals VALUES ("+strings.ReplaceAll(fmt.Sprintf(r, args...), "char10", "chr(10)")+")")
	}
	for _, s := range pg {
		_, err := c.Exec(context.Background(), s).ReadAll()
		require.NoError(t, err, s)
	}
	ro := testpg.ReadOnlyDSN(t, dsn)
	return []backend{
		{"sqlite", fmt.Sprintf("driver = \"sqlite\"\npath = %q", file), file},
		{"postgres", fmt.Sprintf("driver = \"postgres\"\ndsn = %q\ntimeout = \"5s\"", ro), ro},
	}
}

// rowsRegistry grants data source db (ds) to the dbprobe guest, with collectors rows, stream and
// scan on sql.
func rowsRegistry(t testing.TB, ds, sql, extra string, moduleExtra ...string) string {
	t.Helper()
	dir := t.TempDir()
	return testguests.Registry(t, map[string]string{
		"dbprobe.wasm":       testguests.Go(t, "internal/testguests/dbprobe"),
		"rows_pointers.wasm": testguests.WAT(t, "rows_pointers"),
		"rows_c.wasm":        testguests.C(t, "internal/testguests/rowsc/rows.c"),
		"rows_rust.wasm":     testguests.Rust(t, "internal/testguests/rowsrust", "rowsrust"),
	}, fmt.Sprintf(`[gather]
out_dir = %q
state_dir = %q

[datasources.db]
%s

[modules."dbprobe.wasm"]
datasources = ["db"]
%s

[[collector]]
key = "config"
version = "1"
config = true
module = "dbprobe.wasm"
function = "probe"
[collector.params]
statements = '[]'

[[collector]]
key = "rows"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "rows"
[collector.params]
source = "db"
sql = %[5]q

[modules."rows_c.wasm"]
datasources = ["db"]

[modules."rows_rust.wasm"]
datasources = ["db"]

[[collector]]
key = "rows_c"
version = "1"
format = "csv"
module = "rows_c.wasm"
function = "rows"
[collector.params]
source = "db"
sql = %[5]q

[[collector]]
key = "rows_rust"
version = "1"
format = "csv"
module = "rows_rust.wasm"
function = "rows"
[collector.params]
source = "db"
sql = %[5]q

[[collector]]
key = "stream"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "stream"
[collector.params]
source = "db"
sql = %[5]q

[[collector]]
key = "scan"
version = "1"
module = "dbprobe.wasm"
function = "scan"
[collector.params]
source = "db"
sql = %[5]q
%[6]s`, filepath.Join(dir, "out"), filepath.Join(dir, "state"), ds, strings.Join(moduleExtra, "\n"), sql, extra))
}

// describe is dbprobe's Describe: a value's Go type and exact value.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int64:
		return "int64:" + strconv.FormatInt(x, 10)
	case float64:
		return "float64:" + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "string:" + strconv.Quote(x)
	case bool:
		return "bool:" + strconv.FormatBool(x)
	case time.Time:
		return "time:" + x.Format(time.RFC3339Nano)
	case []byte:
		return "bytes:" + hex.EncodeToString(x)
	}
	return fmt.Sprintf("unexpected %T", v)
}

// TestRowsCursorValues reads every type through the row cursor in a Go guest, on SQLite and
// PostgreSQL: Scan and the typed getters give exactly the values the data source gives the host;
// the C and Rust ports write byte for byte the CSV the Go guest writes, and on SQLite that is
// byte for byte what db_stream_csv writes.
func TestRowsCursorValues(t *testing.T) {
	for _, b := range valsDatabases(t) {
		t.Run(b.name, func(t *testing.T) {
			reg := rowsRegistry(t, b.ds, valsSQL, "")
			// CSV output must be UTF-8, and row 3's bytes are not: leave them out there.
			csvReg := rowsRegistry(t, b.ds, "SELECT id, i, f, t, b, ts, CASE WHEN id <> 3 THEN raw END AS raw FROM vals ORDER BY id", "")
			driver := datasource.SQLite
			if b.name == "postgres" {
				driver = datasource.Postgres
			}
			src, err := datasource.Open(context.Background(), datasource.Config{Name: "check", Driver: driver, DSN: b.dsn})
			require.NoError(t, err)
			defer src.Close()
			var want [][]string
			require.NoError(t, src.Query(context.Background(), valsSQL, nil, func([]datasource.Column) error { return nil },
				func(row []any) error {
					r := make([]string, len(row))
					for i, v := range row {
						r[i] = describe(v)
					}
					want = append(want, r)
					return nil
				}))
			require.Len(t, want, len(valsRows))
			assert.Equal(t, "int64:9223372036854775807", want[2][1], "the data source gives the extremes")

			stdout, errs, code := cliRun(t, "run", "scan", "-c", reg)
			require.Equal(t, 0, code, errs)
			var doc struct{ Rows [][]string }
			require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
			assert.Equal(t, want, doc.Rows)

			_, errs, code = cliRun(t, "run", "rows", "-c", reg)
			assert.Equal(t, 1, code)
			assert.Contains(t, errs, "field 7 is not UTF-8", "bytes go to CSV as they are, and the host checks them")
			rows, errs, code := cliRun(t, "run", "rows", "-c", csvReg)
			require.Equal(t, 0, code, errs)
			assert.Contains(t, rows, "\"héllo, \"\"wörld\"\"\n日本\"")
			for _, port := range []string{"rows_c", "rows_rust"} {
				out, errs, code := cliRun(t, "run", port, "-c", csvReg)
				require.Equal(t, 0, code, "%s: %s", port, errs)
				assert.Equal(t, rows, out, "%s vs the Go guest", port)
			}
			if b.name == "sqlite" {
				stream, errs, code := cliRun(t, "run", "stream", "-c", csvReg)
				require.Equal(t, 0, code, errs)
				assert.Equal(t, stream, rows, "row cursor CSV vs db_stream_csv")
			}
		})
	}
}

// TestRowsCursorEventsMatchStream: the AWX events, read row by row through the cursor (in Go, C and
// Rust guests), give the same CSV as db_stream_csv: byte for byte on SQLite, after normalising
// COPY's text forms on PostgreSQL.
func TestRowsCursorEventsMatchStream(t *testing.T) {
	sql := "SELECT " + strings.ReplaceAll(benchEventColumns, "\n", " ") + " FROM main_jobevent ORDER BY id"
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			reg := rowsRegistry(t, b.ds, sql, "")
			rows, errs, code := cliRun(t, "run", "rows", "-c", reg)
			require.Equal(t, 0, code, errs)
			stream, errs, code := cliRun(t, "run", "stream", "-c", reg)
			require.Equal(t, 0, code, errs)
			require.Greater(t, strings.Count(rows, "\n"), 1000)
			for _, port := range []string{"rows_c", "rows_rust"} {
				out, errs, code := cliRun(t, "run", port, "-c", reg)
				require.Equal(t, 0, code, "%s: %s", port, errs)
				assert.Equal(t, rows, out, "%s vs the Go guest", port)
			}
			if b.name == "sqlite" {
				assert.Equal(t, stream, rows)
				return
			}
			assert.Equal(t, normalizedCSV(t, stream), normalizedCSV(t, rows))
		})
	}
}

// TestRowsCursorCapsAndErrors: a result over the source's row cap ends the cursor with too_large
// and the reason, which fails the collector (it returns the error); a query the database refuses
// fails at db_query_rows.
func TestRowsCursorCapsAndErrors(t *testing.T) {
	b := valsDatabases(t)[0]
	reg := rowsRegistry(t, b.ds+"\nmax_rows = 3", valsSQL, `
[[collector]]
key = "bad"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "rows"
[collector.params]
source = "db"
sql = "SELECT nosuchcolumn FROM vals"
`)
	_, errs, code := cliRun(t, "run", "rows", "-c", reg)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "db_rows_next: too_large")
	assert.Contains(t, errs, "more than 3 rows")

	_, errs, code = cliRun(t, "run", "bad", "-c", reg)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "db_query_rows: query_failed")
	assert.Contains(t, errs, "nosuchcolumn")
}

// TestRowsCursorHostilePointers: a guest passing pointers outside its memory or huge lengths to
// db_query_rows and db_rows_next gets what ABI.md says: a trap for a pointer, a status for a
// length, not_found without a query; a short buffer keeps the page for the next call.
func TestRowsCursorHostilePointers(t *testing.T) {
	b := valsDatabases(t)[0]
	var collectors strings.Builder
	collectors.WriteString("\n[modules.\"rows_pointers.wasm\"]\ndatasources = [\"db\"]\n")
	cases := []struct {
		fn       string
		code     int
		contains string
	}{
		{"next_no_query", 1, "returned 6"},
		{"oob_query_rows", 1, "db_query_rows: pointer out of bounds"},
		{"huge_query_rows", 1, "returned 2"},
		{"oob_query_rows_len", 1, "db_query_rows: pointer out of bounds"},
		{"oob_rows_next_buf", 1, "db_rows_next: pointer out of bounds"},
		{"huge_rows_next_buf", 1, "db_rows_next: pointer out of bounds"},
		{"oob_rows_next_len", 1, "db_rows_next: pointer out of bounds"},
		{"small_then_end", 0, ""},
	}
	for _, c := range cases {
		fmt.Fprintf(&collectors, "\n[[collector]]\nkey = %q\nversion = \"1\"\nmodule = \"rows_pointers.wasm\"\nfunction = %q\n", c.fn, c.fn)
	}
	reg := rowsRegistry(t, b.ds, valsSQL, collectors.String())
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			_, errs, code := cliRun(t, "run", c.fn, "-c", reg)
			assert.Equal(t, c.code, code, errs)
			assert.Contains(t, errs, c.contains)
		})
	}
}

// TestRowsCursorMillionRowsIn32MiB: a Go guest reads a million rows one by one through the cursor
// and writes each with the CSV writer, under a guest memory limit of 32 MiB: the guest holds a page,
// not the result.
func TestRowsCursorMillionRowsIn32MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("a million rows")
	}
	file := filepath.Join(t.TempDir(), "empty.db")
	db, err := sql.Open("sqlite", file)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE t (i integer)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	const n = 1_000_000
	q := fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) "+
		"SELECT i, 'host-' || i AS name, i * 0.5 AS half FROM s", n)
	reg := rowsRegistry(t, fmt.Sprintf("driver = \"sqlite\"\npath = %q\ntimeout = \"5m\"", file), q, "", `memory_limit = "32MiB"`)
	out := filepath.Join(t.TempDir(), "rows.csv")
	_, errs, code := cliRun(t, "run", "rows", "-c", reg, "--out", out)
	require.Equal(t, 0, code, errs)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	got := string(b)
	assert.Equal(t, n+1, strings.Count(got, "\n"))
	assert.True(t, strings.HasSuffix(got, "1000000,host-1000000,500000\n"), got[len(got)-64:])
}
