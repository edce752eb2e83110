package packaging

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
)

// benchBytes is how much CSV BenchmarkPack packs per operation.
const benchBytes = 256 << 20

// writeBenchCSV streams about total bytes of job-event-like CSV through a Splitter into dir
// (parts of partBytes) and returns the parts. The rows mix repetitive text (event names, hosts,
// tasks, JSON-ish payloads) with random ids, so they compress about as well as real tables.
func writeBenchCSV(b *testing.B, dir string, total, partBytes int64) []Part {
	b.Helper()
	s := NewSplitter(dir, "job_events", partBytes)
	_, err := s.Write([]byte("id,created,uuid,event,host_name,task,changed,failed,duration,event_data\n"))
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(1, 2))
	events := []string{"runner_on_ok", "runner_on_failed", "runner_on_skipped", "playbook_on_task_start", "runner_on_unreachable"}
	tasks := []string{"Gathering Facts", "Install packages", "Template config", "Restart service", "Wait for port", "Debug output"}
	created := time.Date(2024, 6, 29, 0, 0, 0, 0, time.UTC)
	row := make([]byte, 0, 512)
	var written int64
	for id := 1; written < total; id++ {
		created = created.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		row = row[:0]
		row = strconv.AppendInt(row, int64(id), 10)
		row = append(row, ',')
		row = created.AppendFormat(row, "2006-01-02 15:04:05.000000-07")
		row = append(row, ',')
		row = fmt.Appendf(row, "%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
		row = append(row, ',')
		row = append(row, events[rng.IntN(len(events))]...)
		row = fmt.Appendf(row, ",host-%03d.example.com,%s,", rng.IntN(200), tasks[rng.IntN(len(tasks))])
		row = strconv.AppendBool(row, rng.IntN(4) == 0)
		row = append(row, ',')
		row = strconv.AppendBool(row, rng.IntN(50) == 0)
		row = append(row, ',')
		row = strconv.AppendFloat(row, rng.Float64()*30, 'f', 6, 64)
		row = fmt.Appendf(row, ",\"{\"\"changed\"\": false, \"\"rc\"\": %d, \"\"stdout\"\": \"\"ok: [host-%03d]\"\", \"\"item\"\": %d}\"\n",
			rng.IntN(3), rng.IntN(200), rng.IntN(1000))
		_, err := s.Write(row)
		require.NoError(b, err)
		written += int64(len(row))
	}
	parts, err := s.Close()
	require.NoError(b, err)
	return parts
}

// BenchmarkPack packs ~256 MiB of staged CSV (4 parts of 64 MiB, one key, so 4 tarballs) and
// compares it with the floor: the same bytes read from disk and gzipped by klauspost at the same
// level into io.Discard ("gzip-copy"). "pack" reports vs-gzip-copy, its time over that floor's
// time in this run, and ratio, compressed over uncompressed size. Level 9 is measured to justify
// the default of 6 (see Options.Level). Run with:
//
//	go test ./packaging/ -run '^$' -bench Pack -benchtime 3x
func BenchmarkPack(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 256 MiB of CSV")
	}
	master := b.TempDir()
	parts := writeBenchCSV(b, master, benchBytes, 64<<20)
	var total int64
	for _, p := range parts {
		total += p.Size
	}
	b.Logf("%d bytes of CSV in %d parts", total, len(parts))

	for _, level := range []int{6, 9} {
		var floor time.Duration // ns per op of gzip-copy at this level
		b.Run(fmt.Sprintf("gzip-copy/level=%d", level), func(b *testing.B) {
			b.SetBytes(total)
			zw, err := gzip.NewWriterLevel(io.Discard, level)
			require.NoError(b, err)
			buf := make([]byte, copyBufSize)
			for b.Loop() {
				for _, p := range parts {
					f, err := os.Open(p.Path)
					require.NoError(b, err)
					zw.Reset(io.Discard)
					_, err = io.CopyBuffer(zw, f, buf)
					require.NoError(b, err)
					require.NoError(b, zw.Close())
					require.NoError(b, f.Close())
				}
			}
			floor = b.Elapsed() / time.Duration(b.N)
		})
		b.Run(fmt.Sprintf("pack/level=%d", level), func(b *testing.B) {
			b.SetBytes(total)
			stage, out := b.TempDir(), b.TempDir()
			var compressed int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				// The Packer deletes what it packs: stage hard links to the master parts.
				var staged []string
				for j, p := range parts {
					path := filepath.Join(stage, fmt.Sprintf("op%d_part%d", i, j))
					require.NoError(b, os.Link(p.Path, path))
					staged = append(staged, path)
				}
				b.StartTimer()

				pk := NewPacker(Options{Dir: out, Until: fixtureUntil, Level: level})
				for j, path := range staged {
					_, err := pk.Add(Collection{Key: "job_events", Version: "1.0", Format: FormatCSV, Path: path, Size: parts[j].Size})
					require.NoError(b, err)
				}
				tbs, err := pk.Finish()
				require.NoError(b, err)

				b.StopTimer()
				require.Len(b, tbs, len(parts))
				compressed = 0
				for _, tb := range tbs {
					compressed += tb.Size
					require.NoError(b, os.Remove(tb.Path))
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(compressed)/float64(total), "ratio")
			if floor > 0 {
				b.ReportMetric(float64(b.Elapsed()/time.Duration(b.N))/float64(floor), "vs-gzip-copy")
			}
		})
	}
}

// BenchmarkSplitter measures the splitter alone: 64 MiB of 100-byte rows into 16 MiB parts.
func BenchmarkSplitter(b *testing.B) {
	row := append(bytes.Repeat([]byte("x"), 99), '\n')
	const total = 64 << 20
	b.SetBytes(total)
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		s := NewSplitter(dir, fmt.Sprintf("t%d", i), 16<<20)
		_, err := s.Write([]byte("c\n"))
		require.NoError(b, err)
		for n := 0; n < total; n += len(row) {
			if _, err := s.Write(row); err != nil {
				b.Fatal(err)
			}
		}
		parts, err := s.Close()
		require.NoError(b, err)
		b.StopTimer()
		for _, p := range parts {
			require.NoError(b, os.Remove(p.Path))
		}
		b.StartTimer()
	}
}
