// Package testguests builds the WebAssembly modules that tests run, from source, during the test
// run: Go packages for GOOS=wasip1 as reactors, and WAT files with wabt's wat2wasm. Builds are
// cached on disk by a hash of their inputs, so every test package of one run (and later runs)
// shares them.
//
// Hostile guests, one per attack, live in wat/ (and the Go ones in hostile/); see their comments
// for what each attacks.
package testguests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Root returns the repository root (the directory holding go.mod).
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("testguests: cannot locate source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// CacheDir returns a directory shared by the test packages of a run, for built guests and for the
// wazero compilation cache (compiling a Go guest takes about a second; a cache hit 30 ms).
func CacheDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("WASMCOLLECTOR_TEST_CACHE")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "wasmcollector-test-cache")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	return dir
}

var buildMu sync.Mutex

// Go builds the Go package in pkgDir (relative to the repository root, e.g. "examples/config") with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and returns the module's path.
func Go(tb testing.TB, pkgDir string) string {
	tb.Helper()
	return GoTarget(tb, pkgDir, "wasip1", true)
}

// GoTarget builds the Go package in pkgDir for GOARCH=wasm and goos ("wasip1", or "js" for a
// module built for the wrong target), with -buildmode=c-shared when cShared (else the default, a
// WASI command for wasip1), and returns the module's path. Vendors' wrong builds are tested with
// it.
func GoTarget(tb testing.TB, pkgDir, goos string, cShared bool) string {
	tb.Helper()
	UseWorkerBinary(tb)
	root := Root(tb)
	// The guest's inputs: its own files, the SDK module (with its abi package) and both go.mod files.
	h := sha256.New()
	for _, dir := range []string{pkgDir, "guest-sdk/go"} {
		hashTree(tb, h, filepath.Join(root, dir))
	}
	hashFile(tb, h, filepath.Join(root, "go.mod"))
	hashFile(tb, h, filepath.Join(root, "guest-sdk", "go", "go.mod"))
	fmt.Fprint(h, runtime.Version())
	target := ""
	if goos != "wasip1" || !cShared {
		target = fmt.Sprintf("-%s-cshared%t", goos, cShared) // the usual build keeps its file name
	}
	out := filepath.Join(CacheDir(tb), "go-"+strings.ReplaceAll(pkgDir, "/", "_")+target+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	buildMu.Lock()
	defer buildMu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + ".tmp" + fmt.Sprint(os.Getpid())
	args := []string{"build", "-o", tmp, "./" + pkgDir}
	if cShared {
		args = []string{"build", "-buildmode=c-shared", "-o", tmp, "./" + pkgDir}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testguests: build %s: %v\n%s", pkgDir, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	return out
}

// WAT assembles internal/testguests/wat/<name>.wat with wat2wasm (Debian package wabt; `make deps`
// installs it) and returns the module's path.
func WAT(tb testing.TB, name string) string {
	tb.Helper()
	UseWorkerBinary(tb)
	src := filepath.Join(Root(tb), "internal", "testguests", "wat", name+".wat")
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	sum := sha256.Sum256(b)
	out := filepath.Join(CacheDir(tb), "wat-"+name+"-"+hex.EncodeToString(sum[:])[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		tb.Fatalf("testguests: wat2wasm not found: install wabt (make deps, or apt-get install wabt)")
	}
	tmp := out + ".tmp" + fmt.Sprint(os.Getpid())
	if b, err := exec.Command(tool, src, "-o", tmp).CombinedOutput(); err != nil {
		tb.Fatalf("testguests: wat2wasm %s: %v\n%s", name, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	return out
}

func hashTree(tb testing.TB, h interface{ Write([]byte) (int, error) }, dir string) {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".s")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprint(h, filepath.Base(f))
		hashFile(tb, h, f)
	}
}

func hashFile(tb testing.TB, h interface{ Write([]byte) (int, error) }, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	h.Write(b)
}

// Registry writes a registry for a test: each module (name → built .wasm path) copied into a
// modules directory, and collectorsTOML as collectors.toml with modules_dir pointing there and the
// shared compilation cache. It returns the path of collectors.toml. collectorsTOML must not have a
// [runtime] table; extraRuntime lines are added to the generated one.
func Registry(tb testing.TB, modules map[string]string, collectorsTOML string, extraRuntime ...string) string {
	tb.Helper()
	UseWorkerBinary(tb)
	dir := tb.TempDir()
	modDir := filepath.Join(dir, "modules")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, src := range modules {
		b, err := os.ReadFile(src)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(modDir, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	head := fmt.Sprintf("[runtime]\nmodules_dir = \"modules\"\ncache_dir = %q\n%s\n",
		filepath.Join(CacheDir(tb), "wazero"), strings.Join(extraRuntime, "\n"))
	path := filepath.Join(dir, "collectors.toml")
	if err := os.WriteFile(path, []byte(head+collectorsTOML), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
