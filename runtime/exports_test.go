package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// TestExportErrors: every collector function a module lacks is named at once, in the spec's
// order, each with the module's collector functions (exports of type () -> i32, internals left
// out, at most 12 listed), so that a caller fails only the collectors calling them.
func TestExportErrors(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig())
	path := testguests.WAT(t, "vendor_exports")
	_, err := eng.Load(t.Context(), runtime.ModuleSpec{Path: path, Functions: []string{"config", "hostz", "helper", "jobs", "gone"}})
	var me *runtime.ModuleError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, runtime.ModuleExport, me.Kind)
	require.Len(t, me.Functions, 3)
	assert.Equal(t, "hostz", me.Functions[0].Function)
	assert.Equal(t, `function "hostz" is not exported by the module; its collector functions are config, jobs`, me.Functions[0].Message)
	assert.Equal(t, "helper", me.Functions[1].Function)
	assert.Equal(t, `function "helper" has type (i32) -> (i32), want () -> (i32)`, me.Functions[1].Message)
	assert.Equal(t, "gone", me.Functions[2].Function)
	var fe *runtime.FunctionError
	require.True(t, errors.As(err, &fe), "the first function's error is in the chain")
	assert.Equal(t, "hostz", fe.Function)
	assert.Equal(t, 3, strings.Count(err.Error(), "\n")+1, "one line a function: %v", err)

	t.Run("the list is bounded", func(t *testing.T) {
		// pointers exports dozens of collector-typed functions.
		_, err := eng.Load(t.Context(), runtime.ModuleSpec{Path: testguests.WAT(t, "pointers"), Functions: []string{"gone"}})
		var me *runtime.ModuleError
		require.ErrorAs(t, err, &me)
		require.Len(t, me.Functions, 1)
		msg := me.Functions[0].Message
		assert.Regexp(t, `its collector functions are (\w+, ){11}\w+ and \d+ more$`, msg)
	})
	t.Run("the functions the module has load", func(t *testing.T) {
		load(t, eng, path, "config", "jobs")
	})
}

// TestBuiltByGo: the Go toolchain's modules are recognised (a go:buildid section), for hints in
// Go's terms; others are not.
func TestBuiltByGo(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout))
	info, err := eng.Inspect(t.Context(), "tinygoexport.wasm", readGuest(t, testguests.Go(t, "internal/testguests/tinygoexport")))
	require.NoError(t, err)
	assert.True(t, info.BuiltByGo)
	info, err = eng.Inspect(t.Context(), "pointers.wasm", readGuest(t, testguests.WAT(t, "pointers")))
	require.NoError(t, err)
	assert.False(t, info.BuiltByGo)
}
