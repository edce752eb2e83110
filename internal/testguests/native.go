package testguests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// CFlags are the clang flags guests in C are built with (Debian's clang, lld and wasi-libc).
var CFlags = []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-mexec-model=reactor", "-Wall", "-Wextra", "-Werror"}

const (
	cHint    = "install clang lld wasi-libc libclang-rt-dev-wasm32 (make deps)"
	rustHint = "install rustc cargo libstd-rust-dev-wasm32 (make deps)"
	// Rustc and Cargo are Debian's: rustup's cannot fetch wasm targets here, and cannot use
	// Debian's wasm std.
	Rustc      = "/usr/bin/rustc"
	Cargo      = "/usr/bin/cargo"
	RustTarget = "wasm32-wasi"
)

var nativeMu sync.Mutex

// C compiles one C file (relative to the repository root, or absolute) against the SDK header
// guest-sdk/c/wasmcollector.h and returns the module's path, cached by a hash of the sources,
// flags and compiler. It fails the test, never skips it, when clang is missing.
func C(tb testing.TB, src string) string {
	tb.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		tb.Fatalf("testguests: clang not found: %s", cHint)
	}
	root := Root(tb)
	if !filepath.IsAbs(src) {
		src = filepath.Join(root, src)
	}
	version, err := exec.Command(clang, "--version").Output()
	if err != nil {
		tb.Fatalf("testguests: clang --version: %v (%s)", err, cHint)
	}
	h := sha256.New()
	h.Write(version)
	fmt.Fprint(h, CFlags)
	for _, f := range []string{src, filepath.Join(root, "guest-sdk", "c", "wasmcollector.h")} {
		fmt.Fprint(h, filepath.Base(f))
		hashFile(tb, h, f)
	}
	name := strings.TrimSuffix(filepath.Base(src), ".c")
	out := filepath.Join(CacheDir(tb), "c-"+name+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	nativeMu.Lock()
	defer nativeMu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	args := append(append([]string{}, CFlags...), "-I", filepath.Join(root, "guest-sdk", "c"), "-o", tmp, src)
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		tb.Fatalf("testguests: clang %s: %v\n%s\n(%s)", strings.Join(args, " "), err, b, cHint)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Rust builds the cdylib crate in crateDir (relative to the repository root) for wasm32-wasi with
// Debian's cargo, offline, and returns the module lib.wasm's path, cached by a hash of the crate's
// and the SDK's sources and the compiler. It fails the test, never skips it, when the toolchain or
// its wasm std is missing.
func Rust(tb testing.TB, crateDir, lib string) string {
	tb.Helper()
	RequireRust(tb)
	root := Root(tb)
	version, err := exec.Command(Rustc, "-vV").Output()
	if err != nil {
		tb.Fatalf("testguests: %s -vV: %v", Rustc, err)
	}
	h := sha256.New()
	h.Write(version)
	for _, dir := range []string{"guest-sdk/rust", crateDir} {
		hashCrate(tb, h, filepath.Join(root, dir))
	}
	out := filepath.Join(CacheDir(tb), "rust-"+lib+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	nativeMu.Lock()
	defer nativeMu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := tb.TempDir()
	cmd := exec.Command(Cargo, "build", "--offline", "--locked", "--release", "--target", RustTarget,
		"--manifest-path", filepath.Join(root, crateDir, "Cargo.toml"))
	cmd.Env = append(RustEnv(), "RUSTC="+Rustc, "CARGO_HOME="+filepath.Join(tmp, "cargo-home"),
		"CARGO_TARGET_DIR="+filepath.Join(tmp, "target"), "CARGO_TERM_COLOR=never")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testguests: cargo build %s: %v\n%s", crateDir, err, b)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "target", RustTarget, "release", lib+".wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(out+".tmp", b, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// RequireRust fails the test when Debian's rustc, cargo or the wasm32-wasi std is missing.
func RequireRust(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{Rustc, Cargo} {
		if _, err := os.Stat(tool); err != nil {
			tb.Fatalf("testguests: %s not found: %s", tool, rustHint)
		}
	}
	out, err := exec.Command(Rustc, "--print", "sysroot").Output()
	if err != nil {
		tb.Fatalf("testguests: %s --print sysroot: %v: %s", Rustc, err, rustHint)
	}
	std, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "lib", "rustlib", RustTarget, "lib", "libstd-*.rlib"))
	if len(std) == 0 {
		tb.Fatalf("testguests: the %s standard library is missing: %s", RustTarget, rustHint)
	}
}

// RustEnv is the environment without Cargo and rustup settings that would change the build.
func RustEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CARGO") && !strings.HasPrefix(kv, "RUST") {
			env = append(env, kv)
		}
	}
	return env
}

// hashCrate hashes a crate's manifest, lock file and Rust sources, skipping build output.
func hashCrate(tb testing.TB, h io.Writer, dir string) {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "target":
			return filepath.SkipDir
		case !d.IsDir() && (strings.HasSuffix(p, ".rs") || d.Name() == "Cargo.toml" || d.Name() == "Cargo.lock"):
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprint(h, strings.TrimPrefix(f, dir))
		hashFile(tb, h, f)
	}
}
