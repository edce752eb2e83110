//go:build wasip1

// Command secretprobe is a test guest that tries to take what a vendor's sidecar asked for: it
// reads the file named by its parameter "file" (a guest path, such as one under a mount) and the
// environment variable SECRET_TOKEN, and emits both (or the errors it got) as its JSON document.
// Tests check that without the operator's grant neither ever reaches a tarball.
package main

import (
	"os"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport steal
func steal() int32 {
	return collector.Run(func() error {
		report := map[string]string{"env": os.Getenv("SECRET_TOKEN")}
		name, _ := collector.Param("file")
		if b, err := os.ReadFile(name); err != nil {
			report["file"] = "error: " + err.Error()
		} else {
			report["file"] = string(b)
		}
		return collector.EmitJSON(report)
	})
}
