// Command wasmcollector runs sandboxed WebAssembly analytics collectors. See `wasmcollector --help`.
package main

import (
	"os"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/worker"
)

func main() {
	if worker.IsWorker() {
		worker.Main() // a worker process of the process executor: see internal/worker
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
