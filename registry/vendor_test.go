package registry

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSidecarDiscovery: with modules_dir = "." (as `wasmcollector new` writes it), the root
// file's directory holds other TOML files. Only NAME.toml beside NAME.wasm is a sidecar, never
// the root file; a lone NAME.toml is left alone unless it looks like a sidecar (a warning then);
// a NAME.wasm nothing declares gets a warning. None of it stops the registry.
func TestSidecarDiscovery(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": "[runtime]\nmodules_dir = \".\"\n" + configCollector,
		"jobs.wasm":       wasmBytes,
		"jobs.toml":       "[[collector]]\nkey = \"jobs\"\nversion = \"1\"\n",
		// A wasm named like the root file does not make the root file a sidecar.
		"collectors.wasm": wasmBytes,
		// Other people's TOML files: a Cargo manifest, a tool's config (with a [[collector]]
		// of its own among other tables), a file that is not TOML at all.
		"Cargo.toml":  "[package]\nname = \"logins\"\nversion = \"0.1.0\"\n",
		"config.toml": "[server]\nport = 8080\n\n[[collector]]\nname = \"x\"\n",
		"notes.toml":  "this is = not [toml\n",
		// Looks like a sidecar whose module is missing: a warning.
		"orphan.toml": "[module]\nmemory_limit = \"8MiB\"\n\n[[collector]]\nkey = \"o\"\nversion = \"1\"\n",
		// A module nothing declares: a warning.
		"stray.wasm": wasmBytes,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Empty(t, reg.Disabled)
	var keys []string
	for _, c := range reg.Collectors {
		keys = append(keys, c.Key)
	}
	assert.Equal(t, []string{"config", "jobs"}, keys)

	require.Len(t, reg.Warnings, 3, "%v", reg.Warnings)
	w := reg.Warnings
	assert.Equal(t, CodeNoSidecar, w[0].Code)
	assert.Equal(t, filepath.Join(dir, "collectors.wasm"), w[0].File)
	assert.Contains(t, w[0].Message, "module collectors.wasm: collectors.toml beside it is the root file, never a sidecar")
	assert.Equal(t, CodeNotFound, w[1].Code)
	assert.Equal(t, filepath.Join(dir, "orphan.toml"), w[1].File)
	assert.Equal(t, "declares collectors but has no orphan.wasm beside it: not read as a sidecar, its collectors do not run", w[1].Message)
	assert.Equal(t, CodeNoSidecar, w[2].Code)
	assert.Equal(t, filepath.Join(dir, "stray.wasm"), w[2].File)
	assert.Contains(t, w[2].Message, "module stray.wasm has no sidecar stray.toml beside it and no collector in the root file names it")

	t.Run("a module the root file names needs no sidecar", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"collectors.toml":   configCollector,
			"modules/jobs.wasm": wasmBytes,
		})
		reg, err := Load(filepath.Join(dir, "collectors.toml"))
		require.NoError(t, err)
		assert.Empty(t, reg.Warnings)
	})
	t.Run("a lone sidecar-like file over the size cap is not read", func(t *testing.T) {
		dir := t.TempDir()
		big := "[[collector]]\nkey = \"o\"\nversion = \"1\"\n#" + string(make([]byte, 2<<10)) + "\n"
		writeFiles(t, dir, map[string]string{
			"collectors.toml":   "[runtime]\nmax_sidecar_size = \"1KiB\"\n" + configCollector,
			"modules/jobs.wasm": wasmBytes,
			"modules/big.toml":  big,
		})
		reg, err := Load(filepath.Join(dir, "collectors.toml"))
		require.NoError(t, err)
		assert.Empty(t, reg.Warnings)
	})
}

// TestKeyConflict: a key declared for two modules, one of them by a sidecar, is a problem on the
// later declaration naming the earlier one, whatever the slicing; it disables the later
// sidecar's module only. The root file alone may still share a sliced key between modules.
func TestKeyConflict(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":   configCollector,
		"modules/jobs.wasm": wasmBytes,
		"modules/a.wasm":    wasmBytes,
		"modules/a.toml":    "[[collector]]\nkey = \"events\"\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\n",
		"modules/b.wasm":    wasmBytes,
		"modules/b.toml":    "[[collector]]\nkey = \"b_only\"\nversion = \"1\"\n\n[[collector]]\nkey = \"events\"\nversion = \"1\"\nformat = \"csv\"\nslicing = \"1h\"\n",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err, "a sidecar's problem disables its module, not the registry")
	require.Len(t, reg.Disabled, 1)
	d := reg.Disabled[0]
	assert.Equal(t, "b.wasm", d.Name)
	require.Len(t, d.Problems, 1)
	p := d.Problems[0]
	assert.Equal(t, CodeKeyConflict, p.Code)
	assert.Equal(t, filepath.Join(dir, "modules", "b.toml")+":6: collector[1].key: "+
		`key "events" is also declared by module a.wasm at `+filepath.Join(dir, "modules", "a.toml")+
		":1; collectors of two modules must not share a key (both would write ./events.csv)", p.Error())
	var keys []string
	for _, c := range reg.Collectors {
		keys = append(keys, c.Key)
	}
	assert.Equal(t, []string{"config", "events"}, keys, "a.wasm's collector keeps its key")

	t.Run("one module may repeat a sliced key", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"collectors.toml":   configCollector,
			"modules/jobs.wasm": wasmBytes,
			"modules/a.wasm":    wasmBytes,
			"modules/a.toml": "[[collector]]\nkey = \"events\"\nversion = \"1\"\nslicing = \"1h\"\nfunction = \"e1\"\n\n" +
				"[[collector]]\nkey = \"events\"\nversion = \"1\"\nslicing = \"daily\"\nfunction = \"e2\"\n",
		})
		reg, err := Load(filepath.Join(dir, "collectors.toml"))
		require.NoError(t, err)
		assert.Empty(t, reg.Disabled)
	})
}
