//go:build wasip1

// Command clockmore is a test guest standing in for a new version of clockprobe (see there): its
// "clock" reads far more randomness than clockprobe's (64 KiB), so a replay of clockprobe's record
// with it as --module reads past the record. It emits only what it derives from those bytes.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport clock
func clock() int32 {
	return collector.Run(func() error {
		b := make([]byte, 64<<10)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		return collector.EmitJSON(map[string]any{"rand_sha256": hex.EncodeToString(sum[:])})
	})
}
