package runtime_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// TestTableLimits: a module whose tables start over the cap is refused before it compiles, and
// one that grows a table hits the cap as a failed grow (then traps on its own), leaving the
// engine healthy.
func TestTableLimits(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	_, err := eng.Load(t.Context(), runtime.ModuleSpec{Path: testguests.WAT(t, "table_huge"), Functions: []string{"collect"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tables declare 2000000 entries at start, more than the 1048576 allowed")
	var me *runtime.ModuleError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, runtime.ModuleTooLarge, me.Kind)

	mod := load(t, eng, testguests.WAT(t, "table_bomb"), "table_bomb")
	r := invoke(t, mod, "table_bomb", hostfuncs.Request{})
	requireKind(t, r.err, runtime.KindTrap, "unreachable")
	requireHealthy(t, load(t, eng, testguests.WAT(t, "pointers")), nil, "")
}

// TestModuleFileKinds: a FIFO or a device in place of a module is refused without reading it.
func TestModuleFileKinds(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	fifo := filepath.Join(t.TempDir(), "fifo.wasm")
	require.NoError(t, mkfifo(fifo))
	for path, want := range map[string]string{fifo: "is not a regular file (a named pipe)", "/dev/zero": "is not a regular file (a device)",
		t.TempDir(): "is not a regular file (a directory)"} {
		_, err := eng.Load(t.Context(), runtime.ModuleSpec{Path: path})
		require.Error(t, err, path)
		assert.Contains(t, err.Error(), want)
		var me *runtime.ModuleError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, runtime.ModuleUnreadable, me.Kind)
	}
}

// TestPruneCache removes the oldest entries first down to the size, and keeps recent ones.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for i, name := range []string{"a", "b", "c", "d"} {
		p := filepath.Join(dir, "sub", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, make([]byte, 1000), 0o600))
		require.NoError(t, os.Chtimes(p, old.Add(time.Duration(i)*time.Minute), old.Add(time.Duration(i)*time.Minute)))
	}
	recent := filepath.Join(dir, "sub", "recent")
	require.NoError(t, os.WriteFile(recent, make([]byte, 1000), 0o600))

	n, err := runtime.PruneCache(dir, 2500)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "a, b and c go; d and the recent one stay")
	for _, name := range []string{"a", "b", "c"} {
		assert.NoFileExists(t, filepath.Join(dir, "sub", name))
	}
	assert.FileExists(t, filepath.Join(dir, "sub", "d"))
	assert.FileExists(t, recent)

	n, err = runtime.PruneCache(filepath.Join(dir, "missing"), 0)
	require.NoError(t, err)
	assert.Zero(t, n)
}
