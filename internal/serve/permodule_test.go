package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/registry"
)

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// gatheredJSON gathers once (dry-run) and returns each JSON member of its tarballs by name.
func gatheredJSON(t *testing.T, a *Agent) map[string]string {
	t.Helper()
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec.Outcome, "%s %+v", rec.Err, rec.Result)
	out := map[string]string{}
	for _, tb := range rec.Result.Tarballs {
		for _, m := range testguests.ReadTarball(t, tb.Path) {
			if strings.HasSuffix(m.Name, ".json") {
				out[strings.TrimPrefix(m.Name, "./")] = string(m.Data)
			}
		}
	}
	return out
}

// runningModules returns the sha256 of each module the agent runs, by name.
func runningModules(a *Agent) map[string]string {
	out := map[string]string{}
	for _, m := range a.host().Registry().Modules {
		out[m.Name] = m.SHA256
	}
	return out
}

// TestReloadPerModule changes two modules at once, one for a good new version and one for a
// broken one, overwritten in place: the good one's new version runs, the broken one's previous
// version keeps running, from the agent's own copy, and the metrics and the page say which. Then
// a module whose sidecar names a function it does not export is refused the same way, a
// collectors.toml that does not parse changes nothing, and fixing everything clears the refusal.
func TestReloadPerModule(t *testing.T) {
	flaky := testguests.Go(t, "internal/testguests/flaky")
	outputs := testguests.WAT(t, "outputs")
	reg := testguests.Registry(t, map[string]string{"base.wasm": flaky, "a.wasm": flaky, "b.wasm": flaky}, `
[gather]
max_window = "3h"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "base.wasm"
function = "info"
`, `compile_timeout = "5m"`)
	dir := filepath.Dir(reg)
	modDir := filepath.Join(dir, "modules")
	sidecar := func(name, key, version, function string) {
		t.Helper()
		require.NoError(t, writeFile(filepath.Join(modDir, name+".toml"),
			"[[collector]]\nkey = \""+key+"\"\nversion = \""+version+"\"\nfunction = \""+function+"\"\n"))
	}
	sidecar("a", "alpha", "1.0", "info")
	sidecar("b", "beta", "1.0", "info")

	var nowUnix atomic.Int64
	nowUnix.Store(until.Unix())
	clock := func() time.Time { return time.Unix(nowUnix.Load(), 0).UTC() }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(reg, &wasmcollector.Options{Logger: quiet, Now: clock})
	}
	host, err := load()
	require.NoError(t, err)
	store := filepath.Join(t.TempDir(), "running")
	a, err := New(Config{Host: host, Load: load, Logger: quiet, Now: clock, ModuleDir: store})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.Start(context.Background()))
	flakySum, outputsSum := fileSum(t, flaky), fileSum(t, outputs)
	require.Equal(t, map[string]string{"base.wasm": flakySum, "a.wasm": flakySum, "b.wasm": flakySum}, runningModules(a))
	for _, m := range a.host().Registry().Modules {
		require.Equal(t, store, filepath.Dir(m.Path), "%s runs from the agent's copy", m.Name)
	}
	out := gatheredJSON(t, a)
	require.Contains(t, out["alpha.json"], `"since"`)
	require.Contains(t, out["beta.json"], `"since"`)

	// Two modules change: a.wasm for a good new version with a new function, b.wasm is
	// overwritten in place with garbage.
	wat, err := os.ReadFile(outputs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "a.wasm"), wat, 0o644))
	sidecar("a", "alpha", "2.0", "json_1000")
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "b.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644))
	err = a.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "b.wasm")
	assert.NotContains(t, err.Error(), "a.wasm")
	assert.Equal(t, map[string]string{"base.wasm": flakySum, "a.wasm": outputsSum, "b.wasm": flakySum}, runningModules(a))
	versions := map[string]string{}
	for _, c := range a.host().Registry().Collectors {
		versions[c.Key] = c.Version + " " + c.Function
	}
	assert.Equal(t, map[string]string{"config": "1.0 info", "alpha": "2.0 json_1000", "beta": "1.0 info"}, versions)
	nowUnix.Add(3600)
	out = gatheredJSON(t, a)
	assert.Equal(t, `"`+strings.Repeat("a", 998)+`"`, out["alpha.json"], "the new version of a.wasm runs")
	assert.Contains(t, out["beta.json"], `"since"`, "the previous version of b.wasm runs")

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	_, metrics := get(t, srv.Client(), srv.URL+"/metrics")
	for _, want := range []string{
		`wasmcollector_reloads_total{result="partial"} 1`,
		`wasmcollector_reloads_total{result="ok"} 0`,
		`wasmcollector_reloads_total{result="failed"} 0`,
		`wasmcollector_module_reload_failures_total{module="b.wasm"} 1`,
		`wasmcollector_module_refused{module="b.wasm"} 1`,
	} {
		assert.Contains(t, metrics, want+"\n")
	}
	assert.NotContains(t, metrics, `module="a.wasm"`)
	_, page := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, `<span class="partial">partial</span>; the modules below were refused`)
	assert.Contains(t, page, "<td>b.wasm</td>")
	assert.Contains(t, page, "the previous version, sha256 <code>"+flakySum+"</code>")

	// b.wasm back as it was, but its sidecar now calls a function it does not export: refused
	// by the export check, its previous collectors keep running; a.wasm, unchanged, is not
	// checked again and keeps its new version.
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "b.wasm"), mustRead(t, flaky), 0o644))
	sidecar("b", "beta", "3.0", "nope")
	err = a.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope")
	assert.Equal(t, map[string]string{"base.wasm": flakySum, "a.wasm": outputsSum, "b.wasm": flakySum}, runningModules(a))
	assert.Equal(t, "1.0", a.host().Registry().Collector("beta")[0].Version)
	assert.Equal(t, 2.0, counterValue(t, a.reloadMetrics.moduleFailures.WithLabelValues("b.wasm")))

	// A collectors.toml that does not parse changes nothing, the refusal shown stays.
	root, err := os.ReadFile(reg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(reg, append(root, "\n[gather\n"...), 0o644))
	sidecar("b", "beta", "3.0", "info")
	err = a.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "load the configuration")
	assert.Equal(t, 1.0, counterValue(t, a.metrics.reloads.WithLabelValues("failed")))
	assert.Equal(t, "1.0", a.host().Registry().Collector("beta")[0].Version)
	_, metrics = get(t, srv.Client(), srv.URL+"/metrics")
	assert.Contains(t, metrics, `wasmcollector_module_refused{module="b.wasm"} 1`+"\n")
	_, page = get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "nothing changed, everything keeps running as it was")

	// Fixed: everything is swapped in, the refusal is cleared, and only the copies in use stay.
	require.NoError(t, os.WriteFile(reg, root, 0o644))
	require.NoError(t, a.Reload(context.Background()))
	assert.Equal(t, 1.0, counterValue(t, a.metrics.reloads.WithLabelValues("ok")))
	assert.Equal(t, "3.0", a.host().Registry().Collector("beta")[0].Version)
	_, metrics = get(t, srv.Client(), srv.URL+"/metrics")
	assert.NotContains(t, metrics, "wasmcollector_module_refused{")
	entries, err := os.ReadDir(store)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := []string{flakySum + ".wasm", outputsSum + ".wasm"}
	sort.Strings(want)
	assert.Equal(t, want, files, "the copies no module runs are removed")
	nowUnix.Add(3600)
	out = gatheredJSON(t, a)
	assert.Contains(t, out["beta.json"], `"since"`)

	// A sidecar with a problem refuses its module as a failed check does: b.wasm keeps its
	// version. A new module whose sidecar has a problem is not added, and stays disabled: gathers
	// record its collectors as failed, as they would at start.
	require.NoError(t, writeFile(filepath.Join(modDir, "b.toml"), "[[collector]]\nkey = \"beta\"\nversion = 4\n"))
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "c.wasm"), mustRead(t, flaky), 0o644))
	require.NoError(t, writeFile(filepath.Join(modDir, "c.toml"), "[[collector]]\nkey = \"gamma\"\nversion = \"1\"\nbogus = 1\n"))
	err = a.Reload(context.Background())
	require.Error(t, err)
	a.mu.Lock()
	refused := a.lastReload.Modules
	a.mu.Unlock()
	require.Len(t, refused, 2)
	assert.Equal(t, "b.wasm", refused[0].Module)
	assert.True(t, refused[0].Kept)
	assert.Contains(t, refused[0].Err, "must be a string, not an integer")
	assert.Equal(t, "c.wasm", refused[1].Module)
	assert.False(t, refused[1].Kept)
	assert.Contains(t, refused[1].Err, "unknown key")
	running := a.host().Registry()
	assert.Equal(t, "3.0", running.Collector("beta")[0].Version)
	require.Len(t, running.Disabled, 1)
	assert.Equal(t, "c.wasm", running.Disabled[0].Name)
	nowUnix.Add(3600)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "partial", rec.Outcome)
	status := map[string]string{}
	for _, c := range rec.Result.Collectors {
		status[c.Key] = c.Status
	}
	assert.Equal(t, map[string]string{"config": "ok", "alpha": "ok", "beta": "ok", "gamma": "failed"}, status)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestReloadTiming: a reload that changes [serve] interval moves the next gather at once: the
// running schedule, four hours away, becomes one a second away, and the gather happens.
func TestReloadTiming(t *testing.T) {
	f := newFixture(t, false, "")
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: func() time.Time { return until }})
	}
	host, err := load()
	require.NoError(t, err)
	timing := func(reg *registry.Registry) (Timing, error) {
		return Timing{Interval: reg.Serve.Interval, Cron: reg.Serve.Cron, Jitter: reg.Serve.Jitter}, nil
	}
	a, err := New(Config{Host: host, Load: load, Timing: timing, Logger: quiet, Now: func() time.Time { return until }})
	require.NoError(t, err)
	defer a.Close()
	require.Equal(t, Timing{Interval: 4 * time.Hour}, a.Timing(), "the default of [serve] interval")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "waiting for %s", what)
			time.Sleep(20 * time.Millisecond)
		}
	}
	nextIn := func() time.Duration {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.next.IsZero() {
			return -1
		}
		return time.Until(a.next)
	}
	waitFor("the first gather", func() bool { return len(a.History()) == 1 && nextIn() > time.Hour })

	root, err := os.ReadFile(f.reg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.reg, append([]byte("[serve]\ninterval = \"1s\"\njitter = \"10ms\"\n"), root...), 0o644))
	require.NoError(t, a.Reload(ctx))
	assert.Equal(t, Timing{Interval: time.Second, Jitter: 10 * time.Millisecond}, a.Timing())
	waitFor("the gather on the new schedule", func() bool { return len(a.History()) >= 2 })

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	_, page := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "Gathers every 1s, each delayed by up to 10ms.")

	// Back to a cron expression: no gather before its time, which is far.
	require.NoError(t, os.WriteFile(f.reg, append([]byte("[serve]\ncron = \"0 0 29 2 *\"\nlisten = \"127.0.0.1:9999\"\n"), root...), 0o644))
	require.NoError(t, a.Reload(ctx))
	assert.Equal(t, Timing{Cron: "0 0 29 2 *"}, a.Timing())
	waitFor("the cron's next time, weeks away", func() bool { return nextIn() > 24*time.Hour })
	_, page = get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "[serve] listen changed from &#34;127.0.0.1:9110&#34; to &#34;127.0.0.1:9999&#34;: it takes effect when serve restarts")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
