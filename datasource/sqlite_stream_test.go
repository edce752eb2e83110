package datasource

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// streamOutcome is everything a StreamCSV call shows its caller.
type streamOutcome struct {
	writes []string
	n      int64
	err    string
}

// streamBoth runs sql through the raw path (StreamCSV) and the row path
// (rowStreamCSV, what StreamCSV did before) on s.
func streamBoth(t testing.TB, s *Source, sql string, params map[string]any) (raw, row streamOutcome) {
	t.Helper()
	errString := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	var w writeRecorder
	n, err := s.StreamCSV(context.Background(), sql, params, &w)
	raw = streamOutcome{w.writes, n, errString(err)}

	var w2 writeRecorder
	st, err := s.prepare(sql, params)
	if err == nil {
		n, err = rowStreamCSV(context.Background(), s.be, st, &w2)
	} else {
		n = 0
	}
	row = streamOutcome{w2.writes, n, errString(err)}
	return raw, row
}

func requireSamePaths(t testing.TB, s *Source, sql string, params map[string]any) streamOutcome {
	t.Helper()
	raw, row := streamBoth(t, s, sql, params)
	require.Equal(t, row, raw, "raw path differs from the row path for %s", sql)
	return raw
}

// streamDecls are the declared column types the differential tests store
// values under: each ColumnType, the three the driver parses text of, one
// it does not, lower case, and none.
var streamDecls = []string{
	"INTEGER", "REAL", "TEXT", "BLOB", "BOOLEAN", "NUMERIC", "VARCHAR(10)",
	"DATETIME", "TIMESTAMP", "DATE", "datetime", "TIMESTAMPTZ", "TIME", "",
}

// streamTimes are timestamp texts in every layout the driver and
// sqliteTimeLayouts accept, and near misses.
var streamTimes = []string{
	"2023-01-02T03:04:05Z", "2023-01-02T03:04:05.123Z", "2023-01-02T03:04:05.120Z",
	"2023-01-02T03:04:05.000000Z", "2023-01-02T03:04:05.123456789Z", "2023-01-02T03:04:05.1234567891Z",
	"2023-01-02T03:04:05.000000000Z", "2023-01-02T03:04:05.5", "2023-01-02T03:04:05",
	"2023-01-02 03:04:05", "2023-01-02 03:04:05.5", "2023-01-02 03:04:05.100", "2023-01-02 03:04:05Z",
	"2023-01-02 03:04:05.250Z", "2023-01-02 03:04:05+02:00", "2023-01-02T03:04:05-07:30",
	"2023-01-02T03:04:05.5+01:00", "2023-01-02 03:04:05.999-00:00", "2023-01-02T03:04:05+00:00",
	"2023-01-02T03:04:05.5+01:00Z", "2023-01-02 03:04", "2023-01-02T03:04", "2023-01-02T03:04Z",
	"2023-01-02", "2023-01-02Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29 00:00:00",
	"2000-02-29 00:00:00", "2023-04-31T00:00:00Z", "2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z",
	"2023-01-00T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01T23:60:00Z", "2023-01-01T23:59:60Z",
	"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2023-01-02T03:04:05,5Z",
	"2023-01-02T03:04:05.Z", "2023-01-02T03:04:05ZZ", "2023-1-2", "2023-01-02T3:04:05Z",
	" 2023-01-02T03:04:05Z", "2023-01-02T03:04:05Z ", "2023-01-02t03:04:05z", "2023-01-02_03:04:05",
	"2023-01-02 03:04:05.999999999 +0000 UTC", "2023-01-02 03:04:05.123 +0200 CEST m=+0.000100001",
	"2006-01-02 15:04:05 -0700 MST", "2023-01-02T03:04:05+0200", "2023-01-02T03:04:05.123+02",
	"+2023-01-02T03:04:05Z", "２０２３-01-02", "2023-01-02T03:04:05.1\x00Z", "yesterday", "",
}

// streamValues are stored once in a column of each streamDecls type.
func streamValues() []any {
	vals := []any{
		nil, int64(0), int64(1), int64(-1), int64(2), int64(1700000000), int64(1700000000123),
		int64(-1700000000123), int64(math.MaxInt64), int64(math.MinInt64),
		0.5, -0.25, math.Copysign(0, -1), 1e21, 1e20, 1e-7, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 3.0,
		"", "plain", "a,b", `say "hi"`, "line\nbreak", "cr\r", "crlf\r\n", `"`, ",", "ünïcödé",
		"nul\x00inside", "123", "1.5", " 42 ", "true",
		[]byte{}, []byte{0, 0xff, 0x80}, []byte("a,b"), []byte{0xc3, 0x28}, []byte(`q"q`),
		[]byte("2023-01-02T03:04:05Z"), []byte("2023-01-02 03:04:05.500"), []byte("nope"),
	}
	for _, ts := range streamTimes {
		vals = append(vals, ts)
	}
	return vals
}

// TestStreamCSVRawMatchesRowPath stores many value shapes under many
// declared types and checks that StreamCSV's raw path and the row path
// write the same bytes and fail with the same errors, value by value, over
// whole columns (later rows take the first row's type, and the driver
// remembers the timestamp layout of earlier rows) and in expressions.
func TestStreamCSVRawMatchesRowPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shapes.db")
	db := openWritable(t, path)
	vals := streamValues()
	for i, decl := range streamDecls {
		_, err := db.Exec(fmt.Sprintf(`CREATE TABLE t%d (c %s)`, i, decl))
		require.NoError(t, err)
		for _, v := range vals {
			_, err := db.Exec(fmt.Sprintf(`INSERT INTO t%d VALUES (?)`, i), v)
			require.NoError(t, err)
		}
	}
	// Valid timestamps only, in mixed layouts, for whole-column runs.
	_, err := db.Exec(`CREATE TABLE times (d DATETIME, t TIMESTAMP, z TIMESTAMPTZ, u)`)
	require.NoError(t, err)
	var valid int
	for _, ts := range streamTimes {
		if _, err := parseTime(ts, sqliteTimeLayouts); err != nil {
			if _, ok := driverParseTime(ts); !ok {
				continue
			}
		}
		if _, err := parseTime(ts, sqliteTimeLayouts); err != nil {
			// Valid for the driver only: not in the TIMESTAMPTZ column.
			_, err = db.Exec(`INSERT INTO times VALUES (?, ?, NULL, ?)`, ts, ts, ts)
			require.NoError(t, err)
		} else {
			_, err = db.Exec(`INSERT INTO times VALUES (?, ?, ?, ?)`, ts, ts, ts, ts)
			require.NoError(t, err)
		}
		valid++
	}
	require.Greater(t, valid, 20)

	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path})
	var failed, ok int
	for i, decl := range streamDecls {
		t.Run(fmt.Sprintf("%d %s", i, decl), func(t *testing.T) {
			for k := range vals {
				for _, q := range []string{
					"SELECT c FROM t%d WHERE rowid = %d",
					"SELECT c, typeof(c) AS kind, c || '' AS cat, -c AS neg, c AS \"we,ird\" FROM t%d WHERE rowid = %d",
				} {
					out := requireSamePaths(t, s, fmt.Sprintf(q, i, k+1), nil)
					if out.err != "" {
						failed++
					} else {
						ok++
					}
				}
			}
			requireSamePaths(t, s, fmt.Sprintf("SELECT c FROM t%d ORDER BY rowid", i), nil)
			requireSamePaths(t, s, fmt.Sprintf("SELECT c FROM t%d ORDER BY rowid DESC", i), nil)
		})
	}
	// Both outcomes are exercised, not just one.
	require.Greater(t, ok, 100)
	require.Greater(t, failed, 100)

	out := requireSamePaths(t, s, "SELECT * FROM times ORDER BY rowid", nil)
	require.Empty(t, out.err)
	require.Equal(t, int64(valid), out.n)
	out = requireSamePaths(t, s, "SELECT * FROM times ORDER BY rowid DESC", nil)
	require.Empty(t, out.err)

	// Expressions and the first row deciding an undeclared column's type.
	for _, q := range []string{
		"VALUES (1), (2.5), (NULL)", "VALUES ('a'), (2), (2.5)", "VALUES (NULL), (x'00'), (1)",
		"VALUES (x''), ('t'), (NULL)", "VALUES (1.5), (2), ('x')", "SELECT 9e999, -9e999, 0.0/0, -0.0",
		"SELECT max(d), min(t), count(*) FROM times", "SELECT * FROM events ORDER BY id",
		"SELECT id, modified, datetime(modified) AS dt, CAST(modified AS BLOB) AS b FROM events ORDER BY id",
		"SELECT 1 AS a, 2 AS a, '' AS \"\", NULL AS \"\"\"\"", "SELECT * FROM events WHERE 0",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) SELECT i, i * 0.5, 'x' || i FROM n",
	} {
		requireSamePaths(t, s, q, nil)
	}
}

// TestStreamCSVRawParams binds every parameter type, in every time format,
// on both paths.
func TestStreamCSVRawParams(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	params := map[string]any{
		"nil": nil, "t": true, "f": false, "i": int64(-7), "x": 2.5, "s": "a,\"b\"\n", "e": "",
		"nul": "a\x00b", "bad": "\xff\xfe", "b": []byte{1, 2, 0xff}, "eb": []byte{}, "nb": []byte(nil),
		"ts": time.Date(2026, 11, 25, 1, 2, 3, 456789123, time.FixedZone("x", 3600)),
	}
	const sql = `SELECT @nil AS nil, @t, @f, @i, @x, @s, @e, @nul, length(@nul) AS ln, @bad, @b, typeof(@b), @eb,
		typeof(@eb), @nb, typeof(@nb), @ts, typeof(@ts), @i + @x, @s || @e`
	for _, f := range []TimeFormat{"", TimeISO8601, TimeISO8601Seconds, TimeSQLite, TimeSQLiteMillis, TimeUnixEpoch, TimeUnixEpochMilli} {
		s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path, TimeFormat: f})
		out := requireSamePaths(t, s, sql, params)
		require.Empty(t, out.err)
		require.Equal(t, int64(1), out.n)
		out = requireSamePaths(t, s, "SELECT id FROM events WHERE modified > @ts ORDER BY id", params)
		require.Empty(t, out.err)
	}
}

// TestStreamCSVRawLimits checks the byte cap (a stored value, a computed
// one, a parameter) fails the raw path as it fails the row path, after the
// same rows.
func TestStreamCSVRawLimits(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	// SQLite raises SQLITE_LIMIT_LENGTH to at least 30, so the cap is
	// well above that.
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path, MaxBytes: 200})
	for _, q := range []struct {
		sql    string
		params map[string]any
	}{
		{"SELECT note FROM events ORDER BY id", nil},
		{"SELECT id, hex(zeroblob(id * 20)) FROM events ORDER BY id", nil},
		{"SELECT hex(zeroblob(id * 20)), id FROM events ORDER BY id", nil},
		{"SELECT @p", map[string]any{"p": strings.Repeat("x", 201)}},
		{"SELECT @p", map[string]any{"p": []byte(strings.Repeat("x", 201))}},
		{"SELECT @p", map[string]any{"p": strings.Repeat("x", 200)}},
		{"SELECT '" + strings.Repeat("y", 300) + "'", nil},
		{"SELECT 1 UNION ALL SELECT '" + strings.Repeat("y", 300) + "'", nil},
	} {
		out := requireSamePaths(t, s, q.sql, q.params)
		if strings.Contains(out.err, "bytes") {
			require.Contains(t, out.err, `datasource "lite": result has more than 200 bytes of values: row `)
		}
	}
	raw, _ := streamBoth(t, s, "SELECT id, hex(zeroblob(id * 20)) FROM events ORDER BY id", nil)
	_, err := s.StreamCSV(context.Background(), "SELECT id, hex(zeroblob(id * 20)) FROM events", nil, &writeRecorder{})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, raw.err, "row 3 has a value over 100 bytes (the 200 bytes left, shared among 2 columns)")
	require.Len(t, raw.writes, 3, "header and two rows")
	raw, _ = streamBoth(t, s, "SELECT @p", map[string]any{"p": strings.Repeat("x", 201)})
	require.Contains(t, raw.err, "row 1 has a value over 200 bytes")
	require.Empty(t, raw.writes)

	// The connection's own limit is back afterwards.
	s2 := open(t, Config{Name: "lite", Driver: SQLite, DSN: path, MaxBytes: 40, MaxConns: 1})
	_, err = s2.StreamCSV(context.Background(), "SELECT hex(zeroblob(30))", nil, &writeRecorder{})
	require.ErrorIs(t, err, ErrTooLarge)
	conn, err := s2.be.(*sqliteBackend).db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	lim, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, -1)
	require.NoError(t, err)
	require.Equal(t, 1_000_000_000, lim)
}

// TestStreamCSVRawRefusesPastTheLexer hands the raw path statements the
// lexer would have stopped (as a body it never makes), to show SQLite itself refuses them on the
// connection's handle: the authorizer (writes, ATTACH, PRAGMA, DDL),
// query_only, and the check for a second statement.
func TestStreamCSVRawRefusesPastTheLexer(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	outside := filepath.Join(t.TempDir(), "outside.db")
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path})
	for _, tt := range []struct {
		sql  string
		want error
	}{
		{"INSERT INTO events (id) VALUES (100)", ErrReadOnly},
		{"UPDATE events SET note = 'x'", ErrReadOnly},
		{"DELETE FROM events", ErrReadOnly},
		{"CREATE TABLE t2 (a int)", ErrReadOnly},
		{"DROP TABLE events", ErrReadOnly},
		{"ATTACH '" + outside + "' AS x", ErrReadOnly},
		{"PRAGMA query_only = 0", ErrReadOnly},
		{"PRAGMA writable_schema = 1", ErrReadOnly},
		{"VACUUM INTO '" + outside + "'", ErrReadOnly},
		{"BEGIN IMMEDIATE", ErrReadOnly},
		{"SELECT load_extension('/tmp/nothing')", ErrReadOnly},
		{"WITH x AS (SELECT 1) DELETE FROM events", ErrReadOnly},
		{"SELECT 1; DELETE FROM events", ErrReadOnly}, // the authorizer refuses the second first
		{"SELECT 1; SELECT 2", ErrMultiStatement},
	} {
		st := &statement{lexed: lexed{body: tt.sql}, rowBytes: func() int64 { return s.cfg.MaxBytes }}
		var w writeRecorder
		n, ok, err := s.be.streamCSV(context.Background(), st, &w)
		require.True(t, ok)
		require.ErrorIs(t, err, tt.want, tt.sql)
		require.ErrorContains(t, err, `datasource "lite"`)
		require.Zero(t, n)
		require.Empty(t, w.writes, tt.sql)
	}
	// Trailing semicolons and comments are not a second statement.
	var w writeRecorder
	n, _, err := s.be.streamCSV(context.Background(), &statement{lexed: lexed{body: "SELECT count(*) FROM events; -- done\n;"}, rowBytes: func() int64 { return s.cfg.MaxBytes }}, &w)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, []string{"count(*)\n", "5\n"}, w.writes)
	require.Equal(t, int64(len(fixtureRows)), countEvents(t, testBackend{cfg: s.cfg}))
	require.NoFileExists(t, outside)
}

// TestStreamCSVRawConcurrent streams on more goroutines than connections,
// mixed with Query on the same connections (the race detector watches the
// handles).
func TestStreamCSVRawConcurrent(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: sqliteFixture(t), MaxConns: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				var err error
				if (g+i)%3 == 0 {
					_, err = query(context.Background(), s, "SELECT * FROM events", nil)
				} else {
					var w writeRecorder
					_, err = s.StreamCSV(context.Background(), "SELECT * FROM events ORDER BY id", nil, &w)
					if err == nil && strings.Join(w.writes, "") != fixtureCSV {
						err = fmt.Errorf("goroutine %d: wrong CSV %q", g, w.writes)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestAppendCanonicalTime holds the copy path for timestamps to what
// parsing and formatting give.
func TestAppendCanonicalTime(t *testing.T) {
	t.Parallel()
	for _, ts := range streamTimes {
		got, ok := appendCanonicalTime(nil, []byte(ts))
		tm, err := parseTime(ts, sqliteTimeLayouts)
		if !ok {
			continue
		}
		require.NoError(t, err, ts)
		require.Equal(t, tm.Format(time.RFC3339Nano), string(got), ts)
		dt, dok := driverParseTime(ts)
		require.True(t, dok, ts)
		require.Equal(t, tm.Format(time.RFC3339Nano), dt.UTC().Format(time.RFC3339Nano), ts)
	}
	got, ok := appendCanonicalTime([]byte("x"), []byte("2023-01-02 03:04:05.120000"))
	require.True(t, ok)
	require.Equal(t, "x2023-01-02T03:04:05.12Z", string(got))
}

// FuzzStreamCSVRaw stores two generated values in a column of each
// streamDecls type and checks that the raw path and the row path write the
// same bytes and fail the same way.
func FuzzStreamCSVRaw(f *testing.F) {
	for _, ts := range streamTimes {
		f.Add(uint8(0), ts, uint8(0), "2023-01-02 03:04:05")
	}
	f.Add(uint8(1), "a,b", uint8(2), "17")
	f.Add(uint8(2), "1700000000123", uint8(3), "1e21")
	f.Add(uint8(4), "", uint8(1), "\xff\"")
	path := filepath.Join(f.TempDir(), "fuzz.db")
	db := openWritable(f, path)
	db.SetMaxOpenConns(1) // the pragmas are per connection
	_, err := db.Exec("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF")
	require.NoError(f, err)
	cols := make([]string, len(streamDecls))
	for i, decl := range streamDecls {
		cols[i] = fmt.Sprintf("c%d %s", i, decl)
	}
	_, err = db.Exec("CREATE TABLE fz (" + strings.Join(cols, ", ") + ")")
	require.NoError(f, err)
	s := open(f, Config{Name: "lite", Driver: SQLite, DSN: path})
	value := func(kind uint8, v string) any {
		switch kind % 5 {
		case 0:
			return v
		case 1:
			return []byte(v)
		case 2:
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				return i
			}
			return int64(len(v)) * 1_000_000_007
		case 3:
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				return x
			}
			return float64(len(v)) / 3
		}
		return nil
	}
	insert := "INSERT INTO fz VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(streamDecls)), ", ") + ")"
	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2 string) {
		_, err := db.Exec("DELETE FROM fz")
		require.NoError(t, err)
		for _, r := range []struct {
			k uint8
			v string
		}{{k1, v1}, {k2, v2}} {
			args := make([]any, len(streamDecls))
			for i := range args {
				args[i] = value(r.k, r.v)
			}
			_, err := db.Exec(insert, args...)
			require.NoError(t, err)
		}
		for i := range streamDecls {
			requireSamePaths(t, s, fmt.Sprintf("SELECT c%d FROM fz ORDER BY rowid", i), nil)
			requireSamePaths(t, s, fmt.Sprintf("SELECT c%d, c%d || '' FROM fz ORDER BY rowid DESC", i, i), nil)
		}
	})
}
