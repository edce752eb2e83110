package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/replay"
)

var quiet = slog.New(slog.DiscardHandler)

// valsDB is a SQLite database of every value type: NULLs, extremes, unicode, CSV-special text,
// bytes that are not UTF-8.
func valsDB(t *testing.T) string {
	file := filepath.Join(t.TempDir(), "vals.db")
	db, err := sql.Open("sqlite", file)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range []string{
		"CREATE TABLE vals (id integer PRIMARY KEY, i integer, f real, t text, b boolean, ts timestamp, raw blob)",
		"INSERT INTO vals VALUES (1, NULL, NULL, NULL, NULL, NULL, NULL)",
		"INSERT INTO vals VALUES (2, -1, -0.5, '', false, '1969-12-31T23:59:59.999999Z', x'')",
		"INSERT INTO vals VALUES (3, 9223372036854775807, 1.7976931348623157e308, 'héllo, \"wörld\"' || char(10) || '日本', true, '2026-11-25T00:00:06.123456Z', x'00ff0a2c22')",
		"INSERT INTO vals VALUES (4, -9223372036854775808, 5e-324, 'plain', true, '2099-01-01T00:00:00.000000Z', x'e697a5')",
		"INSERT INTO vals VALUES (5, 0, 9e999, 'x', false, '1900-02-03T04:05:06.000000Z', x'01')",
	} {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	return file
}

// valsSQL reads every column; CSV collectors read all but the bytes, which are not all UTF-8
// (CSV output must be).
const (
	valsSQL    = "SELECT id, i, f, t, b, ts, raw FROM vals WHERE id > 1 ORDER BY id"
	valsCSVSQL = "SELECT id, i, f, t, b, ts FROM vals WHERE id > 1 ORDER BY id"
)

func sqlOf(key string) string {
	if key == "scan" || key == "config" {
		return valsSQL
	}
	return valsCSVSQL
}

// probeHost is a host with the dbprobe guest granted data source db, one collector per data
// path: typed rows (scan, JSON), the row cursor (rows, CSV), the data source's CSV (stream) and
// the transform (transform).
func probeHost(t *testing.T, db string, runtimeExtra ...string) *wasmcollector.Host {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	collectors := ""
	for _, c := range []struct{ key, fn, format string }{
		{"scan", "scan", "json"}, {"rows", "rows", "csv"}, {"stream", "stream", "csv"}, {"transform", "transform", "csv"},
	} {
		collectors += fmt.Sprintf(`
[[collector]]
key = %q
version = "1"
format = %q
module = "dbprobe.wasm"
function = %q
[collector.params]
source = "db"
sql = %q
after = 1
spec = '[{"column": "t", "hash": "sha256", "salt": "pepper", "rename": "t_hash"}]'
`, c.key, c.format, c.fn, sqlOf(c.key))
	}
	return dbprobeHost(t, out, db, collectors, append([]string{`timeout = "10m"`}, runtimeExtra...)...)
}

// dbprobeHost is a host with the dbprobe guest granted the SQLite data source db, a config
// collector and collectors (TOML), gathering into out. Compilation is unbounded in practice: a
// loaded machine compiles Go guests slowly, and no test here is about that bound.
func dbprobeHost(t testing.TB, out, db, collectors string, runtime ...string) *wasmcollector.Host {
	t.Helper()
	reg := testguests.Registry(t, map[string]string{"dbprobe.wasm": testguests.Go(t, "internal/testguests/dbprobe")},
		fmt.Sprintf(`[gather]
out_dir = %q
state_dir = %q

[datasources.db]
driver = "sqlite"
path = %q

[modules."dbprobe.wasm"]
datasources = ["db"]

[[collector]]
key = "config"
version = "1"
config = true
module = "dbprobe.wasm"
function = "probe"
[collector.params]
statements = '[]'
%s`, out, filepath.Join(t.TempDir(), "state"), db, collectors), append([]string{`compile_timeout = "10m"`}, runtime...)...)
	h, err := wasmcollector.Load(reg, &wasmcollector.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

func replayOpts(t testing.TB) replay.ReplayOptions {
	return replay.ReplayOptions{CacheDir: filepath.Join(testguests.CacheDir(t), "wazero"), CompileTimeout: 10 * time.Minute, Logger: quiet}
}

// record runs key once, recording into a new file, and returns the file and the output.
func record(t *testing.T, h *wasmcollector.Host, key string, opts replay.Options, params map[string]any) (string, []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), key+".jsonl.gz")
	rec, err := replay.NewFileRecorder(file, opts)
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = h.Run(context.Background(), wasmcollector.RunOptions{Key: key, Output: &out, Record: rec, Params: params,
		Since: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	s := rec.Summary()
	require.Equal(t, 1, s.Records, "%+v", s)
	require.Empty(t, s.Errors)
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), s.Bytes, "the summary's size is the file's")
	return file, out.Bytes()
}

// TestRecordReplayEveryDataPath records each data path of the host on every value type, removes
// the database, and replays: byte-identical outputs, answered from the record alone.
func TestRecordReplayEveryDataPath(t *testing.T) {
	db := valsDB(t)
	h := probeHost(t, db)
	files := map[string]string{}
	for _, key := range []string{"scan", "rows", "stream", "transform"} {
		file, out := record(t, h, key, replay.Options{Output: true}, nil)
		require.NotEmpty(t, out, key)
		files[key] = file
		rec, err := replay.ReadFile(file)
		require.NoError(t, err, key)
		assert.Equal(t, replay.Version, rec.Header.Version)
		assert.Equal(t, out, rec.Output, "%s: the recorded output is what the caller got", key)
		require.Len(t, rec.Queries, 1, key)
		q := rec.Queries[0]
		assert.Equal(t, "db", q.Source)
		assert.Equal(t, sqlOf(key), q.SQL)
		assert.Contains(t, q.Params.String(), `@since="2026-11-25T00:00:00Z"`)
		assert.True(t, rec.End.Complete)
		assert.Equal(t, rec.Size, func() int64 { st, _ := os.Stat(file); return st.Size() }())
	}
	require.NoError(t, os.Remove(db))
	for key, file := range files {
		out, err := replay.Replay(context.Background(), file, replayOpts(t))
		require.NoError(t, err, key)
		assert.True(t, out.Identical, "%s: %+v", key, out)
		assert.Equal(t, out.RecordedSHA256, out.SHA256, key)
		assert.Equal(t, out.RecordedModule, out.Module, key)
		assert.Empty(t, out.NotRecorded, key)
		assert.Nil(t, out.Diff, key)
	}
}

// TestRecordInProcess: with [runtime] isolation = "in-process" the host answers the guest in this
// process, and records there.
func TestRecordInProcess(t *testing.T) {
	db := valsDB(t)
	h := probeHost(t, db, `isolation = "in-process"`)
	file, out := record(t, h, "scan", replay.Options{Output: true}, nil)
	require.NoError(t, os.Remove(db))
	o, err := replay.Replay(context.Background(), file, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, o.Identical, "%+v", o)
	assert.Equal(t, int64(len(out)), o.Bytes)
}

// rewrite decompresses a record, lets edit change its lines, and writes it back compressed.
func rewrite(t *testing.T, file string, edit func(lines []string) []string) string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	f.Close()
	lines := edit(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
	out := filepath.Join(t.TempDir(), "edited.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	require.NoError(t, os.WriteFile(out, buf.Bytes(), 0o600))
	return out
}

// TestReplayQueryNotRecorded: a guest whose statement, parameters or number of calls differ from
// the recording gets a failed data call that names the statement, and the replay is not
// identical.
func TestReplayQueryNotRecorded(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "rows", replay.Options{Output: true}, nil)
	for name, edit := range map[string]func(string) string{
		"other SQL": func(l string) string { return strings.Replace(l, "ORDER BY id", "ORDER BY id DESC", 1) },
		"other parameters": func(l string) string {
			return strings.Replace(l, `["since","t","2026-11-25T00:00:00Z"]`, `["since","t","2026-11-24T00:00:00Z"]`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			edited := rewrite(t, file, func(lines []string) []string {
				for i, l := range lines {
					if strings.HasPrefix(l, `{"k":"query"`) {
						n := edit(l)
						require.NotEqual(t, l, n, "the edit applies")
						lines[i] = n
					}
				}
				return lines
			})
			out, err := replay.Replay(context.Background(), edited, replayOpts(t))
			require.NoError(t, err)
			assert.False(t, out.Identical)
			require.Len(t, out.NotRecorded, 1)
			msg := out.NotRecorded[0]
			assert.Contains(t, msg, "query not recorded: query on data source \"db\": "+valsCSVSQL)
			assert.Contains(t, msg, `@since="2026-11-25T00:00:00Z"`)
			assert.Contains(t, msg, "never run")
			assert.NotEmpty(t, out.Error, "the guest failed on the unanswered call")
		})
	}
	t.Run("more calls than recorded", func(t *testing.T) {
		two, _ := record(t, h, "config", replay.Options{Output: true}, map[string]any{"source": "db", "statements": `["SELECT id FROM vals", "SELECT id FROM vals"]`})
		edited := rewrite(t, two, func(lines []string) []string {
			var keep []string
			for _, l := range lines {
				if !strings.Contains(l, `"q":2,`) && !strings.HasSuffix(l, `"q":2}`) {
					keep = append(keep, l)
				}
			}
			require.Less(t, len(keep), len(lines), "the second call's lines are gone")
			return fixEnd(keep)
		})
		out, err := replay.Replay(context.Background(), edited, replayOpts(t))
		require.NoError(t, err)
		assert.False(t, out.Identical)
		require.Len(t, out.NotRecorded, 1, "%+v", out)
		assert.Contains(t, out.NotRecorded[0], `query not recorded: query on data source "db": SELECT id FROM vals`)
		assert.Contains(t, out.NotRecorded[0], "it was recorded 1 time(s) and this is call 2")
	})
}

// fixEnd recounts the lines in the end line after an edit.
func fixEnd(lines []string) []string {
	last := len(lines) - 1
	var end map[string]any
	_ = json.Unmarshal([]byte(lines[last]), &end)
	end["lines"] = last
	b, _ := json.Marshal(end)
	lines[last] = string(b)
	return lines
}

// TestReplayRefusesBadRecords: a record that is corrupt, truncated, incomplete or of another
// version is refused with an error that names the file and says what is wrong.
func TestReplayRefusesBadRecords(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "scan", replay.Options{Output: true}, nil)
	good, err := os.ReadFile(file)
	require.NoError(t, err)
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "bad.jsonl.gz")
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	cases := map[string]struct {
		file string
		is   error
		want string
	}{
		"empty":           {write(nil), replay.ErrCorrupt, "not gzip data"},
		"not gzip":        {write([]byte("{\"k\":\"invocation\"}\n")), replay.ErrCorrupt, "not gzip data"},
		"truncated":       {write(good[:len(good)/2]), replay.ErrCorrupt, "unexpected EOF"},
		"corrupt":         {write(flipped), replay.ErrCorrupt, ""},
		"unknown version": {rewrite(t, file, func(l []string) []string { l[0] = strings.Replace(l[0], `"version":3,`, `"version":99,`, 1); return l }), replay.ErrVersion, "format version 99; this wasmcollector reads versions 1 to 3"},
		"no end line":     {rewrite(t, file, func(l []string) []string { return l[:len(l)-1] }), replay.ErrCorrupt, "truncated after line"},
		"header missing":  {rewrite(t, file, func(l []string) []string { return l[1:] }), replay.ErrCorrupt, "not the invocation header"},
		"data after end":  {rewrite(t, file, func(l []string) []string { return append(l, l[len(l)-1]) }), replay.ErrCorrupt, "data after the end line"},
		"row of no query": {rewrite(t, file, func(l []string) []string {
			return fixEnd(append(l[:len(l)-2], `{"k":"row","q":9,"v":[1],"t":"i"}`, l[len(l)-2], l[len(l)-1]))
		}), replay.ErrCorrupt, "query 9 was not announced"},
		"bad value type": {rewrite(t, file, func(l []string) []string {
			i := slices.IndexFunc(l, func(s string) bool { return strings.HasPrefix(s, `{"k":"columns"`) }) + 1
			require.Positive(t, i)
			return fixEnd(append(l[:i], append([]string{`{"k":"row","q":1,"v":["x"],"t":"i"}`}, l[i:]...)...))
		}), replay.ErrCorrupt, `type 'i' does not fit value x`},
		"directory": {t.TempDir(), replay.ErrCorrupt, "not a regular file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := replay.Replay(context.Background(), c.file, replayOpts(t))
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), "record "+c.file+":")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestRecordCap: a record that reaches its cap stops, says so in its end line and is refused by
// replay; a gather's recorder gives no invocation more than what is left.
func TestRecordCap(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file := filepath.Join(t.TempDir(), "capped.jsonl.gz")
	rec, err := replay.NewFileRecorder(file, replay.Options{Output: true, MaxBytes: 33 << 10})
	require.NoError(t, err)
	big := strings.Repeat("x", 40<<10) // a parameter alone over the cap: the header cannot fit
	_, err = h.Run(context.Background(), wasmcollector.RunOptions{Key: "scan", Output: io.Discard, Record: rec, Params: map[string]any{"pad": big}})
	require.NoError(t, err, "the invocation runs whatever the recording does")
	s := rec.Summary()
	require.Len(t, s.Errors, 1)
	assert.Contains(t, s.Errors[0], "the header alone is over the size cap of 33792 bytes")

	// Rows over the cap: the record stops at the cap, complete=false, and replay refuses it.
	db := filepath.Join(t.TempDir(), "big.db")
	sdb, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = sdb.Exec(`CREATE TABLE vals (id integer PRIMARY KEY, i integer, f real, t text, b boolean, ts timestamp, raw blob);
WITH RECURSIVE n(x) AS (SELECT 2 UNION ALL SELECT x+1 FROM n WHERE x < 3000)
INSERT INTO vals SELECT x, x, x * 0.5, hex(randomblob(40)), x % 2, '2026-11-25T00:00:00Z', randomblob(20) FROM n`)
	require.NoError(t, err)
	sdb.Close()
	h = probeHost(t, db)
	rec, err = replay.NewFileRecorder(file, replay.Options{Output: true, MaxBytes: 64 << 10})
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = h.Run(context.Background(), wasmcollector.RunOptions{Key: "rows", Output: &out, Record: rec})
	require.NoError(t, err)
	assert.Greater(t, out.Len(), 200<<10, "the output itself is whole")
	s = rec.Summary()
	assert.Equal(t, 1, s.Incomplete)
	assert.True(t, s.CapReached())
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.LessOrEqual(t, st.Size(), int64(64<<10), "the cap holds")
	assert.Equal(t, st.Size(), s.Bytes)
	_, err = replay.Replay(context.Background(), file, replayOpts(t))
	require.ErrorIs(t, err, replay.ErrIncomplete)
	assert.Contains(t, err.Error(), "the record reached its size cap of 65536 bytes")

	// A gather's recorder: once what is left is under the least a record needs, invocations are
	// skipped and counted.
	dir := filepath.Join(t.TempDir(), "rec")
	gr, err := replay.NewRecorder(dir, replay.Options{MaxBytes: 40 << 10})
	require.NoError(t, err)
	_, err = h.Gather(context.Background(), wasmcollector.GatherOptions{Record: gr, OutDir: filepath.Join(t.TempDir(), "out"),
		Since: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	gs := gr.Summary()
	assert.True(t, gs.CapReached(), "%+v", gs)
	assert.Positive(t, gs.Skipped+gs.Incomplete)
	assert.LessOrEqual(t, gs.Bytes, int64(40<<10))
	used := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(used, "0001-old.jsonl.gz"), nil, 0o600))
	_, err = replay.NewRecorder(used, replay.Options{})
	assert.ErrorContains(t, err, "is not empty", "a used directory is refused: replay DIR would mix gathers")
}

// TestRecordEnvAndMounts: the environment and the mount reads are recorded and served back; a
// secret is recorded only when asked, and a replay without it says the guest saw it empty.
func TestRecordEnvAndMounts(t *testing.T) {
	mount := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(mount, "secret.txt"), []byte("host-file-4711"), 0o600))
	t.Setenv("SECRET_TOKEN", "env-0815")
	reg := testguests.Registry(t, map[string]string{"steal.wasm": testguests.Go(t, "internal/testguests/secretprobe")},
		fmt.Sprintf(`[gather]
out_dir = %q
state_dir = %q

[modules."steal.wasm"]
mounts = { "/data" = %q }
env = ["SECRET_TOKEN"]

[[collector]]
key = "config"
version = "1"
config = true
module = "steal.wasm"
function = "steal"
[collector.params]
file = "/data/secret.txt"
`, filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "state"), mount), `compile_timeout = "10m"`)
	h, err := wasmcollector.Load(reg, &wasmcollector.Options{Logger: quiet})
	require.NoError(t, err)
	defer h.Close()

	withSecrets, out := record(t, h, "config", replay.Options{Output: true, Secrets: true}, nil)
	assert.JSONEq(t, `{"env":"env-0815","file":"host-file-4711"}`, string(out))
	redacted, _ := record(t, h, "config", replay.Options{}, nil) // the output holds the secret too
	rec, err := replay.ReadFile(redacted)
	require.NoError(t, err)
	assert.Equal(t, []replay.EnvVar{{Name: "SECRET_TOKEN", Redacted: true}}, rec.Header.Env)
	raw, err := os.ReadFile(redacted)
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.NotContains(t, string(plain), "env-0815", "a redacted value is nowhere in the record")

	require.NoError(t, os.Remove(filepath.Join(mount, "secret.txt")))
	os.Unsetenv("SECRET_TOKEN")
	o, err := replay.Replay(context.Background(), withSecrets, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, o.Identical, "%+v", o)
	o, err = replay.Replay(context.Background(), redacted, replayOpts(t))
	require.NoError(t, err)
	assert.False(t, o.Identical)
	assert.Equal(t, []string{"SECRET_TOKEN"}, o.Redacted)
	assert.Nil(t, o.Diff)
	assert.Contains(t, o.DiffUnavailable, "--record-output")
}

func replayReadFile(file string) ([]byte, error) {
	rec, err := replay.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return rec.Output, nil
}
