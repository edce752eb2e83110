package datasource

import (
	"bufio"
	"context"
	"encoding/csv"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// benchRows is the size of the table BenchmarkStreamCSV streams.
const benchRows = 200_000

// benchSQLite creates the SQLite tables the benchmarks stream, benchRows
// rows each: big, of the fixture's shape, and times, of four timestamp
// columns in the stored forms the driver parses (the host's own
// SQLiteTimeFormat, SQLite's datetime() form, with milliseconds, a date).
func benchSQLite(b *testing.B) string {
	lite := sqliteFixture(b)
	db := openWritable(b, lite)
	_, err := db.Exec(`CREATE TABLE big (id INTEGER, score REAL, note TEXT, ok BOOLEAN, modified TIMESTAMP, payload BLOB);
		INSERT INTO big
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(benchRows) + `)
		SELECT i, i * 0.5, 'note, number ' || i, i % 2,
			strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1700000000 + i, 'unixepoch'), CAST('payload' AS BLOB) FROM n;
		CREATE TABLE times (id INTEGER, created DATETIME, modified DATETIME, seen TIMESTAMP, day DATE);
		INSERT INTO times
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(benchRows) + `)
		SELECT i, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1700000000 + i, 'unixepoch'),
			datetime(1700000000 + 7 * i, 'unixepoch'),
			strftime('%Y-%m-%d %H:%M:%f', 1700000000 + i / 1000.0, 'unixepoch'),
			date(1700000000 + 86400 * (i % 1000), 'unixepoch') FROM n`)
	require.NoError(b, err)
	return lite
}

// BenchmarkStreamCSV streams a table of benchRows rows on each driver:
// SQLite through the raw path (sqlite, sqlite-times), and, as the
// baseline of the same run, through the row path StreamCSV took before
// (…-rowpath); PostgreSQL through COPY.
func BenchmarkStreamCSV(b *testing.B) {
	lite := benchSQLite(b)
	for _, tb := range []struct {
		name, table string
		rowPath     bool
	}{
		{"sqlite", "big", false},
		{"sqlite-rowpath", "big", true},
		{"sqlite-times", "times", false},
		{"sqlite-times-rowpath", "times", true},
	} {
		b.Run(tb.name, func(b *testing.B) {
			s := open(b, Config{Name: "lite", Driver: SQLite, DSN: lite})
			sql := "SELECT * FROM " + tb.table + " ORDER BY id"
			var w countingWriter
			for b.Loop() {
				var n int64
				var err error
				if tb.rowPath {
					var st *statement
					st, err = s.prepare(sql, nil)
					require.NoError(b, err)
					n, err = rowStreamCSV(context.Background(), s.be, st, &w)
				} else {
					n, err = s.StreamCSV(context.Background(), sql, nil, &w)
				}
				require.NoError(b, err)
				require.Equal(b, int64(benchRows), n)
			}
			b.SetBytes(w.bytes / int64(b.N))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
	b.Run("postgres", func(b *testing.B) {
		pg := pgFixture(b)
		pgExec(b, pg, `CREATE TABLE big AS SELECT i::bigint AS id, i * 0.5::float8 AS score,
			'note, number ' || i AS note, i % 2 = 1 AS ok,
			to_timestamp(1700000000 + i) AS modified, 'payload'::bytea AS payload
			FROM generate_series(1, `+strconv.Itoa(benchRows)+`) AS i`)
		s := open(b, Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(b, pg)})
		var w countingWriter
		for b.Loop() {
			n, err := s.StreamCSV(context.Background(), "SELECT * FROM big ORDER BY id", nil, &w)
			require.NoError(b, err)
			require.Equal(b, int64(benchRows), n)
		}
		b.SetBytes(w.bytes / int64(b.N))
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
	})
}

// BenchmarkStreamCSVNative is the baseline of BenchmarkStreamCSV/sqlite…: native Go reading the
// same tables through database/sql (the same driver) and writing them with encoding/csv, values
// in the same text forms.
func BenchmarkStreamCSVNative(b *testing.B) {
	lite := benchSQLite(b)
	db := openWritable(b, lite)
	for _, table := range []string{"big", "times"} {
		b.Run(table, func(b *testing.B) {
			var w countingWriter
			for b.Loop() {
				rows, err := db.Query("SELECT * FROM " + table + " ORDER BY id")
				require.NoError(b, err)
				cw := csv.NewWriter(bufio.NewWriterSize(&w, 64<<10))
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rec := make([]string, len(cols))
				require.NoError(b, cw.Write(cols))
				n := 0
				for rows.Next() {
					require.NoError(b, rows.Scan(ptrs...))
					for i, v := range vals {
						rec[i] = string(appendCSVField(nil, v))
					}
					require.NoError(b, cw.Write(rec))
					n++
				}
				require.NoError(b, rows.Err())
				cw.Flush()
				require.Equal(b, benchRows, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
		})
	}
}

// appendCSVField renders a value as the stream path does, leaving text unquoted (encoding/csv
// quotes it).
func appendCSVField(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case []byte:
		return append(b, x...)
	}
	return appendCSVValue(b, v)
}

type countingWriter struct{ bytes int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes += int64(len(p))
	return len(p), nil
}
