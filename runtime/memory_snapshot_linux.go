//go:build linux

package runtime

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// snapshotMemory holds a snapshot's memory in a memfd, which each restored instance maps
// copy-on-write: restoring copies nothing, and an instance pays only for the pages it writes.
type snapshotMemory struct {
	fd   int
	size int
}

func newSnapshotMemory(b []byte) (*snapshotMemory, error) {
	fd, err := unix.MemfdCreate("wasmcollector-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	for off := 0; off < len(b); {
		n, err := syscall.Pwrite(int(fd), b[off:], int64(off))
		if err != nil {
			syscall.Close(int(fd))
			return nil, fmt.Errorf("write snapshot: %w", err)
		}
		off += n
	}
	return &snapshotMemory{fd: int(fd), size: len(b)}, nil
}

func (s *snapshotMemory) close() { syscall.Close(s.fd) }

func (s *snapshotMemory) backing(limit uint64) memoryBacking {
	return &mmapMemory{limit: limit, from: s}
}

// mapOver maps the snapshot copy-on-write over the start of buf.
func (s *snapshotMemory) mapOver(buf []byte) error {
	if s.size == 0 {
		return nil
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_MMAP, uintptr(unsafe.Pointer(&buf[0])), uintptr(s.size),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_FIXED, uintptr(s.fd), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
