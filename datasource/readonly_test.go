package datasource

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// TestWritesRefused tries every way of writing we know of, through Query
// and StreamCSV, and checks the data is unchanged afterwards.
func TestWritesRefused(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "outside.db")
	both := []Driver{SQLite, Postgres}
	tests := []struct {
		name    string
		drivers []Driver
		sql     string
		want    error // nil: any error
		copyErr bool  // StreamCSV on PostgreSQL fails otherwise: COPY refuses it
	}{
		{name: "insert", drivers: both, sql: "INSERT INTO events (id) VALUES (100)", want: ErrReadOnly},
		{name: "update", drivers: both, sql: "UPDATE events SET note = 'x'", want: ErrReadOnly},
		{name: "delete", drivers: both, sql: "DELETE FROM events", want: ErrReadOnly},
		{name: "create table", drivers: both, sql: "CREATE TABLE t2 (a int)", want: ErrReadOnly},
		{name: "drop table", drivers: both, sql: "DROP TABLE events", want: ErrReadOnly},
		{name: "alter table", drivers: both, sql: "ALTER TABLE events ADD COLUMN x int", want: ErrReadOnly},
		{name: "multi-statement", drivers: both, sql: "SELECT 1; DELETE FROM events", want: ErrMultiStatement},
		{name: "multi-statement after a comment", drivers: both, sql: "SELECT 1 /* ; */; DELETE FROM events;", want: ErrMultiStatement},
		{name: "multi-statement hidden from a naive splitter", drivers: both, sql: "SELECT ';'; DELETE FROM events", want: ErrMultiStatement},
		{name: "parenthesised insert", drivers: both, sql: "(INSERT INTO events (id) VALUES (100))", want: ErrReadOnly},
		// SQLite: past the lexer, the authorizer and query_only refuse.
		{name: "attach", drivers: []Driver{SQLite}, sql: "ATTACH '" + outside + "' AS x", want: ErrReadOnly},
		{name: "pragma", drivers: []Driver{SQLite}, sql: "PRAGMA query_only = 0", want: ErrReadOnly},
		{name: "vacuum into", drivers: []Driver{SQLite}, sql: "VACUUM INTO '" + outside + "'", want: ErrReadOnly},
		{name: "insert behind WITH", drivers: []Driver{SQLite}, sql: "WITH x AS (SELECT 100 AS id) INSERT INTO events (id) SELECT id FROM x", want: ErrReadOnly},
		{name: "delete behind WITH", drivers: []Driver{SQLite}, sql: "WITH x AS (SELECT 1) DELETE FROM events", want: ErrReadOnly},
		{name: "load_extension", drivers: []Driver{SQLite}, sql: "SELECT load_extension('/tmp/nothing')", want: ErrReadOnly},
		// PostgreSQL: past the lexer, the read-only transaction refuses.
		{name: "copy from stdin", drivers: []Driver{Postgres}, sql: "COPY events FROM STDIN", want: ErrReadOnly},
		{name: "copy from file", drivers: []Driver{Postgres}, sql: "COPY events FROM '/tmp/x'", want: ErrReadOnly},
		{name: "copy to program", drivers: []Driver{Postgres}, sql: "COPY events TO PROGRAM 'true'", want: ErrReadOnly},
		{name: "breaking out of COPY", drivers: []Driver{Postgres}, sql: "SELECT 1) TO PROGRAM 'true' --", want: nil},
		{name: "nextval", drivers: []Driver{Postgres}, sql: "SELECT nextval('seq')", want: ErrReadOnly},
		{name: "function that inserts", drivers: []Driver{Postgres}, sql: "SELECT sneaky()", want: ErrReadOnly},
		{name: "delete behind WITH", drivers: []Driver{Postgres}, sql: "WITH d AS (DELETE FROM events RETURNING id) SELECT count(*) FROM d", want: ErrReadOnly},
		{name: "select into", drivers: []Driver{Postgres}, sql: "SELECT * INTO t2 FROM events", want: ErrReadOnly, copyErr: true},
		{name: "select for update", drivers: []Driver{Postgres}, sql: "SELECT * FROM events FOR UPDATE", want: ErrReadOnly},
		{name: "read-write mode mid-transaction", drivers: []Driver{Postgres}, sql: "SELECT set_config('transaction_read_only', 'off', true), nextval('seq')", want: ErrReadOnly},
		{name: "commit", drivers: []Driver{Postgres}, sql: "COMMIT", want: ErrReadOnly},
		{name: "set", drivers: []Driver{Postgres}, sql: "SET transaction_read_only = off", want: ErrReadOnly},
		{name: "do block", drivers: []Driver{Postgres}, sql: "DO $$ BEGIN INSERT INTO events (id) VALUES (100); END $$", want: ErrReadOnly},
		{name: "call", drivers: []Driver{Postgres}, sql: "CALL nothing()", want: ErrReadOnly},
		{name: "truncate", drivers: []Driver{Postgres}, sql: "TRUNCATE events", want: ErrReadOnly},
	}
	for _, b := range backends(t) {
		s := open(t, b.cfg)
		for _, tt := range tests {
			if !containsDriver(tt.drivers, b.cfg.Driver) {
				continue
			}
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				_, qerr := query(context.Background(), s, tt.sql, nil)
				_, cerr := s.StreamCSV(context.Background(), tt.sql, nil, &writeRecorder{})
				for i, err := range []error{qerr, cerr} {
					require.Error(t, err)
					if tt.want != nil && !(i == 1 && tt.copyErr) {
						require.ErrorIs(t, err, tt.want)
					}
					require.ErrorContains(t, err, `datasource "`+b.cfg.Name+`": `)
				}
			})
		}
		require.Equal(t, int64(len(fixtureRows)), countEvents(t, b), "%s: events unchanged", b.name)
		if b.cfg.Driver == Postgres {
			res := pgExec(t, b.cfg.DSN, "SELECT is_called FROM seq; SELECT count(*) FROM pg_tables WHERE tablename = 't2'")
			require.Equal(t, "f", string(res[0].Rows[0][0]), "sequence unused")
			require.Equal(t, "0", string(res[1].Rows[0][0]), "no table t2")
		}
	}
	_, err := os.Stat(outside)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written outside")
}

func containsDriver(ds []Driver, d Driver) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// TestAdvisoryLocksReleased checks the layer behind the deny list of
// functions: a session advisory lock a statement takes is released after
// it.
func TestAdvisoryLocksReleased(t *testing.T) {
	t.Parallel()
	dsn := pgFixture(t)
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, dsn), MaxConns: 1})
	_, err := query(context.Background(), s, "SELECT pg_advisory_lock(42)", nil)
	require.ErrorIs(t, err, ErrReadOnly, "refused by name")
	var r result
	lx, err := lex("SELECT pg_backend_pid(), pg_advisory_lock(42)", s.dialect)
	require.NoError(t, err)
	err = s.be.query(context.Background(), &statement{lexed: lx}, func([]Column) error { return nil }, func(v []any) error {
		r.rows = append(r.rows, append([]any(nil), v...))
		return nil
	})
	require.NoError(t, err)
	res := pgExec(t, dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
	require.Equal(t, "0", string(res[0].Rows[0][0]))
	again, err := query(context.Background(), s, "SELECT pg_backend_pid()", nil)
	require.NoError(t, err)
	require.Equal(t, r.rows[0][0], again.rows[0][0], "the connection was reused")
}

func TestSQLiteReadOnlyFile(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path})
	_, err := query(context.Background(), s, "SELECT count(*) FROM events", nil)
	require.NoError(t, err)
	// The file is not created when missing.
	missing := filepath.Join(t.TempDir(), "missing.db")
	_, err = Open(context.Background(), Config{Name: "gone", Driver: SQLite, DSN: missing})
	require.ErrorContains(t, err, `datasource "gone": sqlite database: stat `+missing)
	_, err = os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), Config{Driver: "mysql", MaxRows: -1, Timeout: -1})
	require.EqualError(t, err, `datasource "?": invalid config: name is empty
unknown driver "mysql" (want "sqlite" or "postgres")
dsn is empty
max rows -1 is negative
timeout -1ns is negative`)

	port := closedPort(t)
	_, err = Open(context.Background(), Config{Name: "awx", Driver: Postgres,
		DSN: "host=127.0.0.1 port=" + port + " user=nobody password=secret dbname=awx sslmode=disable connect_timeout=5"})
	require.ErrorContains(t, err, `datasource "awx": connecting to postgres at 127.0.0.1:`+port+`: `)
	require.NotContains(t, err.Error(), "secret")
	// Nor one given apart from the DSN.
	_, err = Open(context.Background(), Config{Name: "awx", Driver: Postgres, Password: "hunter2",
		DSN: "host=127.0.0.1 port=" + port + " user=nobody dbname=awx sslmode=disable connect_timeout=5"})
	require.ErrorContains(t, err, `datasource "awx": connecting to postgres at 127.0.0.1:`+port+`: `)
	require.NotContains(t, err.Error(), "hunter2")

	_, err = Open(context.Background(), Config{Name: "awx", Driver: Postgres, DSN: "postgres://u:secret@host:port/db"})
	require.EqualError(t, err, `datasource "awx": invalid postgres connection string`)
	_, err = Open(context.Background(), Config{Name: "awx", Driver: Postgres, DSN: "postgres://u@host:port/db", Password: "hunter2"})
	require.EqualError(t, err, `datasource "awx": invalid postgres connection string`)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return port
}

// TestDefenceInDepth sends statements the lexer would refuse straight to
// the drivers, to check the database-side layers on their own: on
// PostgreSQL as the superuser, so that the read-only transaction alone
// refuses.
func TestDefenceInDepth(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "outside.db")
	tests := map[Driver][]string{
		SQLite: {
			"INSERT INTO events (id) VALUES (100)",
			"DELETE FROM events",
			"CREATE TEMP TABLE t2 (a)",
			"ATTACH '" + outside + "' AS x",
			"PRAGMA query_only = 0",
			"PRAGMA journal_mode = DELETE",
			"VACUUM INTO '" + outside + "'",
			"BEGIN IMMEDIATE",
			"ANALYZE",
		},
		Postgres: {
			"INSERT INTO events (id) VALUES (100)",
			"DELETE FROM events",
			"CREATE TABLE t2 (a int)",
			"COPY events FROM STDIN",
			"TRUNCATE events",
			"DO $$ BEGIN INSERT INTO events (id) VALUES (100); END $$",
			"VACUUM events",
			"CREATE DATABASE x",
		},
	}
	for _, b := range backends(t) {
		cfg := b.cfg
		if b.admin != "" {
			cfg.DSN, cfg.AllowPrivilegedRole, cfg.Logger = b.admin, true, discard
		}
		s := open(t, cfg)
		for _, sql := range tests[b.cfg.Driver] {
			t.Run(b.name+"/"+sql, func(t *testing.T) {
				lx, err := lex(sql, s.dialect)
				require.NoError(t, err)
				err = s.be.query(context.Background(), &statement{lexed: lx}, func([]Column) error { return nil }, func([]any) error { return nil })
				require.ErrorIs(t, err, ErrReadOnly)
			})
		}
		require.Equal(t, int64(len(fixtureRows)), countEvents(t, b), "%s: events unchanged", b.name)
	}
	_, err := os.Stat(outside)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written outside")
}
