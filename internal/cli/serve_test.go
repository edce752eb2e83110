package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

// TestServeSIGTERM runs serve in a second process shipping to a real ingress; while its gather
// hangs inside a collector, SIGTERM must end the process within 2 s with exit 0, leaving the
// bookkeeping readable, unlocked and not advanced past what was collected.
func TestServeSIGTERM(t *testing.T) {
	ing, err := ingress.New(ingress.Config{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(ing)
	defer func() { srv.Close(); ing.Close() }()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	reg := testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q
max_window = "3h"

[shipping]
url = %q
auth = "none"

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
hang_at = "2026-11-25T01:00:00Z"
`, filepath.Join(dir, "out"), stateDir, srv.URL+ingress.DefaultPath))

	child := exec.Command(os.Args[0], "serve", "-c", reg, "--listen", "127.0.0.1:0", "--interval", "1h", "--now", "2026-11-25T03:00:00Z")
	// The race detector sleeps 1 s at exit by default: not serve's time.
	child.Env = append(os.Environ(), "WASMCOLLECTOR_CLI_CHILD=1", "GORACE=atexit_sleep_ms=0")
	stderr, err := child.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	defer child.Process.Kill()
	// Bound the whole test: the scans below end at EOF once the child is killed.
	guard := time.AfterFunc(90*time.Second, func() { child.Process.Kill() })
	defer guard.Stop()

	lines := bufio.NewScanner(stderr)
	urlRE := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/)`)
	var base string
	for lines.Scan() {
		line := lines.Text()
		if m := urlRE.FindStringSubmatch(line); m != nil {
			base = m[1]
		}
		if strings.Contains(line, "hanging in the slice") {
			break
		}
	}
	require.NotEmpty(t, base, "serve logged its URL")
	for _, probe := range []string{"healthz", "readyz"} {
		resp, err := http.Get(base + probe)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, probe)
	}
	resp, err := http.Get(base)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), "Gathering now (gather 1")

	var rest strings.Builder
	copied := make(chan struct{})
	go func() { io.Copy(&rest, stderr); close(copied) }() // keep the child's logs flowing
	start := time.Now()
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	select {
	case err := <-waited:
		assert.NoError(t, err, "exit 0")
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit within 10 s of SIGTERM")
	}
	took := time.Since(start)
	<-copied
	t.Logf("serve exited %s after SIGTERM; its last logs:\n%s", took, rest.String())
	assert.Less(t, took, 2*time.Second)

	store := state.NewFileStore(stateDir)
	st, err := store.Load(context.Background())
	require.NoError(t, err)
	assert.False(t, st.Entries["events"].After(time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)), "events recorded up to %s", st.Entries["events"])
	unlock, err := store.TryLock(context.Background())
	require.NoError(t, err, "the lock is released")
	unlock()
}

// TestServeBadFlags: bad flags are exit 2 with a message naming the flag.
func TestServeBadFlags(t *testing.T) {
	reg, _, _ := gatherRegistry(t, "")
	_, errs, code := runCLI(t, "serve", "-c", reg, "--interval", "0s")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--interval 0s: must be positive")
	_, errs, code = runCLI(t, "serve", "-c", reg, "--basic-auth-file", filepath.Join(t.TempDir(), "none"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--basic-auth-file")
	_, errs, code = runCLI(t, "serve", "-c", reg, "--cron", "61 * * * *")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `--cron "61 * * * *"`)
	_, errs, code = runCLI(t, "serve", "-c", reg, "--cron", "@hourly", "--interval", "1h")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--cron and --interval exclude each other")
	_, errs, code = runCLI(t, "serve", "-c", reg, "--listen", "not an address")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--listen")
}

// TestServeSIGHUP: SIGHUP reloads the configuration (counted in /metrics), and serve keeps
// serving; SIGINT then stops it with exit 0.
func TestServeSIGHUP(t *testing.T) {
	reg, _, _ := gatherRegistry(t, "")
	sv := startServe(t, "-c", reg)
	require.NoError(t, sv.child.Process.Signal(syscall.SIGHUP))
	for sv.lines.Scan() && !strings.Contains(sv.lines.Text(), "reloaded") {
	}
	go io.Copy(io.Discard, sv.stderr)
	base := sv.base
	resp, err := http.Get(base + "metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `wasmcollector_reloads_total{result="ok"} 1`)
	assert.Contains(t, string(body), `wasmcollector_gathers_total{result="ok"} 1`)

	sv.stop()
}

// TestServeRecordFlag: serve --record records each gather into a directory of its own, which
// the page offers as a tar and replay takes as it is.
func TestServeRecordFlag(t *testing.T) {
	reg, _, _ := gatherRegistry(t, "")
	recDir := filepath.Join(t.TempDir(), "rec")
	sv := startServe(t, "-c", reg, "--record", recDir, "--record-output")
	go io.Copy(io.Discard, sv.stderr)
	base := sv.base
	gatherDir := filepath.Join(recDir, "20261125T030000Z")
	files, err := filepath.Glob(filepath.Join(gatherDir, "*.jsonl.gz"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "the gather is recorded under --record, named by its start")

	resp, err := http.Get(base + "gathers/1/records.tar")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	for _, f := range files {
		assert.Contains(t, string(body), "20261125T030000Z/"+filepath.Base(f), "the tar holds each record")
	}

	out, errs, code := runCLI(t, "replay", gatherDir, "--compile-timeout", "5m")
	assert.Equal(t, 0, code, "%s\n%s", out, errs)
	assert.Contains(t, out, fmt.Sprintf("replayed %d: %d identical", len(files), len(files)))

	sv.stop()

	// serve ran private copies of the modules, removed when it stopped: the records also name
	// the file the operator installed, which replay falls back to.
	out, errs, code = runCLI(t, "replay", gatherDir, "--compile-timeout", "5m")
	assert.Equal(t, 0, code, "after serve stopped:\n%s\n%s", out, errs)
	assert.Contains(t, out, fmt.Sprintf("replayed %d: %d identical", len(files), len(files)), "after serve stopped")
}

// servedChild is a `wasmcollector serve` child process that has finished its first gather.
type servedChild struct {
	t      *testing.T
	child  *exec.Cmd
	stderr io.Reader
	lines  *bufio.Scanner // its stderr, read up to the first "gather done"
	base   string         // the page's URL, from its log
}

// startServe starts `wasmcollector serve ARGS` on a free loopback port, with no watcher and
// the clock at 2026-11-25T03:00:00Z, and waits for its first gather. The child is killed when
// the test ends and at most 90 s after it started (the scans end at EOF then).
func startServe(t *testing.T, args ...string) *servedChild {
	t.Helper()
	child := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--no-watch", "--now", "2026-11-25T03:00:00Z"}, args...)...)
	child.Env = append(os.Environ(), "WASMCOLLECTOR_CLI_CHILD=1", "GORACE=atexit_sleep_ms=0")
	stderr, err := child.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	t.Cleanup(func() { child.Process.Kill() })
	guard := time.AfterFunc(90*time.Second, func() { child.Process.Kill() })
	t.Cleanup(func() { guard.Stop() })
	sv := &servedChild{t: t, child: child, stderr: stderr, lines: bufio.NewScanner(stderr)}
	urlRE := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/)`)
	for sv.lines.Scan() {
		if m := urlRE.FindStringSubmatch(sv.lines.Text()); m != nil {
			sv.base = m[1]
		}
		if strings.Contains(sv.lines.Text(), "gather done") {
			break
		}
	}
	require.NotEmpty(t, sv.base, "serve logged its URL")
	return sv
}

// stop sends SIGINT and checks that serve exits 0 within 10 s.
func (sv *servedChild) stop() {
	sv.t.Helper()
	require.NoError(sv.t, sv.child.Process.Signal(os.Interrupt))
	waited := make(chan error, 1)
	go func() { waited <- sv.child.Wait() }()
	select {
	case err := <-waited:
		assert.NoError(sv.t, err, "exit 0")
	case <-time.After(10 * time.Second):
		sv.t.Fatal("serve did not exit within 10 s of SIGINT")
	}
}
