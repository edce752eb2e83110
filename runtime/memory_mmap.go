//go:build linux

package runtime

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// On Linux a guest's linear memory is one private anonymous mapping of the module's whole limit,
// reserved up front and never moved: growing it hands out more of the same mapping, so growth
// copies nothing, the pages a guest never touches cost no RAM, and freeing returns every page to
// the OS at once instead of waiting for the Go collector. A memory bomb therefore costs the host
// at most the limit, not the 3–4× that copy-on-grow of Go slices costs.
func newLinearMemory(limit uint64) memoryBacking { return &mmapMemory{limit: limit} }

type mmapMemory struct {
	buf     []byte // the whole mapping
	size    uint64 // bytes handed to the guest
	limit   uint64
	refused bool
	from    *snapshotMemory // mapped copy-on-write over the start, for a restored instance
}

// Allocate implements experimental.MemoryAllocator; wazero calls it once per instance.
func (m *mmapMemory) Allocate(_, _ uint64) experimental.LinearMemory {
	return m
}

// Reallocate implements experimental.LinearMemory: it grows within the mapping, up to the limit.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.refused = true
		return nil
	}
	if m.buf == nil {
		b, err := syscall.Mmap(-1, 0, int(m.limit), syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
		if err != nil {
			m.refused = true // the OS refused the reservation (RLIMIT_DATA in a worker)
			return nil
		}
		if m.from != nil {
			if uint64(m.from.size) > m.limit || m.from.mapOver(b) != nil {
				_ = syscall.Munmap(b)
				m.refused = true
				return nil
			}
		}
		m.buf = b
	}
	m.size = size
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *mmapMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}

func (m *mmapMemory) wasRefused() bool { return m.refused }
