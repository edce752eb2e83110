package collector

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	sdkPath = "github.com/wasmcollector/wasmcollector/guest-sdk/go"
	abiPath = "github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// goTool returns the go command, or skips the test when it is not installed.
func goTool(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	return gobin
}

// runGoWasip1 runs the go command with args for GOOS=wasip1 GOARCH=wasm in this package's directory.
func runGoWasip1(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool(t), args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The SDK is linked into every vendor's module: it may depend on the standard library and on
// its abi package (the ABI constants the host shares) only.
func TestDependencies(t *testing.T) {
	out := runGoWasip1(t, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	got := strings.Fields(out)
	slices.Sort(got)
	want := []string{sdkPath, abiPath}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("non-standard dependencies for wasip1/wasm = %q, want only %q", got, want)
	}
}

// The SDK module requires no other module: a vendor's go.sum holds nothing because of it.
func TestModuleHasNoRequirements(t *testing.T) {
	out := runGoWasip1(t, "list", "-m", "all")
	if got := strings.Fields(out); !slices.Equal(got, []string{sdkPath}) {
		t.Fatalf("go list -m all = %q, want only %s", got, sdkPath)
	}
}

// Unit tests run on the build machine with the stand-ins; this checks the real wasmimport side
// compiles too.
func TestBuildsForWasip1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for wasip1")
	}
	runGoWasip1(t, "build", ".")
}
