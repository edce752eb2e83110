package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/state"
)

// BenchmarkIsolation compares the two executors on the same collector, job_events in Go, C and
// Rust (byte-identical outputs), in one run:
//
//   - rows/LANG/ISOLATION: a one-hour slice of a million events into part files, as a gather
//     writes them; native/encoding-csv writes the same rows (captured from the Go guest) with
//     encoding/csv, the floor of the host's work (it does not generate them);
//   - startup/LANG/ISOLATION: one invocation over an empty slice (instance, initialisation, call);
//   - worker_start: a worker process started and stopped;
//   - gather168/GUEST/ISOLATION: a dry-run gather of a week sliced hourly (168 invocations of the
//     Go guest, or of a WAT one, a few rows each), per slice, on an executor already warm.
func BenchmarkIsolation(b *testing.B) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mods := map[string]string{
		"go.wasm":   testguests.Go(b, "examples/job_events"),
		"c.wasm":    testguests.C(b, "examples/job_events_c/job_events.c"),
		"rust.wasm": testguests.Rust(b, "examples/job_events_rust", "job_events_rust"),
		"good.wasm": testguests.WAT(b, "pointers"),
	}
	toml := "[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\nmodule = \"good.wasm\"\nfunction = \"ok\"\n\n"
	for _, lang := range []string{"go", "c", "rust"} {
		toml += fmt.Sprintf("[[collector]]\nkey = %q\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\nmodule = \"%s.wasm\"\nfunction = \"job_events\"\n[collector.params]\nevents_per_hour = 1000000\n\n", lang, lang)
	}
	toml += "[[collector]]\nkey = \"week\"\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\nmodule = \"go.wasm\"\nfunction = \"job_events\"\n[collector.params]\nevents_per_hour = 2\n\n"
	toml += "[[collector]]\nkey = \"week_wat\"\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\nmodule = \"good.wasm\"\nfunction = \"ok_csv\"\n"
	path := testguests.Registry(b, mods, toml, `workers = 1`)
	if w := os.Getenv("BENCH_WORKERS"); w != "" {
		path = testguests.Registry(b, mods, toml, "workers = "+w)
	}
	reg, err := registry.Load(path)
	require.NoError(b, err)

	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	dir := b.TempDir()
	invoke := func(b *testing.B, x gather.Executor, key string, until time.Time) gather.Outcome {
		c := reg.Collector(key)[0]
		split := packaging.NewSplitter(dir, key, 0)
		out, err := x.Run(ctx, c, hostfuncs.Request{Key: key, Format: hostfuncs.FormatCSV, Since: since, Until: until,
			Params: c.Params, Limits: gather.Limits(c), Output: split, Logger: quiet})
		require.NoError(b, err)
		parts, err := split.Close()
		require.NoError(b, err)
		for _, p := range parts {
			os.Remove(p.Path)
		}
		return out
	}

	executors := map[string]gather.Executor{}
	for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
		r := *reg
		r.Runtime.Isolation = isolation
		x, closeX, err := executor.New(ctx, &r, quiet)
		require.NoError(b, err)
		defer closeX()
		executors[isolation] = x
		for _, lang := range []string{"go", "c", "rust"} {
			invoke(b, x, lang, since.Add(time.Second)) // compiled and cached before timing
		}
	}
	for _, lang := range []string{"go", "c", "rust"} {
		for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
			x := executors[isolation]
			b.Run("rows/"+lang+"/"+isolation, func(b *testing.B) {
				var out gather.Outcome
				for b.Loop() {
					out = invoke(b, x, lang, since.Add(time.Hour))
				}
				b.SetBytes(out.Report.Bytes)
				b.ReportMetric(float64(out.Report.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
			b.Run("startup/"+lang+"/"+isolation, func(b *testing.B) {
				for b.Loop() {
					invoke(b, x, lang, since.Add(time.Second))
				}
			})
		}
	}

	// The native floor: the Go guest's rows, parsed once, written again with encoding/csv.
	var captured bytes.Buffer
	c := reg.Collector("go")[0]
	_, err = executors[registry.IsolationProcess].Run(ctx, c, hostfuncs.Request{Key: "go", Format: hostfuncs.FormatCSV, Since: since,
		Until: since.Add(time.Hour), Params: c.Params, Limits: gather.Limits(c), Output: &captured, Logger: quiet})
	require.NoError(b, err)
	rows, err := csv.NewReader(&captured).ReadAll()
	require.NoError(b, err)
	b.Run("native/encoding-csv", func(b *testing.B) {
		var n int64
		for b.Loop() {
			f, err := os.Create(filepath.Join(dir, "native.csv"))
			require.NoError(b, err)
			cw := &countingWriter{w: f}
			bw := bufio.NewWriterSize(cw, 64<<10)
			w := csv.NewWriter(bw)
			require.NoError(b, w.WriteAll(rows))
			require.NoError(b, bw.Flush())
			require.NoError(b, f.Close())
			n = cw.n
		}
		b.SetBytes(n)
		b.ReportMetric(float64(len(rows)-1)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})

	b.Run("worker_start", func(b *testing.B) {
		for b.Loop() {
			x := executor.NewProcessExecutor(reg, quiet)
			require.NoError(b, x.Prestart(1))
			require.NoError(b, x.Close())
		}
	})

	for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
		for _, key := range []string{"week", "week_wat"} {
			guest := map[string]string{"week": "go", "week_wat": "wat"}[key]
			b.Run("gather168/"+guest+"/"+isolation, func(b *testing.B) {
				r := *reg
				r.Runtime.Isolation = isolation
				// The executor outlives the gathers, as in `gather --interval` or a product embedding
				// the host: what is measured is the cost per slice, not the workers' start and the
				// module's first load (worker_start measures those).
				x, closeX, err := executor.New(ctx, &r, quiet)
				require.NoError(b, err)
				defer closeX()
				gather168 := func() {
					res, err := gather.Gather(ctx, gather.Options{Registry: &r, Executor: x, OutDir: b.TempDir(),
						Store: state.NewFileStore(b.TempDir()), Subset: []string{key},
						Since: since, Until: since.Add(7 * 24 * time.Hour), Logger: quiet})
					require.NoError(b, err)
					require.False(b, res.Failed())
				}
				gather168()
				for b.Loop() {
					gather168()
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/168, "ms/slice")
			})
		}
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkBothCores gathers about BENCH_GATHER_MIB (default 1024) MiB of job_events, dry-run:
// sliced hourly with worker processes one at a time and two at a time (the gather runs the next
// slice while it packs the last), and as one invocation (its parts, 200 MiB each, are compressed
// in the worker while the collector writes the next).
func BenchmarkBothCores(b *testing.B) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mib := 1024
	if s := os.Getenv("BENCH_GATHER_MIB"); s != "" {
		fmt.Sscan(s, &mib)
	}
	// About 300 bytes a row: 1 GiB is 3.6M rows, over 24 hourly slices.
	perHour := int64(mib) << 20 / 300 / 24
	toml := "[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\nmodule = \"good.wasm\"\nfunction = \"ok\"\n\n" +
		fmt.Sprintf("[[collector]]\nkey = \"events\"\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\nmodule = \"go.wasm\"\nfunction = \"job_events\"\n[collector.params]\nevents_per_hour = %d\n\n", perHour) +
		fmt.Sprintf("[[collector]]\nkey = \"whole\"\nversion = \"1\"\nformat = \"csv\"\nmodule = \"go.wasm\"\nfunction = \"job_events\"\n[collector.params]\nevents_per_hour = %d\n", perHour)
	path := testguests.Registry(b, map[string]string{"go.wasm": testguests.Go(b, "examples/job_events"), "good.wasm": testguests.WAT(b, "pointers")}, toml)
	reg, err := registry.Load(path)
	require.NoError(b, err)
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, run := range []struct {
		key     string
		workers int
	}{{"events", 1}, {"events", 2}, {"whole", 1}} {
		key, workers := run.key, run.workers
		name := fmt.Sprintf("hourly/workers=%d", workers)
		if key == "whole" {
			name = "one-invocation/workers=1"
		}
		b.Run(name, func(b *testing.B) {
			r := *reg
			r.Runtime.Workers = workers
			var data int64
			for b.Loop() {
				x := executor.NewProcessExecutor(&r, quiet)
				out := b.TempDir()
				res, err := gather.Gather(ctx, gather.Options{Registry: &r, Executor: x, OutDir: out, Subset: []string{key},
					Store: state.NewFileStore(b.TempDir()), Since: since, Until: since.Add(24 * time.Hour), Logger: quiet})
				require.NoError(b, err)
				require.False(b, res.Failed())
				require.NoError(b, x.Close())
				data = 0
				for _, t := range res.Tarballs {
					data += t.DataSize
				}
				os.RemoveAll(out)
			}
			b.SetBytes(data)
		})
	}
}
