//go:build wasip1

// Command clockprobe is a test guest whose output depends on its clocks and randomness: "clock"
// emits the wall-clock time, a measured monotonic duration, random bytes (crypto/rand, that is
// random_get during the call) and a math/rand/v2 number (from the state the Go runtime seeded
// with random_get while it initialised); "spin" reads the clock in a loop (parameter "reads",
// default 200000) and emits how many readings it made and whether the monotonic clock ever went
// back; "sleep" sleeps (parameter "ms", default 5000) and emits the monotonic time it took.
// Record and replay tests check that a replay serves all of them back.
package main

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"strconv"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport clock
func clock() int32 {
	return collector.Run(func() error {
		start := time.Now()
		sum := 0
		for i := range 100000 {
			sum += i * i
		}
		elapsed := time.Since(start)
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		return collector.EmitJSON(map[string]any{
			"wall": time.Now().UTC().Format(time.RFC3339Nano), "mono_ns": elapsed.Nanoseconds(),
			"rand": hex.EncodeToString(b), "mrand": mrand.Uint64(), "sum": sum,
		})
	})
}

//go:wasmexport spin
func spin() int32 {
	return collector.Run(func() error {
		n := 200000
		if s, ok := collector.Param("reads"); ok {
			v, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			n = v
		}
		back := false
		last := time.Now()
		for range n {
			now := time.Now()
			if now.Sub(last) < 0 {
				back = true
			}
			last = now
		}
		return collector.EmitJSON(map[string]any{"reads": n, "went_back": back})
	})
}

//go:wasmexport sleep
func sleep() int32 {
	return collector.Run(func() error {
		ms := 5000
		if s, ok := collector.Param("ms"); ok {
			v, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			ms = v
		}
		start := time.Now()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return collector.EmitJSON(map[string]any{"slept_ns": time.Since(start).Nanoseconds()})
	})
}
