package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/replay"
)

// bigRows is the rows of the large record: about 20 MiB of CSV output, and 40 MiB of record
// uncompressed.
const bigRows = 150_000

// bigRecord records a slice of a collector that copies rows rows (about 140 bytes each) of a
// SQLite table to its CSV output through the row cursor, output bytes included, and removes the
// database: the record is all a replay has.
func bigRecord(tb testing.TB, rows int) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "big.db")
	db, err := sql.Open("sqlite", file)
	require.NoError(tb, err)
	for _, s := range []string{
		"CREATE TABLE big (id integer PRIMARY KEY, i integer, f real, t text, b boolean, ts timestamp)",
		fmt.Sprintf(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
			INSERT INTO big SELECT x, x*7, x/3.0, printf('%%0100d', x) || 'é', x%%2, '2026-11-25T00:00:06.123456Z' FROM c`, rows),
	} {
		_, err := db.Exec(s)
		require.NoError(tb, err, s)
	}
	require.NoError(tb, db.Close())
	h := dbprobeHost(tb, filepath.Join(tb.TempDir(), "out"), file, `
[[collector]]
key = "big"
version = "1"
format = "csv"
module = "dbprobe.wasm"
function = "rows"
[collector.params]
source = "db"
sql = "SELECT id, i, f, t, b, ts FROM big ORDER BY id"
`, `timeout = "10m"`)
	rec := filepath.Join(tb.TempDir(), "big.jsonl.gz")
	r, err := replay.NewFileRecorder(rec, replay.Options{Output: true})
	require.NoError(tb, err)
	var out countWriter
	_, err = h.Run(context.Background(), wasmcollector.RunOptions{Key: "big", Output: &out, Record: r,
		Since: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)})
	require.NoError(tb, err)
	require.Empty(tb, r.Summary().Errors)
	require.Greater(tb, out.n, int64(rows*100), "the output is as large as meant")
	require.NoError(tb, os.Remove(file))
	return rec
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// peakHeap runs f and returns how far the live heap grew above where it was before, sampled
// every millisecond (the heap only shrinks at a collection, so a sample misses little).
func peakHeap(f func()) uint64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var m goruntime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				goruntime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	f()
	close(stop)
	<-done
	goruntime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	return peak - base
}

// replayPeaks replays the record at file (once before measuring, so that the module is loaded
// and compiled) and returns the heap the replay grew by, and what reading the whole record into
// memory (ReadFile, which replay did before it read records lazily) grows it by.
func replayPeaks(tb testing.TB, file string) (replayed, whole uint64) {
	tb.Helper()
	r, err := replay.NewReplayer(context.Background(), replayOpts(tb))
	require.NoError(tb, err)
	defer r.Close()
	out, err := r.Replay(context.Background(), file)
	require.NoError(tb, err)
	require.True(tb, out.Identical, "%+v", out)
	replayed = peakHeap(func() {
		out, err = r.Replay(context.Background(), file)
	})
	require.NoError(tb, err)
	require.True(tb, out.Identical, "%+v", out)
	whole = peakHeap(func() {
		rec, err := replay.ReadFile(file)
		require.NoError(tb, err)
		goruntime.KeepAlive(rec)
	})
	return replayed, whole
}

// TestReplayLargeRecordBoundedMemory: replaying a record of tens of MiB of rows grows the heap by
// far less than the record holds; reading the record whole, as replay did, grows it by more.
func TestReplayLargeRecordBoundedMemory(t *testing.T) {
	file := bigRecord(t, bigRows)
	replayed, whole := replayPeaks(t, file)
	t.Logf("%d rows: replay peak heap %.1f MiB, whole record in memory %.1f MiB (ratio %.3f)",
		bigRows, float64(replayed)/(1<<20), float64(whole)/(1<<20), float64(replayed)/float64(whole))
	require.Greater(t, whole, uint64(40<<20), "the record is large in memory")
	require.Less(t, replayed, whole/4, "replay does not hold the record")
}

// BenchmarkReplayLargeRecord replays a record of tens of MiB of rows, reporting the heap a replay
// grows by (peak-heap-MiB), and, from the same run, what reading the record whole grows it by
// (whole-record-MiB) and their ratio.
func BenchmarkReplayLargeRecord(b *testing.B) {
	file := bigRecord(b, bigRows)
	var replayed, whole uint64
	for b.Loop() {
		replayed, whole = replayPeaks(b, file)
	}
	b.ReportMetric(float64(replayed)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(whole)/(1<<20), "whole-record-MiB")
	b.ReportMetric(float64(replayed)/float64(whole), "ratio")
}

// TestReplayDiffStreamed: an output over the in-memory bound is diffed by streaming both outputs
// from the spill, and the change is found as the in-memory diff finds it.
func TestReplayDiffStreamed(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "rows", replay.Options{Output: true}, nil)
	edited := rewrite(t, file, func(lines []string) []string {
		for i, l := range lines {
			if strings.HasPrefix(l, `{"k":"row"`) && strings.Contains(l, `"plain"`) {
				lines[i] = strings.Replace(l, `"plain"`, `"plainer"`, 1)
				return lines
			}
		}
		t.Fatal("no row to edit")
		return nil
	})
	want := replay.Change{Kind: "changed", Key: "4", Columns: []string{"t"},
		Before: "4,-9223372036854775808,5e-324,plain,true,2099-01-01T00:00:00Z",
		After:  "4,-9223372036854775808,5e-324,plainer,true,2099-01-01T00:00:00Z"}
	for name, bound := range map[string]int64{"in memory": 16 << 20, "streamed": 0} {
		t.Run(name, func(t *testing.T) {
			defer replay.SetDiffInMemory(bound)()
			opts := replayOpts(t)
			opts.SpillDir = t.TempDir()
			out, err := replay.Replay(context.Background(), edited, opts)
			require.NoError(t, err)
			left, err := os.ReadDir(opts.SpillDir)
			require.NoError(t, err)
			require.Empty(t, left, "the spill is gone")
			require.False(t, out.Identical)
			require.Empty(t, out.NotRecorded)
			require.NotNil(t, out.Diff)
			require.Equal(t, []replay.Change{want}, out.Diff.Changes, "%+v", out.Diff)
			if bound == 0 {
				require.Equal(t, "row position", out.Diff.MatchedBy)
			} else {
				require.Equal(t, "column id", out.Diff.MatchedBy)
			}
		})
	}
}

// TestReplaySpillDirMissing: a spill directory that does not exist is an error naming the record
// and the directory, not a panic.
func TestReplaySpillDirMissing(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "rows", replay.Options{}, nil)
	opts := replayOpts(t)
	opts.SpillDir = filepath.Join(t.TempDir(), "absent")
	_, err := replay.Replay(context.Background(), file, opts)
	require.ErrorContains(t, err, "record "+file+": replay spill: open "+opts.SpillDir)
}
