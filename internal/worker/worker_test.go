package worker

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/runtime"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func job(t *testing.T, module, function string, format hostfuncs.Format, timeout time.Duration) *Job {
	t.Helper()
	return &Job{
		Module:   ModuleSpec{Name: filepath.Base(module), Path: module, MemoryLimit: 16 << 20, Functions: []string{function}},
		Function: function, Timeout: timeout, CompileTimeout: time.Minute,
		Request: Request{Key: function, Format: format, CollectionType: hostfuncs.DryRun},
		Output:  Output{Kind: OutputStream},
		Engine:  Engine{CacheDir: filepath.Join(testguests.CacheDir(t), "wazero")},
	}
}

// TestChildServesJobs runs the worker side in this process (under the race detector) over pipes:
// the handshake, a streamed JSON job, a CSV job written to part files, a failing job, and the end
// of its input.
func TestChildServesJobs(t *testing.T) {
	hostR, childW := io.Pipe()
	childR, hostW := io.Pipe()
	w := &child{out: bufio.NewWriter(childW), modules: map[string]*runtime.Module{}, sources: map[string]*datasource.Source{}}
	done := make(chan error, 1)
	go func() { done <- w.serve(context.Background(), childR); childW.Close() }()
	r := bufio.NewReader(hostR)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, handshake, line)

	send := func(j *Job) (frames []byte, res Result) {
		b, err := json.Marshal(j)
		require.NoError(t, err)
		require.NoError(t, writeFrame(hostW, frameJob, b))
		var buf []byte
		for {
			typ, p, err := readFrame(r, &buf, maxFrame)
			require.NoError(t, err)
			frames = append(frames, typ)
			if typ == frameResult {
				require.NoError(t, json.Unmarshal(p, &res))
				return frames, res
			}
		}
	}
	pointers := testguests.WAT(t, "pointers")

	frames, res := send(job(t, pointers, "ok", hostfuncs.FormatJSON, time.Minute))
	require.Nil(t, res.Error)
	assert.Equal(t, []byte{frameLoaded, frameOutput, frameResult}, frames)
	assert.Equal(t, 1, res.Report.JSONDocuments)
	assert.Len(t, res.SHA256, 64)

	dir := t.TempDir()
	j := job(t, pointers, "ok_csv", hostfuncs.FormatCSV, time.Minute)
	j.Output = Output{Kind: OutputSplit, Dir: dir, Name: "rows", MaxBytes: 1 << 20}
	frames, res = send(j)
	require.Nil(t, res.Error)
	assert.Equal(t, []byte{frameLoaded, frameResult}, frames, "no output passes through the host")
	require.Len(t, res.Parts, 1)
	assert.Equal(t, filepath.Join(dir, "rows_split0"), res.Parts[0].Path)
	b, err := os.ReadFile(res.Parts[0].Path)
	require.NoError(t, err)
	assert.Equal(t, res.Parts[0].Size, int64(len(b)))

	_, res = send(job(t, pointers, "oob_emit_json", hostfuncs.FormatJSON, time.Minute))
	require.NotNil(t, res.Error)
	assert.Equal(t, classInvocation, res.Error.Class)
	assert.Equal(t, runtime.KindBadPointer, res.Error.Kind)

	_, res = send(job(t, filepath.Join(dir, "missing.wasm"), "ok", hostfuncs.FormatJSON, time.Minute))
	require.NotNil(t, res.Error)
	assert.Equal(t, classModule, res.Error.Class)
	assert.Equal(t, runtime.ModuleUnreadable, res.Error.ModuleKind)

	hostW.Close()
	require.ErrorIs(t, <-done, io.EOF)
	w.close()
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	testguests.UseWorkerBinary(t)
	cfg.Logger = quiet
	p := NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPoolKillsAtTheDeadline: a spinning guest's worker is killed at its deadline and the next
// job gets a fresh worker.
func TestPoolKillsAtTheDeadline(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	res, err := p.Run(context.Background(), job(t, testguests.WAT(t, "spin"), "spin", hostfuncs.FormatJSON, 300*time.Millisecond), io.Discard, nil)
	require.NoError(t, err)
	require.NotNil(t, res.Error)
	assert.Equal(t, runtime.KindTimeout, res.Error.Kind)
	assert.Contains(t, res.Error.Message, "timed out after 300ms (worker killed)")
	assert.Empty(t, res.Error.Signal, "the host killed it: no outside signal to report")

	var out bytes.Buffer
	res, err = p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, time.Minute), &out, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	assert.JSONEq(t, `{"a":1}`, out.String())
	assert.Equal(t, Stats{Started: 2, Killed: 1}, p.Stats())
}

// TestPoolModuleErrorKinds: a module that cannot be used is reported by a real worker with its
// kind, which survives the process boundary: ErrorInfo.Err rebuilds the *runtime.ModuleError the
// worker had, and a compilation the host stops by killing the worker is a compile timeout.
func TestPoolModuleErrorKinds(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	notWasm := filepath.Join(t.TempDir(), "text.wasm")
	require.NoError(t, os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644))
	missing := job(t, testguests.WAT(t, "pointers"), "gone", hostfuncs.FormatJSON, time.Minute)
	bomb := job(t, testguests.CompileBomb(t, "nested_blocks", 200_000), "bomb", hostfuncs.FormatJSON, time.Minute)
	bomb.CompileTimeout = 100 * time.Millisecond // never met, so never cached
	for _, tc := range []struct {
		name string
		job  *Job
		kind runtime.ModuleErrorKind
		msg  string
	}{
		{"abi", job(t, testguests.WAT(t, "unknown_import"), "collect", hostfuncs.FormatJSON, time.Minute), runtime.ModuleABI,
			"imports env.steal_secrets, which this host does not provide"},
		{"not wasm", job(t, notWasm, "collect", hostfuncs.FormatJSON, time.Minute), runtime.ModuleNotWasm, "not a WebAssembly module"},
		{"memory", job(t, testguests.WAT(t, "memory_hog"), "hog", hostfuncs.FormatJSON, time.Minute), runtime.ModuleMemory,
			"memory declaration over the limit"},
		{"export", missing, runtime.ModuleExport, `function "gone" is not exported by the module`},
		{"compile timeout", bomb, runtime.ModuleCompileTimeout, "compilation did not finish within 100ms (compile_timeout); the worker compiling it was killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), tc.job, io.Discard, nil)
			require.NoError(t, err)
			require.NotNil(t, res.Error)
			assert.Equal(t, classModule, res.Error.Class)
			assert.Equal(t, tc.kind, res.Error.ModuleKind)
			assert.Contains(t, res.Error.Message, tc.msg)
			var me *runtime.ModuleError
			require.ErrorAs(t, res.Error.Err("host-name", tc.job.Function), &me)
			assert.Equal(t, tc.kind, me.Kind)
			assert.Equal(t, "host-name", me.Module)
			assert.Equal(t, tc.kind == runtime.ModuleCompileTimeout, errors.Is(me, runtime.ErrCompileTimeout))
			if tc.kind == runtime.ModuleExport { // the functions at fault cross too
				require.Len(t, me.Functions, 1)
				assert.Equal(t, "gone", me.Functions[0].Function)
			} else {
				assert.Empty(t, me.Functions)
			}
		})
	}
}

// TestPoolCancel: the caller's cancellation kills the worker at once.
func TestPoolCancel(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(workerPIDs(t)) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res, err := p.Run(ctx, job(t, testguests.WAT(t, "spin"), "spin", hostfuncs.FormatJSON, time.Hour), io.Discard, nil)
	require.NoError(t, err)
	require.NotNil(t, res.Error)
	assert.Equal(t, runtime.KindCanceled, res.Error.Kind)
}

// TestPoolDataLimit: host-side work for a guest (a query building a 3 GB row) hits the worker's
// data limit inside the worker: SQLite is refused the memory, the guest is told, and the worker
// stays up for the next job.
func TestPoolDataLimit(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = conn.Exec("CREATE TABLE t (x int)")
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	p := newPool(t, Config{Size: 1})
	j := job(t, testguests.Go(t, "internal/testguests/dbprobe"), "probe", hostfuncs.FormatJSON, time.Minute)
	j.Module.MemoryLimit = 64 << 20
	j.DataSources = []datasource.Config{{Name: "db", Driver: datasource.SQLite, DSN: db, MaxBytes: 8 << 30}}
	j.Request.Params, err = tomlparam.Encode(map[string]any{"source": "db",
		"statements": `["SELECT randomblob(999999999) a, randomblob(999999999) b, randomblob(999999999) c"]`})
	require.NoError(t, err)
	var out bytes.Buffer
	res, err := p.Run(context.Background(), j, &out, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	assert.Contains(t, out.String(), "out of memory", "the query failed inside the worker, and the guest said so")
	res, err = p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, time.Minute), io.Discard, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	assert.Equal(t, Stats{Started: 1}, p.Stats(), "the same worker served both")
}

// signalOn is a slog handler that closes seen when a record's message contains a text.
type signalOn struct {
	slog.Handler
	text string
	seen chan struct{}
	once sync.Once
}

func (h *signalOn) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.text) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

// TestPoolWorkerDeath: a worker killed while it serves a job (as the OOM killer would) fails only
// that job, with the cause as the OS reports it, and the next job gets a fresh worker.
func TestPoolWorkerDeath(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	j := job(t, testguests.Go(t, "internal/testguests/flaky"), "events", hostfuncs.FormatCSV, time.Hour)
	j.Request.Since, j.Request.Until = since, since.Add(time.Hour)
	var err error
	j.Request.Params, err = tomlparam.Encode(map[string]any{"hang_at": since.Format(time.RFC3339)})
	require.NoError(t, err)
	hanging := &signalOn{Handler: quiet.Handler(), text: "hanging", seen: make(chan struct{})}
	go func() {
		<-hanging.seen // the guest is running: the worker has its job
		for _, pid := range workerPIDs(t) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	res, err := p.Run(context.Background(), j, io.Discard, slog.New(hanging))
	require.NoError(t, err)
	require.NotNil(t, res.Error)
	assert.Equal(t, runtime.KindTrap, res.Error.Kind)
	assert.Equal(t, "worker process failed: it was killed by signal killed", res.Error.Message)
	assert.Equal(t, "killed", res.Error.Signal, "a record the worker left is finalised as killed")

	res, err = p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, time.Minute), io.Discard, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	assert.Equal(t, Stats{Started: 2, Died: 1}, p.Stats())
}

// TestPoolIdleWorkerKilled: an idle worker killed from outside costs the next job nothing.
func TestPoolIdleWorkerKilled(t *testing.T) {
	p := newPool(t, Config{Size: 1})
	require.NoError(t, p.Prestart(1))
	pids := workerPIDs(t)
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	res, err := p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, time.Minute), io.Discard, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	assert.Equal(t, int64(2), p.Stats().Started)
}

// TestWorkerRestrictions: a worker has an empty environment, its own process group, no new
// privileges, no core dumps, few files, and the module's data limit once it ran a job.
func TestWorkerRestrictions(t *testing.T) {
	t.Setenv("WASMCOLLECTOR_SECRET", "hunter2")
	p := newPool(t, Config{Size: 1})
	res, err := p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, time.Minute), io.Discard, nil)
	require.NoError(t, err)
	require.Nil(t, res.Error)
	pids := workerPIDs(t)
	require.Len(t, pids, 1)
	pid := pids[0]

	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err)
	assert.Empty(t, env, "the worker's environment")
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	assert.Equal(t, pid, pgid, "its own process group")
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	assert.Contains(t, string(status), "NoNewPrivs:\t1")
	limits, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	require.NoError(t, err)
	assert.Regexp(t, `Max core file size\s+0\s+`, string(limits))
	assert.Regexp(t, `Max open files\s+256\s+256`, string(limits))
	assert.Regexp(t, `Max data size\s+`+strconv.Itoa(dataOverhead+16<<20)+`\s`, string(limits))
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(fds), 12, "descriptors: its three pipes and the Go runtime's own")
}

// TestProtocolViolations: a worker that is not one, or that breaks the protocol, is refused or
// killed, and the error says so.
func TestProtocolViolations(t *testing.T) {
	hello := "echo '" + strings.TrimSpace(handshake) + "'; "
	// A result whose module error has a kind the runtime does not know.
	var frame bytes.Buffer
	require.NoError(t, writeFrame(&frame, frameResult, []byte(`{"error":{"class":"module","message":"m","module_kind":"bogus"}}`)))
	badKind := filepath.Join(t.TempDir(), "result")
	require.NoError(t, os.WriteFile(badKind, frame.Bytes(), 0o644))
	// A result blaming a collector function the job did not name.
	frame.Reset()
	require.NoError(t, writeFrame(&frame, frameResult, []byte(`{"error":{"class":"module","message":"m","module_kind":"export","functions":[{"function":"not_named","message":"x"}]}}`)))
	badFunction := filepath.Join(t.TempDir(), "result")
	require.NoError(t, os.WriteFile(badFunction, frame.Bytes(), 0o644))
	tests := []struct {
		name, script, want string
	}{
		{"not a worker", "echo hello", `handshake "hello\n"`},
		{"another version", "echo 'wasmcollector-worker 99'", "a worker of another version"},
		{"the previous version", "echo 'wasmcollector-worker 1'", "a worker of another version"},
		{"garbage frame", hello + "cat >/dev/null & printf '\\000\\000\\000\\002Zx'; sleep 5", `an unknown frame 'Z'`},
		{"oversized frame", hello + "cat >/dev/null & printf '\\177\\377\\377\\377R'; sleep 5", "frame too large"},
		{"silent exit", hello + "head -c 5 >/dev/null; exit 7", "exited with code 7"},
		{"unknown module error kind", hello + "cat >/dev/null & cat " + badKind + "; sleep 5", `a module error of unknown kind "bogus"`},
		{"a function the job did not name", hello + "cat >/dev/null & cat " + badFunction + "; sleep 5", "a module error blaming a function the job did not name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(Config{Size: 1, Logger: quiet, Command: []string{"/bin/sh", "-c", tt.script}})
			defer p.Close()
			res, err := p.Run(context.Background(), job(t, testguests.WAT(t, "pointers"), "ok", hostfuncs.FormatJSON, 5*time.Second), io.Discard, nil)
			if err != nil {
				assert.ErrorIs(t, err, ErrWorker)
				assert.Contains(t, err.Error(), tt.want)
				return
			}
			require.NotNil(t, res.Error)
			assert.Contains(t, res.Error.Message, tt.want)
		})
	}
}

// workerPIDs lists this process's worker children.
func workerPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != me {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cmdline, []byte(Arg)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
