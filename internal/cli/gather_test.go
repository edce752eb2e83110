package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

// TestMain lets the test binary be the wasmcollector command for tests that need a second
// process: with WASMCOLLECTOR_CLI_CHILD set it runs cli.Main on its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("WASMCOLLECTOR_CLI_CHILD") != "" {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// gatherRegistry has fast WAT collectors, one JSON and one CSV, and a state and output directory
// of its own.
func gatherRegistry(t *testing.T, extra string) (reg, out, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	out, stateDir = filepath.Join(dir, "out"), filepath.Join(dir, "state")
	reg = testguests.Registry(t, map[string]string{
		"pointers.wasm": testguests.WAT(t, "pointers"),
		"outputs.wasm":  testguests.WAT(t, "outputs"),
	}, `
[gather]
out_dir = "`+out+`"
state_dir = "`+stateDir+`"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "rows"
version = "2.0"
format = "csv"
slicing = "1h"
module = "pointers.wasm"
function = "ok_csv"
`+extra)
	return reg, out, stateDir
}

func TestGatherDryRun(t *testing.T) {
	reg, out, stateDir := gatherRegistry(t, "")
	stdout, errs, code := runCLI(t, "gather", "-c", reg, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T03:00:00Z", "--log-level", "warn")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, stdout, "gather dry-run (2026-11-25T00:00:00Z, 2026-11-25T03:00:00Z]: 2 collectors, 3 tarballs in "+out)
	assert.Regexp(t, `rows\s+ok\s+3\s+3\s+`, stdout)
	assert.Contains(t, stdout, "analytics-2026-11-25-030000+0000-0.tar.gz  kept")
	_, err := os.Stat(filepath.Join(stateDir, "state.json"))
	assert.True(t, os.IsNotExist(err), "dry-run records nothing")

	tarballs, err := filepath.Glob(filepath.Join(out, "*.tar.gz"))
	require.NoError(t, err)
	require.Len(t, tarballs, 3)

	t.Run("relative out", func(t *testing.T) {
		// CSV parts are written by worker processes, which do not share this working directory.
		t.Chdir(t.TempDir())
		stdout, errs, code := runCLI(t, "gather", "-c", reg, "--dry-run", "--out", "rel", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T03:00:00Z", "--log-level", "warn")
		require.Equal(t, 0, code, stdout+errs)
		tarballs, err := filepath.Glob(filepath.Join("rel", "*.tar.gz"))
		require.NoError(t, err)
		assert.Len(t, tarballs, 3)
	})

	t.Run("inspect", func(t *testing.T) {
		stdout, errs, code := runCLI(t, "inspect", tarballs[0])
		require.Equal(t, 0, code, errs)
		assert.Regexp(t, `./rows.csv\s+4\s+2.0`, stdout)
		// Times in RFC 3339 like every other command, not as the status file writes them.
		assert.Regexp(t, `rows.csv\s+ok\s+2026-11-25T00:00:00Z\s+2026-11-25T01:00:00Z\s+20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s`, stdout)
		assert.NotContains(t, stdout, "+00:00")

		stdout, _, code = runCLI(t, "inspect", "-o", "json", tarballs[0], tarballs[1])
		require.Equal(t, 0, code)
		var doc []struct {
			Path    string `json:"path"`
			Members []struct {
				Name string `json:"name"`
				Size int    `json:"size"`
			} `json:"members"`
			Manifest []struct {
				File    string `json:"file"`
				Version string `json:"version"`
			} `json:"manifest"`
			Status []struct {
				FileName string `json:"file_name"`
				Status   string `json:"status"`
			} `json:"status"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
		require.Len(t, doc, 2)
		assert.Equal(t, "./rows.csv", doc[0].Members[0].Name)
		assert.Equal(t, "rows.csv", doc[0].Manifest[0].File)
		assert.Equal(t, 4, doc[0].Members[0].Size)
		assert.Equal(t, "ok", doc[0].Status[0].Status)
		assert.Contains(t, stdout, `"collection_start": "2026-`, "snake_case keys")
		assert.Contains(t, stdout, `"since": "2026-11-25T00:00:00Z"`, "RFC 3339 in JSON too")

		_, errs, code = runCLI(t, "inspect", filepath.Join(out, "nope.tar.gz"))
		assert.Equal(t, 1, code)
		assert.Contains(t, errs, "wasmcollector: inspect ")
	})

	t.Run("json", func(t *testing.T) {
		stdout, _, code := runCLI(t, "gather", "-c", reg, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "-o", "json", "--log-level", "error")
		require.Equal(t, 0, code)
		var res struct {
			CollectionType string `json:"collection_type"`
			Collectors     []struct {
				Key    string
				Status string
				Rows   int
			}
			Tarballs []struct{ Name, Fate string }
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		assert.Equal(t, "dry-run", res.CollectionType)
		require.Len(t, res.Collectors, 2)
		assert.Equal(t, 1, res.Collectors[1].Rows)
		require.Len(t, res.Tarballs, 1)
		assert.Equal(t, "analytics-2026-11-25-010000+0000-0.tar.gz", res.Tarballs[0].Name)
	})
}

func TestGatherExitCodes(t *testing.T) {
	reg, out, _ := gatherRegistry(t, `
[[collector]]
key = "bad_json"
version = "1.0"
module = "outputs.wasm"
function = "invalid_json"
`)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"a failed collector exits 3", []string{"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z"}, 3,
			"bad_json   failed", "document is not valid JSON"},
		{"bad interval exits 2", []string{"--since", "2026-11-25T05:00:00Z", "--until", "2026-11-25T01:00:00Z"}, 2,
			"", "wasmcollector: gather: bad interval: start 2026-11-25T05:00:00Z is not before end 2026-11-25T01:00:00Z"},
		{"unknown subset key exits 2", []string{"--subset", "nope"}, 2, "", `wasmcollector: gather: unknown key in subset: "nope"`},
		{"manual without shipping exits 1", []string{"--manual"}, 1, "", "shipping is not configured: set [shipping] url in the TOML, or gather with --dry-run"},
		{"two types exit 2", []string{"--manual", "--dry-run"}, 2, "", "wasmcollector: --dry-run, --manual and --scheduled exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, errs, code := runCLI(t, append([]string{"gather", "-c", reg, "--log-level", "error"}, tt.args...)...)
			assert.Equal(t, tt.code, code, errs)
			assert.Contains(t, stdout, tt.stdout)
			assert.Contains(t, errs, tt.stderr)
		})
	}
	_, err := os.Stat(filepath.Join(out, "nothing"))
	assert.True(t, os.IsNotExist(err))
}

// TestGatherLockHeld runs a gather in a second process that hangs inside a collector, then
// a second gather, which must exit 4 with the lock message; once the first is killed, gathers run.
func TestGatherLockHeld(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	reg := testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, `
[gather]
out_dir = "`+filepath.Join(dir, "out")+`"
state_dir = "`+stateDir+`"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
[collector.params]
hang_at = "2026-11-25T00:00:00Z"
`)
	args := []string{"gather", "-c", reg, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T02:00:00Z"}
	child := exec.Command(os.Args[0], args...)
	child.Env = append(os.Environ(), "WASMCOLLECTOR_CLI_CHILD=1")
	stderr, err := child.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	defer child.Process.Kill()
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "hanging in the slice") {
	}

	_, errs, code := runCLI(t, args...)
	assert.Equal(t, 4, code)
	assert.Contains(t, errs, "wasmcollector: state: another gather holds the lock: "+filepath.Join(stateDir, "gather.lock"))
	assert.Contains(t, errs, "(pid "+itoa(child.Process.Pid)+")")

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	child.Wait()
	_, errs, code = runCLI(t, "gather", "-c", reg, "--since", "2026-11-25T01:00:00Z", "--until", "2026-11-25T02:00:00Z", "--log-level", "error")
	assert.Equal(t, 0, code, errs)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestState(t *testing.T) {
	reg, _, stateDir := gatherRegistry(t, "")
	store := state.NewFileStore(stateDir)
	last := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	require.NoError(t, store.Save(context.Background(), state.State{LastGather: last, Entries: map[string]time.Time{
		"rows": last, "rows_full": last.Add(-time.Hour), "other": last,
	}}))

	stdout, errs, code := runCLI(t, "state", "show", "-c", reg)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, stdout, "last gather: 2026-11-25T12:00:00Z")
	assert.Regexp(t, `rows_full\s+2026-11-25T11:00:00Z`, stdout)

	_, errs, code = runCLI(t, "state", "reset", "rows", "-c", reg)
	require.Equal(t, 0, code, errs)
	stdout, _, _ = runCLI(t, "state", "show", "-c", reg, "-o", "json")
	var doc struct {
		LastGather time.Time `json:"last_gather"`
		Entries    map[string]time.Time
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
	assert.Equal(t, map[string]time.Time{"other": last}, doc.Entries)
	assert.Equal(t, last, doc.LastGather)

	_, errs, code = runCLI(t, "state", "reset", "rows", "-c", reg)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `state has no entry for "rows"`)

	_, _, code = runCLI(t, "state", "reset", "-c", reg, "--yes")
	require.Equal(t, 0, code)
	stdout, _, _ = runCLI(t, "state", "show", "-c", reg)
	assert.Contains(t, stdout, "last gather: never")

	unlock, err := store.TryLock(context.Background())
	require.NoError(t, err)
	defer unlock()
	_, errs, code = runCLI(t, "state", "reset", "-c", reg, "--yes")
	assert.Equal(t, 4, code)
	assert.Contains(t, errs, "another gather holds the lock")
}

// TestStateShowPending: `state show` lists the pending tarballs, in text and in JSON, and
// `state reset` keeps them (they hold data not yet acknowledged).
func TestStateShowPending(t *testing.T) {
	reg, _, stateDir := gatherRegistry(t, "")
	store := state.NewFileStore(stateDir)
	until := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	p := state.Pending{Name: "analytics-x-0.tar.gz", Path: "/srv/out/pending/analytics-x-0.tar.gz", SHA256: strings.Repeat("ab", 32), Size: 99,
		Slices: []state.PendingSlice{{Key: "rows", Since: until.Add(-time.Hour), Until: until, Part: 1, Parts: 1}}}
	require.NoError(t, store.Save(context.Background(), state.State{LastGather: until, Entries: map[string]time.Time{"rows": until.Add(-time.Hour)}, Pending: []state.Pending{p}}))

	stdout, errs, code := runCLI(t, "state", "show", "-c", reg)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, stdout, "tarball analytics-x-0.tar.gz (/srv/out/pending/analytics-x-0.tar.gz): pending: the next gather re-sends it")

	_, errs, code = runCLI(t, "state", "reset", "-c", reg, "--yes")
	require.Equal(t, 0, code, errs)
	stdout, _, _ = runCLI(t, "state", "show", "-c", reg, "-o", "json")
	var doc struct {
		Entries map[string]time.Time
		Pending []struct {
			Name, Path, SHA256 string
			Size               int64
			Shipped            bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
	assert.Empty(t, doc.Entries)
	require.Len(t, doc.Pending, 1)
	assert.Equal(t, p.Name, doc.Pending[0].Name)
	assert.Equal(t, p.SHA256, doc.Pending[0].SHA256)
	assert.Equal(t, int64(99), doc.Pending[0].Size)
}

// TestGatherStatusFile: [gather] status_file holds what the last run did, replaced whole.
func TestGatherStatusFile(t *testing.T) {
	dir := t.TempDir()
	reg := testguests.Registry(t, map[string]string{"pointers.wasm": testguests.WAT(t, "pointers")}, `
[gather]
out_dir = "`+filepath.Join(dir, "out")+`"
state_dir = "`+filepath.Join(dir, "state")+`"
status_file = "status.json"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "rows"
version = "2.0"
format = "csv"
slicing = "1h"
module = "pointers.wasm"
function = "ok_csv"

[[collector]]
key = "broken"
version = "1.0"
module = "pointers.wasm"
function = "huge_emit_json"
`)
	status := filepath.Join(filepath.Dir(reg), "status.json")
	read := func() map[string]any {
		b, err := os.ReadFile(status)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc), string(b))
		return doc
	}
	_, errs, code := runCLI(t, "gather", "-c", reg, "--dry-run", "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T02:00:00Z", "--log-level", "error")
	require.Equal(t, 3, code, errs)
	doc := read()
	assert.Equal(t, "failed", doc["result"])
	assert.Equal(t, float64(3), doc["exit_code"])
	assert.Equal(t, map[string]any{"kept": float64(2)}, doc["tarballs"])
	collectors := doc["gather"].(map[string]any)["collectors"].([]any)
	statuses := map[string]any{}
	for _, c := range collectors {
		statuses[c.(map[string]any)["key"].(string)] = c.(map[string]any)["status"]
	}
	assert.Equal(t, map[string]any{"config": "ok", "rows": "ok", "broken": "failed"}, statuses)

	// A run that stops before gathering says why.
	_, _, code = runCLI(t, "gather", "-c", reg, "--dry-run", "--subset", "nope")
	require.Equal(t, 2, code)
	doc = read()
	assert.Equal(t, "error", doc["result"])
	assert.Equal(t, float64(2), doc["exit_code"])
	assert.Contains(t, doc["error"], `"nope"`)
	assert.NotContains(t, doc, "gather")
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(status), ".status.json.*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary file is left beside it")
}
