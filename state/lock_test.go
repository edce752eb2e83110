package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLockHammer releases goroutines together, each with its own FileStore on one directory,
// each looping over TryLock, Load, Save, unlock. At most one may hold the lock at any time, and
// the state file stays valid throughout.
func TestLockHammer(t *testing.T) {
	const (
		workers    = 16
		iterations = 200
	)
	ctx := context.Background()
	dir := t.TempDir()
	var (
		holders  atomic.Int32 // goroutines inside the lock right now
		acquired atomic.Int64 // successful TryLocks
		wg       sync.WaitGroup
		start    = make(chan struct{})
		errs     = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs := NewFileStore(dir)
			key := fmt.Sprintf("worker_%d", w)
			<-start
			for i := range iterations {
				unlock, err := fs.TryLock(ctx)
				if errors.Is(err, ErrLocked) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				acquired.Add(1)
				if n := holders.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders of the lock at once", n)
				}
				err = func() error {
					st, err := fs.Load(ctx)
					if err != nil {
						return err
					}
					st.LastGather = time.Date(2026, 1, 1, 0, 0, 0, i, time.UTC)
					st.Entries[key] = st.LastGather
					return fs.Save(ctx, st)
				}()
				holders.Add(-1)
				if uerr := unlock(); err == nil {
					err = uerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, acquired.Load())

	st, err := NewFileStore(dir).Load(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, st.Entries)
	requireOnly(t, dir, "state.json", "gather.lock")
}

// helperEnv, when set, turns the test binary into the lock holder of TestLockAcrossProcesses; its
// value is the state directory.
const helperEnv = "WASMCOLLECTOR_STATE_TEST_HOLD_LOCK"

// TestHelperProcess is not a test: run by TestLockAcrossProcesses in a child process, it takes the
// lock, prints "locked" and holds the lock until its stdin closes or it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestLockAcrossProcesses")
	}
	unlock, err := NewFileStore(dir).TryLock(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = unlock()
	os.Exit(0)
}

// TestLockAcrossProcesses: a lock held by another process refuses us, naming its pid; once that
// process is killed (SIGKILL: it cannot clean up), the kernel has released the lock.
func TestLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close() // ends the child should the test fail before killing it
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	fs := NewFileStore(dir)
	_, err = fs.TryLock(ctx)
	require.ErrorIs(t, err, ErrLocked)
	require.EqualError(t, err, "state: another gather holds the lock: "+filepath.Join(dir, "gather.lock")+" (pid "+strconv.Itoa(cmd.Process.Pid)+")")

	require.NoError(t, cmd.Process.Kill())
	require.Error(t, cmd.Wait(), "killed")

	unlock, err := fs.TryLock(ctx)
	require.NoError(t, err, "the kernel released the dead holder's lock")
	data, err := os.ReadFile(filepath.Join(dir, "gather.lock"))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(data), "the stale pid is replaced")
	require.NoError(t, unlock())
}
