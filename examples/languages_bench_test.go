package examples_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// BenchmarkLanguages runs the same events collector written in Go, C and Rust (their outputs are
// byte-identical; guest-sdk/c and guest-sdk/rust test that) in one run: start-up is one
// invocation over an empty slice (a fresh instance, initialised, called), rows/s is a one-hour
// slice of a million events written through csv_rows.
func BenchmarkLanguages(b *testing.B) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := runtime.New(ctx, runtime.NewConfig().WithCacheDir(filepath.Join(testguests.CacheDir(b), "wazero")).WithLogger(quiet))
	require.NoError(b, err)
	defer eng.Close(ctx)
	modules := []struct{ lang, path string }{
		{"go", testguests.Go(b, "examples/job_events")},
		{"c", testguests.C(b, "examples/job_events_c/job_events.c")},
		{"rust", testguests.Rust(b, "examples/job_events_rust", "job_events_rust")},
	}
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, m := range modules {
		mod, err := eng.Load(ctx, runtime.ModuleSpec{Path: m.path, Functions: []string{"job_events"}})
		require.NoError(b, err)
		invoke := func(until time.Time, perHour int64) *runtime.Result {
			inv := hostfuncs.NewInvocation(hostfuncs.Request{
				Key: "job_events", Format: hostfuncs.FormatCSV, Since: since, Until: until,
				Params: map[string]any{"events_per_hour": perHour}, Output: io.Discard, Logger: quiet,
			})
			res, err := mod.Invoke(ctx, runtime.Call{Function: "job_events", Invocation: inv})
			require.NoError(b, err)
			return res
		}
		b.Run("startup/"+m.lang, func(b *testing.B) {
			for b.Loop() {
				invoke(since.Add(time.Second), 1)
			}
		})
		b.Run("rows/"+m.lang, func(b *testing.B) {
			var rows, bytes int64
			for b.Loop() {
				res := invoke(since.Add(time.Hour), 1_000_000)
				rows, bytes = res.Output.Rows, res.Output.Bytes
			}
			b.SetBytes(bytes)
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
