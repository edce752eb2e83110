package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// A fresh instance of a Go guest used to cost its data segments (tens of thousands, applied one
// by one) and its _initialize (the Go runtime starting up) on every invocation: over a
// millisecond, most of a small slice's cost. So the host initialises a module once and restores
// each fresh instance from that state:
//
//   - at load, it derives a "restorable" variant of the module: no data segments and no start
//     function (they are the state), and every mutable global exported under a reserved name;
//   - the first invocation instantiates the variant, writes the data segments itself, runs the
//     start function and _initialize, and keeps the memory and the mutable globals (the
//     snapshot);
//   - every invocation then instantiates the variant, which has no data to apply and runs
//     nothing, grows its memory to the snapshot's size with the snapshot's bytes (copy-on-write
//     pages on Linux), sets the globals, and calls the collector.
//
// Each instance is still fresh: it starts from the state after initialisation, never from what
// an earlier invocation left. What the snapshot shares between invocations is what _initialize
// computed once: in a Go guest, its hash seeds. A module the variant cannot be made for (passive
// data segments, computed offsets, v128 or reference globals, a reserved export name) or whose
// initialisation fails runs the ordinary way. See RATIONALE.md "Why restore instances from a
// snapshot?". (Modules importing globals never get here: the loader refuses them.)

const (
	sectionGlobal = 6
	sectionExport = 7
	sectionStart  = 8

	snapshotExportPrefix = "__wasmcollector_"
	snapshotStartExport  = snapshotExportPrefix + "start"
)

type dataSegment struct {
	offset uint32
	bytes  []byte
}

// snapshot is a module's state after initialisation.
type snapshot struct {
	mem     *snapshotMemory
	size    uint32 // memory size in bytes
	globals []uint64
	// init is what the initialisation read from its clocks and randomness: every instance
	// restored from the snapshot starts from the state those readings made (sys.go).
	init SysLog
}

// restorableVariant derives the restorable variant of wasm (already capped and merged), or
// returns ok = false when the module's shape does not allow one.
func restorableVariant(wasm []byte) (variant []byte, segments []dataSegment, globals []string, hasStart, ok bool) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, nil, nil, false, false
	}
	var exportSec *wasmSection
	var mutable []uint32
	for i := range secs {
		s := &secs[i]
		body := wasm[s.start:s.end]
		switch s.id {
		case sectionGlobal:
			if mutable, ok = mutableGlobals(body); !ok {
				return nil, nil, nil, false, false
			}
		case sectionExport:
			exportSec = s
			if strings.Contains(string(body), snapshotExportPrefix) {
				return nil, nil, nil, false, false
			}
		case sectionStart:
			hasStart = true
		case sectionData:
			if segments, ok = activeSegments(body); !ok {
				return nil, nil, nil, false, false
			}
		}
	}
	// The export section, with the reserved exports added.
	var exports []byte
	count := uint32(0)
	if exportSec != nil {
		r := &wasmReader{b: wasm[exportSec.start:exportSec.end]}
		count = r.u32()
		if r.err != nil {
			return nil, nil, nil, false, false
		}
		exports = append(exports, r.b[r.pos:]...)
	}
	for _, idx := range mutable {
		name := snapshotExportPrefix + "g" + strconv.Itoa(int(idx))
		globals = append(globals, name)
		exports = appendName(exports, name)
		exports = append(exports, 0x03) // global
		exports = binary.AppendUvarint(exports, uint64(idx))
		count++
	}
	startIdx := uint64(0)
	for _, s := range secs {
		if s.id == sectionStart {
			r := &wasmReader{b: wasm[s.start:s.end]}
			startIdx = uint64(r.u32())
			exports = appendName(exports, snapshotStartExport)
			exports = append(exports, 0x00) // function
			exports = binary.AppendUvarint(exports, startIdx)
			count++
		}
	}
	exportBody := binary.AppendUvarint(nil, uint64(count))
	exportBody = append(exportBody, exports...)

	out := append([]byte(nil), wasm[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	exportsWritten := false
	for _, s := range secs {
		switch {
		case s.id == sectionExport:
			emit(sectionExport, exportBody)
			exportsWritten = true
		case s.id == sectionStart:
			// dropped: the snapshot holds what it did
		case s.id == sectionData:
			emit(sectionData, []byte{0})
		case s.id == sectionDataCount:
			emit(sectionDataCount, []byte{0})
		default:
			if !exportsWritten && exportSec == nil && s.id > sectionExport && s.id != 0 {
				emit(sectionExport, exportBody)
				exportsWritten = true
			}
			out = append(out, wasm[s.headStart:s.end]...)
		}
	}
	if !exportsWritten {
		emit(sectionExport, exportBody)
	}
	return out, segments, globals, hasStart, true
}

func appendName(b []byte, name string) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

// mutableGlobals returns the indexes of the mutable globals a global section defines.
func mutableGlobals(b []byte) ([]uint32, bool) {
	r := &wasmReader{b: b}
	n := r.u32()
	var out []uint32
	for i := uint32(0); i < n && r.err == nil; i++ {
		switch t := r.byte(); t {
		case 0x7f, 0x7e, 0x7d, 0x7c: // i32 i64 f32 f64
		default:
			return nil, false // v128 or references: not restorable through the API
		}
		if r.byte() == 0x01 {
			out = append(out, i)
		}
		if !r.skipConstExpr() {
			return nil, false
		}
	}
	return out, r.err == nil
}

// skipConstExpr skips a constant expression of a single numeric const or global.get.
func (r *wasmReader) skipConstExpr() bool {
	switch r.byte() {
	case 0x41:
		r.s32()
	case 0x42:
		r.s64()
	case 0x43:
		r.pos += 4
	case 0x44:
		r.pos += 8
	case 0x23:
		r.u32()
	default:
		return false
	}
	return r.pos <= len(r.b) && r.byte() == 0x0b && r.err == nil
}

func (r *wasmReader) s64() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("bad signed LEB128 integer")
}

// activeSegments reads a data section whose segments are all active on memory 0 at constant
// offsets.
func activeSegments(b []byte) ([]dataSegment, bool) {
	r := &wasmReader{b: b}
	n := r.u32()
	segs := make([]dataSegment, 0, n)
	for i := uint32(0); i < n; i++ {
		if r.byte() != 0x00 || r.byte() != 0x41 {
			return nil, false
		}
		off := r.s32()
		if r.byte() != 0x0b || r.err != nil || off < 0 {
			return nil, false
		}
		size := r.u32()
		if r.err != nil || uint64(r.pos)+uint64(size) > uint64(len(r.b)) {
			return nil, false
		}
		segs = append(segs, dataSegment{uint32(off), r.b[r.pos : r.pos+int(size)]})
		r.pos += int(size)
	}
	return segs, r.err == nil && r.pos == len(r.b)
}

// takeSnapshot keeps the state of an initialised instance of the restorable variant.
func takeSnapshot(inst api.Module, globals []string) (*snapshot, error) {
	mem := inst.Memory()
	snap := &snapshot{size: mem.Size()}
	b, ok := mem.Read(0, snap.size)
	if !ok {
		return nil, errors.New("cannot read memory")
	}
	var err error
	if snap.mem, err = newSnapshotMemory(b); err != nil {
		return nil, err
	}
	for _, name := range globals {
		g := inst.ExportedGlobal(name)
		if g == nil {
			snap.mem.close()
			return nil, fmt.Errorf("global %s is not exported", name)
		}
		snap.globals = append(snap.globals, g.Get())
	}
	return snap, nil
}

// initialise does by hand what instantiating the original module does: it writes the data
// segments, then runs the start function and _initialize.
func (ri *restoreInfo) initialise(ctx context.Context, inst api.Module, hasInit bool) error {
	mem := inst.Memory()
	for _, s := range ri.segments {
		if !mem.Write(s.offset, s.bytes) {
			return fmt.Errorf("out of bounds memory access: data segment at %d", s.offset)
		}
	}
	if ri.hasStart {
		if _, err := inst.ExportedFunction(snapshotStartExport).Call(ctx); err != nil {
			return err
		}
	}
	if hasInit {
		if _, err := inst.ExportedFunction("_initialize").Call(ctx); err != nil {
			return err
		}
	}
	return nil
}

// restore brings a fresh instance of the variant to the snapshot's state.
func (s *snapshot) restore(inst api.Module, globals []string) error {
	mem := inst.Memory()
	if cur := mem.Size(); cur < s.size {
		if _, ok := mem.Grow((s.size - cur) / pageSize); !ok {
			return errors.New("cannot grow memory to the snapshot's size")
		}
	}
	for i, name := range globals {
		g, ok := inst.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("global %s is not mutable", name)
		}
		g.Set(s.globals[i])
	}
	return nil
}

// memoryFor returns the allocator for an instance restored from s (nil: an ordinary one).
func (s *snapshot) memoryFor(limit uint64) memoryBacking {
	if s == nil {
		return newLinearMemory(limit)
	}
	return s.mem.backing(limit)
}
