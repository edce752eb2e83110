package runtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// fixedSys serves a fixed wall clock, a monotonic clock that steps 1 µs a reading and random
// bytes 0xab, and counts what each phase read.
type fixedSys struct {
	mu       sync.Mutex
	wall     int64
	mono     int64
	reads    map[bool]int // clock readings by init
	rand     map[bool]int // random bytes by init
	restored *runtime.SysLog
}

func newFixedSys(wall int64) *fixedSys {
	return &fixedSys{wall: wall, reads: map[bool]int{}, rand: map[bool]int{}}
}

func (s *fixedSys) Walltime(init bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[init]++
	return s.wall
}

func (s *fixedSys) Nanotime(init bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[init]++
	s.mono += 1000
	return s.mono
}

func (s *fixedSys) Read(init bool, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rand[init] += len(p)
	for i := range p {
		p[i] = 0xab
	}
	return nil
}

func (s *fixedSys) Restored(l *runtime.SysLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restored = l
}

func invokeSys(t *testing.T, mod *runtime.Module, sys runtime.Sys) map[string]any {
	t.Helper()
	var out strings.Builder
	inv := hostfuncs.NewInvocation(hostfuncs.Request{Key: "clock", Format: hostfuncs.FormatJSON, Output: &out, Logger: quiet})
	_, err := mod.Invoke(context.Background(), runtime.Call{Function: "clock", Invocation: inv, Sys: sys})
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out.String()), &doc))
	return doc
}

// TestCallSys: a Call's Sys is what the guest's clocks and randomness read, split into what the
// initialisation read and what the call did; an instance restored from the snapshot reads
// nothing while initialising, and its Sys is told what the snapshot's initialisation read (kept
// even when that invocation had no Sys of its own).
func TestCallSys(t *testing.T) {
	eng := newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout))
	path := testguests.Go(t, "internal/testguests/clockprobe")

	// Initialised under a Sys: the initialisation's reads are marked so.
	mod := load(t, eng, path, "clock")
	first := newFixedSys(981173106789000000) // 2001-02-03T04:05:06.789Z
	doc := invokeSys(t, mod, first)
	assert.Equal(t, "2001-02-03T04:05:06.789Z", doc["wall"])
	assert.Equal(t, strings.Repeat("ab", 16), doc["rand"])
	assert.Positive(t, first.rand[true], "the Go runtime seeds itself while it initialises")
	assert.Equal(t, 16, first.rand[false])
	assert.Positive(t, first.reads[false])
	assert.Nil(t, first.restored)

	second := newFixedSys(1_000_000_000_999_999_999)
	doc = invokeSys(t, mod, second)
	assert.Equal(t, "2001-09-09T01:46:40.999999999Z", doc["wall"])
	assert.Zero(t, second.rand[true]+second.reads[true], "a restored instance does not initialise")
	require.NotNil(t, second.restored, "restored from the snapshot")
	assert.Equal(t, first.rand[true], len(second.restored.Rand))
	assert.Equal(t, strings.Repeat("\xab", first.rand[true]), string(second.restored.Rand))
	assert.False(t, second.restored.Truncated)

	// Initialised without a Sys: the snapshot still keeps what the initialisation read.
	mod = load(t, newEngine(t, runtime.NewConfig().WithCompileTimeout(goCompileTimeout)), path, "clock")
	r := invoke(t, mod, "clock", hostfuncs.Request{})
	require.NoError(t, r.err)
	third := newFixedSys(0)
	invokeSys(t, mod, third)
	require.NotNil(t, third.restored)
	assert.Len(t, third.restored.Rand, first.rand[true])
	assert.NotEqual(t, strings.Repeat("\xab", first.rand[true]), string(third.restored.Rand), "the host's own random bytes")
	assert.NotEmpty(t, third.restored.Mono)
}
