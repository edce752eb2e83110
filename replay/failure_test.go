package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/cli/replaycmd"
	"github.com/wasmcollector/wasmcollector/replay"
)

// thenHost is a host with dbprobe's query_then collectors: "spin" answers one query then loops
// forever, "panic" answers one then traps. timeout is the invocations' deadline.
func thenHost(t *testing.T, db, timeout string, runtimeExtra ...string) *wasmcollector.Host {
	t.Helper()
	collectors := ""
	for _, then := range []string{"spin", "panic"} {
		collectors += fmt.Sprintf(`
[[collector]]
key = %q
version = "1"
format = "json"
module = "dbprobe.wasm"
function = "query_then"
[collector.params]
source = "db"
sql = %q
then = %q
`, then, valsCSVSQL, then)
	}
	return dbprobeHost(t, filepath.Join(t.TempDir(), "out"), db, collectors,
		append([]string{`timeout = "` + timeout + `"`, `workers = 1`}, runtimeExtra...)...)
}

// recordFailing runs key, recording into a new file; the invocation fails with an error
// containing want.
func recordFailing(t *testing.T, h *wasmcollector.Host, key, want string, during func(file string)) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), key+".jsonl.gz")
	rec, err := replay.NewFileRecorder(file, replay.Options{Output: true})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(), wasmcollector.RunOptions{Key: key, Output: io.Discard, Record: rec,
			Since: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)})
		done <- err
	}()
	if during != nil {
		during(file)
	}
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the invocation did not end")
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), want)
	s := rec.Summary()
	require.Equal(t, 1, s.Records, "%+v", s)
	require.Empty(t, s.Errors, "the record was written or finalised")
	return file
}

// requireAnswered checks that the record holds the one query and its whole answer.
func requireAnswered(t *testing.T, rec *replay.Record) {
	t.Helper()
	require.Len(t, rec.Queries, 1)
	q := rec.Queries[0]
	assert.Equal(t, valsCSVSQL, q.SQL)
	assert.Len(t, q.Rows, 4, "every row served before the failure is in the record")
	assert.Empty(t, q.End.Error, "the query itself ended well")
	assert.True(t, rec.End.Complete)
}

// TestRecordTimeoutInWorker: a guest that answers one query and then loops forever, recorded in
// a worker process killed at its deadline. The host finalises the record the worker left: it is
// readable, says timeout, holds the query's answer, and a replay (no database) reproduces the
// timeout and counts as identical.
func TestRecordTimeoutInWorker(t *testing.T) {
	db := valsDB(t)
	h := thenHost(t, db, "2s")
	file := recordFailing(t, h, "spin", "timed out after 2s (worker killed)", nil)
	rec, err := replay.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "timeout", rec.Result.Kind)
	assert.True(t, rec.Result.Finalized, "the host wrote the result: the worker was killed")
	assert.Contains(t, rec.Result.Error, "timed out after 2s")
	assert.True(t, rec.Result.OutputRecorded)
	requireAnswered(t, rec)

	require.NoError(t, os.Remove(db))
	out, err := replay.Replay(context.Background(), file, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, out.SameOutcome, "%+v", out)
	assert.True(t, out.Identical, "%+v", out)
	assert.Equal(t, "timeout", out.Kind)
	assert.Equal(t, "timeout", out.RecordedKind)
	assert.Contains(t, out.Error, "timed out after 2s", "the recorded timeout bounds the replay")
	assert.Empty(t, out.NotRecorded)

	// The command: a reproduced failure exits 0 and says how both ended.
	stdout, stderr, code := cliReplay(t, file)
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "spin.jsonl.gz: spin (2026-11-25T00:00:00Z, 2026-11-26T00:00:00Z]: reproduced timeout")
	assert.Contains(t, stdout, "  recorded: timeout: module dbprobe.wasm: function query_then: timed out after 2s (worker killed) (its worker ended before closing the record; the host finalised it)\n")
	assert.Contains(t, stdout, "  replayed: timeout: module dbprobe.wasm: function query_then: timed out after 2s — reproduced\n")
	assert.Contains(t, stdout, "replayed 1: 1 identical, 0 different")
	stdout, _, code = cliReplay(t, file, "-o", "json")
	assert.Equal(t, 0, code)
	var rep replaycmd.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	require.Len(t, rep.Records, 1)
	assert.True(t, rep.Records[0].SameOutcome)
	assert.Equal(t, "timeout", rep.Records[0].RecordedKind)
	assert.True(t, rep.Records[0].RecordedFinalized)
}

// cliReplay runs wasmcollector replay on file with the tests' compilation cache.
func cliReplay(t *testing.T, file string, args ...string) (string, string, int) {
	o := replayOpts(t)
	return cliRun(t, append([]string{"replay", file, "--cache-dir", o.CacheDir, "--compile-timeout", "10m"}, args...)...)
}

// TestRecordTrapInWorker: a guest that answers one query and then traps; the worker survives and
// closes the record itself, with the kind; a replay reproduces the trap.
func TestRecordTrapInWorker(t *testing.T) {
	db := valsDB(t)
	h := thenHost(t, db, "10m")
	file := recordFailing(t, h, "panic", "assignment to entry in nil map", nil)
	rec, err := replay.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "trap", rec.Result.Kind)
	assert.False(t, rec.Result.Finalized)
	requireAnswered(t, rec)

	require.NoError(t, os.Remove(db))
	out, err := replay.Replay(context.Background(), file, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, out.Identical, "%+v", out)
	assert.Equal(t, "trap", out.Kind)
	assert.Contains(t, out.Error, "assignment to entry in nil map")
}

// TestRecordTimeoutInProcess: in-process, the engine interrupts the guest and the recorder closes
// the record itself, with the kind.
func TestRecordTimeoutInProcess(t *testing.T) {
	h := thenHost(t, valsDB(t), "2s", `isolation = "in-process"`)
	file := recordFailing(t, h, "spin", "timed out after 2s", nil)
	rec, err := replay.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "timeout", rec.Result.Kind)
	assert.False(t, rec.Result.Finalized)
	requireAnswered(t, rec)
}

// workerHolding returns the pid of the process that has file open, 0 if none.
func workerHolding(file string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		if pid == os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(p, "fd", fd.Name())); err == nil && l == file {
				return pid
			}
		}
	}
	return 0
}

// TestRecordWorkerKilled: a worker SIGKILLed from outside while its guest spins after an answer
// (as the OOM killer or an operator would) leaves a record the host finalises as "killed", with
// the answer; a replay, which cannot be killed the same way, is reported different.
func TestRecordWorkerKilled(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to find the worker")
	}
	h := thenHost(t, valsDB(t), "10m")
	file := recordFailing(t, h, "spin", "killed by signal killed", func(file string) {
		deadline := time.Now().Add(4 * time.Minute)
		for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if !strings.Contains(decodable(file), `"k":"end_query"`) {
				continue // the answer is not on disk yet
			}
			if pid := workerHolding(file); pid > 0 {
				require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
				return
			}
		}
		t.Error("no worker held the record with its answer written")
	})
	rec, err := replay.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, replay.KindKilled, rec.Result.Kind)
	assert.True(t, rec.Result.Finalized)
	assert.Contains(t, rec.Result.Error, "killed by signal killed")
	requireAnswered(t, rec)

	o := replayOpts(t)
	o.Timeout = time.Second
	out, err := replay.Replay(context.Background(), file, o)
	require.NoError(t, err)
	assert.False(t, out.SameOutcome)
	assert.False(t, out.Identical)
	assert.Equal(t, "timeout", out.Kind)
	assert.Equal(t, replay.KindKilled, out.RecordedKind)

	// The command: a failure not reproduced exits 1. (The record's own timeout, 10m, bounds
	// this replay: the guest spins, so it is shortened in the record first.)
	short := rewrite(t, file, func(l []string) []string {
		l[0] = strings.Replace(l[0], `"timeout":600000000000`, `"timeout":1000000000`, 1)
		return l
	})
	stdout, stderr, code := cliReplay(t, short)
	assert.Equal(t, 1, code, stdout+stderr)
	assert.Contains(t, stdout, ": DIFFERENT")
	assert.Contains(t, stdout, "  recorded: killed: module dbprobe.wasm: function query_then: worker process failed: it was killed by signal killed")
	assert.Contains(t, stdout, "  replayed: timeout: module dbprobe.wasm: function query_then: timed out after 1s — NOT reproduced\n")
}

// decodable is what a gzip'd file decodes to so far (a stream still being written decodes up
// to its last flush).
func decodable(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return ""
	}
	var b bytes.Buffer
	io.Copy(&b, zr)
	return b.String()
}

// TestFinalizeCutRecords: Finalize keeps what a cut compressed stream decodes to, closes a call
// that was still running as abandoned, and refuses a file with no readable header without
// touching it.
func TestFinalizeCutRecords(t *testing.T) {
	h := probeHost(t, valsDB(t))
	good, _ := record(t, h, "scan", replay.Options{Output: true}, nil)
	// The record's lines with a query left open: everything up to its last row.
	cut := rewrite(t, good, func(lines []string) []string {
		for i, l := range lines {
			if strings.HasPrefix(l, `{"k":"end_query"`) {
				return lines[:i]
			}
		}
		t.Fatal("no end_query line")
		return nil
	})
	b, err := os.ReadFile(cut)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cut, b[:len(b)-4], 0o600)) // no gzip trailer: a killed writer's file
	info, err := replay.Finalize(replay.Spec{Path: cut, Output: true}, "timeout", "timed out after 1s (worker killed)")
	require.NoError(t, err)
	assert.True(t, info.Complete)
	st, err := os.Stat(cut)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), info.Bytes)
	rec, err := replay.ReadFile(cut)
	require.NoError(t, err)
	require.Len(t, rec.Queries, 1)
	assert.True(t, rec.Queries[0].End.Abandoned, "the open call is closed as abandoned")
	assert.Len(t, rec.Queries[0].Rows, 4)
	assert.Contains(t, rec.Queries[0].End.Error, "the invocation ended during this call")
	assert.Equal(t, "timeout", rec.Result.Kind)
	assert.True(t, rec.Result.Finalized)
	assert.NotEmpty(t, rec.Result.SHA256, "the output's bytes were recorded: its hash is known")

	// A record that already has its end line is kept as it is.
	before, err := replay.ReadFile(good)
	require.NoError(t, err)
	_, err = replay.Finalize(replay.Spec{Path: good}, "trap", "boom")
	require.NoError(t, err)
	after, err := replay.ReadFile(good)
	require.NoError(t, err)
	assert.Equal(t, before.Result, after.Result)

	for name, data := range map[string][]byte{
		"empty":         nil,
		"not gzip":      []byte("{\"k\":\"invocation\"}\n"),
		"no header":     gz(t, "{\"k\":\"row\",\"q\":1}\n"),
		"half a line":   gz(t, `{"k":"invocation","version":1`),
		"other version": gz(t, "{\"k\":\"invocation\",\"version\":7}\n"),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.jsonl.gz")
			require.NoError(t, os.WriteFile(p, data, 0o600))
			_, err := replay.Finalize(replay.Spec{Path: p}, "trap", "boom")
			require.Error(t, err)
			assert.Contains(t, err.Error(), p)
			got, _ := os.ReadFile(p)
			assert.True(t, bytes.Equal(data, got), "a file that cannot be finalised is left as it was")
		})
	}
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}
