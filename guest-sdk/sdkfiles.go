// Package sdkfiles embeds the guest SDKs, so that `wasmcollector new` can copy them into the
// projects it writes: the C SDK (c/wasmcollector.h, one header), the Rust SDK (the crate in rust/:
// Cargo.toml and src/) and the Go SDK (the module in go/).
//
// It lives at the root of guest-sdk because go:embed only reaches files at or below the package's
// directory. The Go SDK is a module of its own, which go:embed from this module cannot reach: it
// embeds itself ([collector.Source]) and GoSDK takes that.
package sdkfiles

import (
	"embed"
	"io/fs"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

// FS holds c/wasmcollector.h, rust/Cargo.toml and rust/src/, at those paths.
//
//go:embed c/wasmcollector.h rust/Cargo.toml rust/src
var FS embed.FS

// CHeader is the path of the C SDK's header in FS.
const CHeader = "c/wasmcollector.h"

// RustCrate is the directory of the Rust SDK crate in FS.
const RustCrate = "rust"

// GoModulePath is the Go SDK's module path, which is also the import path of its package.
const GoModulePath = "github.com/wasmcollector/wasmcollector/guest-sdk/go"

// GoSDK holds the Go SDK module: go.mod, the package's .go files and abi/. Its _test.go files are
// in it too (go:embed cannot leave them out); a project's copy leaves them out.
var GoSDK fs.FS = collector.Source
