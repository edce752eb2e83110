package collector

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// abiParams is the number of i32 parameters of each function, from the table in hostfuncs/ABI.md.
var abiParams = map[string]int{
	abi.FuncEmitJSON:             2,
	abi.FuncCSVHeader:            2,
	abi.FuncCSVRows:              2,
	abi.FuncSliceBounds:          1,
	abi.FuncCollectionType:       0,
	abi.FuncParam:                5,
	abi.FuncParamsJSON:           3,
	abi.FuncLog:                  3,
	abi.FuncFail:                 2,
	abi.FuncDBQuery:              7,
	abi.FuncDBResult:             3,
	abi.FuncDBStreamCSV:          7,
	abi.FuncLastError:            3,
	abi.FuncDBQueryRows:          7,
	abi.FuncDBRowsNext:           3,
	abi.FuncDBStreamCSVTransform: 9,
}

// host_wasip1.go declares exactly one //go:wasmimport per ABI v1 function, from module
// wasmcollector_v1, with the documented number of parameters and one result.
func TestWasmImports(t *testing.T) {
	if len(abiParams) != len(abi.Functions()) {
		t.Fatalf("abiParams lists %d functions, abi.Functions %d", len(abiParams), len(abi.Functions()))
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "host_wasip1.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		var directives []string
		if fd.Doc != nil {
			for _, c := range fd.Doc.List {
				if strings.HasPrefix(c.Text, "//go:wasmimport ") {
					directives = append(directives, c.Text)
				}
			}
		}
		if len(directives) != 1 {
			t.Errorf("%s: %d //go:wasmimport directives, want 1", fd.Name.Name, len(directives))
			continue
		}
		fields := strings.Fields(directives[0])
		if len(fields) != 3 || fields[1] != abi.ModuleName {
			t.Errorf("%s: directive %q, want //go:wasmimport %s <name>", fd.Name.Name, directives[0], abi.ModuleName)
			continue
		}
		name := fields[2]
		names = append(names, name)
		want, known := abiParams[name]
		if !known {
			t.Errorf("%s imports %q, not an ABI v1 function", fd.Name.Name, name)
			continue
		}
		if got := fd.Type.Params.NumFields(); got != want {
			t.Errorf("%s (%s) has %d parameters, ABI.md lists %d", fd.Name.Name, name, got, want)
		}
		if fd.Type.Results.NumFields() != 1 {
			t.Errorf("%s (%s) must return one i32", fd.Name.Name, name)
		}
	}
	got := slices.Sorted(slices.Values(names))
	want := slices.Sorted(slices.Values(abi.Functions()))
	if !slices.Equal(got, want) {
		t.Fatalf("imports = %q, want %q", got, want)
	}

	// No other file declares imports, so the test above sees all of them.
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "host_wasip1.go" || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "//go:wasmimport") {
			t.Errorf("%s declares a wasmimport; keep them all in host_wasip1.go", e.Name())
		}
	}
}
