package datasource

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

func TestQuerySameValuesOnBothDrivers(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, b.cfg)
			r, err := query(context.Background(), s, "SELECT id, score, note, ok, modified, payload FROM events ORDER BY id", nil)
			require.NoError(t, err)
			require.Equal(t, fixtureColumns, r.cols)
			require.Equal(t, fixtureRows, r.rows)
		})
	}
}

func TestQueryWindowParams(t *testing.T) {
	t.Parallel()
	const sql = `SELECT id FROM events
		WHERE modified > @since AND modified <= @until -- (since, until]
		ORDER BY id`
	params := map[string]any{
		"since":  t0,                                                    // row 1, excluded
		"until":  time.Date(2026, 11, 25, 2, 0, 6, 123000000, time.UTC), // row 3, included
		"unused": "fine",
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, b.cfg)
			r, err := query(context.Background(), s, sql, params)
			require.NoError(t, err)
			require.Equal(t, [][]any{{int64(2)}, {int64(3)}}, r.rows)

			var w writeRecorder
			n, err := s.StreamCSV(context.Background(), sql, params, &w)
			require.NoError(t, err)
			require.Equal(t, int64(2), n)
			require.Equal(t, []string{"id\n", "2\n", "3\n"}, w.writes)
		})
	}
}

func TestParamTypes(t *testing.T) {
	t.Parallel()
	const sql = `SELECT id FROM events
		WHERE ok = @ok AND score > @min AND note <> @note AND payload <> @payload
		AND id <> @id AND @nothing IS NULL ORDER BY id`
	params := map[string]any{
		"ok": true, "min": 0.5, "note": "it's -- not; a comment", "payload": []byte("z"),
		"id": int64(4), "nothing": nil,
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, b.cfg)
			sql := sql
			if b.cfg.Driver == Postgres {
				// An untyped NULL parameter needs a type to compare.
				sql = strings.Replace(sql, "@nothing IS NULL", "@nothing::text IS NULL", 1)
			}
			r, err := query(context.Background(), s, sql, params)
			require.NoError(t, err)
			require.Equal(t, [][]any{{int64(1)}}, r.rows)

			var w writeRecorder
			n, err := s.StreamCSV(context.Background(), sql, params, &w)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			require.Equal(t, []string{"id\n", "1\n"}, w.writes)
		})
	}
}

func TestParamErrors(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: sqliteFixture(t)})
	tests := []struct {
		name   string
		sql    string
		params map[string]any
		want   string
	}{
		{name: "missing", sql: "SELECT @since, @until", params: map[string]any{"since": t0}, want: `datasource "lite": parameter @until is not supplied`},
		{name: "unsupported type", sql: "SELECT @n", params: map[string]any{"n": 3}, want: `parameter @n: unsupported type int`},
		{name: "other placeholder", sql: "SELECT ?", want: `parameter ?: only @name parameters are supported`},
		{name: "unterminated string", sql: "SELECT 'x", want: `datasource "lite": statement: unterminated string`},
		{name: "empty", sql: " -- nothing\n", want: `datasource "lite": empty statement`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := query(context.Background(), s, tt.sql, tt.params)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStreamCSVSQLiteExact(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: sqliteFixture(t)})
	var w writeRecorder
	n, err := s.StreamCSV(context.Background(), "SELECT * FROM events ORDER BY id;", nil, &w)
	require.NoError(t, err)
	require.Equal(t, int64(len(fixtureRows)), n)
	require.Equal(t, fixtureCSV, strings.Join(w.writes, ""))
	require.Len(t, w.writes, len(fixtureRows)+1, "one Write per line")
	for _, line := range w.writes {
		parseCSVLine(t, line)
	}
}

// TestStreamCSVPostgresMatchesSQLite compares COPY's CSV with the ABI CSV
// of the same rows, after normalising COPY's text forms.
func TestStreamCSVPostgresMatchesSQLite(t *testing.T) {
	t.Parallel()
	var writes [2][]string
	for i, b := range backends(t) {
		s := open(t, b.cfg)
		var w writeRecorder
		n, err := s.StreamCSV(context.Background(), "SELECT * FROM events ORDER BY id", nil, &w)
		require.NoError(t, err, b.name)
		require.Equal(t, int64(len(fixtureRows)), n, b.name)
		require.Len(t, w.writes, len(fixtureRows)+1, "%s: one Write per line", b.name)
		writes[i] = w.writes
	}
	lite, pg := writes[0], writes[1]
	require.Equal(t, lite[0], pg[0], "header")
	for i := 1; i < len(lite); i++ {
		want := parseCSVLine(t, lite[i])
		got := parseCSVLine(t, pg[i])
		require.Len(t, got, len(fixtureColumns))
		for j, col := range fixtureColumns {
			require.Equal(t, want[j], normalisePGField(t, col.Type, got[j]), "row %d column %s", i, col.Name)
		}
	}
}

// normalisePGField turns a field of COPY's CSV into the ABI's form.
func normalisePGField(t *testing.T, typ ColumnType, f csvField) csvField {
	t.Helper()
	if f.text == "" && !f.quoted {
		return f // NULL
	}
	switch typ {
	case TypeBool:
		f.text = map[string]string{"t": "true", "f": "false"}[f.text]
	case TypeTimestamp:
		ts, err := parseTime(f.text, pgTimeLayouts)
		require.NoError(t, err)
		f.text = ts.Format(time.RFC3339Nano)
	case TypeBytes:
		b, err := hex.DecodeString(strings.TrimPrefix(f.text, `\x`))
		require.NoError(t, err)
		f.text = string(b)
	case TypeFloat:
		x, err := strconv.ParseFloat(f.text, 64)
		require.NoError(t, err)
		f.text = strconv.FormatFloat(x, 'g', -1, 64)
	}
	f.quoted = strings.ContainsAny(f.text, ",\"\r\n") || f.text == ""
	return f
}

func TestStreamCSVPostgresFallsBackForUnquotableParam(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, pgFixture(t))})
	// A NUL byte cannot be a COPY literal: the row path binds it, and the
	// server refuses it.
	var w writeRecorder
	_, err := s.StreamCSV(context.Background(), "SELECT id FROM events WHERE note = @n", map[string]any{"n": "a\x00b"}, &w)
	require.ErrorContains(t, err, `datasource "pg"`)
	require.ErrorContains(t, err, "0x00")
	// Invalid UTF-8 likewise; a valid string takes the COPY path.
	_, err = s.StreamCSV(context.Background(), "SELECT id FROM events WHERE note = @n", map[string]any{"n": "\xff"}, &w)
	require.ErrorContains(t, err, "UTF8")
	w.writes = nil
	n, err := s.StreamCSV(context.Background(), "SELECT id, ok FROM events WHERE note = @n", map[string]any{"n": "plain"}, &w)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, []string{"id,ok\n", "1,t\n"}, w.writes, "COPY's own booleans")
}

func TestPostgresColumnTypes(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, testpg.DSN(t))})
	r, err := query(context.Background(), s, `SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c,
		1.5::float4 AS d, 2.25::float8 AS e, 12.5::numeric AS f, 'NaN'::float8 AS g,
		'v'::varchar AS h, 'c'::char(2) AS i, '00000000-0000-0000-0000-000000000001'::uuid AS j,
		'{"a": 1}'::jsonb AS k, interval '1 day' AS l, ARRAY[1, 2] AS m,
		true AS n, '2026-01-02'::date AS o, '2026-01-02 03:04:05.5'::timestamp AS p,
		'2026-01-02 03:04:05+02'::timestamptz AS q, '\x0102'::bytea AS r, NULL::int AS s`, nil)
	require.NoError(t, err)
	types := make([]ColumnType, len(r.cols))
	for i, c := range r.cols {
		types[i] = c.Type
	}
	require.Equal(t, []ColumnType{TypeInt, TypeInt, TypeInt, TypeFloat, TypeFloat, TypeFloat, TypeFloat,
		TypeText, TypeText, TypeText, TypeText, TypeText, TypeText,
		TypeBool, TypeTimestamp, TypeTimestamp, TypeTimestamp, TypeBytes, TypeInt}, types)
	require.Len(t, r.rows, 1)
	row := r.rows[0]
	require.True(t, row[6].(float64) != row[6].(float64), "NaN")
	row[6] = "NaN"
	require.Equal(t, []any{int64(1), int64(2), int64(3), 1.5, 2.25, 12.5, "NaN",
		"v", "c ", "00000000-0000-0000-0000-000000000001", `{"a": 1}`, "1 day", "{1,2}",
		true, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC),
		time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC), []byte{1, 2}, nil}, row)
}

func TestSQLiteExpressionTypes(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: sqliteFixture(t)})
	r, err := query(context.Background(), s,
		"SELECT count(*) AS n, max(score) AS m, 'x' AS s, NULL AS z, x'00ff' AS b, max(modified) AS t FROM events", nil)
	require.NoError(t, err)
	require.Equal(t, []Column{{"n", TypeInt}, {"m", TypeFloat}, {"s", TypeText}, {"z", TypeText}, {"b", TypeBytes}, {"t", TypeText}}, r.cols)
	require.Equal(t, [][]any{{int64(5), 1e20, "x", nil, []byte{0, 0xff}, "2026-11-25T03:00:06.123456Z"}}, r.rows)

	// Later rows are converted to the first row's type.
	r, err = query(context.Background(), s, "VALUES (1), (2.5), (NULL)", nil)
	require.ErrorContains(t, err, `datasource "lite": row 2, column "column1": real value in a column of type int`)
	r, err = query(context.Background(), s, "VALUES ('a'), (2), (2.5)", nil)
	require.NoError(t, err)
	require.Equal(t, [][]any{{"a"}, {"2"}, {"2.5"}}, r.rows)
}

func TestSQLiteBadStoredValues(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	db := openWritable(t, path)
	_, err := db.Exec(`CREATE TABLE odd (ts TIMESTAMP, flag BOOLEAN, n INTEGER);
		INSERT INTO odd VALUES ('yesterday', 0, 1), ('2026-01-02 03:04:05', 2, 1), ('2026-01-02', 1, 'many')`)
	require.NoError(t, err)
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path})
	tests := []struct {
		sql  string
		want string
	}{
		{"SELECT ts FROM odd WHERE rowid = 1", `row 1, column "ts": unrecognised timestamp "yesterday"`},
		{"SELECT flag FROM odd WHERE rowid = 2", `row 1, column "flag": integer value in a column of type bool`},
		{"SELECT n FROM odd WHERE rowid = 3", `row 1, column "n": text value in a column of type int`},
	}
	for _, tt := range tests {
		_, err := query(context.Background(), s, tt.sql, nil)
		require.ErrorContains(t, err, tt.want)
	}
	r, err := query(context.Background(), s, "SELECT ts FROM odd WHERE rowid IN (2, 3) ORDER BY rowid", nil)
	require.NoError(t, err)
	require.Equal(t, [][]any{{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, {time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}, r.rows)
}

func TestLimits(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg
			cfg.MaxRows = 3
			s := open(t, cfg)
			r, err := query(context.Background(), s, "SELECT id FROM events ORDER BY id", nil)
			require.ErrorIs(t, err, ErrTooLarge)
			require.ErrorContains(t, err, `datasource "`+cfg.Name+`": result has more than 3 rows`)
			require.Len(t, r.rows, 3, "rows within the limit were delivered")

			cfg = b.cfg
			cfg.MaxBytes = 30 // "plain" (5) + comma line (26) > 30
			s = open(t, cfg)
			_, err = query(context.Background(), s, "SELECT note FROM events ORDER BY id", nil)
			require.ErrorIs(t, err, ErrTooLarge)

			// StreamCSV is not capped but row by row, and the source still
			// works.
			n, err := s.StreamCSV(context.Background(), "SELECT note FROM events", nil, &writeRecorder{})
			require.NoError(t, err)
			require.Equal(t, int64(5), n)
		})
	}
}

func TestCallbackErrorsReturnedUnchanged(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, b.cfg)
			err := s.Query(context.Background(), "SELECT id FROM events", nil,
				func([]Column) error { return nil }, func([]any) error { return boom })
			require.Same(t, boom, err)
			err = s.Query(context.Background(), "SELECT id FROM events", nil,
				func([]Column) error { return boom }, func([]any) error { return nil })
			require.Same(t, boom, err)
			_, err = s.StreamCSV(context.Background(), "SELECT id FROM events", nil, &failingWriter{n: 3, err: boom})
			require.Same(t, boom, err)
			// The source survives.
			r, err := query(context.Background(), s, "SELECT count(*) FROM events", nil)
			require.NoError(t, err)
			require.Equal(t, [][]any{{int64(5)}}, r.rows)
		})
	}
}

// failingWriter fails its nth Write (1-based) with err.
type failingWriter struct {
	writes, n int
	err       error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes == w.n {
		return 0, w.err
	}
	return len(p), nil
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		driver Driver
		sql    string
	}{
		{name: "pg_sleep", driver: Postgres, sql: "SELECT pg_sleep(5)"},
		{name: "pg_sleep on a later row", driver: Postgres, sql: "SELECT 1 UNION ALL SELECT 2 FROM pg_sleep(5)"},
		{name: "endless recursive CTE", driver: SQLite, sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"},
		{name: "endless CTE on a later row", driver: SQLite,
			sql: "SELECT 1 UNION ALL SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c)"},
	}
	for _, b := range backends(t) {
		cfg := b.cfg
		cfg.Timeout = 200 * time.Millisecond
		s := open(t, cfg)
		for _, tt := range tests {
			if tt.driver != cfg.Driver {
				continue
			}
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				_, err := query(context.Background(), s, tt.sql, nil)
				require.ErrorIs(t, err, ErrTimeout)
				require.ErrorContains(t, err, `datasource "`+cfg.Name+`": statement ran longer than 200ms`)
				require.Less(t, time.Since(start), 3*time.Second)

				start = time.Now()
				_, err = s.StreamCSV(context.Background(), tt.sql, nil, &writeRecorder{})
				require.ErrorIs(t, err, ErrTimeout)
				require.Less(t, time.Since(start), 3*time.Second)

				r, err := query(context.Background(), s, "SELECT count(*) FROM events", nil)
				require.NoError(t, err, "the source works after a timeout")
				require.Equal(t, [][]any{{int64(5)}}, r.rows)
			})
		}
	}
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	sqls := map[Driver]string{
		Postgres: "SELECT 1 UNION ALL SELECT 2 FROM pg_sleep(5)",
		SQLite:   "SELECT 1 UNION ALL SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c)",
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, b.cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			_, err := query(ctx, s, sqls[b.cfg.Driver], nil)
			require.ErrorIs(t, err, context.Canceled)
			require.NotErrorIs(t, err, ErrTimeout)
			require.Less(t, time.Since(start), 3*time.Second)

			// StreamCSV likewise (on PostgreSQL, COPY's own watch of
			// the context), and the source works afterwards.
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(200*time.Millisecond, cancel)
			start = time.Now()
			_, err = s.StreamCSV(ctx, sqls[b.cfg.Driver], nil, &writeRecorder{})
			require.ErrorIs(t, err, context.Canceled)
			require.Less(t, time.Since(start), 3*time.Second)
			r, err := query(context.Background(), s, "SELECT count(*) FROM events", nil)
			require.NoError(t, err)
			require.Equal(t, [][]any{{int64(5)}}, r.rows)
		})
	}
}

func TestConcurrentQueries(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg
			cfg.MaxConns = 2
			s := open(t, cfg)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 16)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for i := 0; i < 5; i++ {
						r, err := query(context.Background(), s, "SELECT id FROM events WHERE id > @min ORDER BY id", map[string]any{"min": int64(i)})
						if err == nil && len(r.rows) != 5-i {
							err = errors.New("wrong row count " + strconv.Itoa(len(r.rows)))
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
		})
	}
}
