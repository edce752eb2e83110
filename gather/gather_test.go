package gather_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/shipping"
	"github.com/wasmcollector/wasmcollector/state"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is one test's registry, engine, state and output directory.
type env struct {
	t     *testing.T
	reg   *registry.Registry
	exec  gather.Executor
	store *state.FileStore
	out   string
	now   time.Time
}

func newEnv(t *testing.T, collectors string, gatherTOML string) *env {
	t.Helper()
	path := testguests.Registry(t, map[string]string{
		"flaky.wasm":      testguests.Go(t, "internal/testguests/flaky"),
		"config.wasm":     testguests.Go(t, "examples/config"),
		"job_events.wasm": testguests.Go(t, "examples/job_events"),
	}, "[gather]\n"+gatherTOML+"\n"+`
[[collector]]
key = "config"
version = "1.0"
config = true
module = "config.wasm"
`+collectors, `compile_timeout = "10m"`) // these tests are not about the bound; a loaded machine compiles slowly
	reg, err := registry.Load(path)
	require.NoError(t, err)
	eng, err := executor.NewEngine(context.Background(), reg, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close(context.Background()) })
	dir := t.TempDir()
	return &env{t: t, reg: reg, exec: executor.NewEngineExecutor(eng, reg), store: state.NewFileStore(filepath.Join(dir, "state")),
		out: filepath.Join(dir, "out"), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (e *env) gather(typ hostfuncs.CollectionType, shipper gather.Shipper, mod func(*gather.Options)) (*gather.Result, error) {
	o := gather.Options{
		Registry: e.reg, Executor: e.exec, Type: typ, OutDir: e.out, Store: e.store, Locker: e.store,
		Shipper: shipper, Now: func() time.Time { return e.now }, Logger: quiet,
	}
	if mod != nil {
		mod(&o)
	}
	return gather.Gather(context.Background(), o)
}

// dirShipper is a real Shipper that delivers tarballs into a directory, failing those whose name
// it is told to fail: without an answer (io.ErrUnexpectedEOF), or, with reject, as an ingress
// refusing the content (400).
type dirShipper struct {
	dir    string
	mu     sync.Mutex
	fail   map[int]bool // by call number, 0-based
	reject bool
	n      int
}

func (s *dirShipper) Configured() error { return nil }

func (s *dirShipper) Ship(_ context.Context, t *packaging.Tarball) error {
	s.mu.Lock()
	n := s.n
	s.n++
	s.mu.Unlock()
	if s.fail[n] && s.reject {
		return &shipping.UploadError{Tarball: t.Name, Attempts: 1, StatusCode: 400, Body: "bad tarball"}
	}
	if s.fail[n] {
		return io.ErrUnexpectedEOF
	}
	b, err := os.ReadFile(t.Path)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, t.Name+"."+time.Now().Format("150405.000000000")), b, 0o644)
}

func readTarball(t *testing.T, path string) []testguests.TarFile {
	return testguests.ReadTarball(t, path)
}

func tarballs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.tar.gz*"))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

// TestEndToEnd gathers real guests into many small tarballs and checks every promise about them.
func TestEndToEnd(t *testing.T) {
	const maxData = 64 << 10
	e := newEnv(t, `
[[collector]]
key = "info"
version = "2.0"
module = "flaky.wasm"
function = "info"

[[collector]]
key = "job_events"
version = "1.5"
format = "csv"
slicing = "4h"
module = "job_events.wasm"
[collector.params]
events_per_hour = 600

[[collector]]
key = "big"
version = "1.0"
format = "csv"
module = "flaky.wasm"
function = "big"
[collector.params]
rows = 2000
width = 100
`, "max_data_size = 65536")
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	until := since.Add(24 * time.Hour)
	res, err := e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Since, o.Until = since, until })
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s", failures(res))
	assert.False(t, res.StateSaved)
	_, err = os.Stat(filepath.Join(e.store.Dir, "state.json"))
	assert.True(t, os.IsNotExist(err), "dry-run persists nothing")

	paths := tarballs(t, e.out)
	require.Len(t, paths, len(res.Tarballs))
	ids := map[string]int{}
	bigRows := 0
	var sawInfo bool
	for _, p := range paths {
		require.NoError(t, exec.Command("gzip", "-t", p).Run(), "gzip -t %s", p)
		listing, err := exec.Command("tar", "-tzf", p).Output()
		require.NoError(t, err)
		files := readTarball(t, p)
		var names []string
		var data int64
		for _, f := range files {
			names = append(names, f.Name)
		}
		assert.Equal(t, strings.Join(names, "\n")+"\n", string(listing))
		require.GreaterOrEqual(t, len(files), 4)
		// Layout: data members, then config, status and manifest (upstream 4.1).
		tail := names[len(names)-3:]
		assert.Equal(t, []string{"./config.json", "./data_collection_status.csv", "./manifest.json"}, tail)
		var manifest map[string]string
		require.NoError(t, json.Unmarshal(files[len(files)-1].Data, &manifest))
		status, err := csv.NewReader(bytes.NewReader(files[len(files)-2].Data)).ReadAll()
		require.NoError(t, err)
		assert.Equal(t, []string{"collection_start_timestamp", "since", "until", "file_name", "status", "elapsed"}, status[0])
		assert.Len(t, manifest, len(files)-1, "manifest lists every member but itself")
		assert.Equal(t, "1.0", manifest["data_collection_status.csv"])
		assert.Equal(t, "1.0", manifest["config.json"])
		assert.Len(t, status, 1+len(files)-3, "a status row per data member")
		for i, f := range files[:len(files)-3] {
			data += int64(len(f.Data))
			base := strings.TrimPrefix(f.Name, "./")
			assert.Equal(t, base, status[i+1][3])
			assert.Equal(t, "ok", status[i+1][4])
			switch base {
			case "info.json":
				sawInfo = true
				assert.Equal(t, "2.0", manifest[base])
			case "job_events.csv":
				rows, err := csv.NewReader(bytes.NewReader(f.Data)).ReadAll()
				require.NoError(t, err)
				assert.Equal(t, "id", rows[0][0], "the header is repeated in every part")
				for _, r := range rows[1:] {
					ids[r[0]]++
					at, err := time.Parse(time.RFC3339Nano, r[1])
					require.NoError(t, err)
					assert.True(t, at.After(since) && !at.After(until))
				}
			case "big.csv":
				bigRows += strings.Count(string(f.Data), "\n") - 1
			}
		}
		if len(files) > 4 { // several data members: the limit holds
			assert.LessOrEqual(t, data, int64(maxData), "%s holds %d bytes of data", p, data)
		}
	}
	assert.True(t, sawInfo)
	assert.Equal(t, 2000, bigRows)
	require.Len(t, ids, 24*600, "every event of the day, 600 an hour")
	for id, n := range ids {
		require.Equal(t, 1, n, "event %s appears %d times", id, n)
	}
	entries, err := os.ReadDir(e.out)
	require.NoError(t, err)
	for _, en := range entries {
		assert.True(t, strings.HasSuffix(en.Name(), ".tar.gz"), "staging is cleaned up: %s left", en.Name())
	}
}

func eventsRegistry(t *testing.T, params string) *env {
	return newEnv(t, `
[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
[collector.params]
`+params, "")
}

// TestProgress: each invocation that starts is reported once, in order, with Done counting the
// invocations before it in the whole gather (ran or skipped) and Total the planned ones.
func TestProgress(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, `fail_at = "2026-11-26T09:00:00Z"`)
	var events []gather.Progress
	_, err := e.gather(hostfuncs.Manual, &dirShipper{dir: t.TempDir()}, func(o *gather.Options) {
		o.Since = start
		o.Progress = func(p gather.Progress) { events = append(events, p) }
	})
	require.NoError(t, err)
	// config, then events slices 1-3; slice 3 fails, so 4 and 5 are skipped and never start.
	require.Len(t, events, 4)
	for i, p := range events {
		assert.Equal(t, i, p.Done, "event %d", i)
		assert.Equal(t, 6, p.Total, "config and five slices")
	}
	assert.Equal(t, "config", events[0].Collector)
	assert.Equal(t, gather.Progress{Collector: "events", Slice: 3, Slices: 5, Done: 3, Total: 6,
		Since: start.Add(2 * time.Hour), Until: start.Add(3 * time.Hour), TarballsSoFar: 2}, events[3])
}

// TestSliceFailureStopsTheKey is D3: the third of five slices fails, so the key stops at the end
// of the second, and the next run collects from there: across both runs each row ships once.
func TestSliceFailureStopsTheKey(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, `fail_at = "2026-11-26T09:00:00Z"`)
	ship := &dirShipper{dir: t.TempDir()}
	res, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) { o.Since = start })
	require.NoError(t, err)
	require.True(t, res.Failed())
	var ev *gather.CollectorResult
	for _, c := range res.Collectors {
		if c.Key == "events" {
			ev = c
		}
	}
	require.NotNil(t, ev)
	assert.Equal(t, "partial", ev.Status)
	assert.Equal(t, 5, ev.Slices)
	assert.Equal(t, 1, ev.FailedSlices)
	assert.Equal(t, 2, ev.SkippedSlices, "the slices after the failure wait for the next run")
	assert.Contains(t, ev.Error, "told to fail the slice starting 2026-11-26T09:00:00Z")

	st, err := e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, start.Add(2*time.Hour), st.Entries["events"], "the key stops at the end of slice two")
	assert.Equal(t, e.now, st.LastGather)
	assert.NotContains(t, st.Entries, "config", "only collector keys that slice are written (D4)")
	assert.NotContains(t, st.Entries, "manifest")

	// The next run, without the failure, starts at the entry and fills the gap.
	e2 := eventsRegistry(t, "")
	e2.store, e2.out, e2.now = e.store, e.out, e.now.Add(30*time.Minute)
	res, err = e2.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	st, err = e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, e2.now, st.Entries["events"])

	shipped := shippedRows(t, ship.dir)
	want := int(e2.now.Sub(start) / time.Minute)
	assert.Len(t, shipped, want, "every minute from the start to the second run's end")
	for id, n := range shipped {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

func shippedRows(t *testing.T, dir string) map[string]int {
	t.Helper()
	rows := map[string]int{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, en := range entries {
		for _, f := range readTarball(t, filepath.Join(dir, en.Name())) {
			if f.Name != "./events.csv" {
				continue
			}
			recs, err := csv.NewReader(bytes.NewReader(f.Data)).ReadAll()
			require.NoError(t, err)
			for _, r := range recs[1:] {
				rows[r[0]]++
			}
		}
	}
	return rows
}

// TestUploadFailureStopsTheKey: a tarball the ingress did not answer stays pending: its key does
// not advance past it (D3), the collector's later slices wait, and the next run re-sends it byte
// for byte under the same name before it collects the rest.
func TestUploadFailureStopsTheKey(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir(), fail: map[int]bool{3: true}} // the fourth slice's tarball
	res, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) { o.Since, o.FailedKeep = start, 5 })
	require.NoError(t, err)
	require.True(t, res.Failed())
	var fates []string
	var pending *gather.TarballResult
	for _, tb := range res.Tarballs {
		fates = append(fates, tb.Fate)
		if tb.Fate == gather.FatePending {
			pending = tb
			assert.Equal(t, filepath.Join(e.out, gather.PendingDir, tb.Name), tb.Path, "kept in pending/")
			assert.FileExists(t, tb.Path)
			assert.Contains(t, tb.Error, "unexpected EOF")
		} else {
			assert.Empty(t, tb.Path, "shipped tarballs are deleted")
		}
	}
	assert.Equal(t, []string{"shipped", "shipped", "shipped", "pending"}, fates, "the fifth slice waits for the next run")
	pendingBytes, err := os.ReadFile(pending.Path)
	require.NoError(t, err)
	st, err := e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, start.Add(3*time.Hour), st.Entries["events"])
	require.Len(t, st.Pending, 1)
	assert.Equal(t, pending.Name, st.Pending[0].Name)
	assert.False(t, st.Pending[0].Shipped)

	// The next run first re-sends the pending tarball, then ships the missing window: across both
	// runs every row arrives once.
	ship.fail = nil
	e.now = e.now.Add(time.Hour)
	res, err = e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	require.NotEmpty(t, res.Tarballs)
	assert.Equal(t, pending.Name, res.Tarballs[0].Name, "re-sent first, under the same name")
	assert.True(t, res.Tarballs[0].Resent)
	resent, err := filepath.Glob(filepath.Join(ship.dir, pending.Name+".*"))
	require.NoError(t, err)
	require.Len(t, resent, 1)
	got, err := os.ReadFile(resent[0])
	require.NoError(t, err)
	assert.Equal(t, pendingBytes, got, "byte for byte")
	assert.Equal(t, start.Add(4*time.Hour), res.Collectors[1].Since, "its window is not collected again")
	st, err = e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.Pending)
	assert.Equal(t, e.now, st.Entries["events"])
	assert.NoFileExists(t, pending.Path)
	rows := shippedRows(t, ship.dir)
	assert.Len(t, rows, int(e.now.Sub(start)/time.Minute))
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

func TestFailedJSONAndConfig(t *testing.T) {
	e := newEnv(t, `
[[collector]]
key = "info"
version = "1.0"
module = "flaky.wasm"
function = "info"
[collector.params]
fail = true
`, "")
	res, err := e.gather(hostfuncs.DryRun, nil, nil)
	require.NoError(t, err)
	require.True(t, res.Failed())
	paths := tarballs(t, e.out)
	require.Len(t, paths, 1)
	files := readTarball(t, paths[0])
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"./config.json", "./data_collection_status.csv", "./manifest.json"}, names)
	status := string(files[1].Data)
	assert.Contains(t, status, ",info.json,failed,", "a failed JSON collector is in the status file (upstream)")
	assert.NotContains(t, string(files[2].Data), "info.json")
}

func TestSubsetKeepsConfigAndRejectsUnknownKeys(t *testing.T) {
	e := eventsRegistry(t, "")
	res, err := e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) {
		o.Subset, o.Since = []string{"events"}, e.now.Add(-3*time.Hour)
	})
	require.NoError(t, err)
	require.Len(t, res.Collectors, 2)
	assert.Equal(t, "config", res.Collectors[0].Key)

	_, err = e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Subset = []string{"nope"} })
	require.ErrorIs(t, err, gather.ErrBadSubset)
}

func TestBadIntervalWritesNothing(t *testing.T) {
	e := eventsRegistry(t, "")
	_, err := e.gather(hostfuncs.Manual, &dirShipper{dir: t.TempDir()}, func(o *gather.Options) {
		o.Since, o.Until = e.now.Add(-time.Hour), e.now.Add(-2*time.Hour)
	})
	require.ErrorIs(t, err, gather.ErrBadInterval)
	_, err = os.Stat(e.out)
	assert.True(t, os.IsNotExist(err), "no output directory")
	_, err = os.Stat(filepath.Join(e.store.Dir, "state.json"))
	assert.True(t, os.IsNotExist(err), "no state")
}

func TestFullSync(t *testing.T) {
	e := newEnv(t, `
[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "daily"
full_sync_interval_days = 5
module = "flaky.wasm"
function = "events"
`, `max_window = "10d"`)
	ctx := context.Background()
	ship := &dirShipper{dir: t.TempDir()}
	seed := func(full time.Time) {
		st := state.State{LastGather: e.now.Add(-24 * time.Hour), Entries: map[string]time.Time{"events": e.now.Add(-24 * time.Hour)}}
		if !full.IsZero() {
			st.Entries["events_full"] = full
		}
		require.NoError(t, e.store.Save(ctx, st))
	}
	t.Run("due: the whole window, flagged", func(t *testing.T) {
		seed(e.now.AddDate(0, 0, -6))
		res, err := e.gather(hostfuncs.Manual, ship, nil)
		require.NoError(t, err)
		ev := res.Collectors[1]
		assert.True(t, ev.FullSync)
		assert.Equal(t, 11, ev.Slices, "daily slices over the 10-day window, cut at each midnight")
		st, err := e.store.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, e.now, st.Entries["events_full"])
	})
	t.Run("not due: incremental", func(t *testing.T) {
		seed(e.now.AddDate(0, 0, -4))
		res, err := e.gather(hostfuncs.Manual, ship, nil)
		require.NoError(t, err)
		ev := res.Collectors[1]
		assert.False(t, ev.FullSync)
		assert.Equal(t, 2, ev.Slices, "from the entry a day ago, split at midnight")
	})
}

func loggerTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestFailedRetention(t *testing.T) {
	e := eventsRegistry(t, "")
	always := &dirShipper{dir: t.TempDir(), fail: map[int]bool{}, reject: true}
	for i := range 100 {
		always.fail[i] = true
	}
	for run := range 3 {
		e.now = e.now.Add(time.Duration(run) * time.Hour)
		_, err := e.gather(hostfuncs.Manual, always, func(o *gather.Options) {
			o.Since, o.FailedKeep = e.now.Add(-2*time.Hour), 2
		})
		require.NoError(t, err)
	}
	kept, err := os.ReadDir(filepath.Join(e.out, "failed"))
	require.NoError(t, err)
	assert.Len(t, kept, 2, "failed_keep bounds the folder")
	assert.Empty(t, tarballs(t, e.out), "nothing failed is left outside failed/")

	// A minute on: within the same second as the last gather, a gather is refused, since its
	// tarball names (one per second) would repeat the last one's (TestNothingNew).
	e.now = e.now.Add(time.Minute)
	_, err = e.gather(hostfuncs.Manual, always, func(o *gather.Options) { o.FailedKeep = 0 })
	require.NoError(t, err)
	kept, err = os.ReadDir(filepath.Join(e.out, "failed"))
	require.NoError(t, err)
	assert.Len(t, kept, 2, "failed_keep = 0 keeps none of the new ones")
}

// TestStaleLeftoversRemoved: what a killed gather leaves in the output directory (a staging
// directory, a half-written tarball) is removed by the next gather; the caller's files stay.
func TestStaleLeftoversRemoved(t *testing.T) {
	e := eventsRegistry(t, "")
	require.NoError(t, os.MkdirAll(filepath.Join(e.out, ".staging-123", "x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(e.out, ".analytics-42.tar.gz.tmp"), []byte("half"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(e.out, "notes.txt"), []byte("mine"), 0o644))
	_, err := e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Since = e.now.Add(-time.Hour) })
	require.NoError(t, err)
	assert.NoDirExists(t, filepath.Join(e.out, ".staging-123"))
	assert.NoFileExists(t, filepath.Join(e.out, ".analytics-42.tar.gz.tmp"))
	assert.FileExists(t, filepath.Join(e.out, "notes.txt"), "D6: the caller's files are never touched")
}

func TestDisabledModuleRecordedAsFailed(t *testing.T) {
	// A vendor's sidecar with a problem disables its module (registry.Load): the gather runs
	// everything else and records the module's collectors as failed, so nothing is lost silently.
	sidecar := filepath.Join(t.TempDir(), "job_events.toml")
	require.NoError(t, os.WriteFile(sidecar, []byte(`
[module]
env = ["SECRET_TOKEN"]

[[collector]]
key = "job_events"
version = "1.0"
format = "csv"

[[collector]]
key = "more"
version = 2
function = "job_events"
`), 0o644))
	path := testguests.Registry(t, map[string]string{
		"flaky.wasm":      testguests.Go(t, "internal/testguests/flaky"),
		"config.wasm":     testguests.Go(t, "examples/config"),
		"job_events.wasm": testguests.Go(t, "examples/job_events"),
		"job_events.toml": sidecar,
	}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "config.wasm"

[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
`)
	reg, err := registry.Load(path)
	require.NoError(t, err)
	require.Len(t, reg.Disabled, 1)
	eng, err := executor.NewEngine(context.Background(), reg, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close(context.Background()) })
	dir := t.TempDir()
	e := &env{t: t, reg: reg, exec: executor.NewEngineExecutor(eng, reg), store: state.NewFileStore(filepath.Join(dir, "state")),
		out: filepath.Join(dir, "out"), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}

	res, err := e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Since = e.now.Add(-2 * time.Hour) })
	require.NoError(t, err)
	require.True(t, res.Failed())
	status := map[string]string{}
	for _, c := range res.Collectors {
		status[c.Key] = c.Status
		if c.Key != "config" && c.Key != "events" {
			assert.Contains(t, c.Error, "module job_events.wasm is disabled: ")
			assert.Contains(t, c.Error, `module.env: the module requests environment variable "SECRET_TOKEN", which collectors.toml does not grant; to grant it, add to collectors.toml: (and 1 more problems)`)
		}
	}
	assert.Equal(t, map[string]string{"config": "ok", "events": "ok", "job_events": "failed", "more": "failed"}, status)
	paths := tarballs(t, e.out)
	require.NotEmpty(t, paths, "the other modules' collectors ran")
	var names []string
	for _, f := range readTarball(t, paths[0]) {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, "./events.csv")

	// A subset may name a disabled collector: it is recorded as failed, not "unknown key".
	res, err = e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Subset = []string{"more"} })
	require.NoError(t, err)
	require.Len(t, res.Collectors, 2)
	assert.Equal(t, "more", res.Collectors[0].Key)
	assert.Equal(t, "failed", res.Collectors[0].Status)
}

// TestNothingNew: a gather without an explicit window less than MinWindow after the last one,
// with no collector lagging, returns ErrNothingNew having run and written nothing; a collector
// whose entry lags or an explicit window make it run; within the same second
// as the last gather it is refused even then, since its tarball names would repeat.
func TestNothingNew(t *testing.T) {
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir()}
	ctx := context.Background()
	last := e.now.Add(-30 * time.Second)
	seed := func(entry time.Time, pending []state.Pending) {
		require.NoError(t, e.store.Save(ctx, state.State{LastGather: last, Entries: map[string]time.Time{"events": entry}, Pending: pending}))
	}

	seed(last, nil)
	res, err := e.gather(hostfuncs.Manual, ship, nil)
	require.ErrorIs(t, err, gather.ErrNothingNew)
	assert.Nil(t, res)
	assert.Equal(t, "gather: nothing new since the last gather at 2026-11-26T11:59:30Z (30s ago; a gather collects at least 1m0s): nothing collected, nothing shipped", err.Error())
	st, err := e.store.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, last, st.LastGather, "nothing recorded")
	assert.NoDirExists(t, e.out, "nothing written")
	_, err = e.gather(hostfuncs.DryRun, nil, nil)
	require.ErrorIs(t, err, gather.ErrNothingNew, "a dry run too")

	// An explicit window is the caller's choice.
	res, err = e.gather(hostfuncs.DryRun, nil, func(o *gather.Options) { o.Since = last })
	require.NoError(t, err)
	assert.Equal(t, 1, res.Collectors[1].Slices)

	// A collector behind the last gather has more to collect.
	seed(last.Add(-time.Hour), nil)
	res, err = e.gather(hostfuncs.DryRun, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Collectors[1].Slices, "an hour and 30 s")

	// Within the same second as the last gather: refused, lagging collector or not.
	e.now = last.Add(400 * time.Millisecond)
	_, err = e.gather(hostfuncs.DryRun, nil, nil)
	require.ErrorIs(t, err, gather.ErrNothingNew)
	assert.Contains(t, err.Error(), "within this second; its tarball names would repeat")

	// A minute on, there is something new.
	e.now = last.Add(gather.MinWindow)
	seed(last, nil)
	res, err = e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Collectors[1].Slices)
}

// failures lists what failed in res, for a test's message (res.Collectors holds pointers).
func failures(res *gather.Result) string {
	var b strings.Builder
	for _, c := range res.Collectors {
		if c.Error != "" || c.FailedSlices > 0 {
			fmt.Fprintf(&b, "%s: %s (%d of %d slices failed); ", c.Key, c.Error, c.FailedSlices, c.Slices)
		}
	}
	return b.String()
}
