package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// until is the fixed "now" of the tests' gathers: with max_window 3h, the events collector
// runs three hourly slices of 60 rows each.
var until = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// fixture is a registry of the flaky guest (a JSON config collector and an hourly CSV one) that
// ships to a real ingress on loopback when ship is true, else gathers dry-run.
type fixture struct {
	reg, out, stateDir string
	ing                *ingress.Server
}

func newFixture(t *testing.T, ship bool, eventsParams string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{out: filepath.Join(dir, "out"), stateDir: filepath.Join(dir, "state")}
	shipping := ""
	if ship {
		var err error
		f.ing, err = ingress.New(ingress.Config{Dir: t.TempDir(), Logger: quiet})
		require.NoError(t, err)
		srv := httptest.NewServer(f.ing)
		t.Cleanup(func() { srv.Close(); f.ing.Close() })
		shipping = fmt.Sprintf("[shipping]\nurl = %q\nauth = \"none\"\nretry_backoff = \"5ms\"\n", srv.URL+ingress.DefaultPath)
	}
	f.reg = testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q
max_window = "3h"

%s
[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "events"
version = "2.0"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
[collector.params]
%s
`, f.out, f.stateDir, shipping, eventsParams))
	return f
}

func (f *fixture) agent(t *testing.T, now time.Time) *Agent {
	return f.agentLog(t, now, quiet)
}

func (f *fixture) agentLog(t *testing.T, now time.Time, log *slog.Logger) *Agent {
	t.Helper()
	host, err := wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: log, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { host.Close() })
	a, err := New(Config{Host: host, Logger: quiet, Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	require.NoError(t, a.Start(context.Background()))
	return a
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestMetricsAfterGather gathers for real (shipping to a real ingress), then scrapes /metrics
// over HTTP on loopback and checks the values against what the gather did.
func TestMetricsAfterGather(t *testing.T) {
	f := newFixture(t, true, "")
	a := f.agent(t, until)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec.Outcome, rec.Err)
	require.NotEmpty(t, rec.Result.Tarballs)
	for _, tb := range rec.Result.Tarballs {
		require.Equal(t, gather.FateShipped, tb.Fate, tb.Error)
	}

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	code, body := get(t, srv.Client(), srv.URL+"/metrics")
	require.Equal(t, 200, code)
	for _, want := range []string{
		`wasmcollector_gathers_total{result="ok"} 1`,
		`wasmcollector_gathers_total{result="failed"} 0`,
		`wasmcollector_collector_invocations_total{collector="events"} 3`,
		`wasmcollector_collector_failures_total{collector="events"} 0`,
		`wasmcollector_collector_rows_total{collector="events"} 180`,
		fmt.Sprintf(`wasmcollector_collector_bytes_total{collector="events"} %d`, collectorBytes(rec.Result, "events")),
		fmt.Sprintf(`wasmcollector_tarballs_total{fate="shipped"} %d`, len(rec.Result.Tarballs)),
		fmt.Sprintf(`wasmcollector_uploads_total{status="accepted"} %d`, len(rec.Result.Tarballs)),
		`wasmcollector_tarballs_pending 0`,
		`wasmcollector_collector_duration_seconds_count{collector="events"} 1`,
		`wasmcollector_gather_duration_seconds_count 1`,
		fmt.Sprintf(`wasmcollector_last_successful_gather_timestamp_seconds %s`, promFloat(until.Add(rec.Elapsed).Unix())),
	} {
		assert.Contains(t, body, want+"\n")
	}

	code, body = get(t, srv.Client(), srv.URL+"/healthz")
	assert.Equal(t, 200, code, body)
	code, body = get(t, srv.Client(), srv.URL+"/readyz")
	assert.Equal(t, 200, code, body)
}

// TestUploadAttemptsMetric: /metrics counts every upload request, retries included, by status
// code: an ingress that answers 503 twice and then takes everything gives two 503s and one 202
// per tarball, while the uploads themselves all count as accepted.
func TestUploadAttemptsMetric(t *testing.T) {
	f := newFixture(t, true, "")
	f.ing.FailNext(2, ingress.FailStatus503)
	a := f.agent(t, until)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec.Outcome, rec.Err)
	n := len(rec.Result.Tarballs)
	require.NotZero(t, n)

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	code, body := get(t, srv.Client(), srv.URL+"/metrics")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `wasmcollector_upload_attempts_total{code="503"} 2`+"\n")
	assert.Contains(t, body, fmt.Sprintf(`wasmcollector_upload_attempts_total{code="202"} %d`, n)+"\n")
	assert.Contains(t, body, fmt.Sprintf(`wasmcollector_uploads_total{status="accepted"} %d`, n)+"\n")
	assert.NotContains(t, body, `wasmcollector_uploads_total{status="503"}`)
}

func collectorBytes(res *gather.Result, key string) int64 {
	for _, c := range res.Collectors {
		if c.Key == key {
			return c.Bytes
		}
	}
	return -1
}

// promFloat formats n as the text exposition format does (1.7e+09 style for large values).
func promFloat(n int64) string {
	return strings.Replace(fmt.Sprintf("%g", float64(n)), "e+0", "e+0", 1)
}

// TestPreviewOfShippedTarball: a shipped tarball is deleted once the ingress accepts it, yet
// the page shows its members and rows: they were read before it left.
func TestPreviewOfShippedTarball(t *testing.T) {
	f := newFixture(t, true, "")
	a := f.agent(t, until)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()

	code, body := get(t, srv.Client(), srv.URL+"/")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `href="/gathers/1"`)
	assert.Contains(t, body, "events")
	assert.Regexp(t, `<code>[0-9a-f]{64}</code>`, body, "each module's sha256")
	assert.Contains(t, body, "<svg", "the chart")

	var csvTarball string
	for _, tb := range rec.Result.Tarballs {
		for _, file := range tb.Files {
			if strings.HasSuffix(file, "events.csv") {
				csvTarball = tb.Name
			}
		}
	}
	require.NotEmpty(t, csvTarball, "a tarball holds events.csv: %+v", rec.Result.Tarballs)
	code, body = get(t, srv.Client(), srv.URL+"/gathers/1")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "shipped")
	code, body = get(t, srv.Client(), srv.URL+"/gathers/1/tarballs/"+url.PathEscape(csvTarball))
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, "<th>id</th><th>at</th><th>full_sync</th>")
	// Each hourly slice has its own tarball: its first row is the minute after its start.
	assert.Regexp(t, `<td>2026-11-25T0[0-2]:01:00Z</td>`, body)
	assert.Contains(t, body, "first 20 rows shown")

	code, _ = get(t, srv.Client(), srv.URL+"/gathers/99")
	assert.Equal(t, 404, code)
	code, _ = get(t, srv.Client(), srv.URL+"/gathers/x")
	assert.Equal(t, 400, code)
	code, _ = get(t, srv.Client(), srv.URL+"/gathers/1/tarballs/nope.tar.gz")
	assert.Equal(t, 404, code)
}

// TestPageEscapesCollectorOutput: collector output is untrusted; a cell or a JSON value holding
// markup renders as text.
func TestPageEscapesCollectorOutput(t *testing.T) {
	f := newFixture(t, false, "")
	a := f.agent(t, until)
	hostile := `<script>alert(1)</script>`
	a.history = append(a.history, &Record{ID: 7, Started: until, Type: wasmcollector.DryRun, Outcome: "ok",
		Result: &gather.Result{Collectors: []*gather.CollectorResult{{Key: hostile, Status: "ok", Rows: 1}},
			Tarballs: []*gather.TarballResult{{Name: "t.tar.gz", Fate: "kept", Files: []string{hostile}}}},
		Previews: map[string]*TarballPreview{"t.tar.gz": {Members: []MemberPreview{
			{Name: "./x.csv", Kind: "csv", Header: []string{hostile}, Rows: [][]string{{hostile}}},
			{Name: "./y.json", Kind: "json", JSON: `{"a": "` + hostile + `"}`},
		}}}})
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	for _, path := range []string{"/", "/gathers/7", "/gathers/7/tarballs/t.tar.gz"} {
		code, body := get(t, srv.Client(), srv.URL+path)
		require.Equal(t, 200, code, path)
		assert.NotContains(t, body, "<script>", path)
		assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", path)
	}
	resp, err := srv.Client().Get(srv.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
}

// TestBasicAuth: with auth, the page and /metrics need the password; the probes do not.
func TestBasicAuth(t *testing.T) {
	f := newFixture(t, false, "")
	a := f.agent(t, until)
	authFile := filepath.Join(t.TempDir(), "auth")
	require.NoError(t, writeFile(authFile, "ops:s3cret\n"))
	auth, err := ReadBasicAuthFile(authFile)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler(auth))
	defer srv.Close()
	for _, path := range []string{"/", "/metrics"} {
		code, _ := get(t, srv.Client(), srv.URL+path)
		assert.Equal(t, 401, code, path)
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.SetBasicAuth("ops", "wrong")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode)
		req.SetBasicAuth("ops", "s3cret")
		resp, err = srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, path)
	}
	code, _ := get(t, srv.Client(), srv.URL+"/healthz")
	assert.Equal(t, 200, code)

	require.NoError(t, writeFile(authFile, "nopassword\n"))
	_, err = ReadBasicAuthFile(authFile)
	assert.ErrorContains(t, err, "must be user:password")
}

// TestLockHeldSkips: a gather another process holds the lock for is skipped, counted and shown,
// not an error.
func TestLockHeldSkips(t *testing.T) {
	f := newFixture(t, true, "")
	a := f.agent(t, until)
	unlock, err := state.NewFileStore(f.stateDir).TryLock(context.Background())
	require.NoError(t, err)
	rec, err := a.GatherOnce(context.Background())
	unlock()
	require.NoError(t, err)
	assert.Equal(t, "skipped", rec.Outcome)
	assert.Contains(t, rec.Err, "another gather holds the lock")
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	_, body := get(t, srv.Client(), srv.URL+"/metrics")
	assert.Contains(t, body, `wasmcollector_gathers_total{result="skipped"} 1`+"\n")
}

// TestRunStopsOnCancel: Run returns soon after its context ends, even in the middle of a gather
// whose collector hangs, and the bookkeeping is left unlocked and readable.
func TestRunStopsOnCancel(t *testing.T) {
	f := newFixture(t, true, `hang_at = "2026-11-25T01:00:00Z"`)
	var logs lockedBuffer
	a := f.agentLog(t, until, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// Wait until the gather is inside the hanging slice.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "hanging in the slice") {
		require.True(t, time.Now().Before(deadline), "the collector never hung: %s", logs.String())
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
	}
	took := time.Since(start)
	t.Logf("Run returned %s after cancel", took)
	assert.Less(t, took, 2*time.Second)
	store := state.NewFileStore(f.stateDir)
	st, err := store.Load(context.Background())
	require.NoError(t, err)
	// Nothing past the hanging slice is recorded as collected.
	assert.False(t, st.Entries["events"].After(time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)), "events recorded up to %s", st.Entries["events"])
	unlock, err := store.TryLock(context.Background())
	require.NoError(t, err, "the lock is released")
	unlock()
}

// TestSchedule: with a schedule, the agent waits for its first time (no gather at start), then
// gathers at each next time.
func TestSchedule(t *testing.T) {
	f := newFixture(t, false, "")
	host, err := wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: func() time.Time { return until }})
	require.NoError(t, err)
	var calls atomic.Int32
	a, err := New(Config{Host: host, Logger: quiet, Schedule: func(now time.Time) time.Time {
		if calls.Add(1) == 1 {
			return now.Add(300 * time.Millisecond)
		}
		return now.Add(50 * time.Millisecond)
	}})
	require.NoError(t, err)
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(150 * time.Millisecond)
	assert.Empty(t, a.History(), "no gather before the first scheduled time")
	deadline := time.Now().Add(60 * time.Second)
	for len(a.History()) < 2 {
		require.True(t, time.Now().Before(deadline), "fewer than 2 scheduled gathers")
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
	for _, r := range a.History() {
		assert.Equal(t, "ok", r.Outcome, r.Err)
	}
}
