package e2e_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// rowsBenchScale 100 is about 500,000 job events; ROWS_BENCH_SCALE overrides it.
const rowsBenchScale = 100

// BenchmarkRows reads every job event (23 columns) row by row on SQLite and on PostgreSQL, three
// ways, each in a child process and, for the guests, through the default executor (a worker
// process per invocation). It reports no peak RSS: a child started from this process, which holds
// the generated data, inherits its high-water mark (TestRowsCursorMillionRowsIn32MiB bounds the
// guest's memory instead):
//
//	cursor  a Go guest: collector.QueryRows, each row copied to the CSV writer (CSV.CopyRow)
//	query   a Go guest: collector.Query pages of 5,000 rows, each row written with CSV.Values
//	native  Go without wasm: database/sql (SQLite) or pgx (PostgreSQL) iteration, each value
//	        formatted as the SDK does and written with encoding/csv
//
// Every iteration runs all three, so the ratios (cursor_x_native, query_x_native: the guest's
// rows/s over native's) come from one run. Run it with -benchtime 1x (make bench does).
func BenchmarkRows(b *testing.B) {
	scale := rowsBenchScale
	if s, err := strconv.Atoi(os.Getenv("ROWS_BENCH_SCALE")); err == nil && s > 0 {
		scale = s
	}
	ctx := context.Background()
	opts := awxdata.Options{Scale: scale, Until: awxUntil, Seed: 1}
	query := "SELECT " + strings.Join(strings.Fields(benchEventColumns), " ") + " FROM main_jobevent ORDER BY id"
	file := filepath.Join(b.TempDir(), "awx.db")
	require.NoError(b, awxdata.LoadSQLite(ctx, file, opts))
	dsn := testpg.DSN(b)
	require.NoError(b, awxdata.LoadPostgres(ctx, dsn, opts))
	for _, be := range []struct{ name, driver, ds, dsn string }{
		{"sqlite", "sqlite", fmt.Sprintf("driver = \"sqlite\"\npath = %q", file), file},
		{"postgres", "pgx", fmt.Sprintf("driver = \"postgres\"\ndsn = %q", testpg.ReadOnlyDSN(b, dsn)), dsn},
	} {
		b.Run(be.name, func(b *testing.B) {
			reg := rowsRegistry(b, be.ds+"\ntimeout = \"1h\"\nmax_bytes = \"16GiB\"\nmax_rows = 100000000", query, `
[[collector]]
key = "query"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "rowwise"
timeout = "1h"
[collector.params]
source = "db"
`, `memory_limit = "256MiB"  # query: pages of 5000 decoded rows`)
			out := filepath.Join(b.TempDir(), "rows.csv")
			modes := []struct {
				name string
				args []string
			}{
				{"native", []string{"native-rows", be.driver, be.dsn, query, out}},
				{"cursor", []string{"run", "rows", "-c", reg, "--out", out, "--log-level", "error"}},
				{"query", []string{"run", "query", "-c", reg, "--out", out, "--log-level", "error"}},
			}
			elapsed := map[string]time.Duration{}
			lines := map[string]int{}
			for b.Loop() {
				for _, m := range modes {
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), "E2E_CHILD="+strings.Join(m.args, "\x1f"))
					start := time.Now()
					msg, err := cmd.CombinedOutput()
					elapsed[m.name] += time.Since(start)
					require.NoError(b, err, "%s: %s", m.name, msg)
					lines[m.name] = countLines(b, out)
				}
			}
			rows := lines["native"] - 1
			require.Greater(b, rows, 0)
			for _, m := range modes {
				require.Equal(b, lines["native"], lines[m.name], "%s wrote another number of lines", m.name)
				rate := float64(rows) * float64(b.N) / elapsed[m.name].Seconds()
				b.ReportMetric(rate, m.name+"_rows/s")
				if m.name != "native" {
					b.ReportMetric(elapsed["native"].Seconds()/elapsed[m.name].Seconds(), m.name+"_x_native")
				}
			}
		})
	}
}

func countLines(tb testing.TB, path string) int {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		n++
	}
	require.NoError(tb, sc.Err())
	return n
}

// nativeRows is BenchmarkRows' baseline: driver, dsn, sql, out.
func nativeRows(args []string) error {
	driver, dsn, query, out := args[0], args[1], args[2], args[3]
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	w := csv.NewWriter(bw)
	ctx := context.Background()
	var header []string
	var record []string
	write := func(vals []any) error {
		record = record[:0]
		for _, v := range vals {
			record = append(record, formatNative(v))
		}
		return w.Write(record)
	}
	if driver == "pgx" {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, query)
		if err != nil {
			return err
		}
		for _, fd := range rows.FieldDescriptions() {
			header = append(header, fd.Name)
		}
		if err := w.Write(header); err != nil {
			return err
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			if err := write(vals); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
	} else {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		if header, err = rows.Columns(); err != nil {
			return err
		}
		if err := w.Write(header); err != nil {
			return err
		}
		vals := make([]any, len(header))
		dest := make([]any, len(header))
		for i := range dest {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if err := write(vals); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// formatNative formats a value as the SDK's CSV writer does.
func formatNative(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}
