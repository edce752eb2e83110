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

// BenchmarkCSVRows measures rows per second through csv_rows from Go guests against the same rows
// written natively by the host with encoding/csv, in one run: "csvbench" emits fixed rows (the
// cost of the SDK, the host function and the host's encoder), "job_events" is the example, which
// also generates its rows. Compare the rows/s metrics; make bench runs it.
func BenchmarkCSVRows(b *testing.B) {
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	b.Run("csvbench", func(b *testing.B) {
		benchCSV(b, "internal/testguests/csvbench", "rows", hostfuncs.Request{
			Params: map[string]any{"rows": int64(200_000)},
		})
	})
	b.Run("job_events", func(b *testing.B) {
		benchCSV(b, "examples/job_events", "job_events", hostfuncs.Request{
			Since: since, Until: since.Add(time.Hour), Params: map[string]any{"events_per_hour": int64(200_000)},
		})
	})
}

func benchCSV(b *testing.B, pkg, fn string, req hostfuncs.Request) {
	ctx := context.Background()
	eng, err := runtime.New(ctx, runtime.NewConfig().WithCacheDir(testguests.CacheDir(b)+"/wazero").WithLogger(quiet))
	require.NoError(b, err)
	defer eng.Close(ctx)
	mod, err := eng.Load(ctx, runtime.ModuleSpec{Path: testguests.Go(b, pkg), Functions: []string{fn}})
	require.NoError(b, err)
	req.Key, req.Format, req.Logger = fn, hostfuncs.FormatCSV, quiet
	invoke := func(w io.Writer) *runtime.Result {
		r := req
		r.Output = w
		res, err := mod.Invoke(ctx, runtime.Call{Function: fn, Invocation: hostfuncs.NewInvocation(r)})
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
