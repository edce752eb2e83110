package hostfuncs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// TestABIDocMatchesHostAndSDK keeps the three statements of ABI v1 in step: the function table in
// ABI.md, the host module built here, and the Go SDK's wasmimport declarations.
func TestABIDocMatchesHostAndSDK(t *testing.T) {
	doc, err := os.ReadFile("ABI.md")
	require.NoError(t, err)

	// | `emit_json` | `ptr i32, len i32` | `i32` status |
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([^|]*)\\| `i32`")
	documented := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		params := strings.TrimSpace(m[2])
		documented[m[1]] = 0
		if params != "" {
			documented[m[1]] = len(strings.Split(params, ","))
		}
	}

	host := map[string]int{}
	for _, f := range functions {
		host[f.name] = len(f.params)
	}
	require.Equal(t, documented, host, "ABI.md function table vs host module")

	names := map[string]bool{}
	for _, n := range abi.Functions() {
		names[n] = true
	}
	for n := range host {
		require.True(t, names[n], "abi.Functions lacks %s", n)
	}
	require.Len(t, names, len(host))

	sdk, err := os.ReadFile(filepath.Join("..", "guest-sdk", "go", "host_wasip1.go"))
	require.NoError(t, err)
	imports := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//go:wasmimport (\S+) (\S+)$`).FindAllStringSubmatch(string(sdk), -1) {
		require.Equal(t, abi.ModuleName, m[1])
		imports[m[2]] = true
	}
	require.Equal(t, names, imports, "Go SDK imports vs ABI v1")
}
