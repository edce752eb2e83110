package replay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/cli/replaycmd"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
	"github.com/wasmcollector/wasmcollector/replay"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

// awxVariant builds the AWX module with one change a vendor might make in a new version: the
// users count of org_counts is one more. It is built from the example's own source with a go
// build overlay, so the repository holds no second copy.
func awxVariant(t *testing.T) string {
	t.Helper()
	root := testguests.Root(t)
	src := filepath.Join(root, "examples", "awx", "collectors", "collectors.go")
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	const from, to = `{"users", asInt(row["users"])},`, `{"users", asInt(row["users"]) + 1},`
	require.Equal(t, 1, strings.Count(string(b), from), "the line the variant changes is in the example")
	changed := strings.Replace(string(b), from, to, 1)
	sum := sha256.Sum256([]byte(changed + goruntime.Version()))
	dir := testguests.CacheDir(t)
	out := filepath.Join(dir, "go-awx-variant-"+hex.EncodeToString(sum[:])[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmpDir := t.TempDir()
	file := filepath.Join(tmpDir, "collectors.go")
	require.NoError(t, os.WriteFile(file, []byte(changed), 0o600))
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{src: file}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tmpDir, "overlay.json"), overlay, 0o600))
	tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-overlay", filepath.Join(tmpDir, "overlay.json"), "-o", tmp, "./examples/awx/collectors")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the variant: %v\n%s", err, b)
	}
	require.NoError(t, os.Rename(tmp, out))
	return out
}

func cliRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append(args, "--log-level", "error"), &out, &errb)
	return out.String(), errb.String(), code
}

// TestAWXRecordStopReplay is the vendor's story: a gather of the AWX example on PostgreSQL is
// recorded; the database is stopped; every invocation replays byte-identical from the records
// alone; and the next version of the module, whose org_counts reports one more user per
// organization, replays with exactly that difference.
func TestAWXRecordStopReplay(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	require.NoError(t, awxdata.LoadPostgres(ctx, dsn, awxdata.Options{Scale: 1, Until: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Seed: 1}))
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	reg := testguests.Registry(t, map[string]string{
		"awx.wasm": testguests.Go(t, "examples/awx/collectors"),
		"awx.toml": filepath.Join(testguests.Root(t), "examples", "awx", "awx.toml"),
	}, fmt.Sprintf("[gather]\nout_dir = %q\nstate_dir = %q\n\n[datasources.awx]\ndriver = \"postgres\"\ndsn = %q\ntimeout = \"60s\"\n\n[modules.\"awx.wasm\"]\ndatasources = [\"awx\"]\n",
		out, filepath.Join(tmp, "state"), testpg.ReadOnlyDSN(t, dsn)), `compile_timeout = "10m"`, `timeout = "10m"`)
	variant := awxVariant(t)

	rec := filepath.Join(tmp, "rec")
	// The same gather unrecorded first: the baseline of the recording's cost.
	start := time.Now()
	stdout, errs, code := cliRun(t, "gather", "--dry-run", "-c", reg, "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-21T00:00:00Z", "--out", filepath.Join(tmp, "out0"))
	require.Equal(t, 0, code, "%s%s", stdout, errs)
	plain := time.Since(start)
	start = time.Now()
	stdout, errs, code = cliRun(t, "gather", "--dry-run", "-c", reg, "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-21T00:00:00Z",
		"--record", rec, "--record-output")
	require.Equal(t, 0, code, "%s%s", stdout, errs)
	recorded := time.Since(start)
	files, err := filepath.Glob(filepath.Join(rec, "*.jsonl.gz"))
	require.NoError(t, err)
	require.Greater(t, len(files), 9, "every collector, the sliced ones once per slice")
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		require.NoError(t, err)
		total += st.Size()
	}
	assert.Regexp(t, fmt.Sprintf(`recorded %d invocations into %s: \S+ \S+ \(cap 256 MiB\)`, len(files), rec), stdout)
	var sum replay.Summary
	b, err := os.ReadFile(filepath.Join(rec, replay.SummaryFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.Equal(t, replay.Summary{Path: rec, Records: len(files), Bytes: total, MaxBytes: 256 << 20}, sum, "the directory says how big it is")

	require.NoError(t, testpg.Stop(), "no database from here on")

	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	start = time.Now()
	stdout, errs, code = cliRun(t, "replay", rec, "--cache-dir", cache, "--compile-timeout", "10m")
	require.Equal(t, 0, code, "%s%s", stdout, errs)
	replayed := time.Since(start)
	assert.Contains(t, stdout, fmt.Sprintf("replayed %d: %d identical, 0 different\n", len(files), len(files)))

	stdout, errs, code = cliRun(t, "replay", rec, "--module", variant, "--cache-dir", cache, "--compile-timeout", "10m", "-o", "json")
	require.Equal(t, 1, code, "a difference exits 1: %s%s", stdout, errs)
	var rep replaycmd.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.Len(t, rep.Records, len(files))
	assert.Equal(t, len(files)-1, rep.Identical)
	assert.Equal(t, 1, rep.Different)
	for _, o := range rep.Records {
		assert.NotEqual(t, o.RecordedModule, o.Module, "the variant ran")
		if o.Key != "org_counts" {
			assert.True(t, o.Identical, "%s: %+v", o.Key, o)
			continue
		}
		assert.False(t, o.Identical)
		assert.Empty(t, o.NotRecorded, "the variant makes the same queries")
		require.NotNil(t, o.Diff)
		d := o.Diff
		assert.Zero(t, d.Added)
		assert.Zero(t, d.Removed)
		assert.Positive(t, d.Changed)
		assert.Len(t, d.Changes, min(d.Changed, 100))
		for _, c := range d.Changes {
			assert.Regexp(t, `^\$\.\d+\.users$`, c.Key, "only the users member changed")
			before, err1 := strconv.Atoi(c.Before)
			after, err2 := strconv.Atoi(c.After)
			require.NoError(t, err1)
			require.NoError(t, err2)
			assert.Equal(t, before+1, after, c.Key)
		}
		// The recorded output says how many organizations there are: every one changed.
		var doc map[string]any
		require.NoError(t, json.Unmarshal(recordedOutput(t, o.File), &doc))
		assert.Equal(t, len(doc), d.Changed)
	}

	// The text report says the same, with the change listed.
	stdout, _, code = cliRun(t, "replay", rec, "--module", variant, "--cache-dir", cache, "--compile-timeout", "10m", "--show", "2")
	require.Equal(t, 1, code)
	assert.Regexp(t, `org_counts \(\S+, \S+\]: DIFFERENT`, stdout)
	assert.Regexp(t, `diff: \d+ keys changed\n`, stdout)
	assert.Regexp(t, `~ \$\.1\.users: \d+ -> \d+\n`, stdout)
	assert.Contains(t, stdout, fmt.Sprintf("replayed %d: %d identical, 1 different\n", len(files), len(files)-1))
	var outBytes int64
	for _, o := range rep.Records {
		outBytes += o.RecordedBytes
	}
	t.Logf("recorded %d invocations in %d bytes (output %d bytes, ratio %.2f); gather %s, recorded gather %s (%.2fx), replay %s (%.2fx)",
		len(files), total, outBytes, float64(total)/float64(outBytes), plain, recorded, recorded.Seconds()/plain.Seconds(), replayed, replayed.Seconds()/plain.Seconds())
}

func recordedOutput(t *testing.T, file string) []byte {
	t.Helper()
	rec, err := replayReadFile(file)
	require.NoError(t, err)
	return rec
}

// TestReplayCommandBadInput: what replay cannot use exits 2 with one line naming it, before
// any module is loaded.
func TestReplayCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	notGzip := filepath.Join(dir, "x.jsonl.gz")
	require.NoError(t, os.WriteFile(notGzip, []byte("hello\n"), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", filepath.Join(dir, "missing.jsonl.gz")}, "no such file or directory"},
		{[]string{"replay", notGzip}, "wasmcollector: record " + notGzip + ": corrupt record: not gzip data"},
		{[]string{"replay", t.TempDir()}, "holds no records (*.jsonl.gz)"},
		{[]string{"replay", notGzip, "--module", filepath.Join(dir, "nope.wasm")}, "--module " + filepath.Join(dir, "nope.wasm") + ": not a readable file"},
		{[]string{"run", "x", "--record", dir}, "is a directory"},
		{[]string{"gather", "--record", dir, "--interval", "1h"}, "--record records one gather: drop --interval"},
	} {
		stdout, errs, code := cliRun(t, c.args...)
		assert.Equal(t, 2, code, "%v: %s%s", c.args, stdout, errs)
		assert.Contains(t, stdout+errs, c.want, c.args)
	}
	stdout, _, code := cliRun(t, "replay", dir, "-o", "json")
	assert.Equal(t, 2, code)
	var rep replaycmd.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.Len(t, rep.Errors, 1)
	assert.Contains(t, rep.Errors[0].Error, "not gzip data")
}
