package collector

import (
	"encoding/binary"
	"time"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// SliceInfo is the time window an invocation collects: rows whose time t satisfies
// Since < t <= Until. See slice_bounds in hostfuncs/ABI.md.
type SliceInfo struct {
	// Since is the exclusive start, in UTC; the zero Time when HasSince is false.
	Since time.Time
	// Until is the inclusive end, in UTC; the zero Time when HasUntil is false.
	Until time.Time
	// HasSince is false for the first collection of a key with no history and no start given, and
	// for the config collector.
	HasSince bool
	// HasUntil is true in every gather except for the config collector.
	HasUntil bool
	// FullSync says the host wants the whole full-sync range (upstream full_sync_interval_days).
	FullSync bool
}

// Contains reports whether t lies in the slice, (Since, Until], treating an unset bound as open.
func (s SliceInfo) Contains(t time.Time) bool {
	return (!s.HasSince || t.After(s.Since)) && (!s.HasUntil || !t.After(s.Until))
}

// String returns the window as "(since, until]" in RFC 3339, with "-" for an unset bound.
func (s SliceInfo) String() string {
	bound := func(has bool, t time.Time) string {
		if !has {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	return "(" + bound(s.HasSince, s.Since) + ", " + bound(s.HasUntil, s.Until) + "]"
}

// Slice returns this invocation's time window, read once from the host with slice_bounds. Outside a
// host it returns the zero SliceInfo (both bounds unset).
func Slice() SliceInfo {
	var rec [abi.SliceRecordSize]byte
	if hostSliceBounds(unsafe.Pointer(&rec[0])) != uint32(abi.OK) {
		return SliceInfo{}
	}
	return decodeSlice(&rec)
}

// decodeSlice reads the 24-byte slice record (hostfuncs/ABI.md, "Slice record").
func decodeSlice(rec *[abi.SliceRecordSize]byte) SliceInfo {
	flags := binary.LittleEndian.Uint32(rec[abi.SliceFlagsOffset:])
	s := SliceInfo{
		HasSince: flags&abi.SliceFlagSinceSet != 0,
		HasUntil: flags&abi.SliceFlagUntilSet != 0,
		FullSync: flags&abi.SliceFlagFullSync != 0,
	}
	if s.HasSince {
		s.Since = time.Unix(0, int64(binary.LittleEndian.Uint64(rec[abi.SliceSinceOffset:]))).UTC()
	}
	if s.HasUntil {
		s.Until = time.Unix(0, int64(binary.LittleEndian.Uint64(rec[abi.SliceUntilOffset:]))).UTC()
	}
	return s
}

// CollectionType returns why the host runs this invocation: "dry-run" (wasmcollector run, or a
// gather that ships nothing), "manual" or "scheduled". It returns "" outside a host.
func CollectionType() string {
	return collectionTypeName(hostCollectionType())
}

func collectionTypeName(t int32) string {
	switch t {
	case abi.CollectionDryRun:
		return "dry-run"
	case abi.CollectionManual:
		return "manual"
	case abi.CollectionScheduled:
		return "scheduled"
	}
	return ""
}
