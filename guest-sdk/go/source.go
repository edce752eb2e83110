//go:build !wasip1

package collector

import "embed"

// Source is this SDK's own module: go.mod, the package's .go files (tests included) and abi/. It
// is here for `wasmcollector new`, which copies the SDK into the Go projects it writes so that they
// build offline; collectors have no use for it, and a module built for GOOS=wasip1 does not
// contain it.
//
// It lives in this package because go:embed reaches only files of the embedding package's own
// module, and this package is the SDK module's root.
//
//go:embed go.mod *.go abi/*.go
var Source embed.FS
