package serve

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/replay"
)

// recordFixture is a registry of the flaky guest with [serve] record keys: a config collector
// and an hourly CSV one that succeed (but for the slices listed in failAt), and a JSON
// collector that fails.
func recordFixture(t *testing.T, serveTOML, failAt string) (reg string) {
	t.Helper()
	dir := t.TempDir()
	return testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q
max_window = "3h"

[serve]
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
fail_at = %q

[[collector]]
key = "broken"
version = "1.0"
module = "flaky.wasm"
function = "info"
[collector.params]
fail = true
`, filepath.Join(dir, "out"), filepath.Join(dir, "state"), serveTOML, failAt), `compile_timeout = "5m"`)
}

// recordAgent starts an agent of reg, reloadable, on a clock the test moves.
func recordAgent(t *testing.T, reg string, clock func() time.Time) *Agent {
	t.Helper()
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(reg, &wasmcollector.Options{Logger: quiet, Now: clock})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: quiet, Now: clock})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	require.NoError(t, a.Start(context.Background()))
	return a
}

// recordNames lists the record files (not the summary) in dir.
func recordNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := recordFiles(dir)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		if f.Name != replay.SummaryFile {
			names = append(names, f.Name)
		}
	}
	return names
}

// TestRecordFailuresOnly: with record = "failures", a gather keeps the records of exactly the
// invocations that failed (a whole collector, and one slice of another), a replay of each
// reproduces its failure, and the page and /metrics say so. A reload that changes the record
// settings applies them from the next gather; a gather where everything succeeds keeps nothing.
func TestRecordFailuresOnly(t *testing.T) {
	reg := recordFixture(t, "record_dir = \"records\"\nrecord = \"failures\"\nrecord_output = true\n", "2026-11-25T01:00:00Z")
	var nowUnix atomic.Int64
	nowUnix.Store(until.Unix())
	clock := func() time.Time { return time.Unix(nowUnix.Load(), 0).UTC() }
	a := recordAgent(t, reg, clock)

	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "partial", rec.Outcome, rec.Err)
	gr := rec.Records
	require.NotNil(t, gr)
	require.Empty(t, gr.Err)
	require.False(t, gr.Removed())
	// Relative to collectors.toml, named by the gather's start.
	require.Equal(t, filepath.Join(filepath.Dir(reg), "records", "20261125T030000Z"), gr.Dir)
	names := recordNames(t, gr.Dir)
	require.Len(t, names, 2, "%v", names)
	require.Equal(t, 2, gr.Summary.Records)
	require.Equal(t, 3, gr.Summary.Discarded, "config and the two events slices that succeeded")
	var sawEvents, sawBroken bool
	for _, n := range names {
		switch {
		case strings.Contains(n, "-events-events-20261125T010000Z"):
			sawEvents = true
		case strings.Contains(n, "-broken-info"):
			sawBroken = true
		default:
			t.Errorf("record of an invocation that succeeded kept: %s", n)
		}
	}
	require.True(t, sawEvents && sawBroken, "%v", names)
	sum, err := os.ReadFile(filepath.Join(gr.Dir, replay.SummaryFile))
	require.NoError(t, err)
	assert.Contains(t, string(sum), `"discarded": 3`)

	// Each replays, as `wasmcollector replay` would, and fails as it did.
	for _, n := range names {
		out, err := replay.Replay(context.Background(), filepath.Join(gr.Dir, n),
			replay.ReplayOptions{CacheDir: filepath.Join(testguests.CacheDir(t), "wazero"), CompileTimeout: 5 * time.Minute})
		require.NoError(t, err, n)
		assert.NotEmpty(t, out.RecordedError, n)
		assert.True(t, out.SameOutcome, "%s: recorded %q, replayed %q", n, out.RecordedError, out.Error)
		assert.True(t, out.Identical, n)
		assert.Contains(t, out.Error, "told to fail", n)
	}

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	code, body := get(t, srv.Client(), srv.URL+"/metrics")
	require.Equal(t, 200, code)
	var kept int64
	files, err := recordFiles(gr.Dir)
	require.NoError(t, err)
	for _, f := range files {
		kept += f.Size
	}
	for _, want := range []string{
		"wasmcollector_records_written_total 5",
		"wasmcollector_records_discarded_total 3",
		"wasmcollector_record_gathers_kept 1",
		"wasmcollector_record_gathers_pruned_total 0",
		fmt.Sprintf("wasmcollector_records_kept_bytes %d", kept),
	} {
		assert.Contains(t, body, want+"\n")
	}
	code, body = get(t, srv.Client(), srv.URL+"/gathers/1")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "those of the invocations that failed (3 that succeeded removed)")
	for _, n := range names {
		assert.Contains(t, body, `href="/gathers/1/records/`+n+`"`)
	}

	// The vendor fixed the collectors, and the operator now records everything elsewhere:
	// the next gather keeps every record, in the new directory.
	cfg, err := os.ReadFile(reg)
	require.NoError(t, err)
	fixed := strings.NewReplacer(`record = "failures"`, `record = "all"`, `record_dir = "records"`, `record_dir = "records2"`,
		"fail = true", "fail = false", `fail_at = "2026-11-25T01:00:00Z"`, `fail_at = ""`).Replace(string(cfg))
	require.NotEqual(t, string(cfg), fixed)
	require.NoError(t, os.WriteFile(reg, []byte(fixed), 0o644))
	require.NoError(t, a.Reload(context.Background()))
	nowUnix.Add(3600)
	rec2, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec2.Outcome, rec2.Err)
	require.Equal(t, filepath.Join(filepath.Dir(reg), "records2", "20261125T040000Z"), rec2.Records.Dir)
	assert.Len(t, recordNames(t, rec2.Records.Dir), 5, "config, broken and three events slices")
	assert.Len(t, recordNames(t, gr.Dir), 2, "the first gather's records stay where they were")

	// With record = "failures" again and nothing failing, a gather leaves no directory.
	require.NoError(t, os.WriteFile(reg, []byte(strings.Replace(fixed, `record = "all"`, `record = "failures"`, 1)), 0o644))
	require.NoError(t, a.Reload(context.Background()))
	nowUnix.Add(3600)
	rec3, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec3.Outcome, rec3.Err)
	require.True(t, rec3.Records.Removed())
	require.Equal(t, 5, rec3.Records.Summary.Discarded)
	_, err = os.Stat(rec3.Records.Dir)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	_, body = get(t, srv.Client(), srv.URL+"/gathers/3")
	assert.Contains(t, body, `Every invocation succeeded: no record kept`)
}

// TestRecordRetention: gathers recorded under a small record_keep_bytes: after each, what is
// kept is within the bound, the newest gathers' records are the ones kept, and the oldest go
// first; the page says so.
func TestRecordRetention(t *testing.T) {
	const bound = 1 << 20
	dir := t.TempDir()
	// Rows of sequential ids compress to about 2.6 bytes each in a record: some 350 KiB per
	// gather, so two gathers fit in the bound and a third does not.
	reg := testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q

[serve]
record_dir = %q
record_keep_bytes = "1MiB"
record_output = true

[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "big"
version = "1.0"
format = "csv"
module = "flaky.wasm"
function = "big"
[collector.params]
rows = 140000
width = 20
`, filepath.Join(dir, "out"), filepath.Join(dir, "state"), filepath.Join(dir, "records")), `compile_timeout = "5m"`)
	var nowUnix atomic.Int64
	nowUnix.Store(until.Unix())
	clock := func() time.Time { return time.Unix(nowUnix.Load(), 0).UTC() }
	a := recordAgent(t, reg, clock)
	// Not theirs: the bounds neither count nor remove it.
	other := filepath.Join(dir, "records", "keep-me")
	require.NoError(t, os.MkdirAll(other, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(other, "notes.txt"), bytes.Repeat([]byte("n"), 2<<20), 0o600))

	var made []string
	var recs []*Record
	for i := range 4 {
		rec, err := a.GatherOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, "ok", rec.Outcome, rec.Err)
		s := rec.Records.Summary
		require.Equal(t, 2, s.Records)
		require.Zero(t, s.Incomplete, "the cap did not cut the record: this tests the retention bounds")
		t.Logf("gather %d: %d records, %d bytes", i+1, s.Records, s.Bytes)
		made, recs = append(made, rec.Records.Name), append(recs, rec)

		dirs, err := listRecordDirs(filepath.Join(dir, "records"))
		require.NoError(t, err)
		var total int64
		var names []string
		for _, d := range dirs {
			total += d.bytes
			names = append(names, d.name)
		}
		require.LessOrEqual(t, total, int64(bound), "after gather %d", i+1)
		require.NotEmpty(t, names)
		require.Equal(t, made[len(made)-len(names):], names, "the newest are kept, in order")
		nowUnix.Add(3600)
	}
	require.False(t, recs[3].Records.Removed())
	require.True(t, recs[0].Records.Removed(), "the oldest went first")
	_, err := os.Stat(filepath.Join(dir, "records", made[0]))
	require.True(t, errors.Is(err, os.ErrNotExist))
	_, err = os.Stat(filepath.Join(other, "notes.txt"))
	require.NoError(t, err)
	assert.Positive(t, counterValue(t, a.metrics.recordGathersPruned))

	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	_, body := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, body, "removed (record_keep)")
	assert.Contains(t, body, `href="/gathers/4/records.tar"`)
	assert.NotContains(t, body, `href="/gathers/1/records.tar"`)
	code, _ := get(t, srv.Client(), srv.URL+"/gathers/1/records.tar")
	assert.Equal(t, 404, code)
}

// TestRecordsDownload: the page's links return a gather's records, as a tar and one by one,
// behind the page's basic auth; a request for any other path, traversal and links planted in
// the directory included, gets nothing.
func TestRecordsDownload(t *testing.T) {
	reg := recordFixture(t, "record_dir = \"records\"\n", "")
	a := recordAgent(t, reg, func() time.Time { return until })
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	gr := rec.Records
	require.NotNil(t, gr)
	names := recordNames(t, gr.Dir)
	require.Len(t, names, 5)

	// What a hostile request would like to read: beside the gather's directory, and linked
	// from inside it.
	secret := "top secret, not a record"
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(gr.Dir), "secret.txt"), []byte(secret), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(reg), "secret.txt"), []byte(secret), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(filepath.Dir(gr.Dir), "secret.txt"), filepath.Join(gr.Dir, "linked.jsonl.gz")))

	auth := &BasicAuth{User: "op", Password: "pw"}
	srv := httptest.NewServer(a.Handler(auth))
	defer srv.Close()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fetch := func(path string, withAuth bool) (int, []byte, http.Header) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		if withAuth {
			req.SetBasicAuth("op", "pw")
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b, resp.Header
	}

	code, page, _ := fetch("/", true)
	require.Equal(t, 200, code)
	assert.Contains(t, string(page), `href="/gathers/1/records.tar"`)

	code, _, _ = fetch("/gathers/1/records.tar", false)
	assert.Equal(t, 401, code, "behind the page's basic auth")
	code, _, _ = fetch("/gathers/1/records/"+names[0], false)
	assert.Equal(t, 401, code)

	code, b, h := fetch("/gathers/1/records.tar", true)
	require.Equal(t, 200, code, string(b))
	assert.Equal(t, "application/x-tar", h.Get("Content-Type"))
	got := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		got[hdr.Name] = data
	}
	want := append(slices.Clone(names), replay.SummaryFile)
	require.Len(t, got, len(want), "the records and the summary, not the link: %v", keysOf(got))
	for _, n := range want {
		disk, err := os.ReadFile(filepath.Join(gr.Dir, n))
		require.NoError(t, err)
		assert.Equal(t, disk, got[gr.Name+"/"+n], n)
	}

	code, b, h = fetch("/gathers/1/records/"+names[0], true)
	require.Equal(t, 200, code)
	assert.Equal(t, "application/gzip", h.Get("Content-Type"))
	disk, err := os.ReadFile(filepath.Join(gr.Dir, names[0]))
	require.NoError(t, err)
	assert.Equal(t, disk, b)
	// The file downloaded is a record replay reads.
	tmp := filepath.Join(t.TempDir(), names[0])
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	_, err = replay.ReadFile(tmp)
	require.NoError(t, err)

	for _, path := range []string{
		"/gathers/1/records/linked.jsonl.gz",
		"/gathers/1/records/..%2Fsecret.txt",
		"/gathers/1/records/..%2F..%2Fsecret.txt",
		"/gathers/1/records/%2e%2e%2F..%2Fsecret.txt",
		"/gathers/1/records/%2e%2e",
		"/gathers/1/records/.",
		"/gathers/1/records/../secret.txt",
		"/gathers/1/records/../../../secret.txt",
		"/gathers/1/records/%2Fetc%2Fpasswd",
		"/gathers/1/records/" + strings.Repeat("..%2F", 20) + "etc%2Fpasswd",
		"/gathers/..%2F..%2F/records.tar",
		"/gathers/0/records.tar",
		"/gathers/2/records.tar",
		"/gathers/-1/records/" + names[0],
		"/gathers/1/records/",
		"/gathers/1/records/" + names[0] + "%00",
		"/gathers/1/records/" + names[0] + "/..",
	} {
		code, b, _ := fetch(path, true)
		assert.NotEqual(t, 200, code, path)
		assert.NotContains(t, string(b), secret, path)
		assert.NotContains(t, string(b), "root:", path)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
