package gather_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

const benchRowWidth = 1000 // bytes per CSV row, newline included

// BenchmarkGather gathers a Go guest's CSV output (256 MiB and 1 GiB, rows of 1000 bytes) into
// tarballs, against the same rows generated and packed natively (the same splitter, packer and
// gzip) in the same run. Each run is a child process, so its peak RSS (max_rss_MB) is its own:
// it must not grow with the data size. Run it with -benchtime 1x (make bench does).
func BenchmarkGather(b *testing.B) {
	dir := b.TempDir()
	module := testguests.Go(b, "internal/testguests/flaky")
	for _, size := range []int64{256 << 20, 1 << 30} {
		rows := size / benchRowWidth
		for _, mode := range []string{"guest", "native"} {
			b.Run(fmt.Sprintf("%dMiB/%s", size>>20, mode), func(b *testing.B) {
				b.SetBytes(rows * benchRowWidth)
				var maxRSS int64
				for b.Loop() {
					out := filepath.Join(dir, "out")
					require.NoError(b, os.RemoveAll(out))
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), "WASMCOLLECTOR_BENCH_CHILD="+mode, "BENCH_ROWS="+strconv.FormatInt(rows, 10),
						"BENCH_DIR="+dir, "BENCH_OUT="+out, "BENCH_MODULE="+module, "BENCH_CACHE="+testguests.CacheDir(b))
					msg, err := cmd.CombinedOutput()
					require.NoError(b, err, "%s", msg)
					maxRSS = max(maxRSS, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
				}
				b.ReportMetric(float64(maxRSS)/1024, "max_rss_MB")
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// benchChild runs one side of BenchmarkGather in a child process.
func benchChild(mode string) int {
	rows, _ := strconv.ParseInt(os.Getenv("BENCH_ROWS"), 10, 64)
	out := os.Getenv("BENCH_OUT")
	var err error
	if mode == "guest" {
		err = benchGuest(rows, out)
	} else {
		err = benchNative(rows, out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func benchGuest(rows int64, out string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp(os.Getenv("BENCH_DIR"), "reg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mods := filepath.Join(dir, "modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		return err
	}
	wasm, err := os.ReadFile(os.Getenv("BENCH_MODULE"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mods, "flaky.wasm"), wasm, 0o644); err != nil {
		return err
	}
	toml := fmt.Sprintf(`[runtime]
modules_dir = "modules"
cache_dir = %q
timeout = "1h"
[limits]
max_output_bytes = "4GiB"
[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"
[[collector]]
key = "big"
version = "1.0"
format = "csv"
module = "flaky.wasm"
function = "big"
[collector.params]
rows = %d
width = %d
`, filepath.Join(os.Getenv("BENCH_CACHE"), "wazero"), rows, benchRowWidth)
	path := filepath.Join(dir, "collectors.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return err
	}
	reg, err := registry.Load(path)
	if err != nil {
		return err
	}
	eng, err := executor.NewEngine(ctx, reg, quiet)
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	res, err := gather.Gather(ctx, gather.Options{
		Registry: reg, Executor: executor.NewEngineExecutor(eng, reg), Type: hostfuncs.DryRun,
		OutDir: out, Store: state.NewFileStore(filepath.Join(dir, "state")), Logger: quiet,
	})
	if err != nil {
		return err
	}
	if res.Failed() || res.Collectors[1].Rows != rows {
		return fmt.Errorf("gather failed: %+v", res.Collectors[1])
	}
	return nil
}

// benchNative writes the rows the guest writes (the same bytes) through the same splitter and
// packer.
func benchNative(rows int64, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(out, ".staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	split := packaging.NewSplitter(stage, "big.csv", packaging.DefaultMaxDataSize)
	if _, err := split.Write([]byte("n,pad\n")); err != nil {
		return err
	}
	pad := strings.Repeat("x", benchRowWidth-12)
	row := make([]byte, 0, benchRowWidth)
	for i := range rows {
		row = strconv.AppendInt(row[:0], 1_000_000_000+i, 10)
		row = append(row, ',')
		row = append(row, pad...)
		row = append(row, '\n')
		if _, err := split.Write(row); err != nil {
			return err
		}
	}
	parts, err := split.Close()
	if err != nil {
		return err
	}
	p := packaging.NewPacker(packaging.Options{Dir: out, Until: time.Now()})
	for _, part := range parts {
		if _, err := p.Add(packaging.Collection{Key: "big", Version: "1.0", Format: "csv", Path: part.Path, Size: part.Size}); err != nil {
			return err
		}
	}
	_, err = p.Finish()
	return err
}
