package runtime

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

const hostModuleName = abi.ModuleName

// wrongTarget returns, for a module built for another target than a WASI reactor by a toolchain
// whose fix is known, the one line naming the fix; "" otherwise. Its other problems (dozens of
// imports this host does not serve, no "memory") follow from the target and would only bury it.
// A module built with GOOS=js GOARCH=wasm imports from "gojs" (Go 1.21 on, and TinyGo), or from
// "go" (a Go module, before 1.21).
func wrongTarget(cm wazero.CompiledModule, goBuilt bool) string {
	for _, f := range cm.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod == "gojs" || mod == "go" && goBuilt {
			return fmt.Sprintf("built for GOOS=js (imports from %q, for a JavaScript host); "+
				"build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared", mod)
		}
	}
	return ""
}

// checkModule checks a compiled module against what the sandbox provides, before anything runs:
// every import must be a function we serve with the same type, memory must be the module's own and
// exported, and the module must be a reactor. All problems are reported at once, except for a
// module built for the wrong target, which gets the one line naming the fix. goBuilt says the Go
// toolchain built the module (see [builtByGo]), for hints in its own terms.
func checkModule(cm wazero.CompiledModule, sb *sandbox, goBuilt bool) error {
	if msg := wrongTarget(cm, goBuilt); msg != "" {
		return errors.New(msg)
	}
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
	case hasStart && !hasInit && goBuilt:
		msg := "is a WASI command (exports _start): build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared"
		if len(collectorFunctions(exports)) == 0 {
			// The usual companion mistake: TinyGo's //export, which the Go toolchain ignores.
			msg += ", and export each collector with //go:wasmexport NAME (the Go toolchain ignores TinyGo's //export)"
		}
		errs = append(errs, errors.New(msg))
	case hasStart && !hasInit:
		errs = append(errs, errors.New("is a WASI command (exports _start): build it as a reactor "+
			"(Go: -buildmode=c-shared; C: -mexec-model=reactor)"))
	case hasInit && signature(initFn) != "() -> ()":
		errs = append(errs, fmt.Errorf("exports _initialize with type %s, want () -> ()", signature(initFn)))
	}
	return errors.Join(errs...)
}

// collectorType is the type of every collector function.
const collectorType = "() -> (i32)"

// maxListedExports bounds the collector functions a message lists: a module may export
// thousands of functions, and a message is one line.
const maxListedExports = 12

// collectorFunctions returns the names of the exports a collector could call, sorted: functions
// of type () -> i32 whose name does not start with "_" (_start, _initialize and the internals
// of toolchains and runtimes) nor is the host's own addition (snapshot.go).
func collectorFunctions(exports map[string]api.FunctionDefinition) []string {
	var names []string
	for name, def := range exports {
		if strings.HasPrefix(name, "_") || strings.HasPrefix(name, snapshotExportPrefix) || signature(def) != collectorType {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// listExports says which collector functions the module exports, at most maxListedExports of
// them.
func listExports(names []string) string {
	if len(names) == 0 {
		return "the module exports no collector function (a function of type () -> (i32))"
	}
	shown := names
	more := ""
	if len(names) > maxListedExports {
		shown, more = names[:maxListedExports], fmt.Sprintf(" and %d more", len(names)-maxListedExports)
	}
	return "its collector functions are " + strings.Join(shown, ", ") + more
}

// checkCollectorExport checks that a collector's export exists with type () -> i32. When it does
// not, the error lists the module's collector functions and, for a Go module, names the directive
// that exports one. goBuilt says the Go toolchain built the module.
func checkCollectorExport(exports map[string]api.FunctionDefinition, fn string, goBuilt bool) *FunctionError {
	def, ok := exports[fn]
	if !ok {
		msg := fmt.Sprintf("function %q is not exported by the module; %s", fn, listExports(collectorFunctions(exports)))
		if goBuilt {
			msg += fmt.Sprintf("; a Go module exports it with //go:wasmexport %s (the Go toolchain ignores TinyGo's //export)", fn)
		}
		return &FunctionError{Function: fn, Message: msg}
	}
	if got := signature(def); got != collectorType {
		return &FunctionError{Function: fn, Message: fmt.Sprintf("function %q has type %s, want () -> (i32)", fn, got)}
	}
	return nil
}

// builtByGo reports whether the Go toolchain (not TinyGo) built the module: its linker writes a
// custom section named "go:buildid" first.
func builtByGo(wasm []byte) bool {
	secs, err := sections(wasm)
	if err != nil {
		return false
	}
	const name = "go:buildid"
	for _, s := range secs {
		if s.id != 0 {
			continue
		}
		b := wasm[s.start:s.end]
		n, w, err := uleb32(b)
		if err == nil && int(n) == len(name) && len(b) >= w+len(name) && string(b[w:w+len(name)]) == name {
			return true
		}
	}
	return false
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
