package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
	"github.com/wasmcollector/wasmcollector/state"
)

// clusterRegistry: nodes sharing their bookkeeping in PostgreSQL, shipping to rc, gathering the
// hourly "events" collector over a window of at most three hours.
func clusterRegistry(t *testing.T, rc *receiver, stateDSN, params string) string {
	t.Helper()
	dir := t.TempDir()
	return testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
max_window = "3h"

[state]
driver = "postgres"
dsn = %q

[shipping]
url = %q
auth = "none"
retry_backoff = "10ms"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "events"
version = "1.3"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
[collector.params]
%s
`, dir+"/out", stateDSN, rc.url(), params))
}

// node starts `wasmcollector gather --scheduled` as a separate process.
func node(t *testing.T, reg, now string) *exec.Cmd {
	t.Helper()
	args := []string{"gather", "--scheduled", "-c", reg, "--min-interval", "30m", "--now", now, "--log-level", "info"}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "E2E_CHILD="+strings.Join(args, "\x1f"))
	return cmd
}

// TestNodesOnOneSchedule starts three nodes at the same moment, for three rounds an hour apart,
// against one database and one ingress: each round exactly one gathers and ships, the others
// say why they did not, exiting 4 (the lock was held: the unit's SuccessExitStatus=4) or 0 (the
// minimum interval had not passed), and every row reaches the ingress once.
func TestNodesOnOneSchedule(t *testing.T) {
	rc := newReceiver(t, ingress.Config{}, nil)
	reg := clusterRegistry(t, rc, testpg.DSN(t), "")
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for round := range 3 {
		now := t0.Add(time.Duration(round) * time.Hour).Format(time.RFC3339)
		var wg sync.WaitGroup
		outputs := make([]bytes.Buffer, 3)
		codes := make([]int, 3)
		start := make(chan struct{})
		for i := range 3 {
			cmd := node(t, reg, now)
			cmd.Stdout, cmd.Stderr = &outputs[i], &outputs[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := cmd.Run(); err != nil {
					codes[i] = cmd.ProcessState.ExitCode()
				}
			}()
		}
		close(start)
		wg.Wait()
		gathered := 0
		for i := range 3 {
			skipped := strings.Contains(outputs[i].String(), "not gathering")
			if !skipped {
				gathered++
			}
			switch {
			case !skipped, strings.Contains(outputs[i].String(), "minimum interval"):
				require.Equal(t, 0, codes[i], "round %d node %d: %s", round, i, outputs[i].String())
			default:
				require.Equal(t, 4, codes[i], "round %d node %d: lock held: %s", round, i, outputs[i].String())
			}
		}
		assert.Equal(t, 1, gathered, "round %d: exactly one node gathers: %s | %s | %s", round, outputs[0].String(), outputs[1].String(), outputs[2].String())
	}
	requireExactlyOnce(t, rc, 3*60+2*60)
}

// TestNodeKilledHoldingTheLock: a node hangs inside a slice holding the cluster lock and is
// killed with SIGKILL; the server releases the lock with its connection, and the next node
// gathers from where the dead one's last shipment ended: nothing lost, nothing twice.
func TestNodeKilledHoldingTheLock(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, ingress.Config{}, nil)
	stateDSN := testpg.DSN(t)
	good := clusterRegistry(t, rc, stateDSN, "")
	hang := clusterRegistry(t, rc, stateDSN, `hang_at = "2026-11-25T04:00:00Z"`)

	require.NoError(t, node(t, good, "2026-11-25T03:00:00Z").Run()) // 00:00 → 03:00

	a := node(t, hang, "2026-11-25T06:00:00Z") // ships 03:00 → 04:00, hangs in 04:00 → 05:00
	stderr, err := a.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, a.Start())
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "hanging in the slice starting 2026-11-25T04:00:00Z") {
	}
	require.NoError(t, a.Process.Signal(syscall.SIGKILL))
	a.Wait()

	// Wait, without sleeping, for the server to drop the dead node's lock: take it ourselves.
	conn, err := pgx.Connect(ctx, stateDSN)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET statement_timeout = '20s'")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SELECT pg_advisory_lock($1)", state.LockKey(state.DefaultLockName))
	require.NoError(t, err, "the server released the killed node's lock")
	_, err = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", state.LockKey(state.DefaultLockName))
	require.NoError(t, err)

	b := node(t, good, "2026-11-25T06:00:00Z")
	out, err := b.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NotContains(t, string(out), "not gathering")
	requireExactlyOnce(t, rc, 6*60)
}
