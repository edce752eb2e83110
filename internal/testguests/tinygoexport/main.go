// Command tinygoexport is a vendor's mistake, built by tests for the wrong targets: a collector
// exported TinyGo's way, with //export, which the Go toolchain ignores (it wants
// //go:wasmexport). Built with GOOS=wasip1 -buildmode=c-shared it exports no collector; without
// -buildmode=c-shared it is a WASI command; with GOOS=js it is for a JavaScript host.
package main

//export jobs
func jobs() int32 { return 0 }

func main() { _ = jobs }
