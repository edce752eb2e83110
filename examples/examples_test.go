// Package examples_test builds each example collector from source and runs it end to end through
// the CLI, checking its output.
package examples_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

const registryTOML = `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "config.wasm"
[collector.params]
install_uuid = "11111111-2222-3333-4444-555555555555"
product_version = "9.9.9"

[[collector]]
key = "counts"
version = "1.2"
module = "counts.wasm"

[[collector]]
key = "job_events"
version = "1.5"
format = "csv"
slicing = "4h"
module = "job_events.wasm"
[collector.params]
events_per_hour = 600
`

func examplesRegistry(t *testing.T) string {
	t.Helper()
	mods := map[string]string{}
	for _, name := range []string{"config", "counts", "job_events"} {
		mods[name+".wasm"] = testguests.Go(t, "examples/"+name)
	}
	return testguests.Registry(t, mods, registryTOML)
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(append(args, "--log-level", "warn"), &out, &errb)
	return out.String(), errb.String(), code
}

func TestExamples(t *testing.T) {
	reg := examplesRegistry(t)

	t.Run("validate", func(t *testing.T) {
		out, errs, code := runCLI(t, "validate", "-c", reg)
		require.Equal(t, 0, code, errs)
		assert.Contains(t, out, "ok (3 collectors in 3 modules)")
	})

	t.Run("config", func(t *testing.T) {
		out, errs, code := runCLI(t, "run", "config", "-c", reg)
		require.Equal(t, 0, code, errs)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		assert.Equal(t, "11111111-2222-3333-4444-555555555555", doc["install_uuid"])
		assert.Equal(t, "9.9.9", doc["product_version"])
		assert.Equal(t, "dry-run", doc["collection_type"])
		assert.Contains(t, doc, "platform")
		assert.Contains(t, errs, "config no slice: ok, 1 document")
	})

	t.Run("counts", func(t *testing.T) {
		out, errs, code := runCLI(t, "run", "counts", "-c", reg, "--since", "2026-11-01", "--until", "2026-11-02")
		require.Equal(t, 0, code, errs)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		for _, k := range []string{"organization", "inventory", "host", "job_template", "running_jobs"} {
			n, ok := doc[k].(float64)
			require.True(t, ok, "%s is a number in %s", k, out)
			assert.GreaterOrEqual(t, n, 0.0)
		}
		assert.Equal(t, "2026-11-01T00:00:00Z", doc["since"])
		assert.Equal(t, "2026-11-02T00:00:00Z", doc["until"])
	})

	t.Run("job_events rows lie inside the slice", func(t *testing.T) {
		since := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
		until := since.Add(4 * time.Hour)
		out, errs, code := runCLI(t, "run", "job_events", "-c", reg,
			"--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339))
		require.Equal(t, 0, code, errs)
		records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		require.NoError(t, err)
		header := records[0]
		assert.Equal(t, []string{"id", "created", "modified", "job_created", "uuid", "parent_uuid", "event",
			"task_action", "failed", "changed", "playbook", "play", "task", "role", "job_id", "host_id", "host_name", "duration"}, header)
		rows := records[1:]
		assert.Len(t, rows, 4*600, "600 events an hour for 4 hours")
		ids := map[string]bool{}
		for _, r := range rows {
			created, err := time.Parse(time.RFC3339Nano, r[1])
			require.NoError(t, err)
			assert.True(t, created.After(since) && !created.After(until), "created %s outside (%s, %s]", created, since, until)
			assert.False(t, ids[r[0]], "id %s repeats", r[0])
			ids[r[0]] = true
			_, err = strconv.ParseInt(r[0], 10, 64)
			require.NoError(t, err)
		}
		assert.Contains(t, errs, "ok, 2400 rows")
	})

	t.Run("consecutive slices partition the events", func(t *testing.T) {
		base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
		whole, _, code := runCLI(t, "run", "job_events", "-c", reg, "--since", base.Format(time.RFC3339),
			"--until", base.Add(2*time.Hour).Format(time.RFC3339))
		require.Equal(t, 0, code)
		first, _, _ := runCLI(t, "run", "job_events", "-c", reg, "--since", base.Format(time.RFC3339),
			"--until", base.Add(time.Hour).Format(time.RFC3339))
		second, _, _ := runCLI(t, "run", "job_events", "-c", reg, "--since", base.Add(time.Hour).Format(time.RFC3339),
			"--until", base.Add(2*time.Hour).Format(time.RFC3339))
		header, _, _ := strings.Cut(first, "\n")
		assert.Equal(t, whole, first+strings.TrimPrefix(second, header+"\n"))
	})

	t.Run("--out writes the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.csv")
		out, errs, code := runCLI(t, "run", "job_events", "-c", reg, "--param", "events_per_hour=60",
			"--until", "2026-11-25T04:00:00Z", "--out", path)
		require.Equal(t, 0, code, errs)
		assert.Empty(t, out)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, 1+4*60, strings.Count(string(b), "\n"), "header and 60 events an hour over the default 4h slice")
	})
}
