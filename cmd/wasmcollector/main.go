// Command wasmcollector runs sandboxed WebAssembly analytics collectors. See `wasmcollector --help`.
package main

import (
	"os"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	_ "github.com/wasmcollector/wasmcollector/internal/worker" // serves as a worker when started as one
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
