// Command wasmcollector runs sandboxed WebAssembly analytics collectors. See `wasmcollector --help`.
package main

import (
	"os"

	"github.com/wasmcollector/wasmcollector/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
