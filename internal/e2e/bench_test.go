package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// benchScale 1000 is about five million job events.
const benchScale = 1000

// BenchmarkEvents reads every job event (about 5 million, from PostgreSQL) three ways, each in a
// child process so that its peak RSS (max_rss_MB) is its own:
//
//	stream   the events_table collector: db_stream_csv, COPY … TO STDOUT straight into the output
//	rowwise  a guest that pages through db_query and writes each row with the SDK's CSV writer
//	native   pgconn's COPY … TO STDOUT into a file, no wasm at all (the baseline)
//
// Run it with -benchtime 1x (make bench does); loading the data takes a minute or two.
func BenchmarkEvents(b *testing.B) {
	ctx := context.Background()
	dsn := testpg.DSN(b)
	start := time.Now()
	require.NoError(b, awxdata.LoadPostgres(ctx, dsn, awxdata.Options{Scale: benchScale, Until: awxUntil, Seed: 1}))
	rows := countEvents(b, dsn)
	b.Logf("loaded %d events in %s", rows, time.Since(start).Round(time.Second))

	reg, _ := awxRegistry(b, backend{"postgres", fmt.Sprintf("driver = \"postgres\"\ndsn = %q\ntimeout = \"1h\"\nmax_rows = 100000", testpg.ReadOnlyDSN(b, dsn)), dsn}, `
[limits]
max_output_bytes = "16GiB"

[modules."dbprobe.wasm"]
memory_limit = "256MiB"  # pages of 5000 decoded rows

[[collector]]
key = "rowwise"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "rowwise"
timeout = "1h"
datasources = ["awx"]
`)
	out := b.TempDir() + "/events.csv"
	window := []string{"--since", awxUntil.AddDate(0, 0, -28).Format(time.RFC3339), "--until", awxUntil.Format(time.RFC3339)}
	modes := []struct {
		name string
		args []string
	}{
		{"stream", append([]string{"run", "events_table", "-c", reg, "--out", out, "--log-level", "error"}, window...)},
		{"rowwise", []string{"run", "rowwise", "-c", reg, "--out", out, "--log-level", "error"}},
		{"native", []string{"native-copy", dsn, out}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			var maxRSS int64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "E2E_CHILD="+strings.Join(m.args, "\x1f"))
				msg, err := cmd.CombinedOutput()
				require.NoError(b, err, "%s", msg)
				maxRSS = max(maxRSS, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			}
			st, err := os.Stat(out)
			require.NoError(b, err)
			b.SetBytes(st.Size())
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(maxRSS)/1024, "max_rss_MB")
		})
	}
}

// benchEventColumns are the columns of the events table (dbprobe's rowwise reads the same).
const benchEventColumns = `id, created, modified, job_created, uuid, parent_uuid, event, task_action, resolved_action,
  resolved_role, failed, changed, playbook, play, task, role, job_id, host_id, host_name, start, end_time, duration, warnings_count`

func countEvents(tb testing.TB, dsn string) int64 {
	tb.Helper()
	c, err := pgconn.Connect(context.Background(), dsn)
	require.NoError(tb, err)
	defer c.Close(context.Background())
	res, err := c.Exec(context.Background(), "SELECT COUNT(*) FROM main_jobevent").ReadAll()
	require.NoError(tb, err)
	n, err := strconv.ParseInt(string(res[0].Rows[0][0]), 10, 64)
	require.NoError(tb, err)
	return n
}

// child runs a command line given by a parent test in E2E_CHILD (arguments separated by \x1f):
// a wasmcollector command, native-copy for BenchmarkEvents or native-rows for BenchmarkRows.
func child(spec string) int {
	args := strings.Split(spec, "\x1f")
	if args[0] == "native-rows" {
		if err := nativeRows(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	if args[0] != "native-copy" {
		return cli.Main(args, os.Stdout, os.Stderr)
	}
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close(ctx)
	f, err := os.Create(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	_, err = c.CopyTo(ctx, f, `COPY (SELECT e.id, e.created, e.modified, e.job_created, e.uuid, e.parent_uuid, e.event,
  e.task_action, e.resolved_action, e.resolved_role, e.failed, e.changed, e.playbook, e.play,
  e.task, e.role, e.job_id, e.host_id, e.host_name, e.start, e.end_time AS "end", e.duration,
  e.warnings_count FROM main_jobevent e ORDER BY e.id) TO STDOUT WITH (FORMAT csv, HEADER)`)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
