package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// sleepRegistry has one collector whose guest blocks in a PostgreSQL query (pg_sleep) far past
// its 1 s deadline.
func sleepRegistry(t testing.TB, dsn, isolation string) string {
	t.Helper()
	return testguests.Registry(t, map[string]string{"dbprobe.wasm": testguests.Go(t, "internal/testguests/dbprobe")}, fmt.Sprintf(`
[gather]
state_dir = %q

[datasources.pg]
driver = "postgres"
dsn = %q
timeout = "5m"

[[collector]]
key = "config"
version = "1"
config = true
module = "dbprobe.wasm"
function = "probe"
[collector.params]
statements = '[]'

[[collector]]
key = "sleeper"
version = "1"
module = "dbprobe.wasm"
function = "probe"
datasources = ["pg"]
timeout = "1s"
[collector.params]
source = "pg"
statements = '["SELECT pg_sleep(120)"]'
`, t.TempDir(), dsn), `isolation = "`+isolation+`"`)
}

// sleepers counts the sessions running the collector's pg_sleep.
func sleepers(t testing.TB, dsn string) int {
	t.Helper()
	c, err := pgconn.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer c.Close(context.Background())
	res := c.ExecParams(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
		nil, nil, nil, nil).Read()
	require.NoError(t, res.Err)
	var n int
	fmt.Sscan(string(res.Rows[0][0]), &n)
	return n
}

// TestDeadlineCancelsBlockedQuery: a guest blocked in a PostgreSQL query is stopped at its
// deadline with either executor, and the query itself ends on the server then; it does not run
// on for two minutes under a killed worker.
func TestDeadlineCancelsBlockedQuery(t *testing.T) {
	dsn := testpg.DSN(t)
	ro := testpg.ReadOnlyDSN(t, dsn)
	for _, isolation := range []string{"process", "in-process"} {
		t.Run(isolation, func(t *testing.T) {
			reg := sleepRegistry(t, ro, isolation)
			start := time.Now()
			out, errs, code := cliRun(t, "run", "-c", reg, "sleeper")
			took := time.Since(start)
			// Either the invocation is stopped at its deadline (exit 1, "timed out"), or the
			// server's cancellation reaches the guest first and it reports the failed statement
			// in its document (dbprobe reports errors, it does not fail on them).
			if code == 0 {
				// The server's message, or the data source's for it when the statement timeout
				// (the invocation's remaining time) fires just before the deadline.
				assert.Regexp(t, "statement stopped at the caller's deadline|canceling statement due to statement timeout", out)
			} else {
				assert.Contains(t, errs, "timed out")
			}
			assert.Less(t, took, 30*time.Second, "the run waited for the query")
			t.Logf("%s: run returned %s after start (deadline 1s), exit %d", isolation, took.Round(time.Millisecond), code)
			// The server ends the statement at the deadline (statement_timeout is the invocation's
			// remaining time); allow it a moment to notice, bounded well below pg_sleep's 120 s.
			gone := false
			for wait := time.Now(); time.Since(wait) < 5*time.Second; {
				if sleepers(t, dsn) == 0 {
					gone = true
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			assert.True(t, gone, "the blocked query still runs on the server")
		})
	}
}
