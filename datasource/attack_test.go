package datasource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// The attacks of issue 11 on the SQL data path, as written, and variants.
// Each must be refused, and leave the database as it was.

// copyBreakout is the statement that, before the fix, ended the
// read-only transaction and wrote through db_stream_csv: the lexer ended
// the -- comment only at LF, PostgreSQL ends it at CR too, and COPY ran
// over the simple protocol, where several statements may run.
const copyBreakout = "SELECT 1 AS a --\r) TO STDOUT; COMMIT; CREATE TABLE pwned(x text); DELETE FROM main_organization; COPY (SELECT 2 AS a"

// attackFixture is pgFixture plus main_organization and the dblink
// extension; it returns the superuser's DSN.
func attackFixture(t *testing.T) string {
	t.Helper()
	dsn := pgFixture(t)
	pgExec(t, dsn, `CREATE TABLE main_organization (id int PRIMARY KEY, name text);
		INSERT INTO main_organization VALUES (1, 'Default'), (2, 'Other');
		CREATE EXTENSION dblink`)
	return dsn
}

// pgChecksum sums up the database of dsn: every relation outside the
// system schemas by kind and name, the rows of every table and the state of
// every sequence in schema public, the large
// objects and the roles (but those of testpg.ReadOnlyDSN, which tests
// running in parallel add and drop), so that any write shows.
func pgChecksum(t *testing.T, dsn string) string {
	t.Helper()
	res := pgExec(t, dsn, `SELECT string_agg(c.relkind::text || ' ' || c.oid::regclass::text, ', ' ORDER BY c.oid::regclass::text)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%';
		SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') ORDER BY 1;
		SELECT count(*) FROM pg_largeobject_metadata;
		SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'ro\_t\_%'`)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", res[0].Rows[0][0], res[2].Rows[0][0], res[3].Rows[0][0])
	for _, r := range res[1].Rows {
		table := string(r[0])
		rows := pgExec(t, dsn, "SELECT coalesce(md5(string_agg(ROW(t.*)::text, E'\\n' ORDER BY ROW(t.*)::text)), '') FROM "+table+" t")
		fmt.Fprintf(h, "%s %s\n", table, rows[0].Rows[0][0])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestCopyBreakoutRefused runs the COPY attack and variants that
// end a comment or a quoted token where a naive lexer would not, through
// StreamCSV and Query, as the superuser (allowed, as in the issue) and as a
// role that may only read, each on a database of its own, and checks that
// every one is refused and the database is unchanged.
func TestCopyBreakoutRefused(t *testing.T) {
	t.Parallel()
	tail := ") TO STDOUT; COMMIT; CREATE TABLE pwned(x text); DELETE FROM main_organization; COPY (SELECT 2 AS a"
	attacks := []struct{ name, sql string }{
		{"as written", copyBreakout},
		{"CR LF", "SELECT 1 AS a --\r\n" + tail},
		{"CR then a second CR", "SELECT 1 AS a -- x\r\r" + tail + " --"},
		{"breakout to program", "SELECT 1 AS a --\r) TO PROGRAM 'touch %s' --"},
		{"nested comment", "SELECT 1 AS a /* /* */ " + tail + " /* */"},
		{"comment closed early", "SELECT 1 AS a /* */ */ " + tail},
		{"dollar quote", "SELECT $$ --$$ AS a --\r" + tail},
		{"tagged dollar quote", "SELECT $q$ $$ $q$ AS a --\r" + tail},
		{"e-string backslash", "SELECT E'\\' AS a --\r" + tail},
		{"e-string escaped quote", "SELECT E'\\'' AS a --\r" + tail},
		{"standard string backslash", "SELECT 'a\\' AS a --\r" + tail},
		{"standard_conforming_strings", "SELECT 'a\\'; SET standard_conforming_strings = off; SELECT 'b\\'" + tail},
		{"unicode string", "SELECT U&'\\0027' AS a --\r" + tail},
		{"unicode identifier", "SELECT 1 AS U&\"a\" --\r" + tail},
		{"quoted identifier", "SELECT 1 AS \"a\"\"\" --\r" + tail},
		{"parameter in comment", "SELECT @a AS a --\r" + tail},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			admin := attackFixture(t)
			outside := filepath.Join(t.TempDir(), "program-ran")
			sql := a.sql
			if strings.Contains(sql, "%s") {
				sql = fmt.Sprintf(sql, outside)
			}
			roles := []Config{
				{Name: "pg", Driver: Postgres, DSN: admin, AllowPrivilegedRole: true, Logger: discard},
				{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, admin)},
			}
			before := pgChecksum(t, admin)
			for _, cfg := range roles {
				s := open(t, cfg)
				params := map[string]any{"a": "x"}
				_, err := s.StreamCSV(context.Background(), sql, params, &writeRecorder{})
				require.Error(t, err)
				require.ErrorContains(t, err, `datasource "pg": `)
				require.Equal(t, before, pgChecksum(t, admin), "database unchanged")
				_, err = query(context.Background(), s, sql, params)
				require.Error(t, err)
				require.Equal(t, before, pgChecksum(t, admin), "database unchanged")
			}
			_, err := os.Stat(outside)
			require.ErrorIs(t, err, os.ErrNotExist, "no program ran")
		})
	}
}

// discard is a logger for tests that allow a privileged role on purpose.
var discard = slog.New(slog.DiscardHandler)

// TestCopyOneStatementWhateverTheLexerSays hands the COPY path statements
// straight, as if the lexer had taken them for one statement, to check the
// layer behind it: COPY goes over the extended protocol, whose Parse
// refuses several statements, after the query alone parsed as one.
func TestCopyOneStatementWhateverTheLexerSays(t *testing.T) {
	t.Parallel()
	admin := attackFixture(t)
	outside := filepath.Join(t.TempDir(), "program-ran")
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: admin, AllowPrivilegedRole: true, Logger: discard})
	before := pgChecksum(t, admin)
	for _, sql := range []string{
		copyBreakout,
		"SELECT 1 AS a) TO STDOUT; COMMIT; DELETE FROM main_organization; COPY (SELECT 2 AS a",
		"SELECT 1 AS a --\r) TO PROGRAM 'touch " + outside + "' --",
		"SELECT 1 AS a) TO PROGRAM 'touch " + outside + "' --",
		"SELECT 1 AS a) TO STDOUT; COMMIT; DELETE FROM main_organization; --",
		"SELECT 1; DELETE FROM main_organization",
	} {
		t.Run(sql, func(t *testing.T) {
			st := &statement{lexed: lexed{statements: 1, keyword: "SELECT", body: sql}}
			_, ok, err := s.be.streamCSV(context.Background(), st, &writeRecorder{})
			require.True(t, ok)
			require.Error(t, err)
			require.Equal(t, before, pgChecksum(t, admin), "database unchanged")
			// The connection is usable afterwards.
			r, err := query(context.Background(), s, "SELECT count(*) FROM main_organization", nil)
			require.NoError(t, err)
			require.Equal(t, [][]any{{int64(2)}}, r.rows)
		})
	}
	_, err := os.Stat(outside)
	require.ErrorIs(t, err, os.ErrNotExist, "no program ran")
}

// TestPrivilegedRoleRefused checks that Open refuses a role that may do
// more than read, naming the role, what it may do and the setting, and
// accepts it, with a warning, when allowed.
func TestPrivilegedRoleRefused(t *testing.T) {
	t.Parallel()
	admin := attackFixture(t)
	db := dsnField(admin, "dbname")
	ro := testpg.ReadOnlyDSN(t, admin)
	tests := []struct {
		name  string
		setup string // run as the superuser; %[1]s is the role, %[2]s the database
		want  string
	}{
		{name: "superuser", setup: "ALTER ROLE %[1]s SUPERUSER", want: "is a superuser"},
		{name: "owner of the database", setup: "ALTER DATABASE %[2]s OWNER TO %[1]s", want: "owns database " + db},
		{name: "owner of a table", setup: "ALTER TABLE main_organization OWNER TO %[1]s", want: "owns main_organization"},
		{name: "owner of a schema", setup: "CREATE SCHEMA s AUTHORIZATION %[1]s", want: "owns schema s"},
		{name: "insert on a table", setup: "GRANT INSERT ON events TO %[1]s", want: "may write to events"},
		{name: "truncate on a table", setup: "GRANT TRUNCATE ON main_organization TO %[1]s", want: "may write to main_organization"},
		{name: "update on a sequence", setup: "GRANT UPDATE ON seq TO %[1]s", want: "may update sequence seq"},
		{name: "createdb", setup: "ALTER ROLE %[1]s CREATEDB", want: "has CREATEDB"},
		{name: "createrole", setup: "ALTER ROLE %[1]s CREATEROLE", want: "has CREATEROLE"},
		{name: "replication", setup: "ALTER ROLE %[1]s REPLICATION", want: "has REPLICATION"},
		{name: "bypassrls", setup: "ALTER ROLE %[1]s BYPASSRLS", want: "has BYPASSRLS"},
		{name: "signal backends", setup: "GRANT pg_signal_backend TO %[1]s", want: "is a member of pg_signal_backend"},
		{name: "server files", setup: "GRANT pg_read_server_files TO %[1]s", want: "is a member of pg_read_server_files"},
		{name: "member of a superuser role", setup: "CREATE ROLE %[1]s_boss SUPERUSER; GRANT %[1]s_boss TO %[1]s", want: "has SUPERUSER through " + dsnField(ro, "user") + "_boss"},
	}
	// Each case runs on a database of its own, so they do not add up.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := attackFixture(t)
			ro := testpg.ReadOnlyDSN(t, admin)
			role := dsnField(ro, "user")
			pgExec(t, admin, fmt.Sprintf(tt.setup, role, dsnField(admin, "dbname")))
			t.Cleanup(func() { pgExec(t, admin, "DROP ROLE IF EXISTS "+role+"_boss") })
			want := strings.ReplaceAll(tt.want, dsnField(ro, "user"), role)
			want = strings.ReplaceAll(want, db, dsnField(admin, "dbname"))

			_, err := Open(context.Background(), Config{Name: "awx", Driver: Postgres, DSN: ro})
			require.ErrorIs(t, err, ErrPrivilegedRole)
			require.ErrorContains(t, err, `datasource "awx": role "`+role+`" `)
			require.ErrorContains(t, err, want)
			require.ErrorContains(t, err, "allow_privileged_role = true")

			var log bytes.Buffer
			s, err := Open(context.Background(), Config{Name: "awx", Driver: Postgres, DSN: ro, AllowPrivilegedRole: true,
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.Contains(t, log.String(), "level=WARN")
			require.Contains(t, log.String(), "role="+role)
			require.Contains(t, log.String(), want)
		})
	}
	t.Run("read-only role", func(t *testing.T) {
		var log bytes.Buffer
		s, err := Open(context.Background(), Config{Name: "awx", Driver: Postgres, DSN: ro, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.Empty(t, log.String())
	})
}

// dsnField returns the value of key in a key=value DSN.
func dsnField(dsn, key string) string {
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestSideEffectFunctionsRefused runs the functions of the issue that acted
// outside the read-only transaction, as written, through the superuser
// (allowed) and the owner, and ways of naming them, and checks each is
// refused before it reaches the server and that nothing changed.
func TestSideEffectFunctionsRefused(t *testing.T) {
	t.Parallel()
	admin := attackFixture(t)
	ctx := context.Background()
	// A session of someone else, for pg_terminate_backend to aim at.
	victim, err := pgconn.Connect(ctx, admin)
	require.NoError(t, err)
	defer victim.Close(ctx)
	pid := victim.PID()

	owner := testpg.ReadOnlyDSN(t, admin)
	pgExec(t, admin, "ALTER TABLE main_organization OWNER TO "+dsnField(owner, "user"))
	hostname := "/etc/hostname"
	superuser := []string{
		"SELECT dblink_exec('" + admin + "', 'CREATE TABLE pwned(x text)')",
		"SELECT pg_reload_conf()",
		"SELECT pg_switch_wal()",
		"SELECT lo_import('" + hostname + "')",
	}
	byOwner := []string{
		fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid),
		"SELECT pg_advisory_lock(1)",
		"SELECT lo_create(0)",
		"SELECT pg_notify('c', 'x')",
		// Other spellings of the same calls.
		"SELECT PG_NOTIFY('c', 'x')",
		`SELECT "pg_notify"('c', 'x')`,
		"SELECT pg_catalog.pg_notify('c', 'x')",
		`SELECT "pg_catalog" . "pg_notify" /* hi */ ('c', 'x')`,
		"SELECT pg_notify -- hi\n ('c', 'x')",
		"SELECT 1 WHERE EXISTS (SELECT pg_notify('c', 'x'))",
		"SELECT * FROM pg_advisory_lock(1)",
		"SELECT pg_try_advisory_xact_lock(1)",
		fmt.Sprintf("SELECT pg_cancel_backend(%d)", pid),
		"SELECT set_config('transaction_read_only', 'off', true)",
		"SELECT query_to_xml('SELECT pg_notify(''c'', ''x'')', true, true, '')",
		"SELECT ts_stat('SELECT pg_notify(''c'', ''x'')')",
		"SELECT lo_unlink(1), loread(0, 1)",
		"SELECT nextval('seq')",
		"SELECT pg_read_file('" + hostname + "')",
		"SELECT pg_ls_dir('.')",
		`SELECT U&"pg_notify"('c', 'x')`,
		// COPY renders @p as ('…'): a call.
		"SELECT pg_cancel_backend @p",
	}
	before := pgChecksum(t, admin)
	for _, tc := range []struct {
		role string
		cfg  Config
		sqls []string
	}{
		{"superuser", Config{Name: "pg", Driver: Postgres, DSN: admin, AllowPrivilegedRole: true, Logger: discard}, superuser},
		{"owner", Config{Name: "pg", Driver: Postgres, DSN: owner, AllowPrivilegedRole: true, Logger: discard}, byOwner},
	} {
		s := open(t, tc.cfg)
		for _, sql := range tc.sqls {
			t.Run(tc.role+"/"+sql, func(t *testing.T) {
				params := map[string]any{"p": fmt.Sprint(pid)}
				_, err := query(ctx, s, sql, params)
				require.Error(t, err)
				require.ErrorContains(t, err, `datasource "pg": `)
				if !strings.Contains(sql, `U&"`) {
					require.ErrorIs(t, err, ErrReadOnly)
				}
				_, err = s.StreamCSV(ctx, sql, params, &writeRecorder{})
				require.Error(t, err)
				require.Equal(t, before, pgChecksum(t, admin), "database unchanged")
			})
		}
	}
	require.NoError(t, victim.Ping(ctx), "the other session lives")
	res := pgExec(t, admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
	require.Equal(t, "0", string(res[0].Rows[0][0]), "no advisory lock held")
}

// sqliteFileSum is the sha256 of a SQLite database file and of any journal
// or WAL beside it.
func sqliteFileSum(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range []string{path, path + "-journal", path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil {
			require.ErrorIs(t, err, os.ErrNotExist)
			continue
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(p), len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestSQLiteByteCapInsideSQLite runs the randomblob statement, as
// written, and variants that build values or rows over max_bytes, and
// checks each stops at the cap at once, before the value is built, and the
// file is byte-identical afterwards. The issue measured 57 s and 3 GB.
func TestSQLiteByteCapInsideSQLite(t *testing.T) {
	t.Parallel()
	path := sqliteFixture(t)
	before := sqliteFileSum(t, path)
	const maxBytes = 64 << 20
	s := open(t, Config{Name: "lite", Driver: SQLite, DSN: path, Timeout: 20 * time.Second, MaxBytes: maxBytes})
	for _, sql := range []string{
		"SELECT randomblob(999999999) a, randomblob(999999999) b, randomblob(999999999) c",
		"SELECT randomblob(999999999)",
		fmt.Sprintf("SELECT randomblob(%d)", maxBytes+1),
		// Three values within the cap each, over it together.
		fmt.Sprintf("SELECT zeroblob(%[1]d) a, zeroblob(%[1]d) b, zeroblob(%[1]d) c", maxBytes/2),
		"SELECT printf('%.*c', 999999999, 'x')",
		"SELECT replace(hex(zeroblob(1000000)), '0', hex(zeroblob(1000)))",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT group_concat(hex(zeroblob(100000))) FROM c",
		// A later row over the bytes that are left.
		fmt.Sprintf("SELECT zeroblob(%[1]d) UNION ALL SELECT zeroblob(%[1]d)", maxBytes*3/4),
	} {
		t.Run(sql, func(t *testing.T) {
			start := time.Now()
			_, err := query(context.Background(), s, sql, nil)
			require.ErrorIs(t, err, ErrTooLarge)
			require.ErrorContains(t, err, `datasource "lite": result has more than 67108864 bytes of values: row `)
			// Building the values first took 57 s (the issue); stopping at the cap takes well under
			// a second when the machine is quiet. The bound is loose because loaded CI machines
			// run this under the race detector; the row number in the message is the exact check.
			require.Less(t, time.Since(start), 30*time.Second, "stopped at the cap, not after")

			if !strings.Contains(sql, "UNION") { // StreamCSV caps rows, not the result
				_, err = s.StreamCSV(context.Background(), sql, nil, &writeRecorder{})
				require.ErrorIs(t, err, ErrTooLarge)
			}
			require.Equal(t, before, sqliteFileSum(t, path), "file byte-identical")
		})
	}
	// The source works, and its limits are its own again.
	r, err := query(context.Background(), s, "SELECT length(zeroblob(1000000)) n", nil)
	require.NoError(t, err)
	require.Equal(t, [][]any{{int64(1000000)}}, r.rows)
	require.Equal(t, before, sqliteFileSum(t, path), "file byte-identical")
}

// TestPostgresRowCapOnTheWire checks the PostgreSQL side of the byte cap:
// a row far over max_bytes is refused from its message header, before the
// host reads it, on Query and on StreamCSV's COPY.
func TestPostgresRowCapOnTheWire(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: testpg.ReadOnlyDSN(t, pgFixture(t)), MaxBytes: 1 << 20})
	const sql = "SELECT repeat('x', 20000000) AS a, 1 AS b"
	_, err := query(context.Background(), s, sql, nil)
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorContains(t, err, `datasource "pg": a row of the result is over 3145728 bytes`)
	_, err = s.StreamCSV(context.Background(), sql, nil, &writeRecorder{})
	require.ErrorIs(t, err, ErrTooLarge)
	// Within the cap, and the source works.
	r, err := query(context.Background(), s, "SELECT length(repeat('x', 1000000)) AS n", nil)
	require.NoError(t, err)
	require.Equal(t, [][]any{{int64(1000000)}}, r.rows)
}

// TestPGChecksumSeesWrites checks that pgChecksum, which the attack tests
// rely on, changes with each kind of write they guard against. (Not a new
// role: roles are the whole server's, and tests running in parallel would
// see it.)
func TestPGChecksumSeesWrites(t *testing.T) {
	t.Parallel()
	admin := attackFixture(t)
	sum := pgChecksum(t, admin)
	for _, write := range []string{
		"SELECT nextval('seq')",
		"UPDATE main_organization SET name = 'x' WHERE id = 2",
		"DELETE FROM main_organization",
		"CREATE TABLE pwned (x text)",
		"SELECT lo_create(0)",
		"CREATE VIEW v AS SELECT 1",
	} {
		pgExec(t, admin, write)
		next := pgChecksum(t, admin)
		require.NotEqual(t, sum, next, write)
		sum = next
	}
}
