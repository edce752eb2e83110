package runtime_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

func inspect(t *testing.T, eng *runtime.Engine, name string, wasm []byte) (*runtime.ModuleInfo, error) {
	t.Helper()
	return eng.Inspect(t.Context(), name, wasm)
}

func readGuest(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestInspect: what a module declares, as wazero reads it when compiling, for modules that load
// and for modules that compile but do not fit ABI v1; modules that do not compile are refused
// with their kind.
func TestInspect(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())

	t.Run("imports, exports and memory", func(t *testing.T) {
		info, err := inspect(t, eng, "pointers.wasm", readGuest(t, testguests.WAT(t, "pointers")))
		require.NoError(t, err)
		require.Len(t, info.Imports, 11)
		assert.Equal(t, runtime.FunctionInfo{Module: "wasmcollector_v1", Name: "emit_json", Type: "(i32, i32) -> (i32)"}, info.Imports[0])
		assert.Equal(t, runtime.FunctionInfo{Module: "wasmcollector_v1", Name: "last_error", Type: "(i32, i32, i32) -> (i32)"}, info.Imports[10])
		names, counts := info.ImportModules()
		assert.Equal(t, []string{"wasmcollector_v1"}, names)
		assert.Equal(t, 11, counts["wasmcollector_v1"])
		assert.Contains(t, info.Exports, runtime.FunctionInfo{Name: "ok", Type: "() -> (i32)"})
		assert.IsIncreasing(t, exportNames(info), "sorted by name")
		assert.Equal(t, &runtime.MemoryInfo{Min: 1}, info.Memory)
		assert.Empty(t, info.ImportedMemory)
	})

	t.Run("the host's reserved exports are left out", func(t *testing.T) {
		// A start function makes the host compile a restorable variant, which exports it.
		info, err := inspect(t, eng, "start_loop.wasm", readGuest(t, testguests.WAT(t, "start_loop")))
		require.NoError(t, err)
		assert.Equal(t, []runtime.FunctionInfo{{Name: "collect", Type: "() -> (i32)"}}, info.Exports)
	})

	t.Run("a module that fails the ABI still declares", func(t *testing.T) {
		wasm := readGuest(t, testguests.WAT(t, "no_memory"))
		_, err := eng.Load(t.Context(), runtime.ModuleSpec{Name: "no_memory.wasm", Wasm: wasm})
		var me *runtime.ModuleError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, runtime.ModuleABI, me.Kind)
		info, err := inspect(t, eng, "no_memory.wasm", wasm)
		require.NoError(t, err)
		// wazero shows no memory that is neither imported nor exported: the section is read.
		assert.Equal(t, &runtime.MemoryInfo{Min: 1}, info.Memory)
		assert.Empty(t, info.Imports)
	})

	t.Run("memory maximum and imported memory", func(t *testing.T) {
		// (memory 2 3), by hand.
		info, err := inspect(t, eng, "max.wasm", []byte("\x00asm\x01\x00\x00\x00\x05\x04\x01\x01\x02\x03"))
		require.NoError(t, err)
		assert.Equal(t, &runtime.MemoryInfo{Min: 2, Max: 3, HasMax: true}, info.Memory)
		// (import "env" "mem" (memory 1)).
		info, err = inspect(t, eng, "imported.wasm", []byte("\x00asm\x01\x00\x00\x00\x02\x0c\x01\x03env\x03mem\x02\x00\x01"))
		require.NoError(t, err)
		assert.Equal(t, "env.mem", info.ImportedMemory)
		assert.Nil(t, info.Memory)
	})

	t.Run("refused", func(t *testing.T) {
		good := readGuest(t, testguests.WAT(t, "pointers"))
		for _, tc := range []struct {
			name string
			wasm []byte
			kind runtime.ModuleErrorKind
		}{
			{"text", []byte("not a module"), runtime.ModuleNotWasm},
			{"empty", nil, runtime.ModuleNotWasm},
			{"truncated", good[:len(good)/2], runtime.ModuleInvalid},
			{"garbage section", []byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f"), runtime.ModuleInvalid},
			{"bad function body", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\xff\x0b"), runtime.ModuleInvalid},
			{"table import", readGuest(t, testguests.WAT(t, "import_table")), runtime.ModuleABI},
			{"tables over the cap", readGuest(t, testguests.WAT(t, "table_huge")), runtime.ModuleTooLarge},
		} {
			t.Run(tc.name, func(t *testing.T) {
				info, err := inspect(t, eng, tc.name+".wasm", tc.wasm)
				assert.Nil(t, info)
				var me *runtime.ModuleError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, tc.kind, me.Kind, "%v", err)
				assert.Equal(t, tc.name+".wasm", me.Module)
			})
		}
	})
}

func exportNames(info *runtime.ModuleInfo) []string {
	var out []string
	for _, f := range info.Exports {
		out = append(out, f.Name)
	}
	return out
}

// TestCompileTimeoutKind: a compilation over compile_timeout fails Load and Inspect with kind
// ModuleCompileTimeout, and still matches ErrCompileTimeout.
func TestCompileTimeoutKind(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(time.Millisecond).WithoutCache())
	bomb := testguests.CompileBomb(t, "nested_blocks", 20_000)
	_, err := eng.Load(t.Context(), runtime.ModuleSpec{Path: bomb})
	var me *runtime.ModuleError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, runtime.ModuleCompileTimeout, me.Kind)
	assert.True(t, errors.Is(err, runtime.ErrCompileTimeout))
	assert.True(t, me.Kind.CompileFailed())
	assert.Contains(t, err.Error(), "compilation did not finish within 1ms (compile_timeout)")

	_, err = eng.Inspect(t.Context(), "bomb.wasm", readGuest(t, bomb))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, runtime.ModuleCompileTimeout, me.Kind)
}
