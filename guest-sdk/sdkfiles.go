// Package sdkfiles embeds the guest SDKs that are not Go, so that `wasmcollector new` can copy them
// into the projects it writes: the C SDK (c/wasmcollector.h, one header) and the Rust SDK (the
// crate in rust/: Cargo.toml and src/).
//
// It lives at the root of guest-sdk because go:embed only reaches files at or below the package's
// directory. The Go SDK is the package in go/; a Go project depends on it as a module instead.
package sdkfiles

import "embed"

// FS holds c/wasmcollector.h, rust/Cargo.toml and rust/src/, at those paths.
//
//go:embed c/wasmcollector.h rust/Cargo.toml rust/src
var FS embed.FS

// CHeader is the path of the C SDK's header in FS.
const CHeader = "c/wasmcollector.h"

// RustCrate is the directory of the Rust SDK crate in FS.
const RustCrate = "rust"
