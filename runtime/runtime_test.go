package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// goCompileTimeout bounds compiling a Go guest in tests that are not about the bound: this
// race-instrumented process, on a loaded machine, compiles a cold Go guest in more than the
// default 30 s.
const goCompileTimeout = 5 * time.Minute

func newEngine(t testing.TB, cfg runtime.Config) *runtime.Engine {
	t.Helper()
	eng, err := runtime.New(context.Background(), cfg.WithCacheDir(filepath.Join(testguests.CacheDir(t), "wazero")).WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close(context.Background())) })
	return eng
}

func load(t testing.TB, eng *runtime.Engine, path string, fns ...string) *runtime.Module {
	t.Helper()
	mod, err := eng.Load(context.Background(), runtime.ModuleSpec{Path: path, Functions: fns})
	require.NoError(t, err)
	return mod
}

type run struct {
	res *runtime.Result
	err error
	out bytes.Buffer
}

func invoke(t *testing.T, mod *runtime.Module, fn string, req hostfuncs.Request) *run {
	t.Helper()
	r := &run{}
	if req.Key == "" {
		req.Key = fn
	}
	if req.Format == "" {
		req.Format = hostfuncs.FormatJSON
	}
	req.Output = &r.out
	if req.Logger == nil {
		req.Logger = quiet
	}
	r.res, r.err = mod.Invoke(context.Background(), runtime.Call{Function: fn, Invocation: hostfuncs.NewInvocation(req)})
	require.NotNil(t, r.res)
	return r
}

func requireKind(t *testing.T, err error, kind runtime.ErrorKind, contains ...string) {
	t.Helper()
	require.Error(t, err)
	var ie *runtime.InvocationError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, kind, ie.Kind, "error: %v", err)
	for _, c := range contains {
		assert.Contains(t, err.Error(), c)
	}
	assert.NotContains(t, err.Error(), "\n", "errors are one line")
}

// requireHealthy proves the process is fine after an attack: a good collector in another module
// and in the same module both work.
func requireHealthy(t *testing.T, good, same *runtime.Module, sameFn string) {
	t.Helper()
	r := invoke(t, good, "ok", hostfuncs.Request{})
	require.NoError(t, r.err)
	require.JSONEq(t, `{"a":1}`, r.out.String())
	if same != nil {
		r = invoke(t, same, sameFn, hostfuncs.Request{})
		require.NoError(t, r.err)
	}
}

func TestPointerAttacks(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	mod := load(t, eng, testguests.WAT(t, "pointers"))
	good := mod
	params := map[string]any{"p": "value"}
	tests := []struct {
		name     string
		format   hostfuncs.Format
		kind     runtime.ErrorKind
		contains []string
		out      string // what reached the output before the attack
	}{
		{name: "oob_emit_json", kind: runtime.KindBadPointer, contains: []string{"emit_json: pointer out of bounds", "ptr 4294967280 + len 100", "65536 bytes"}},
		{name: "edge_emit_json", kind: runtime.KindBadPointer, contains: []string{"emit_json: pointer out of bounds", "ptr 65530 + len 7"}},
		{name: "huge_emit_json", kind: runtime.KindRefused, contains: []string{"emit_json: document of 2147483647 bytes is over max_json_bytes", "too_large"}},
		{name: "oob_csv_header", format: hostfuncs.FormatCSV, kind: runtime.KindBadPointer, contains: []string{"csv_header: pointer out of bounds"}},
		{name: "huge_csv_header", format: hostfuncs.FormatCSV, kind: runtime.KindRefused, contains: []string{"csv_header: header of 2147483647 bytes is over max_batch_bytes"}},
		{name: "oob_csv_rows", format: hostfuncs.FormatCSV, kind: runtime.KindBadPointer, contains: []string{"csv_rows: pointer out of bounds"}, out: "a\n"},
		{name: "huge_csv_rows", format: hostfuncs.FormatCSV, kind: runtime.KindRefused, contains: []string{"csv_rows: batch of 2147483647 bytes is over max_batch_bytes"}, out: "a\n"},
		{name: "oob_slice_bounds", kind: runtime.KindBadPointer, contains: []string{"slice_bounds: pointer out of bounds", "len 24"}},
		{name: "edge_slice_bounds", kind: runtime.KindBadPointer, contains: []string{"slice_bounds: pointer out of bounds", "ptr 65520 + len 24"}},
		{name: "oob_param_name", kind: runtime.KindBadPointer, contains: []string{"param: pointer out of bounds"}},
		{name: "huge_param_name", kind: runtime.KindFailed, contains: []string{"returned 2"}},
		{name: "oob_param_buf", kind: runtime.KindBadPointer, contains: []string{"param: pointer out of bounds", "len 5"}},
		{name: "huge_param_buf", kind: runtime.KindBadPointer, contains: []string{"param: pointer out of bounds", "ptr 65533 + len 5"}},
		{name: "oob_param_len", kind: runtime.KindBadPointer, contains: []string{"param: pointer out of bounds", "len 4"}},
		{name: "oob_params_json", kind: runtime.KindBadPointer, contains: []string{"params_json: pointer out of bounds"}},
		{name: "huge_params_json", kind: runtime.KindBadPointer, contains: []string{"params_json: pointer out of bounds", "ptr 65534 + len 13"}},
		{name: "oob_params_json_len", kind: runtime.KindBadPointer, contains: []string{"params_json: pointer out of bounds"}},
		{name: "oob_log", kind: runtime.KindBadPointer, contains: []string{"log: pointer out of bounds"}},
		{name: "huge_log", kind: runtime.KindFailed, contains: []string{"returned 2"}},
		{name: "oob_fail", kind: runtime.KindBadPointer, contains: []string{"fail: pointer out of bounds"}},
		{name: "huge_fail", kind: runtime.KindFailed, contains: []string{"collector failed (code 2)"}},
		{name: "oob_db_query", kind: runtime.KindBadPointer, contains: []string{"db_query: pointer out of bounds"}},
		{name: "huge_db_query", kind: runtime.KindFailed, contains: []string{"returned 2"}},
		{name: "oob_db_stream_csv", format: hostfuncs.FormatCSV, kind: runtime.KindBadPointer, contains: []string{"db_stream_csv: pointer out of bounds"}},
		{name: "huge_db_stream_csv", format: hostfuncs.FormatCSV, kind: runtime.KindFailed, contains: []string{"returned 2"}},
		{name: "oob_last_error", kind: runtime.KindBadPointer, contains: []string{"last_error: pointer out of bounds", "ptr 4294967280"}},
		{name: "oob_last_error_len", kind: runtime.KindBadPointer, contains: []string{"last_error: pointer out of bounds", "len 4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, mod, tt.name, hostfuncs.Request{Format: tt.format, Params: params})
			requireKind(t, r.err, tt.kind, tt.contains...)
			assert.Equal(t, tt.out, r.out.String(), "nothing written by the attack")
			requireHealthy(t, good, mod, "ok")
		})
	}
}

func TestOutputRules(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	mod := load(t, eng, testguests.WAT(t, "outputs"))
	good := load(t, eng, testguests.WAT(t, "pointers"))
	csv := hostfuncs.FormatCSV
	tests := []struct {
		name     string
		format   hostfuncs.Format
		limits   hostfuncs.Limits
		kind     runtime.ErrorKind
		contains []string
		out      string // what reached the output
	}{
		{name: "invalid_json", kind: runtime.KindRefused, contains: []string{"emit_json: document is not valid JSON (status invalid)"}},
		{name: "second_json", kind: runtime.KindRefused, contains: []string{"a second JSON document", "wrong_state"}, out: `{"k":1}`},
		{name: "csv_wrong_columns", format: csv, kind: runtime.KindRefused,
			contains: []string{"csv_rows: batch 2 row 1 (row 2 of the output): row has 2 fields, header has 3 (status invalid)"}, out: "a,b,c\nx,y,z\n"},
		{name: "csv_rows_before_header", format: csv, kind: runtime.KindRefused, contains: []string{"rows before the header", "wrong_state"}},
		{name: "csv_not_utf8", format: csv, kind: runtime.KindRefused, contains: []string{"row has 1 fields, header has 3"}, out: "a,b,c\n"},
		{name: "csv_truncated_batch", format: csv, kind: runtime.KindRefused, contains: []string{"row declares 3 fields, more than the batch holds"}, out: "a,b,c\n"},
		{name: "json_from_csv", format: csv, kind: runtime.KindRefused, contains: []string{`collector "json_from_csv" has format csv`, "wrong_format"}, out: "a,b,c\n"},
		{name: "csv_from_json", kind: runtime.KindRefused, contains: []string{`has format json`, "wrong_format"}},
		{name: "json_1000", limits: hostfuncs.Limits{MaxJSONBytes: 999}, kind: runtime.KindRefused, contains: []string{"document of 1000 bytes is over max_json_bytes (999)"}},
		{name: "json_1000", limits: hostfuncs.Limits{MaxOutputBytes: 500}, kind: runtime.KindRefused, contains: []string{"over_budget"}},
		{name: "csv_flood", format: csv, limits: hostfuncs.Limits{MaxOutputBytes: 1000}, kind: runtime.KindRefused,
			contains: []string{"csv_rows: output would pass max_output_bytes (1000) at row 166", "over_budget"}},
		{name: "csv_flood", format: csv, limits: hostfuncs.Limits{MaxBatchBytes: 10}, kind: runtime.KindRefused,
			contains: []string{"csv_header: header of 19 bytes is over max_batch_bytes (10)"}},
		{name: "fail_and_return_zero", kind: runtime.KindFailed, contains: []string{`collector failed: {"k":1}`}},
		{name: "return_seven", kind: runtime.KindFailed, contains: []string{"collector returned 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, mod, tt.name, hostfuncs.Request{Format: tt.format, Limits: tt.limits})
			requireKind(t, r.err, tt.kind, tt.contains...)
			if tt.name == "csv_flood" && tt.limits.MaxOutputBytes > 0 {
				// Every accepted row is whole and the cap is never passed.
				assert.LessOrEqual(t, r.out.Len(), 1000)
				assert.Equal(t, 1+165, strings.Count(r.out.String(), "\n"), "header and 165 rows of 6 bytes")
			} else {
				assert.Equal(t, tt.out, r.out.String())
			}
			requireHealthy(t, good, nil, "")
		})
	}
}

func TestLogBudget(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	mod := load(t, eng, testguests.WAT(t, "outputs"))
	r := invoke(t, mod, "log_flood", hostfuncs.Request{})
	require.NoError(t, r.err, "a log over budget drops messages, it does not fail the collector")
	assert.Equal(t, 200-66, r.res.Output.LogDropped, "65 messages fit in 64 KiB, the 66th is cut")
	assert.JSONEq(t, `{"k":1}`, r.out.String())
}

func TestTimeout(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout).WithTimeout(200*time.Millisecond))
	good := load(t, eng, testguests.WAT(t, "pointers"))
	for _, tc := range []struct{ module, fn string }{
		{testguests.WAT(t, "spin"), "spin"},
		{testguests.Go(t, "internal/testguests/hostile"), "go_spin"},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			mod := load(t, eng, tc.module, tc.fn)
			r := invoke(t, mod, tc.fn, hostfuncs.Request{})
			requireKind(t, r.err, runtime.KindTimeout, "function "+tc.fn+": timed out after 200ms")
			requireHealthy(t, good, nil, "")
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	// The Go bomb allocates until refused, instrumented by the race detector: on a loaded machine
	// that passes the default 60 s, and the test is about which limit stops it, not how fast.
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout).WithTimeout(10*time.Minute))
	good := load(t, eng, testguests.WAT(t, "pointers"))
	for _, tc := range []struct {
		module, fn string
		limit      uint64
	}{
		{testguests.WAT(t, "grow_bomb"), "grow_bomb", 16 << 20},
		{testguests.Go(t, "internal/testguests/hostile"), "go_mem_bomb", 64 << 20},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			mod, err := eng.Load(context.Background(), runtime.ModuleSpec{Path: tc.module, MemoryLimit: tc.limit, Functions: []string{tc.fn}})
			require.NoError(t, err)
			r := invoke(t, mod, tc.fn, hostfuncs.Request{})
			requireKind(t, r.err, runtime.KindMemory, "memory limit of "+map[uint64]string{16 << 20: "16 MiB", 64 << 20: "64 MiB"}[tc.limit]+" reached")
			requireHealthy(t, good, nil, "")
		})
	}
}

func TestGoGuestAttacks(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout))
	good := load(t, eng, testguests.WAT(t, "pointers"))
	mod := load(t, eng, testguests.Go(t, "internal/testguests/hostile"), "ok", "go_panic")

	t.Run("panic", func(t *testing.T) {
		r := invoke(t, mod, "go_panic", hostfuncs.Request{})
		requireKind(t, r.err, runtime.KindTrap, "function go_panic: wasm error: unreachable", "guest stderr: panic: assignment to entry in nil map")
		assert.Contains(t, r.res.Stderr.Text, "goroutine")
		requireHealthy(t, good, mod, "ok")
	})
	t.Run("exit", func(t *testing.T) {
		r := invoke(t, mod, "go_exit", hostfuncs.Request{})
		requireKind(t, r.err, runtime.KindExit, "guest exited with code 3")
		requireHealthy(t, good, mod, "ok")
	})
	t.Run("csv rows refused but return 0", func(t *testing.T) {
		r := invoke(t, mod, "go_csv_ignores_refusal", hostfuncs.Request{Format: hostfuncs.FormatCSV})
		requireKind(t, r.err, runtime.KindRefused, "row has 2 fields, header has 1")
		assert.Equal(t, "a\n", r.out.String(), "the refused rows were not written")
	})
	t.Run("stdout flood is capped and logged with the collector key", func(t *testing.T) {
		var logs bytes.Buffer
		logged, err := runtime.New(context.Background(), runtime.NewConfig().
			WithCacheDir(filepath.Join(testguests.CacheDir(t), "wazero")).
			WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		defer logged.Close(context.Background())
		mod := load(t, logged, testguests.Go(t, "internal/testguests/hostile"))
		r := invoke(t, mod, "go_stdout_flood", hostfuncs.Request{Key: "flood"})
		require.NoError(t, r.err)
		assert.Contains(t, logs.String(), "collector=flood")
		assert.Contains(t, logs.String(), "stream=stdout")
		assert.Contains(t, logs.String(), "dropped_bytes=8323072")
		assert.Len(t, r.res.Stdout.Text, 64<<10)
		assert.Equal(t, int64(8<<20-64<<10), r.res.Stdout.Dropped)
		assert.Len(t, r.res.Stderr.Text, 64<<10)
	})
	t.Run("sandbox gives no files, environment or arguments", func(t *testing.T) {
		t.Setenv("WASMCOLLECTOR_SECRET", "hunter2")
		marker := filepath.Join(os.TempDir(), "wasmcollector-escape")
		os.Remove(marker)
		r := invoke(t, mod, "go_sandbox_probe", hostfuncs.Request{})
		require.NoError(t, r.err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.out.Bytes(), &got))
		assert.NotContains(t, got, "open_read")
		assert.Contains(t, got["open_error"], "/etc/passwd")
		assert.NotContains(t, got, "readdir_count")
		assert.Contains(t, got, "write_error")
		assert.Empty(t, got["env"])
		assert.Empty(t, got["home"])
		assert.Empty(t, got["path"])
		assert.NotContains(t, r.out.String(), "hunter2")
		assert.NoFileExists(t, marker)
	})
}

func TestModuleChecks(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.wasm")
	require.NoError(t, os.WriteFile(corrupt, []byte("\x00asm\x01\x00\x00\x00\xff\xff garbage"), 0o644))
	notWasm := filepath.Join(dir, "text.wasm")
	require.NoError(t, os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644))
	pinned := testguests.WAT(t, "pointers")
	good, err := os.ReadFile(pinned)
	require.NoError(t, err)
	half := good[:len(good)/2]

	tests := []struct {
		name     string
		spec     runtime.ModuleSpec
		kind     runtime.ModuleErrorKind
		contains []string
	}{
		{"unknown import", runtime.ModuleSpec{Path: testguests.WAT(t, "unknown_import")}, runtime.ModuleABI,
			[]string{"imports env.steal_secrets, which this host does not provide"}},
		{"other ABI version", runtime.ModuleSpec{Path: testguests.WAT(t, "abi_v2")}, runtime.ModuleABI,
			[]string{`imports wasmcollector_v2.emit_json: ABI "wasmcollector_v2" is not supported by this host (it serves wasmcollector_v1)`}},
		{"import with wrong type", runtime.ModuleSpec{Path: testguests.WAT(t, "wrong_signature")}, runtime.ModuleABI,
			[]string{"imports wasmcollector_v1.emit_json with type (i64) -> (i32), host provides (i32, i32) -> (i32)"}},
		{"table import", runtime.ModuleSpec{Path: testguests.WAT(t, "import_table")}, runtime.ModuleABI,
			[]string{"a module must define its own tables"}},
		{"global import", runtime.ModuleSpec{Path: testguests.WAT(t, "import_global")}, runtime.ModuleABI,
			[]string{"which this host does not provide"}},
		{"export with wrong type", runtime.ModuleSpec{Path: testguests.WAT(t, "bad_export"), Functions: []string{"collect"}}, runtime.ModuleExport,
			[]string{`function "collect" has type (i32) -> (i32), want () -> (i32)`}},
		{"missing export", runtime.ModuleSpec{Path: testguests.WAT(t, "spin"), Functions: []string{"jobs"}}, runtime.ModuleExport,
			[]string{`function "jobs" is not exported by the module`}},
		{"memory over limit", runtime.ModuleSpec{Path: testguests.WAT(t, "memory_hog")}, runtime.ModuleMemory,
			[]string{"memory declaration over the limit: declares 40000 pages (2500 MiB) at least, the limit is 64 MiB"}},
		{"command module", runtime.ModuleSpec{Path: testguests.WAT(t, "command")}, runtime.ModuleABI,
			[]string{"is a WASI command (exports _start): build it as a reactor"}},
		{"no memory export", runtime.ModuleSpec{Path: testguests.WAT(t, "no_memory")}, runtime.ModuleABI,
			[]string{`exports no memory named "memory"`}},
		{"corrupt module", runtime.ModuleSpec{Path: corrupt}, runtime.ModuleInvalid, []string{"module corrupt.wasm: invalid WebAssembly"}},
		{"truncated module", runtime.ModuleSpec{Name: "half.wasm", Wasm: half}, runtime.ModuleInvalid, []string{"module half.wasm: invalid WebAssembly"}},
		{"other binary version", runtime.ModuleSpec{Name: "v2.wasm", Wasm: []byte("\x00asm\x02\x00\x00\x00")}, runtime.ModuleInvalid,
			[]string{"WebAssembly binary version 2 is not supported (want 1)"}},
		{"not wasm", runtime.ModuleSpec{Path: notWasm}, runtime.ModuleNotWasm, []string{"module text.wasm: not a WebAssembly module"}},
		{"missing file", runtime.ModuleSpec{Path: filepath.Join(dir, "gone.wasm")}, runtime.ModuleUnreadable, []string{"module gone.wasm: open", "no such file"}},
		{"sha256 mismatch", runtime.ModuleSpec{Path: pinned, SHA256: strings.Repeat("ab", 32)}, runtime.ModuleMismatch,
			[]string{"sha256 mismatch: pinned abab", ", file has "}},
		{"memory limit not in pages", runtime.ModuleSpec{Path: pinned, MemoryLimit: 1000}, runtime.ModuleBadSpec,
			[]string{"memory limit 1000 bytes: must be a multiple of 64 KiB"}},
		{"relative mount", runtime.ModuleSpec{Path: pinned, Mounts: []runtime.Mount{{Host: dir, Guest: "data"}}}, runtime.ModuleBadSpec,
			[]string{"mount data: the guest path must be absolute"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eng.Load(context.Background(), tt.spec)
			require.Error(t, err)
			var me *runtime.ModuleError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.kind, me.Kind, "%v", err)
			assert.Equal(t, tt.kind.CompileFailed(), tt.kind == runtime.ModuleInvalid || tt.kind == runtime.ModuleNotWasm)
			for _, c := range tt.contains {
				assert.Contains(t, err.Error(), c)
			}
		})
	}
	t.Run("pinned module with the right sha256 loads", func(t *testing.T) {
		first := load(t, eng, pinned)
		_, err := eng.Load(context.Background(), runtime.ModuleSpec{Path: pinned, SHA256: first.SHA256()})
		require.NoError(t, err)
	})
}

// TestConcurrentInvocations is a hammer: goroutines released together load the same module (one
// compilation is shared) and invoke it, each with its own instance and output.
func TestConcurrentInvocations(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	path := testguests.WAT(t, "pointers")
	const n = 16
	start := make(chan struct{})
	errs := make(chan error, n)
	outs := make([]bytes.Buffer, n)
	for i := range n {
		go func() {
			<-start
			mod, err := eng.Load(context.Background(), runtime.ModuleSpec{Path: path, Functions: []string{"ok_csv"}})
			if err != nil {
				errs <- err
				return
			}
			for range 20 {
				outs[i].Reset()
				inv := hostfuncs.NewInvocation(hostfuncs.Request{Key: "rows", Format: hostfuncs.FormatCSV, Output: &outs[i], Logger: quiet})
				if _, err = mod.Invoke(context.Background(), runtime.Call{Function: "ok_csv", Invocation: inv}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		require.NoError(t, <-errs)
	}
	for i := range outs {
		require.Equal(t, "a\na\n", outs[i].String())
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	eng, err := runtime.New(context.Background(), runtime.NewConfig().WithCacheDir(dir).WithLogger(quiet))
	require.NoError(t, err)
	load(t, eng, testguests.WAT(t, "pointers"))
	require.NoError(t, eng.Close(context.Background()))
	var files int
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	}))
	assert.Equal(t, 1, files, "one compiled module in the cache")

	t.Run("bad settings are refused", func(t *testing.T) {
		_, err := runtime.New(context.Background(), runtime.NewConfig().WithMemoryLimit(1000))
		require.ErrorContains(t, err, "memory limit 1000 bytes: must be a multiple of 64 KiB")
		_, err = runtime.New(context.Background(), runtime.NewConfig().WithTimeout(-time.Second))
		require.ErrorContains(t, err, "timeout -1s: must be positive")
	})
}

// TestMounts grants a directory and one variable: the guest reads inside the mount and nothing
// else, cannot climb out with ".." or a symlink (plain or in a subdirectory), cannot write, and
// sees only the granted variable.
func TestMounts(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "ok.txt"), []byte("inside"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(base, "outside.txt"), []byte("SECRET"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(base, "outside.txt"), filepath.Join(data, "link.txt")))
	require.NoError(t, os.Symlink("../../outside.txt", filepath.Join(data, "sub", "up.txt")))
	t.Setenv("GRANTED", "yes")
	t.Setenv("HOME", "/root")

	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout))
	mod, err := eng.Load(context.Background(), runtime.ModuleSpec{
		Path: testguests.Go(t, "internal/testguests/hostile"), Functions: []string{"go_mount_probe"},
		Mounts: []runtime.Mount{{Host: data, Guest: "/data"}}, Env: []string{"GRANTED", "NOT_SET"},
	})
	require.NoError(t, err)
	r := invoke(t, mod, "go_mount_probe", hostfuncs.Request{})
	require.NoError(t, r.err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(r.out.Bytes(), &got))
	assert.Equal(t, "inside", got["/data/ok.txt"])
	assert.Equal(t, "inside", got["/data/sub/../ok.txt"])
	for _, p := range []string{"/data/../outside.txt", "/data/link.txt", "/data/sub/up.txt", "/outside.txt", "/etc/passwd"} {
		assert.Contains(t, got[p], "error:", "%s must not be readable", p)
	}
	assert.NotContains(t, r.out.String(), "SECRET")
	assert.Contains(t, got["write"], "error:", "mounts are read-only")
	assert.NoFileExists(t, filepath.Join(data, "new.txt"))
	assert.Equal(t, "yes", got["GRANTED"])
	assert.Equal(t, "", got["HOME"], "only granted variables")

	_, err = eng.Load(context.Background(), runtime.ModuleSpec{Path: testguests.WAT(t, "pointers"),
		Mounts: []runtime.Mount{{Host: filepath.Join(base, "nope"), Guest: "/x"}}})
	require.ErrorContains(t, err, "mount /x: host directory")
}
