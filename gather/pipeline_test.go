package gather_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/state"
)

// recordingShipper keeps every tarball it is given, in order, byte for byte.
type recordingShipper struct {
	mu    sync.Mutex
	names []string
	data  [][]byte
}

func (s *recordingShipper) Configured() error { return nil }

func (s *recordingShipper) Ship(_ context.Context, t *packaging.Tarball) error {
	b, err := os.ReadFile(t.Path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, t.Name)
	s.data = append(s.data, b)
	return nil
}

// TestPipelineMatchesSequential: with worker processes running invocations ahead of the one
// being placed, a gather ships the same tarballs, byte for byte and in the same order, records the
// same results and saves the same bookkeeping as one invocation at a time, including a slice that
// fails midway (whose collector's later slices, already run ahead, are discarded).
func TestPipelineMatchesSequential(t *testing.T) {
	type outcome struct {
		ship  *recordingShipper
		res   *gather.Result
		state state.State
	}
	run := func(workers int) outcome {
		e := newEnv(t, `
[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
[collector.params]
fail_at = "2026-11-26T06:00:00Z"

[[collector]]
key = "job_events"
version = "1.0"
format = "csv"
slicing = "1h"
module = "job_events.wasm"
[collector.params]
events_per_hour = 50
`, "")
		r := *e.reg
		r.Runtime.Workers = workers
		x := executor.NewProcessExecutor(&r, quiet)
		defer x.Close()
		require.Equal(t, workers, x.Parallelism())
		ship := &recordingShipper{}
		res, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) {
			o.Executor = x
			o.Since = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		})
		require.NoError(t, err)
		st, err := e.store.Load(context.Background())
		require.NoError(t, err)
		if workers > 1 {
			assert.Greater(t, x.WorkerStats().Started, int64(1), "invocations ran side by side")
		}
		res.Elapsed, res.HostPeakRSS = 0, 0
		for _, c := range res.Collectors {
			c.Elapsed = 0
		}
		return outcome{ship, res, st}
	}
	seq, par := run(1), run(3)
	require.NotEmpty(t, seq.ship.names)
	assert.Equal(t, seq.ship.names, par.ship.names, "the same tarballs in the same order")
	for i := range seq.ship.data {
		assert.Equal(t, seq.ship.data[i], par.ship.data[i], "tarball %s byte for byte", seq.ship.names[i])
	}
	assert.Equal(t, seq.res, par.res)
	assert.Equal(t, seq.state, par.state)
	var events *gather.CollectorResult
	for _, c := range par.res.Collectors {
		if c.Key == "events" {
			events = c
		}
	}
	require.NotNil(t, events)
	assert.Equal(t, 1, events.FailedSlices)
	assert.Equal(t, 5, events.SkippedSlices, "the slices after the failure, run ahead or not, wait for the next run")
}
