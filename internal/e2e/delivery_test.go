package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

// weekRegistry is a registry shipping to url: a config collector and "events" (one row a minute)
// sliced every 4 hours, over a max window of a week, so a gather until weekEnd without --since
// collects the 42 slices of the week.
func weekRegistry(t *testing.T, url, out, stateDir string) string {
	t.Helper()
	return testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q
max_window = "7d"

[shipping]
url = %q
auth = "none"
retry_backoff = "5ms"
max_attempts = 2

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
slicing = "4h"
module = "flaky.wasm"
function = "events"
`, out, stateDir, url))
}

const weekEnd = "2026-11-29T00:00:00Z"

const weekMinutes = 7 * 24 * 60

// stored sums up what the ingress stored: rows of events.csv by id, and how often each
// tarball (by sha256) and each name was stored.
type stored struct {
	rows   map[string]int
	sums   map[string]int
	byName map[string][]string // name → sha256 of each copy
}

func storedAt(t *testing.T, ing *ingress.Server) stored {
	t.Helper()
	s := stored{rows: map[string]int{}, sums: map[string]int{}, byName: map[string][]string{}}
	for _, u := range ing.Uploads() {
		b, err := os.ReadFile(u.Path)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		hexSum := hex.EncodeToString(sum[:])
		s.sums[hexSum]++
		s.byName[u.Name] = append(s.byName[u.Name], hexSum)
		for id, n := range tarballRows(t, u.Path) {
			s.rows[id] += n
		}
	}
	return s
}

func tarballRows(t *testing.T, path string) map[string]int {
	rows := map[string]int{}
	for _, f := range readMembers(t, path) {
		if f.Name != "./events.csv" {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n")[1:] {
			rows[strings.SplitN(line, ",", 2)[0]]++
		}
	}
	return rows
}

// requireDeliveredOnce: every minute of the week reached the ingress exactly once, no tarball
// was stored twice, and the bookkeeping holds nothing pending and ends at the week's end.
func requireDeliveredOnce(t *testing.T, ing *ingress.Server, stateDir string) {
	t.Helper()
	s := storedAt(t, ing)
	assert.Len(t, s.rows, weekMinutes, "every minute of the week arrived")
	for id, n := range s.rows {
		if n != 1 {
			assert.Equal(t, 1, n, "row %s reached the ingress %d times", id, n)
		}
	}
	for sum, n := range s.sums {
		assert.Equal(t, 1, n, "tarball %s stored %d times", sum, n)
	}
	st, err := state.NewFileStore(stateDir).Load(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.Pending)
	end, _ := time.Parse(time.RFC3339, weekEnd)
	assert.Equal(t, end, st.Entries["events"])
}

// TestCrashLoop kills gather processes (SIGKILL) at random points, 20 times, each followed by a
// rerun: before an upload reaches the ingress, after the ingress stored it but before its answer
// left, or after a random delay (collecting, packing, saving). At the end every row of the week
// reached the deduplicating ingress exactly once and no tarball was stored twice.
func TestCrashLoop(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	var ingressLog lockedBuffer
	ing, err := ingress.New(ingress.Config{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&ingressLog, nil))})
	require.NoError(t, err)

	// The gate kills the running child when the planned upload arrives (before the ingress sees
	// it) or once the ingress stored it (before the answer is written).
	var (
		mu      sync.Mutex
		child   *exec.Cmd
		arrived int
		killAt  = -1
		after   bool
		killed  atomic.Bool
	)
	kill := func() {
		if child != nil && killed.CompareAndSwap(false, true) {
			_ = child.Process.Signal(syscall.SIGKILL)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := arrived
		arrived++
		hit := n == killAt
		if hit && !after {
			kill()
			mu.Unlock()
			return
		}
		mu.Unlock()
		if !hit {
			ing.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		ing.ServeHTTP(rec, r)
		mu.Lock()
		kill()
		mu.Unlock()
	}))
	t.Cleanup(func() { ing.Close(); srv.Close() })

	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	reg := weekRegistry(t, srv.URL+ingress.DefaultPath, filepath.Join(dir, "out"), stateDir)
	args := []string{"gather", "--manual", "-c", reg, "--until", weekEnd, "--log-level", "error"}
	run := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "E2E_CHILD="+strings.Join(args, "\x1f"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd, &out
	}

	kills, runs := 0, 0
	for kills < 20 && runs < 60 {
		runs++
		cmd, out := run()
		mu.Lock()
		child, arrived, killAt, after = cmd, 0, -1, false
		killed.Store(false)
		mode := rng.IntN(3)
		if runs == 1 {
			mode = 1 // at least once: killed after the ingress stored an upload, before its answer
		}
		switch mode {
		case 0, 1: // at the ingress: the first upload of this run, before or after it is stored
			killAt, after = 0, mode == 1
		}
		require.NoError(t, cmd.Start())
		mu.Unlock()
		var timer *time.Timer
		if mode == 2 {
			timer = time.AfterFunc(time.Duration(rng.IntN(150))*time.Millisecond, func() {
				mu.Lock()
				defer mu.Unlock()
				kill()
			})
		}
		err := cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if killed.Load() {
			kills++
			continue
		}
		require.NoError(t, err, "an unkilled gather succeeds: %s", out)
	}
	require.Equal(t, 20, kills, "20 gathers killed in %d runs", runs)

	cmd, out := run()
	mu.Lock()
	child, killAt = cmd, -1
	mu.Unlock()
	require.NoError(t, cmd.Run(), "the last rerun completes: %s", out)
	requireDeliveredOnce(t, ing, stateDir)
	dups := strings.Count(ingressLog.String(), "duplicate of an upload already stored")
	assert.Positive(t, dups, "a tarball stored before its answer was lost is re-sent and deduplicated")
	t.Logf("%d runs, %d killed, %d uploads stored, %d re-sends deduplicated", runs+1, kills, len(ing.Uploads()), dups)
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lostAnswers serves ing, but after every nth upload the ingress stored it drops the
// connection instead of answering, like a proxy losing the 202.
func lostAnswers(ing *ingress.Server, every int) (http.Handler, *atomic.Int64) {
	var n, lost atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ingress.DefaultPath || n.Add(1)%int64(every) != 0 {
			ing.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		ing.ServeHTTP(rec, r)
		if rec.Code != http.StatusAccepted {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		lost.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}), &lost
}

// TestLostAnswer: a proxy drops the ingress's answer to every 5th upload after the upload was
// stored. Against the deduplicating ingress every row arrives exactly once; with deduplication
// off the repeats are the same bytes under the same name, so a receiver can still drop them.
func TestLostAnswer(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep_duplicates=%v", keep), func(t *testing.T) {
			ing, err := ingress.New(ingress.Config{Dir: t.TempDir(), Logger: quiet, KeepDuplicates: keep})
			require.NoError(t, err)
			h, lost := lostAnswers(ing, 5)
			srv := httptest.NewServer(h)
			t.Cleanup(func() { ing.Close(); srv.Close() })
			dir := t.TempDir()
			stateDir := filepath.Join(dir, "state")
			reg := weekRegistry(t, srv.URL+ingress.DefaultPath, filepath.Join(dir, "out"), stateDir)

			var stdout, stderr bytes.Buffer
			code := cli.Main([]string{"gather", "--manual", "-c", reg, "--until", weekEnd, "--log-level", "error"}, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			require.Positive(t, lost.Load())
			t.Logf("%d answers lost, %d uploads stored", lost.Load(), len(ing.Uploads()))

			s := storedAt(t, ing)
			if !keep {
				requireDeliveredOnce(t, ing, stateDir)
				return
			}
			assert.Len(t, ing.Uploads(), len(s.sums)+int(lost.Load()), "one repeat per lost answer")
			repeats := 0
			for name, sums := range s.byName {
				for _, sum := range sums[1:] {
					assert.Equal(t, sums[0], sum, "every copy of %s is the same bytes", name)
					repeats++
				}
			}
			assert.Equal(t, int(lost.Load()), repeats, "each lost answer caused one repeat, under the same name")
			unique := map[string]bool{}
			rows := map[string]int{}
			for _, u := range ing.Uploads() {
				b, err := os.ReadFile(u.Path)
				require.NoError(t, err)
				sum := sha256.Sum256(b)
				if unique[string(sum[:])] {
					continue
				}
				unique[string(sum[:])] = true
				for id, n := range tarballRows(t, u.Path) {
					rows[id] += n
				}
			}
			assert.Len(t, rows, weekMinutes)
			for id, n := range rows {
				if n != 1 {
					assert.Equal(t, 1, n, "row %s in %d distinct tarballs", id, n)
				}
			}
		})
	}
}

// readOnlyDir returns a directory and a switch that makes it read-only and back: a tmpfs
// remounted read-only when the test runs as root and may mount (the "read-only file system" of
// a real failure), else chmod, which stops a user who is not root.
func readOnlyDir(t *testing.T) (string, func(ro bool)) {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		return dir, func(ro bool) {
			mode := os.FileMode(0o700)
			if ro {
				mode = 0o500
			}
			require.NoError(t, os.Chmod(dir, mode))
		}
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("running as root and cannot mount a tmpfs to make read-only: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir, func(ro bool) {
		opt := "remount,rw"
		if ro {
			opt = "remount,ro"
		}
		out, err := exec.Command("mount", "-o", opt, dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
}

// TestReadOnlyStateMidGather: the state directory becomes read-only while the third upload is
// on its way. The gather stops shipping at once, exits 3 and says why; every tarball the ingress
// has is recorded (shipped or pending); the next run, the directory writable again, completes
// and every row arrived exactly once.
func TestReadOnlyStateMidGather(t *testing.T) {
	stateDir, setReadOnly := readOnlyDir(t)
	ing, err := ingress.New(ingress.Config{Dir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	var n atomic.Int64
	var armed atomic.Bool
	armed.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 3 && armed.Load() {
			setReadOnly(true)
		}
		ing.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { ing.Close(); srv.Close() })
	dir := t.TempDir()
	reg := weekRegistry(t, srv.URL+ingress.DefaultPath, filepath.Join(dir, "out"), stateDir)
	args := []string{"gather", "--manual", "-c", reg, "--until", weekEnd, "--log-level", "error"}

	var stdout, stderr bytes.Buffer
	code := cli.Main(args, &stdout, &stderr)
	armed.Store(false)
	assert.Equal(t, 3, code, stderr.String())
	assert.Contains(t, stderr.String(), "the bookkeeping could not be saved, so shipping stopped")
	assert.Len(t, ing.Uploads(), 3, "nothing is shipped after the failed save")

	setReadOnly(false)
	st, err := state.NewFileStore(stateDir).Load(context.Background())
	require.NoError(t, err)
	recorded := map[string]bool{}
	for _, p := range st.Pending {
		recorded[p.SHA256] = true
	}
	for _, u := range ing.Uploads() {
		b, err := os.ReadFile(u.Path)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		absorbed := true
		for _, f := range readMembers(t, u.Path) {
			if f.Name == "./events.csv" {
				for id := range tarballRows(t, u.Path) {
					var minute int64
					fmt.Sscan(id, &minute)
					absorbed = absorbed && !time.Unix(minute*60, 0).After(st.Entries["events"])
				}
			}
		}
		assert.True(t, absorbed || recorded[hex.EncodeToString(sum[:])], "%s reached the ingress: it is recorded", u.Name)
	}

	stdout.Reset()
	stderr.Reset()
	code = cli.Main(args, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	requireDeliveredOnce(t, ing, stateDir)
}
