package registry

import _ "embed"

//go:embed sample.toml
var sample []byte

// Sample returns a fully commented sample collectors.toml that documents every option, with
// defaults commented out; `wasmcollector` prints it for users to start from. The caller owns
// the returned slice.
func Sample() []byte {
	return append([]byte(nil), sample...)
}
