package registry

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClone: a clone is equal to the original, shares nothing mutable with it, keeps the
// pointers the original shares between its parts, and changing one leaves the other as it was.
func TestClone(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": `
[shipping]
url = "https://ingress.example/upload"
username = "u"
password_env = "P"
[shipping.headers]
X-Product = "acme"

[datasources.db]
driver = "sqlite"
path = "db.sqlite"

[modules."jobs.wasm"]
datasources = ["db"]
env = ["TZ"]

[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "4h"
module = "jobs.wasm"
function = "events"
[collector.params]
nested = { list = [1, 2, {deep = "x"}] }
` + configCollector,
		"modules/jobs.wasm":   wasmBytes + "jobs",
		"modules/broken.wasm": wasmBytes + "broken",
		"modules/broken.toml": "[[collector]]\nkey = 1\n",
		"db.sqlite":           "",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.NotEmpty(t, reg.Disabled, "the broken sidecar disables its module")

	c := reg.Clone()
	require.Equal(t, reg, c)
	assertNothingShared(t, reflect.ValueOf(reg), reflect.ValueOf(c), "Registry")
	for _, col := range c.Collectors {
		assert.Same(t, c.Modules[0], col.Module, "collector %s points at the clone's module", col.Key)
	}

	c.Collectors[0].Params["nested"].(map[string]any)["list"].([]any)[2].(map[string]any)["deep"] = "changed"
	c.Modules[0].Env[0] = "HOME"
	c.Shipping.Headers["X-Product"] = "other"
	c.DataSources["db"].Path = "/elsewhere"
	assert.Equal(t, "x", reg.Collectors[0].Params["nested"].(map[string]any)["list"].([]any)[2].(map[string]any)["deep"])
	assert.Equal(t, "TZ", reg.Modules[0].Env[0])
	assert.Equal(t, "acme", reg.Shipping.Headers["X-Product"])
	assert.Equal(t, filepath.Join(dir, "db.sqlite"), reg.DataSources["db"].Path)
}

// assertNothingShared walks a and b, the same shape, and fails where a pointer, map or slice of
// b is the same as a's (unexported fields included).
func assertNothingShared(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() && (a.Kind() != reflect.Slice || a.Len() > 0) {
			t.Errorf("%s is shared between the original and the clone", path)
			return
		}
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !a.IsNil() {
			assertNothingShared(t, a.Elem(), b.Elem(), path)
		}
	case reflect.Struct:
		for i := range a.NumField() {
			assertNothingShared(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
		}
	case reflect.Slice:
		for i := range a.Len() {
			assertNothingShared(t, a.Index(i), b.Index(i), path+"[]")
		}
	case reflect.Map:
		for _, k := range a.MapKeys() {
			assertNothingShared(t, a.MapIndex(k), b.MapIndex(k), path+"[key]")
		}
	}
}
