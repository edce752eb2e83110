package runtime

import (
	"context"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
)

// ModuleInfo is what a module declares, as the runtime reads it when it compiles the module: for
// reports (check), not for judging, which [Engine.Load] does.
type ModuleInfo struct {
	// Imports are the imported functions, in the order of the import section.
	Imports []FunctionInfo
	// Exports are the exported functions, by name (the host's own additions left out).
	Exports []FunctionInfo
	// Memory is the memory the module defines, nil when it defines none.
	Memory *MemoryInfo
	// ImportedMemory names the memory the module imports ("module.name"), "" when none.
	ImportedMemory string
	// BuiltByGo says the Go toolchain built the module (it has a "go:buildid" section), so that
	// messages name the fix in Go's terms (//go:wasmexport, -buildmode=c-shared).
	BuiltByGo bool
}

// FunctionInfo is an imported or exported function.
type FunctionInfo struct {
	Module string // the import module; "" for an export
	Name   string
	// Type is the function's type as the runtime's messages write it, e.g. "(i32, i32) -> (i32)".
	Type string
}

// MemoryInfo is a memory declaration, in 64 KiB pages.
type MemoryInfo struct {
	Min    uint32
	Max    uint32 // when HasMax
	HasMax bool
}

// ImportModules returns the import modules in order of first use, with how many functions the
// module imports from each.
func (i *ModuleInfo) ImportModules() (names []string, counts map[string]int) {
	counts = map[string]int{}
	for _, f := range i.Imports {
		if counts[f.Module] == 0 {
			names = append(names, f.Module)
		}
		counts[f.Module]++
	}
	return names, counts
}

// moduleInfo reads a compiled module's declarations from wazero; wasm is the binary it compiled,
// read for what wazero does not expose (a memory the module neither imports nor exports).
func moduleInfo(cm wazero.CompiledModule, wasm []byte) *ModuleInfo {
	info := &ModuleInfo{}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		info.Imports = append(info.Imports, FunctionInfo{Module: mod, Name: name, Type: signature(f)})
	}
	for name, f := range cm.ExportedFunctions() {
		if strings.HasPrefix(name, snapshotExportPrefix) {
			continue // the restorable variant's (snapshot.go)
		}
		info.Exports = append(info.Exports, FunctionInfo{Name: name, Type: signature(f)})
	}
	slices.SortFunc(info.Exports, func(a, b FunctionInfo) int { return strings.Compare(a.Name, b.Name) })
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		info.ImportedMemory = mod + "." + name
	}
	info.Memory = definedMemory(wasm)
	info.BuiltByGo = builtByGo(wasm)
	return info
}

// Inspect compiles a module (once per engine for each content, as [Engine.Load] does, and under
// the same compile timeout) and returns what it declares, without instantiating it. It succeeds
// for a module that compiles but does not fit ABI v1: Load says what is wrong with it. A module
// that does not compile, or that the host refuses before compiling (a table or global import,
// tables over the cap), fails with a *ModuleError, as from Load.
func (e *Engine) Inspect(ctx context.Context, name string, wasm []byte) (*ModuleInfo, error) {
	fail := func(kind ModuleErrorKind, err error) (*ModuleInfo, error) {
		return nil, &ModuleError{Module: name, Kind: kindOf(err, kind), Err: err}
	}
	sha, compiled, err := prepare(wasm, "")
	if err != nil {
		return fail(ModuleInvalid, err)
	}
	job, err := e.compile(ctx, compiled, sha)
	if err != nil {
		return fail(ModuleCanceled, err)
	}
	if job.info == nil {
		return fail(ModuleInvalid, job.err)
	}
	return job.info, nil
}
