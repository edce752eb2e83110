package testguests

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// workerBinaryEnv is worker.BinaryEnv, spelled out: internal/worker's own tests use this package.
const workerBinaryEnv = "WASMCOLLECTOR_WORKER_BINARY"

var (
	workerOnce sync.Once
	workerErr  error
	workerOut  []byte
)

// UseWorkerBinary builds the wasmcollector command without the race detector (once per test
// binary) and names it in $WASMCOLLECTOR_WORKER_BINARY, so that the process executor's workers in
// tests are what operators run: a test binary re-executed as a worker would compile and run
// guests under the race detector, 5–10× slower. The worker side is race-tested by
// internal/worker's own tests, which serve jobs in-process. Every helper that builds a guest or a
// registry calls it.
func UseWorkerBinary(tb testing.TB) {
	tb.Helper()
	workerOnce.Do(func() {
		if os.Getenv(workerBinaryEnv) != "" {
			return // set by the caller
		}
		dir := filepath.Join(CacheDir(tb), "bin")
		if workerErr = os.MkdirAll(dir, 0o700); workerErr != nil {
			return
		}
		// Built under a name of its own, then renamed into place: the test packages of a run build
		// the same source, and a worker already running keeps the file it started from.
		// The cache is shared by every checkout on the machine: the name carries the checkout's
		// path, so a run in another worktree cannot swap in a worker built from other sources.
		root, _ := filepath.Abs(Root(tb))
		sum := sha256.Sum256([]byte(root))
		out := filepath.Join(dir, "wasmcollector-worker-"+hex.EncodeToString(sum[:6]))
		tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/wasmcollector")
		cmd.Dir = Root(tb)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if workerOut, workerErr = cmd.CombinedOutput(); workerErr != nil {
			return
		}
		if workerErr = os.Rename(tmp, out); workerErr != nil {
			return
		}
		workerErr = os.Setenv(workerBinaryEnv, out)
	})
	if workerErr != nil {
		tb.Fatalf("testguests: build the worker binary: %v\n%s", workerErr, workerOut)
	}
}
