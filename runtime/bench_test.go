package runtime_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// BenchmarkCSVRows measures rows per second through csv_rows from a Go guest (the job_events
// example, which also generates its rows) against the same rows written natively by the host with
// encoding/csv, in one run. Compare the rows/s metrics; make bench runs it.
func BenchmarkCSVRows(b *testing.B) {
	ctx := context.Background()
	eng, err := runtime.New(ctx, runtime.NewConfig().WithCacheDir(testguests.CacheDir(b)+"/wazero").WithLogger(quiet))
	require.NoError(b, err)
	defer eng.Close(ctx)
	mod, err := eng.Load(ctx, runtime.ModuleSpec{Path: testguests.Go(b, "examples/job_events"), Functions: []string{"job_events"}})
	require.NoError(b, err)

	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	req := hostfuncs.Request{
		Key: "job_events", Format: hostfuncs.FormatCSV, Since: since, Until: since.Add(time.Hour),
		Params: map[string]any{"events_per_hour": int64(200_000)}, Logger: quiet,
	}
	invoke := func(w io.Writer) *runtime.Result {
		r := req
		r.Output = w
		res, err := mod.Invoke(ctx, runtime.Call{Function: "job_events", Invocation: hostfuncs.NewInvocation(r)})
		require.NoError(b, err)
		return res
	}
	var sample bytes.Buffer
	first := invoke(&sample)
	rows := first.Output.Rows
	records, err := csv.NewReader(&sample).ReadAll()
	require.NoError(b, err)
	require.Len(b, records, int(rows)+1)

	b.Run("guest", func(b *testing.B) {
		b.SetBytes(first.Output.Bytes)
		for b.Loop() {
			invoke(io.Discard)
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("native", func(b *testing.B) {
		b.SetBytes(first.Output.Bytes)
		for b.Loop() {
			w := csv.NewWriter(io.Discard)
			require.NoError(b, w.WriteAll(records))
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
