package hostfuncs

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// sliceBounds implements slice_bounds(out_ptr) -> status: see ABI.md "slice_bounds". It writes the
// 24-byte slice record:
//
//	offset 0   i64  since, Unix nanoseconds (0 when unset)
//	offset 8   i64  until, Unix nanoseconds (0 when unset)
//	offset 16  u32  flags: 1 since set, 2 until set, 4 full sync
//	offset 20  u32  reserved, 0
func sliceBounds(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	var rec [abi.SliceRecordSize]byte
	var flags uint32
	if !inv.req.Since.IsZero() {
		binary.LittleEndian.PutUint64(rec[abi.SliceSinceOffset:], uint64(inv.req.Since.UnixNano()))
		flags |= abi.SliceFlagSinceSet
	}
	if !inv.req.Until.IsZero() {
		binary.LittleEndian.PutUint64(rec[abi.SliceUntilOffset:], uint64(inv.req.Until.UnixNano()))
		flags |= abi.SliceFlagUntilSet
	}
	if inv.req.FullSync {
		flags |= abi.SliceFlagFullSync
	}
	binary.LittleEndian.PutUint32(rec[abi.SliceFlagsOffset:], flags)
	writeBytes(m, abi.FuncSliceBounds, api.DecodeU32(stack[0]), rec[:])
	stack[0] = uint64(abi.OK)
}

// collectionType implements collection_type() -> type: 1 dry-run, 2 manual, 3 scheduled.
func collectionType(ctx context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(invocationFrom(ctx).req.CollectionType.code())
}
