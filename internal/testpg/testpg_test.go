package testpg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestDSNGivesEachTestItsOwnDatabase(t *testing.T) {
	a, b := DSN(t), DSN(t)
	require.NotEqual(t, a, b)
	require.Equal(t, []string{"1"}, run(t, a, "CREATE TABLE mine (x int); INSERT INTO mine VALUES (1); SELECT x FROM mine"))
	require.Equal(t, []string{"0"}, run(t, b, "SELECT count(*) FROM pg_tables WHERE tablename = 'mine'"))
	require.Equal(t, []string{"off"}, run(t, b, "SHOW fsync"), "durability off")
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		dsn := DSN(t)
		name = strings.TrimPrefix(dsn[strings.Index(dsn, "dbname="):], "dbname=")
		name, _, _ = strings.Cut(name, " ")
	})
	require.Equal(t, []string{"0"}, run(t, srv.dsn("postgres"), "SELECT count(*) FROM pg_database WHERE datname = '"+name+"'"))
}

func TestSweepStale(t *testing.T) {
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	stale := mkdir(t, dead.Process.Pid)
	live := mkdir(t, os.Getpid())
	sweepStale()
	require.NoDirExists(t, stale)
	require.DirExists(t, live)
}

func mkdir(t *testing.T, owner int) string {
	d, err := os.MkdirTemp("", "testpg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	require.NoError(t, os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(owner)), 0o644))
	return d
}

// run runs sql and returns the first column of the last result's rows.
func run(t *testing.T, dsn, sql string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	res, err := c.Exec(ctx, sql).ReadAll()
	require.NoError(t, err)
	var out []string
	for _, row := range res[len(res)-1].Rows {
		out = append(out, string(row[0]))
	}
	return out
}

func TestReadOnlyDSN(t *testing.T) {
	var role string
	t.Run("user", func(t *testing.T) {
		admin := DSN(t)
		run(t, admin, "CREATE TABLE before (x int); INSERT INTO before VALUES (1); CREATE SEQUENCE s")
		ro := ReadOnlyDSN(t, admin)
		role = dsnField(ro, "user")
		require.Equal(t, "ro_"+dsnField(admin, "dbname"), role)
		run(t, admin, "CREATE TABLE after (x int); INSERT INTO after VALUES (2)")
		require.Equal(t, []string{"1"}, run(t, ro, "SELECT x FROM before"))
		require.Equal(t, []string{"2"}, run(t, ro, "SELECT x FROM after"), "tables created later are readable too")
		require.Equal(t, []string{"1"}, run(t, ro, "SELECT last_value FROM s"))
		require.Equal(t, []string{"f"}, run(t, ro, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
		for _, sql := range []string{
			"INSERT INTO before VALUES (3)", "UPDATE after SET x = 3", "DELETE FROM before", "TRUNCATE after",
			"CREATE TABLE mine (x int)", "SELECT nextval('s')", "DROP TABLE before",
		} {
			c, err := pgconn.Connect(context.Background(), ro)
			require.NoError(t, err)
			_, err = c.Exec(context.Background(), sql).ReadAll()
			c.Close(context.Background())
			var pe *pgconn.PgError
			require.ErrorAs(t, err, &pe, sql)
			require.Equal(t, "42501", pe.Code, "%s: insufficient_privilege", sql)
		}
	})
	require.Equal(t, []string{"0"}, run(t, srv.dsn("postgres"), "SELECT count(*) FROM pg_roles WHERE rolname = '"+role+"'"), "role dropped")
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

func TestPasswordDSN(t *testing.T) {
	admin := DSN(t)
	run(t, admin, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	const password = `it's a "pass" word \ with @ and =`
	dsn := PasswordDSN(t, admin, password)
	require.Equal(t, []string{"1"}, run(t, dsn+" password='"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password)+"'", "SELECT x FROM t"))
	for name, bad := range map[string]string{"none": dsn, "wrong": dsn + " password=wrong"} {
		_, err := pgconn.Connect(context.Background(), bad)
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, name)
		require.Equal(t, "28P01", pe.Code, "%s: invalid_password", name)
	}
	// Other roles are still trusted.
	require.Equal(t, []string{"1"}, run(t, ReadOnlyDSN(t, admin), "SELECT x FROM t"))
}
