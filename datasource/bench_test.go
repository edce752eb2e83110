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

// BenchmarkStreamCSV streams a table of benchRows rows of the fixture's
// shape on each driver: SQLite through the row path, PostgreSQL through
// COPY.
func BenchmarkStreamCSV(b *testing.B) {
	lite := sqliteFixture(b)
	db := openWritable(b, lite)
	_, err := db.Exec(`CREATE TABLE big (id INTEGER, score REAL, note TEXT, ok BOOLEAN, modified TIMESTAMP, payload BLOB);
		INSERT INTO big
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(benchRows) + `)
		SELECT i, i * 0.5, 'note, number ' || i, i % 2,
			strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1700000000 + i, 'unixepoch'), CAST('payload' AS BLOB) FROM n`)
	require.NoError(b, err)

	pg := pgFixture(b)
	pgExec(b, pg, `CREATE TABLE big AS SELECT i::bigint AS id, i * 0.5::float8 AS score,
		'note, number ' || i AS note, i % 2 = 1 AS ok,
		to_timestamp(1700000000 + i) AS modified, 'payload'::bytea AS payload
		FROM generate_series(1, `+strconv.Itoa(benchRows)+`) AS i`)

	for _, tb := range []struct {
		name string
		cfg  Config
	}{
		{"sqlite", Config{Name: "lite", Driver: SQLite, DSN: lite}},
		{"postgres", Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(b, pg)}},
	} {
		b.Run(tb.name, func(b *testing.B) {
			s := open(b, tb.cfg)
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
}

// BenchmarkStreamCSVNative is the baseline of BenchmarkStreamCSV/sqlite: native Go reading the
// same table through database/sql (the same driver) and writing it with encoding/csv, values in
// the same text forms.
func BenchmarkStreamCSVNative(b *testing.B) {
	lite := sqliteFixture(b)
	db := openWritable(b, lite)
	_, err := db.Exec(`CREATE TABLE big (id INTEGER, score REAL, note TEXT, ok BOOLEAN, modified TIMESTAMP, payload BLOB);
		INSERT INTO big
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(benchRows) + `)
		SELECT i, i * 0.5, 'note, number ' || i, i % 2,
			strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1700000000 + i, 'unixepoch'), CAST('payload' AS BLOB) FROM n`)
	require.NoError(b, err)
	var w countingWriter
	for b.Loop() {
		rows, err := db.Query("SELECT * FROM big ORDER BY id")
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
