package checkcmd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

func detail(rep report, name string) string {
	for _, it := range rep.Checks {
		if it.Name == name {
			return it.Status + ": " + it.Detail
		}
	}
	return ""
}

// TestCheckDetails: what check says a module declares comes from the runtime (runtime.ModuleInfo):
// its imports, and its memory, also when the module fails the ABI; which item fails follows the
// kind of the runtime's error.
func TestCheckDetails(t *testing.T) {
	t.Run("imports and memory", func(t *testing.T) {
		rep, code := check(t, module(t, testguests.WAT(t, "pointers"), "pointers", ""))
		require.Equal(t, 0, code, "%+v", rep)
		assert.Equal(t, "pass: ABI v1: imports 11 from wasmcollector_v1", detail(rep, "abi"))
		assert.Equal(t, "pass: declares 1 page (64 KiB) at least, within the default limit of 64 MiB", detail(rep, "memory"))
	})
	t.Run("imports nothing", func(t *testing.T) {
		rep, code := check(t, module(t, testguests.WAT(t, "spin"), "spin", ""))
		require.Equal(t, 0, code, "%+v", rep)
		assert.Equal(t, "pass: ABI v1 (imports nothing)", detail(rep, "abi"))
	})
	t.Run("memory of a module that fails the ABI", func(t *testing.T) {
		// Its memory is not exported: wazero does not show it; the runtime reads its section.
		rep, code := check(t, module(t, testguests.WAT(t, "no_memory"), "no_memory", ""))
		require.Equal(t, 1, code, "%+v", rep)
		assert.Equal(t, "pass: valid WebAssembly", detail(rep, "compile")[:len("pass: valid WebAssembly")])
		assert.Equal(t, `fail: exports no memory named "memory"`, detail(rep, "abi"))
		assert.Equal(t, "pass: declares 1 page (64 KiB) at least, within the default limit of 64 MiB", detail(rep, "memory"))
	})
	t.Run("memory maximum", func(t *testing.T) {
		// (memory (export "memory") 2 3), by hand: a reactor that imports and exports nothing else.
		path := filepath.Join(t.TempDir(), "max.wasm")
		require.NoError(t, os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00\x05\x04\x01\x01\x02\x03\x07\x0a\x01\x06memory\x02\x00"), 0o644))
		rep, code := check(t, path)
		require.Equal(t, 0, code, "%+v", rep)
		assert.Equal(t, "pass: declares 2 pages (128 KiB) at least, 3 at most, within the default limit of 64 MiB", detail(rep, "memory"))
	})
	t.Run("another binary version does not compile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v2.wasm")
		require.NoError(t, os.WriteFile(path, []byte("\x00asm\x02\x00\x00\x00"), 0o644))
		rep, code := check(t, path)
		require.Equal(t, 1, code, "%+v", rep)
		assert.Equal(t, "fail: WebAssembly binary version 2 is not supported (want 1)", detail(rep, "compile"))
		assert.Equal(t, "skip: not checked: the module does not compile", detail(rep, "abi"))
		assert.Equal(t, "skip: not checked: the module did not load", detail(rep, "memory"))
	})
}
