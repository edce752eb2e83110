package datasource

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the registered "sqlite" driver writes the fixtures

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

// t0 is the first fixture timestamp.
var t0 = time.Date(2026, 11, 25, 0, 0, 6, 123456000, time.UTC)

// fixtureColumns and fixtureRows are loaded into both databases as table
// events; Query must return exactly these values on both.
var (
	fixtureColumns = []Column{
		{"id", TypeInt}, {"score", TypeFloat}, {"note", TypeText},
		{"ok", TypeBool}, {"modified", TypeTimestamp}, {"payload", TypeBytes},
	}
	fixtureRows = [][]any{
		{int64(1), 1.5, "plain", true, t0, []byte("abc")},
		{int64(2), -0.25, "comma, \"quote\"\nnewline", false, t0.Add(time.Hour), []byte("x,y")},
		{int64(3), nil, "", nil, time.Date(2026, 11, 25, 2, 0, 6, 123000000, time.UTC), nil},
		{int64(4), 1e20, nil, true, nil, []byte("z")},
		{int64(5), 0.1, "ünïcode\r\n", false, t0.Add(3 * time.Hour), nil},
	}
)

// fixtureCSV is fixtureRows in the ABI's CSV form.
const fixtureCSV = "id,score,note,ok,modified,payload\n" +
	"1,1.5,plain,true,2026-11-25T00:00:06.123456Z,abc\n" +
	"2,-0.25,\"comma, \"\"quote\"\"\nnewline\",false,2026-11-25T01:00:06.123456Z,\"x,y\"\n" +
	"3,,\"\",,2026-11-25T02:00:06.123Z,\n" +
	"4,1e+20,,true,,z\n" +
	"5,0.1,\"ünïcode\r\n\",false,2026-11-25T03:00:06.123456Z,\n"

// sqliteFixture creates a SQLite database holding events and returns its
// path.
func sqliteFixture(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "product.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, score REAL, note TEXT,
		ok BOOLEAN, modified TIMESTAMP, payload BLOB)`)
	require.NoError(t, err)
	for _, r := range fixtureRows {
		args := make([]any, len(r))
		for i, v := range r {
			args[i] = sqliteParam(v, "")
		}
		_, err := db.Exec("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", args...)
		require.NoError(t, err)
	}
	return path
}

// pgFixture creates a PostgreSQL database holding events, a sequence seq
// and a function sneaky() that inserts, and returns its DSN.
func pgFixture(t testing.TB) string {
	t.Helper()
	dsn := testpg.DSN(t)
	var b strings.Builder
	b.WriteString(`CREATE TABLE events (id bigint PRIMARY KEY, score double precision, note text,
		ok boolean, modified timestamptz, payload bytea);
	CREATE SEQUENCE seq;
	CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO events (id) VALUES (999); RETURN 1; END $$;
	SET standard_conforming_strings = on;
	`)
	for _, r := range fixtureRows {
		lits := make([]string, len(r))
		for i, v := range r {
			lit, ok := pgLiteral(v)
			require.True(t, ok)
			lits[i] = lit
		}
		fmt.Fprintf(&b, "INSERT INTO events VALUES (%s);\n", strings.Join(lits, ", "))
	}
	pgExec(t, dsn, b.String())
	return dsn
}

// pgExec runs sql (several statements allowed) as the superuser.
func pgExec(t testing.TB, dsn, sql string) []*pgconn.Result {
	t.Helper()
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	res, err := c.Exec(ctx, sql).ReadAll()
	require.NoError(t, err)
	return res
}

// testBackend is a fixture database behind a Source.
type testBackend struct {
	name string
	cfg  Config
	// admin is, for PostgreSQL, the superuser's DSN of the database, which
	// cfg reaches as a role that may only read.
	admin string
}

// backends returns a fixture source configuration for each driver.
func backends(t *testing.T) []testBackend {
	t.Helper()
	pg := pgFixture(t)
	return []testBackend{
		{name: "sqlite", cfg: Config{Name: "lite", Driver: SQLite, DSN: sqliteFixture(t)}},
		{name: "postgres", cfg: Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, pg)}, admin: pg},
	}
}

// open opens cfg and closes it when the test ends.
func open(t testing.TB, cfg Config) *Source {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// result is everything Query delivered.
type result struct {
	cols []Column
	rows [][]any
}

func query(ctx context.Context, s *Source, sql string, params map[string]any) (result, error) {
	var r result
	err := s.Query(ctx, sql, params,
		func(c []Column) error {
			r.cols = c
			return nil
		},
		func(v []any) error {
			r.rows = append(r.rows, append([]any(nil), v...))
			return nil
		})
	return r, err
}

// countEvents counts the rows of events, through a writable connection.
func countEvents(t *testing.T, b testBackend) int64 {
	t.Helper()
	if b.cfg.Driver == SQLite {
		db, err := sql.Open("sqlite", b.cfg.DSN)
		require.NoError(t, err)
		defer db.Close()
		var n int64
		require.NoError(t, db.QueryRow("SELECT count(*) FROM events").Scan(&n))
		return n
	}
	res := pgExec(t, b.cfg.DSN, "SELECT count(*) FROM events")
	var n int64
	_, err := fmt.Sscan(string(res[0].Rows[0][0]), &n)
	require.NoError(t, err)
	return n
}

// writeRecorder records every Write.
type writeRecorder struct{ writes []string }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// csvField is one parsed CSV field; quoted tells an empty string from NULL.
type csvField struct {
	text   string
	quoted bool
}

// parseCSVLine parses one CSV record ending in "\n".
func parseCSVLine(t *testing.T, line string) []csvField {
	t.Helper()
	require.True(t, strings.HasSuffix(line, "\n"), "line %q does not end in LF", line)
	var fields []csvField
	s := line[:len(line)-1]
	for {
		var f csvField
		if strings.HasPrefix(s, `"`) {
			f.quoted = true
			s = s[1:]
			var b strings.Builder
			for {
				i := strings.IndexByte(s, '"')
				require.GreaterOrEqual(t, i, 0, "unterminated quoted field in %q", line)
				b.WriteString(s[:i])
				s = s[i+1:]
				if strings.HasPrefix(s, `"`) {
					b.WriteByte('"')
					s = s[1:]
					continue
				}
				break
			}
			f.text = b.String()
		} else {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				i = len(s)
			}
			f.text = s[:i]
			require.NotContains(t, f.text, "\n", "unquoted field with LF: line %q is not one record", line)
			s = s[i:]
		}
		fields = append(fields, f)
		if s == "" {
			return fields
		}
		require.True(t, strings.HasPrefix(s, ","), "garbage after field in %q", line)
		s = s[1:]
	}
}

// openWritable opens a SQLite fixture for writing, with the registered
// driver.
func openWritable(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}
