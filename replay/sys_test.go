package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/replay"
)

// clockHost is a host with the clockprobe guest: collectors "clock" and "spin".
func clockHost(t testing.TB, runtime ...string) *wasmcollector.Host {
	t.Helper()
	reg := testguests.Registry(t, map[string]string{"clock.wasm": testguests.Go(t, "internal/testguests/clockprobe")},
		fmt.Sprintf(`[gather]
out_dir = %q
state_dir = %q

[[collector]]
key = "clock"
version = "1"
config = true
module = "clock.wasm"
function = "clock"

[[collector]]
key = "spin"
version = "1"
module = "clock.wasm"
function = "spin"

[[collector]]
key = "sleep"
version = "1"
module = "clock.wasm"
function = "sleep"
`, filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "state")),
		append([]string{`compile_timeout = "10m"`, `timeout = "10m"`}, runtime...)...)
	h, err := wasmcollector.Load(reg, &wasmcollector.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

func plainRun(t *testing.T, h *wasmcollector.Host, key string) []byte {
	t.Helper()
	var out bytes.Buffer
	_, err := h.Run(context.Background(), wasmcollector.RunOptions{Key: key, Output: &out})
	require.NoError(t, err)
	return out.Bytes()
}

// TestRecordReplayClockAndRandom: a guest that emits the wall clock, a monotonic duration, random
// bytes and a number from the random state its runtime seeded while it initialised replays
// byte-identical, with the worker processes and in-process, for an invocation that initialised
// its instance and for one restored from the module's snapshot. Two plain runs differ: the
// comparison can fail.
func TestRecordReplayClockAndRandom(t *testing.T) {
	for _, isolation := range []string{"process", "in-process"} {
		t.Run(isolation, func(t *testing.T) {
			h := clockHost(t, fmt.Sprintf("isolation = %q", isolation))
			a, b := plainRun(t, h, "clock"), plainRun(t, h, "clock")
			require.NotEqual(t, string(a), string(b), "the control: two plain runs differ")

			// The first recorded invocation of a fresh host initialises its instance; the
			// second starts from the snapshot (the host keeps its module loaded).
			h = clockHost(t, fmt.Sprintf("isolation = %q", isolation))
			first, out1 := record(t, h, "clock", replay.Options{Output: true}, nil)
			second, out2 := record(t, h, "clock", replay.Options{Output: true}, nil)
			require.NotEqual(t, string(out1), string(out2))
			for i, file := range []string{first, second} {
				rec, err := replay.ReadFile(file)
				require.NoError(t, err)
				assert.Equal(t, replay.Version, rec.Header.Version)
				require.NotNil(t, rec.Sys)
				assert.NotEmpty(t, rec.Sys.Call.Wall, "record %d", i)
				assert.NotEmpty(t, rec.Sys.Call.Mono, "record %d", i)
				assert.GreaterOrEqual(t, len(rec.Sys.Call.Rand), 16, "record %d", i)
				assert.NotEmpty(t, rec.Sys.Init.Rand, "record %d: the Go runtime seeds itself while it initialises", i)
				assert.Empty(t, rec.Sys.Call.Stopped)
			}
			// Each record in a replayer of its own (it initialises the module from the record),
			// then both in one (the second may start from the first's snapshot only if their
			// initialisations read the same).
			for _, file := range []string{second, first} {
				o, err := replay.Replay(context.Background(), file, replayOpts(t))
				require.NoError(t, err)
				assert.True(t, o.Identical, "%s: %+v", filepath.Base(file), o)
				assert.True(t, o.Sys.Recorded)
				assert.False(t, o.Sys.BeyondRecord, "%+v", o.Sys)
				assert.Positive(t, o.Sys.Served.RandBytes)
			}
			r, err := replay.NewReplayer(context.Background(), replayOpts(t))
			require.NoError(t, err)
			defer r.Close()
			for range 2 {
				for _, file := range []string{first, second} {
					o, err := r.Replay(context.Background(), file)
					require.NoError(t, err)
					assert.True(t, o.Identical, "%s: %+v", filepath.Base(file), o)
				}
			}
		})
	}
}

// TestRecordClockBound: a guest reading its clock in a hot loop past the record's bound (a
// quarter of a 64 KiB cap) leaves a record that stays under its cap, says where its readings
// stopped, and replays to completion, reporting the readings past the record.
func TestRecordClockBound(t *testing.T) {
	h := clockHost(t)
	file := filepath.Join(t.TempDir(), "spin.jsonl.gz")
	rec, err := replay.NewFileRecorder(file, replay.Options{Output: true, MaxBytes: 64 << 10})
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = h.Run(context.Background(), wasmcollector.RunOptions{Key: "spin", Output: &out, Record: rec,
		Params: map[string]any{"reads": 100000}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"reads":100000,"went_back":false}`, out.String())
	s := rec.Summary()
	require.Empty(t, s.Errors)
	assert.Zero(t, s.Incomplete, "the bound stops the readings, not the record")
	assert.LessOrEqual(t, s.Bytes, int64(64<<10))
	r, err := replay.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, r.Sys.Call.Stopped, "reached the record's bound of 16384 bytes")
	n := len(r.Sys.Call.Wall) + len(r.Sys.Call.Mono)
	assert.Less(t, n, 100000, "far fewer readings kept than made (two per time.Now)")
	t.Logf("spin: %d readings kept of about 200000, record %d bytes", n, s.Bytes)

	o, err := replay.Replay(context.Background(), file, replayOpts(t))
	require.NoError(t, err)
	assert.Empty(t, o.Error)
	assert.True(t, o.Sys.BeyondRecord)
	assert.Positive(t, o.Sys.Beyond.Wall+o.Sys.Beyond.Mono)
	assert.Contains(t, o.Sys.Stopped, "bound")
	assert.True(t, o.Identical, "the output does not show the readings: %+v", o) // went_back stays false
}

// TestReplayModuleReadsMoreRandom: a new module version that reads far more randomness than the
// recorded one replays to completion, reports the bytes it read past the record, and gets the
// same bytes in every replay.
func TestReplayModuleReadsMoreRandom(t *testing.T) {
	h := clockHost(t)
	file, _ := record(t, h, "clock", replay.Options{Output: true}, nil)
	more := testguests.Go(t, "internal/testguests/clockmore")
	var sums []string
	for range 2 {
		opts := replayOpts(t)
		opts.Module = more
		o, err := replay.Replay(context.Background(), file, opts)
		require.NoError(t, err)
		assert.Empty(t, o.Error)
		assert.False(t, o.Identical)
		assert.True(t, o.Sys.BeyondRecord)
		assert.Greater(t, o.Sys.Beyond.RandBytes, int64(60<<10), "%+v", o.Sys)
		sums = append(sums, o.SHA256)
	}
	assert.Equal(t, sums[0], sums[1], "replays past the record are repeatable")
	b, err := json.Marshal(replay.Outcome{Sys: replay.SysOutcome{Recorded: true, BeyondRecord: true}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"beyond_record":true`)
}

// TestReplayVersion1Record: a record in the version 1 format (no clock readings) still replays,
// with the host's clocks, and says so; version 1 with clock lines, and bad clock lines, are
// refused as corrupt.
func TestReplayVersion1Record(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "scan", replay.Options{Output: true}, nil)
	v1 := rewrite(t, file, func(lines []string) []string {
		var keep []string
		for _, l := range lines {
			if !strings.HasPrefix(l, `{"k":"sys"`) && !strings.HasPrefix(l, `{"k":"log"`) {
				keep = append(keep, l)
			}
		}
		require.Less(t, len(keep), len(lines), "the Go guest read its clock or randomness")
		keep[0] = strings.Replace(keep[0], `"version":3,`, `"version":1,`, 1)
		return fixEnd(keep)
	})
	rec, err := replay.ReadFile(v1)
	require.NoError(t, err)
	assert.Equal(t, 1, rec.Header.Version)
	assert.Nil(t, rec.Sys)
	o, err := replay.Replay(context.Background(), v1, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, o.Identical, "%+v", o)
	assert.False(t, o.Sys.Recorded)

	for name, c := range map[string]struct {
		edit func(lines []string) []string
		want string
	}{
		"clock lines in version 1": {func(l []string) []string {
			l[0] = strings.Replace(l[0], `"version":3,`, `"version":1,`, 1)
			return l
		}, "clock readings in a version 1 record"},
		"bad base64": {func(l []string) []string {
			return fixEnd(append(l[:1], append([]string{`{"k":"sys","wall":"!!"}`}, l[1:]...)...))
		}, "wall: illegal base64"},
		"bad varint": {func(l []string) []string {
			return fixEnd(append(l[:1], append([]string{`{"k":"sys","mono":"/w=="}`}, l[1:]...)...))
		}, "mono: bad varint"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := replay.ReadFile(rewrite(t, file, c.edit))
			require.ErrorIs(t, err, replay.ErrCorrupt)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// BenchmarkRecordClock measures a clock-heavy invocation (spin: 20000 time.Now, about 40000
// clock readings) in-process, recorded and not, and the record's size; spin with 0 reads is the
// fixed cost of a record (its file, compressor, header and trailer).
func BenchmarkRecordClock(b *testing.B) {
	h := clockHost(b, `isolation = "in-process"`)
	for _, reads := range []int{0, 20000} {
		params := map[string]any{"reads": reads}
		run := func(b *testing.B, rec *replay.Recorder) {
			_, err := h.Run(context.Background(), wasmcollector.RunOptions{Key: "spin", Output: io.Discard, Record: rec, Params: params})
			if err != nil {
				b.Fatal(err)
			}
		}
		run(b, nil) // the module compiled and its snapshot taken
		b.Run(fmt.Sprintf("reads=%d/plain", reads), func(b *testing.B) {
			for b.Loop() {
				run(b, nil)
			}
		})
		b.Run(fmt.Sprintf("reads=%d/recorded", reads), func(b *testing.B) {
			dir := b.TempDir()
			var size int64
			i := 0
			for b.Loop() {
				i++
				rec, err := replay.NewFileRecorder(filepath.Join(dir, fmt.Sprintf("%d.jsonl.gz", i)), replay.Options{})
				if err != nil {
					b.Fatal(err)
				}
				run(b, rec)
				size = rec.Summary().Bytes
			}
			b.ReportMetric(float64(size), "record-bytes")
		})
	}
}

// TestReplaySleepDoesNotWait: a guest that sleeps 5 s is recorded (the sleep takes 5 s), and its
// replay serves the recorded clock without waiting: the output, which is the monotonic time the
// sleep took, is identical, and the replay takes less than the sleep did.
func TestReplaySleepDoesNotWait(t *testing.T) {
	const sleep = 5 * time.Second
	for _, iso := range []string{"process", "in-process"} {
		t.Run(iso, func(t *testing.T) {
			h := clockHost(t, `isolation = "`+iso+`"`)
			start := time.Now()
			file, out := record(t, h, "sleep", replay.Options{Output: true}, nil)
			recorded := time.Since(start)
			var got struct {
				SleptNS int64 `json:"slept_ns"`
			}
			require.NoError(t, json.Unmarshal(out, &got))
			require.GreaterOrEqual(t, got.SleptNS, sleep.Nanoseconds(), "the recorded guest slept")

			r, err := replay.NewReplayer(context.Background(), replayOpts(t))
			require.NoError(t, err)
			defer r.Close()
			_, err = r.Replay(context.Background(), file) // loads the module: not what is timed
			require.NoError(t, err)
			start = time.Now()
			o, err := r.Replay(context.Background(), file)
			replayed := time.Since(start)
			require.NoError(t, err)
			assert.True(t, o.Identical, "%+v", o)
			assert.False(t, o.Sys.BeyondRecord, "%+v", o.Sys)
			t.Logf("recorded in %v, replayed in %v (%.3fx)", recorded, replayed, replayed.Seconds()/recorded.Seconds())
			assert.Less(t, replayed, sleep, "the replay did not wait out the sleep")
		})
	}
}
