package e2e_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv("E2E_CHILD"); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(testpg.Main(m))
}

var awxUntil = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// backend is the example product's data loaded into one database, and a registry reading it.
type backend struct {
	name string
	ds   string // the [datasources.awx] table
	dsn  string // for direct checks: a file (sqlite) or a DSN (postgres)
}

// backends loads the same generated data (scale 1) into SQLite and PostgreSQL.
func backends(t testing.TB) []backend {
	t.Helper()
	ctx := context.Background()
	opts := awxdata.Options{Scale: 1, Until: awxUntil, Seed: 1}
	file := filepath.Join(t.TempDir(), "awx.db")
	require.NoError(t, awxdata.LoadSQLite(ctx, file, opts))
	dsn := testpg.DSN(t)
	require.NoError(t, awxdata.LoadPostgres(ctx, dsn, opts))
	return []backend{
		{"sqlite", fmt.Sprintf("driver = \"sqlite\"\npath = %q", file), file},
		{"postgres", fmt.Sprintf("driver = \"postgres\"\ndsn = %q\ntimeout = \"2s\"", testpg.ReadOnlyDSN(t, dsn)), dsn},
	}
}

// awxRegistry drops awx.wasm and its sidecar into a modules directory, as a vendor would, with
// the dbprobe guest beside them.
func awxRegistry(t testing.TB, b backend, extra string) (reg, out string) {
	t.Helper()
	root := testguests.Root(t)
	out = filepath.Join(t.TempDir(), "out")
	reg = testguests.Registry(t, map[string]string{
		"awx.wasm":     testguests.Go(t, "examples/awx/collectors"),
		"awx.toml":     filepath.Join(root, "examples", "awx", "awx.toml"),
		"dbprobe.wasm": testguests.Go(t, "internal/testguests/dbprobe"),
	}, fmt.Sprintf("[gather]\nout_dir = %q\nstate_dir = %q\n\n[datasources.awx]\n%s\n\n[modules.\"awx.wasm\"]\ndatasources = [\"awx\"]\n%s", out, filepath.Join(filepath.Dir(out), "state"), b.ds, extra))
	return reg, out
}

func cliRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append(args, "--log-level", "error"), &out, &errb)
	return out.String(), errb.String(), code
}

// normalize turns PostgreSQL's COPY text forms into the forms the SQLite path writes, so the two
// outputs compare: t/f booleans, "2026-11-25 00:00:06.123+00" timestamps.
func normalize(cell string) string {
	switch cell {
	case "t":
		return "true"
	case "f":
		return "false"
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", time.RFC3339Nano} {
		if ts, err := time.Parse(layout, cell); err == nil {
			return ts.UTC().Format(time.RFC3339Nano)
		}
	}
	return cell
}

func normalizedCSV(t *testing.T, out string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	for _, r := range recs {
		for i := range r {
			r[i] = normalize(r[i])
		}
	}
	return recs
}

// TestAWXOnBothDatabases runs every AWX collector through the CLI on the same data in SQLite and
// in PostgreSQL: the outputs are the same, after normalising PostgreSQL's COPY text forms.
func TestAWXOnBothDatabases(t *testing.T) {
	bs := backends(t)
	keys := []string{"config", "counts", "org_counts", "inventory_counts", "instance_info",
		"events_table", "unified_jobs_table", "host_metric_table", "unified_job_template_table"}
	outputs := map[string]map[string]string{}
	for _, b := range bs {
		reg, _ := awxRegistry(t, b, "")
		stdout, errs, code := cliRun(t, "validate", "-c", reg)
		require.Equal(t, 0, code, "%s%s", stdout, errs)
		outputs[b.name] = map[string]string{}
		for _, key := range keys {
			args := []string{"run", key, "-c", reg, "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-21T00:00:00Z"}
			if key == "config" {
				args = args[:4]
			}
			stdout, errs, code := cliRun(t, args...)
			require.Equal(t, 0, code, "%s on %s: %s", key, b.name, errs)
			outputs[b.name][key] = stdout
		}
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			lite, pg := outputs["sqlite"][key], outputs["postgres"][key]
			require.NotEmpty(t, lite)
			if strings.HasPrefix(strings.TrimSpace(lite), "{") {
				var a, b any
				require.NoError(t, json.Unmarshal([]byte(lite), &a))
				require.NoError(t, json.Unmarshal([]byte(pg), &b))
				assert.Equal(t, a, b)
				return
			}
			a, b := normalizedCSV(t, lite), normalizedCSV(t, pg)
			assert.Equal(t, a, b)
			if key == "events_table" {
				assert.Greater(t, len(a), 50, "a day of events")
			}
		})
	}
}

// TestEventsWeekExactlyOnce gathers the events table over a week, sliced every 4 hours: every
// event modified in the window is in exactly one tarball, and none outside it.
func TestEventsWeekExactlyOnce(t *testing.T) {
	since, until := awxUntil.AddDate(0, 0, -7), awxUntil
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			reg, out := awxRegistry(t, b, "")
			stdout, errs, code := cliRun(t, "gather", "--dry-run", "-c", reg, "--subset", "events_table",
				"--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339))
			require.Equal(t, 0, code, "%s%s", stdout, errs)
			seen := map[string]int{}
			tarballs, err := filepath.Glob(filepath.Join(out, "*.tar.gz"))
			require.NoError(t, err)
			assert.Regexp(t, `events_table\s+ok\s+42\s`, stdout, "7 days of 4-hour slices (those without events make no tarball)")
			require.NotEmpty(t, tarballs)
			for _, p := range tarballs {
				for _, m := range readMembers(t, p) {
					if m.Name != "./events_table.csv" {
						continue
					}
					for _, r := range normalizedCSV(t, string(m.Data))[1:] {
						seen[r[0]]++
						mod, err := time.Parse(time.RFC3339Nano, r[2])
						require.NoError(t, err)
						assert.True(t, mod.After(since) && !mod.After(until), "event %s modified %s is outside the window", r[0], mod)
					}
				}
			}
			want := eventIDs(t, since, until)
			require.NotEmpty(t, want)
			assert.Len(t, seen, len(want))
			for _, id := range want {
				assert.Equal(t, 1, seen[id], "event %s", id)
			}
		})
	}
}

// eventIDs asks the SQLite copy directly which events were modified in (since, until].
func eventIDs(t *testing.T, since, until time.Time) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "check.db")
	require.NoError(t, awxdata.LoadSQLite(context.Background(), file, awxdata.Options{Scale: 1, Until: awxUntil, Seed: 1}))
	src, err := datasource.Open(context.Background(), datasource.Config{Name: "check", Driver: datasource.SQLite, DSN: file})
	require.NoError(t, err)
	defer src.Close()
	var ids []string
	err = src.Query(context.Background(), "SELECT id FROM main_jobevent WHERE modified > @since AND modified <= @until",
		map[string]any{"since": since, "until": until}, func([]datasource.Column) error { return nil },
		func(row []any) error { ids = append(ids, fmt.Sprint(row[0])); return nil })
	require.NoError(t, err)
	sort.Strings(ids)
	return ids
}

// TestDataSourceGuards: through a guest, every kind of write is refused on both databases and
// changes nothing, a query past its time cap is cancelled, a collector without a grant is denied,
// and a streamed write fails its invocation.
func TestDataSourceGuards(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			writes := []string{
				"INSERT INTO main_team (id, name, organization_id, created) VALUES (999, 'x', 1, NULL)",
				"UPDATE main_team SET name = 'owned'",
				"DELETE FROM main_team",
				"CREATE TABLE stolen (i integer)",
				"DROP TABLE main_team",
				"ALTER TABLE main_team ADD COLUMN x integer",
				"SELECT 1; DELETE FROM main_team",
			}
			slow := "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
			if b.name == "postgres" {
				writes = append(writes, "COPY main_team FROM STDIN", "COPY main_team FROM '/etc/passwd'", "SELECT evil()")
				slow = "SELECT pg_sleep(5)"
				evilFunction(t, b.dsn)
			} else {
				writes = append(writes, "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA query_only = 0")
			}
			statements, err := json.Marshal(append(append([]string{"SELECT COUNT(*) FROM main_team"}, writes...), slow, "SELECT COUNT(*) FROM main_team"))
			require.NoError(t, err)
			reg, _ := awxRegistry(t, backend{b.name, strings.Replace(b.ds, `timeout = "2s"`, "", 1) + "\ntimeout = \"300ms\"", b.dsn}, fmt.Sprintf(`
[[collector]]
key = "probe"
version = "1"
module = "dbprobe.wasm"
function = "probe"
datasources = ["awx"]
[collector.params]
statements = %q

[[collector]]
key = "nogrant"
version = "1"
module = "dbprobe.wasm"
function = "probe"
[collector.params]
statements = '["SELECT 1"]'

[[collector]]
key = "stream_write"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "stream"
datasources = ["awx"]
[collector.params]
sql = "DELETE FROM main_team"
`, statements))
			// The first run compiles the module; this one is also the grant check.
			stdout, _, code := cliRun(t, "run", "nogrant", "-c", reg)
			require.Equal(t, 0, code)
			assert.Contains(t, stdout, `denied: data source \"awx\" is not granted to collector \"nogrant\"`)

			start := time.Now()
			stdout, errs, code := cliRun(t, "run", "probe", "-c", reg)
			require.Equal(t, 0, code, errs)
			var doc struct {
				Results []struct {
					SQL   string
					Error string
					Value any
				}
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
			results := doc.Results
			before, after := results[0], results[len(results)-1]
			require.Empty(t, before.Error)
			assert.Equal(t, before.Value, after.Value, "the data is unchanged")
			for _, r := range results[1 : len(results)-2] {
				assert.Contains(t, r.Error, "query_failed", "%s must be refused", r.SQL)
			}
			timeout := results[len(results)-2]
			assert.Contains(t, timeout.Error, "query_failed")
			assert.Less(t, time.Since(start), 4*time.Second, "the slow query was cancelled at its cap")

			_, errs, code = cliRun(t, "run", "stream_write", "-c", reg)
			assert.Equal(t, 1, code)
			assert.Contains(t, errs, "db_stream_csv")
		})
	}
}

// evilFunction creates, as the database owner, a function that writes when called.
func evilFunction(t *testing.T, dsn string) {
	t.Helper()
	c, err := pgconn.Connect(context.Background(), dsn)
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, err = c.Exec(context.Background(), `CREATE FUNCTION evil() RETURNS integer AS $$
  INSERT INTO main_team (id, name, organization_id) VALUES (998, 'evil', 1) RETURNING id $$ LANGUAGE sql`).ReadAll()
	require.NoError(t, err)
}
