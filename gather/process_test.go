package gather_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/state"
)

// TestMain lets the test binary play a gather process for the crash test: with
// WASMCOLLECTOR_GATHER_CHILD set it runs one manual gather and exits.
func TestMain(m *testing.M) {
	if os.Getenv("WASMCOLLECTOR_GATHER_CHILD") != "" {
		os.Exit(childGather())
	}
	if mode := os.Getenv("WASMCOLLECTOR_BENCH_CHILD"); mode != "" {
		os.Exit(benchChild(mode))
	}
	os.Exit(m.Run())
}

func childGather() int {
	ctx := context.Background()
	reg, err := registry.Load(os.Getenv("CHILD_REGISTRY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	now, _ := time.Parse(time.RFC3339, os.Getenv("CHILD_NOW"))
	eng, err := executor.NewEngine(ctx, reg, quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	store := state.NewFileStore(os.Getenv("CHILD_STATE"))
	_, err = gather.Gather(ctx, gather.Options{
		Registry: reg, Executor: executor.NewEngineExecutor(eng, reg), Type: hostfuncs.Manual,
		OutDir: os.Getenv("CHILD_OUT"), Store: store, Locker: store, Shipper: &dirShipper{dir: os.Getenv("CHILD_SHIP")},
		Now: func() time.Time { return now }, Logger: loggerTo(os.Stderr),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrashMidGather kills a gather process (SIGKILL) while it hangs in its second slice. The
// state file stays valid, the slice shipped before the crash is recorded, and the next run
// collects the rest of the window again: across the runs each row is shipped once.
func TestCrashMidGather(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	ship := t.TempDir()

	// Run 1, in this process: 07:00 → 12:00, shipped.
	e := eventsRegistry(t, "")
	_, err := e.gather(hostfuncs.Manual, &dirShipper{dir: ship}, func(o *gather.Options) { o.Since = start })
	require.NoError(t, err)

	// Run 2, a child process at 15:00 that hangs in the slice starting 13:00.
	hang := eventsRegistry(t, `hang_at = "2026-11-26T13:00:00Z"`)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WASMCOLLECTOR_GATHER_CHILD=1",
		"CHILD_REGISTRY="+hang.reg.File, "CHILD_NOW=2026-11-26T15:00:00Z",
		"CHILD_STATE="+e.store.Dir, "CHILD_OUT="+e.out, "CHILD_SHIP="+ship)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stderr)
	hanging := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "hanging in the slice starting 2026-11-26T13:00:00Z") {
			hanging = true
			break
		}
	}
	require.True(t, hanging, "the child reached the hanging slice")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, cmd.Wait())

	st, err := e.store.Load(ctx)
	require.NoError(t, err, "the state file is valid after the crash")
	assert.Equal(t, time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC), st.Entries["events"],
		"the slice shipped before the crash is recorded; the hung one is not")

	// Run 3, in this process at 15:00: it takes the lock the dead child held and collects 13:00 → 15:00.
	e.now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	res, err := e.gather(hostfuncs.Manual, &dirShipper{dir: ship}, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	assert.Equal(t, time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC), res.Collectors[1].Since)

	rows := shippedRows(t, ship)
	assert.Len(t, rows, 8*60, "every minute from 07:00 to 15:00")
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

// TestLockedGather: while one gather runs, another in the same process gets state.ErrLocked.
func TestLockedGather(t *testing.T) {
	e := eventsRegistry(t, `hang_at = "2026-11-26T11:00:00Z"`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inside := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := gather.Gather(ctx, gather.Options{
			Registry: e.reg, Executor: e.exec, OutDir: e.out, Store: e.store, Locker: e.store,
			Since: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Now: func() time.Time { return e.now }, Logger: quiet,
			Progress: func(p gather.Progress) {
				if p.Collector == "events" && p.Since.Equal(time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)) {
					close(inside)
				}
			},
		})
		done <- err
	}()
	<-inside
	_, err := e.gather(hostfuncs.DryRun, nil, nil)
	require.ErrorIs(t, err, state.ErrLocked)
	cancel()
	require.Error(t, <-done)
}
