//go:build !linux

package runtime

// snapshotMemory holds a snapshot's memory; each restored instance starts with a copy.
type snapshotMemory struct{ b []byte }

func newSnapshotMemory(b []byte) (*snapshotMemory, error) {
	return &snapshotMemory{b: append([]byte(nil), b...)}, nil
}

func (s *snapshotMemory) close() {}

func (s *snapshotMemory) backing(limit uint64) memoryBacking {
	return &copiedMemory{sliceMemory: sliceMemory{limit: limit}, from: s.b}
}

// copiedMemory is a sliceMemory that starts with the snapshot's bytes.
type copiedMemory struct {
	sliceMemory
	from []byte
}

func (m *copiedMemory) Reallocate(size uint64) []byte {
	b := m.sliceMemory.Reallocate(size)
	if b != nil && m.from != nil {
		copy(b[:cap(b)], m.from)
		m.from = nil
	}
	return b
}
