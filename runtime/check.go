package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

const hostModuleName = abi.ModuleName

// checkModule checks a compiled module against what the sandbox provides, before anything runs:
// every import must be a function we serve with the same type, memory must be the module's own and
// exported, and the module must be a reactor. All problems are reported at once.
func checkModule(cm wazero.CompiledModule, sb *sandbox) error {
	var errs []error
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch provided, ok := sb.provided[mod]; {
		case !ok && strings.HasPrefix(mod, abi.ModulePrefix):
			errs = append(errs, fmt.Errorf("imports %s.%s: ABI %q is not supported by this host (it serves %s)",
				mod, name, mod, abi.ModuleName))
		case !ok:
			errs = append(errs, fmt.Errorf("imports %s.%s, which this host does not provide (only %s and %s)",
				mod, name, abi.ModuleName, "wasi_snapshot_preview1"))
		default:
			def, ok := provided[name]
			if !ok {
				errs = append(errs, fmt.Errorf("imports %s.%s, which this host does not provide", mod, name))
				continue
			}
			if got, want := signature(f), signature(def); got != want {
				errs = append(errs, fmt.Errorf("imports %s.%s with type %s, host provides %s", mod, name, got, want))
			}
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		errs = append(errs, fmt.Errorf("imports memory %s.%s; a module must define its own memory", mod, name))
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		errs = append(errs, errors.New(`exports no memory named "memory"`))
	}
	exports := cm.ExportedFunctions()
	_, hasStart := exports["_start"]
	initFn, hasInit := exports["_initialize"]
	switch {
	case hasStart && !hasInit:
		errs = append(errs, errors.New("is a WASI command (exports _start): build it as a reactor "+
			"(Go: -buildmode=c-shared; C: -mexec-model=reactor)"))
	case hasInit && signature(initFn) != "() -> ()":
		errs = append(errs, fmt.Errorf("exports _initialize with type %s, want () -> ()", signature(initFn)))
	}
	return errors.Join(errs...)
}

// checkCollectorExport checks that a collector's export exists with type () -> i32.
func checkCollectorExport(exports map[string]api.FunctionDefinition, fn string) error {
	def, ok := exports[fn]
	if !ok {
		return fmt.Errorf("function %q is not exported by the module (declared in the TOML)", fn)
	}
	if got := signature(def); got != "() -> (i32)" {
		return fmt.Errorf("function %q has type %s, want () -> (i32)", fn, got)
	}
	return nil
}

func signature(def api.FunctionDefinition) string {
	return "(" + typeList(def.ParamTypes()) + ") -> (" + typeList(def.ResultTypes()) + ")"
}

func typeList(ts []api.ValueType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = api.ValueTypeName(t)
	}
	return strings.Join(s, ", ")
}
