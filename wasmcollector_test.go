package wasmcollector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/modulecheck"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/state"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// hostFor loads a registry of the config and counts examples, plus extra TOML, into a host whose
// state and output live in the test's temp dir.
func hostFor(t *testing.T, extra string) *wasmcollector.Host {
	t.Helper()
	dir := t.TempDir()
	path := testguests.Registry(t, map[string]string{
		"config.wasm": testguests.Go(t, "examples/config"),
		"counts.wasm": testguests.Go(t, "examples/counts"),
	}, `
[gather]
state_dir = "`+filepath.Join(dir, "state")+`"
out_dir = "`+filepath.Join(dir, "out")+`"
`+exampleCollectors+extra)
	host, err := wasmcollector.Load(path, &wasmcollector.Options{Logger: quiet, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, host.Close()) })
	return host
}

func TestGatherDryRun(t *testing.T) {
	host := hostFor(t, "")
	ctx := context.Background()
	res, err := host.Gather(ctx, wasmcollector.GatherOptions{})
	require.NoError(t, err)
	assert.False(t, res.Failed())
	require.Len(t, res.Tarballs, 1)
	files := testguests.ReadTarball(t, res.Tarballs[0].Path)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	assert.ElementsMatch(t, []string{"./config.json", "./counts.json", "./manifest.json", "./data_collection_status.csv"}, names)
	assert.Equal(t, filepath.Join(filepath.Dir(filepath.Dir(res.Tarballs[0].Path)), "out"), filepath.Dir(res.Tarballs[0].Path))

	// A dry run records nothing: the bookkeeping is as empty as before.
	store, err := host.State(ctx)
	require.NoError(t, err)
	defer store.Close()
	st, err := store.Load(ctx)
	require.NoError(t, err)
	assert.True(t, st.LastGather.IsZero())
	assert.Empty(t, st.Entries)

	// The same host gathers again on the same executor.
	res, err = host.Gather(ctx, wasmcollector.GatherOptions{OutDir: t.TempDir(), Subset: []string{"counts"}})
	require.NoError(t, err)
	require.Len(t, res.Tarballs, 1)
}

func TestGatherManualWithoutShipping(t *testing.T) {
	host := hostFor(t, "")
	_, err := host.Gather(context.Background(), wasmcollector.GatherOptions{Type: wasmcollector.Manual})
	require.ErrorIs(t, err, gather.ErrShippingNotConfigured)
	assert.Contains(t, err.Error(), "--dry-run")
}

func TestGatherShippingSecretMissing(t *testing.T) {
	host := hostFor(t, `
[shipping]
url = "http://127.0.0.1:1/upload"
username = "u"
password_env = "WASMCOLLECTOR_TEST_UNSET_PASSWORD"
`)
	_, err := host.Gather(context.Background(), wasmcollector.GatherOptions{Type: wasmcollector.Manual})
	var ce *wasmcollector.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "WASMCOLLECTOR_TEST_UNSET_PASSWORD is not set")
}

func TestLicenseGate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string
		want    string
	}{
		{"missing file", nil, "no such file"},
		{"empty file", new(string), "is empty"},
		{"valid license", ptr("key"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.content != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tt.content), 0o644))
			}
			host := hostFor(t, "\n[license]\nrequired = true\nfile = \""+path+"\"\n")
			res, err := host.Gather(context.Background(), wasmcollector.GatherOptions{})
			if tt.want == "" {
				require.NoError(t, err)
				assert.Len(t, res.Tarballs, 1)
				return
			}
			require.ErrorIs(t, err, gather.ErrNotLicensed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRun(t *testing.T) {
	host := hostFor(t, "")
	ctx := context.Background()
	var out bytes.Buffer
	res, err := host.Run(ctx, wasmcollector.RunOptions{Key: "counts", Params: map[string]any{"scale": 3}, Output: &out})
	require.NoError(t, err)
	assert.Equal(t, "counts", res.Collector.Key)
	assert.Equal(t, testNow, res.Until)
	assert.Equal(t, testNow.Add(-24*time.Hour), res.Since)
	assert.Equal(t, 1, res.Report.JSONDocuments)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, "2026-11-26T12:00:00Z", doc["until"])

	// The params override changes the counts: scale 3 is not the TOML's scale 2.
	var again bytes.Buffer
	_, err = host.Run(ctx, wasmcollector.RunOptions{Key: "counts", Output: &again})
	require.NoError(t, err)
	assert.NotEqual(t, out.String(), again.String())

	// The config collector gets no slice unless given one.
	res, err = host.Run(ctx, wasmcollector.RunOptions{Key: "config", Output: io.Discard})
	require.NoError(t, err)
	assert.True(t, res.Since.IsZero() && res.Until.IsZero())
}

func TestRunRefusals(t *testing.T) {
	host := hostFor(t, "")
	ctx := context.Background()
	tests := []struct {
		name string
		opts wasmcollector.RunOptions
		want string
	}{
		{"unknown key", wasmcollector.RunOptions{Key: "nope"}, `no collector with key "nope"`},
		{"unknown function", wasmcollector.RunOptions{Key: "counts", Function: "nope"}, `collector "counts" has no entry with function "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := host.Run(ctx, tt.opts)
			var ce *wasmcollector.CollectorError
			require.ErrorAs(t, err, &ce)
			assert.Nil(t, ce.Disabled)
			assert.EqualError(t, err, tt.want)
		})
	}
	_, err := host.Run(ctx, wasmcollector.RunOptions{Key: "counts", Since: testNow, Until: testNow.Add(-time.Hour)})
	require.ErrorIs(t, err, wasmcollector.ErrEmptySlice)
}

func TestStateLockShared(t *testing.T) {
	host := hostFor(t, "")
	ctx := context.Background()
	store, err := host.State(ctx)
	require.NoError(t, err)
	defer store.Close()
	unlock, err := store.TryLock(ctx)
	require.NoError(t, err)
	// A gather while someone holds the lock is refused, and says so.
	_, err = host.Gather(ctx, wasmcollector.GatherOptions{Type: wasmcollector.DryRun})
	if err == nil {
		t.Log("dry runs do not take the lock")
	} else {
		assert.True(t, errors.Is(err, state.ErrLocked), "%v", err)
	}
	unlock()
	assert.NotEmpty(t, store.Where())
}

var _ = registry.Load

func TestLoadFS(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return b
	}
	product := fstest.MapFS{
		"etc/collectors.toml":  {Data: []byte("[runtime]\nmodules_dir = \"mods\"\n[gather]\nout_dir = \"out\"\nstate_dir = \"state\"\n" + exampleCollectors)},
		"etc/mods/config.wasm": {Data: read(testguests.Go(t, "examples/config"))},
		"etc/mods/counts.wasm": {Data: read(testguests.Go(t, "examples/counts"))},
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "mods"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mods", "stale.wasm"), []byte("left by an older release"), 0o644))
	host, err := wasmcollector.LoadFS(product, "etc/collectors.toml", dir, &wasmcollector.Options{Logger: quiet, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	defer host.Close()
	assert.Equal(t, filepath.Join(dir, "collectors.toml"), host.Registry().File)
	_, err = os.Stat(filepath.Join(dir, "mods", "stale.wasm"))
	assert.True(t, os.IsNotExist(err), "the modules directory is the product's, replaced whole")

	res, err := host.Gather(context.Background(), wasmcollector.GatherOptions{})
	require.NoError(t, err)
	require.Len(t, res.Tarballs, 1)
	assert.Equal(t, filepath.Join(dir, "out"), filepath.Dir(res.Tarballs[0].Path), "out_dir resolves against dir")

	tests := []struct {
		name, root, toml, want string
		dir                    string
	}{
		{"no root file", "nope.toml", "", "nope.toml", dir},
		{"modules_dir leaves the fs", "c.toml", "[runtime]\nmodules_dir = \"../outside\"\n", `modules_dir "../outside" leaves the file system`, dir},
		{"no directory", "c.toml", "", "needs a directory", ""},
		{"registry problems", "c.toml", "[runtime]\ntimeout = \"forever\"\n", "c.toml:2: runtime.timeout", dir},
	}
	t.Run("a module that is not a regular file", func(t *testing.T) {
		fsys := fstest.MapFS{"c.toml": {Data: []byte("")}, "modules/x.wasm": {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink}}
		_, err := wasmcollector.LoadFS(fsys, "c.toml", t.TempDir(), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "modules/x.wasm is not a regular file")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"c.toml": {Data: []byte(tt.toml)}, "modules/x.wasm": {Data: []byte("\x00asm")}}
			_, err := wasmcollector.LoadFS(fsys, tt.root, tt.dir, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// checkOptions are Check's options for a test: check compiles in this race-instrumented process,
// where a cold Go module can take longer than the default 30 s on a loaded machine.
func checkOptions(t *testing.T, module string) modulecheck.Options {
	return modulecheck.Options{Module: module, Logger: quiet, Until: testNow, CompileTimeout: 5 * time.Minute,
		CacheDir: filepath.Join(testguests.CacheDir(t), "wazero")}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "counts.wasm")
	b, err := os.ReadFile(testguests.Go(t, "examples/counts"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(module, b, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "counts.toml"), []byte("[[collector]]\nkey = \"counts\"\nversion = \"1.0\"\nfunction = \"counts\"\n"), 0o644))
	rep, err := wasmcollector.Check(context.Background(), checkOptions(t, module))
	require.NoError(t, err)
	assert.True(t, rep.Passed, "%+v", rep)
	names := map[string]string{}
	for _, it := range rep.Checks {
		names[it.Name] = it.Status
	}
	assert.Equal(t, modulecheck.StatusPass, names["compile"])
	assert.Equal(t, modulecheck.StatusPass, names["abi"])

	// A sidecar naming an export the module lacks fails, and says which.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "counts.toml"), []byte("[[collector]]\nkey = \"counts\"\nversion = \"1.0\"\nfunction = \"nope\"\n"), 0o644))
	rep, err = wasmcollector.Check(context.Background(), checkOptions(t, module))
	require.NoError(t, err)
	assert.False(t, rep.Passed)
	var failed []string
	for _, it := range rep.Checks {
		if it.Status == modulecheck.StatusFail {
			failed = append(failed, it.Name+": "+it.Detail)
		}
	}
	assert.Contains(t, strings.Join(failed, "\n"), "nope")
}

// TestRegistryIsTheHosts: the registry a host runs cannot be changed from outside, neither
// through the one given to New nor through the one Registry returns.
func TestRegistryIsTheHosts(t *testing.T) {
	h := hostFor(t, "")
	reg := h.Registry()
	for _, c := range reg.Collectors {
		c.Params["scale"] = int64(999999)
	}
	reg.Collectors = reg.Collectors[:0]
	given := h.Registry()
	host := wasmcollector.New(given, &wasmcollector.Options{Logger: quiet, Now: func() time.Time { return testNow }})
	defer host.Close()
	given.Collectors = nil

	var out bytes.Buffer
	res, err := host.Run(context.Background(), wasmcollector.RunOptions{Key: "counts", Output: &out})
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Collector.Params["scale"])
	assert.Len(t, host.Registry().Collectors, 2)
}
