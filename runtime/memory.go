package runtime

import "github.com/tetratelabs/wazero/experimental"

// memoryBacking backs one instance's linear memory and refuses to grow it past the module's
// limit. Enforcing the limit here rather than with the runtime-wide WithMemoryLimitPages lets one
// wazero runtime serve modules with different limits, and tells us for certain that a failure
// followed a refused grow (see RATIONALE.md "Why a memory allocator per instance?").
type memoryBacking interface {
	experimental.MemoryAllocator
	experimental.LinearMemory
	// wasRefused reports whether a grow was refused.
	wasRefused() bool
}

// sliceMemory backs linear memory with a Go slice, grown like append. It is the portable backing;
// Linux uses a fixed mapping instead (memory_mmap.go).
type sliceMemory struct {
	buf     []byte
	limit   uint64
	refused bool
}

// Allocate implements experimental.MemoryAllocator; wazero calls it once per instance.
func (m *sliceMemory) Allocate(capacity, _ uint64) experimental.LinearMemory {
	m.buf = make([]byte, 0, min(capacity, m.limit))
	return m
}

// Reallocate implements experimental.LinearMemory: it grows like append, up to the limit.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	grown := make([]byte, size, min(max(size, uint64(cap(m.buf))*5/4), m.limit))
	copy(grown, m.buf)
	m.buf = grown
	return grown
}

// Free implements experimental.LinearMemory.
func (m *sliceMemory) Free() { m.buf = nil }

func (m *sliceMemory) wasRefused() bool { return m.refused }
