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
