package runtime

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Tables live outside linear memory: wazero allocates every table entry as a Go word, and
// table.grow is bounded only by the table's declared maximum (none means 2^32). A module could
// otherwise grow a table until the host runs out of memory. So, before compiling, the host reads
// the module's import and table sections and
//
//   - refuses imported tables and globals (the host provides neither; wazero would only fail at
//     instantiation, with a less useful message),
//   - refuses modules whose tables together declare more than maxTableEntries entries at start,
//   - rewrites each table's declared maximum to at most its share of maxTableEntries, so that
//     table.grow past it returns -1 in the guest, as the specification says it may.
//
// See RATIONALE.md "Why does the host rewrite table maximums?".
const (
	// maxTableEntries caps the entries of all of a module's tables together (8 bytes each on the
	// host). A Go guest's function table holds a few thousand.
	maxTableEntries = 1 << 20
	// maxTables caps how many tables a module may define.
	maxTables = 16
)

const (
	sectionImport = 2
	sectionTable  = 4
)

// wasmSection is one section of a module binary: its id and where its contents are.
type wasmSection struct {
	id         byte
	start, end int // contents, without the id and size
	headStart  int // where the section's id byte is
}

// sections splits a module binary into its sections, checking only the framing.
func sections(wasm []byte) ([]wasmSection, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, withKind(ModuleNotWasm, errors.New("not a WebAssembly module (no \\0asm magic)"))
	}
	if v := binary.LittleEndian.Uint32(wasm[4:8]); v != 1 {
		return nil, withKind(ModuleInvalid, fmt.Errorf("WebAssembly binary version %d is not supported (want 1)", v))
	}
	var out []wasmSection
	for pos := 8; pos < len(wasm); {
		head := pos
		id := wasm[pos]
		size, n, err := uleb32(wasm[pos+1:])
		if err != nil {
			return nil, withKind(ModuleInvalid, fmt.Errorf("invalid WebAssembly: section at offset %d: size: %w", head, err))
		}
		start := pos + 1 + n
		end := start + int(size)
		if end > len(wasm) || end < start {
			return nil, withKind(ModuleInvalid, fmt.Errorf("invalid WebAssembly: section %d at offset %d: %d bytes run past the end of the module", id, head, size))
		}
		out = append(out, wasmSection{id: id, start: start, end: end, headStart: head})
		pos = end
	}
	return out, nil
}

// limitTables checks the module's imports and tables (see maxTableEntries) and returns the module
// with each table's maximum capped. It returns wasm itself when nothing needed rewriting.
func limitTables(wasm []byte) ([]byte, error) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, err
	}
	var tableSec *wasmSection
	for i := range secs {
		switch secs[i].id {
		case sectionImport:
			if err := checkImports(wasm[secs[i].start:secs[i].end]); err != nil {
				return nil, err
			}
		case sectionTable:
			tableSec = &secs[i]
		}
	}
	if tableSec == nil {
		return wasm, nil
	}
	body, changed, err := capTables(wasm[tableSec.start:tableSec.end])
	if err != nil {
		return nil, err
	}
	if !changed {
		return wasm, nil
	}
	out := make([]byte, 0, len(wasm)+16)
	out = append(out, wasm[:tableSec.headStart]...)
	out = append(out, sectionTable)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	out = append(out, wasm[tableSec.end:]...)
	return out, nil
}

// checkImports refuses table and global imports (kind ModuleABI), and an import section it cannot
// read (ModuleInvalid).
func checkImports(b []byte) error {
	r := &wasmReader{b: b}
	n := r.u32()
	var errs []error
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, name := r.name(), r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table
			errs = append(errs, fmt.Errorf("imports table %s.%s; a module must define its own tables", mod, name))
			r.tableType()
		case 0x02: // memory: checked by the loader with wazero's view
			r.limits()
		case 0x03: // global
			errs = append(errs, fmt.Errorf("imports global %s.%s, which this host does not provide", mod, name))
			r.byte() // value type
			r.byte() // mutability
		default:
			errs = append(errs, fmt.Errorf("imports %s.%s of kind %d, which this host does not provide", mod, name, kind))
			return withKind(ModuleABI, errors.Join(errs...)) // unknown encoding: cannot read on
		}
	}
	if r.err != nil {
		errs = append(errs, fmt.Errorf("invalid WebAssembly: import section: %w", r.err))
		return withKind(ModuleInvalid, errors.Join(errs...))
	}
	return withKind(ModuleABI, errors.Join(errs...))
}

// capTables rewrites the table section body so that no table's maximum exceeds its share of
// maxTableEntries. It fails for too many tables or initial sizes over the cap.
func capTables(b []byte) ([]byte, bool, error) {
	r := &wasmReader{b: b}
	n := r.u32()
	if r.err == nil && n > maxTables {
		return nil, false, withKind(ModuleTooLarge, fmt.Errorf("defines %d tables, more than the %d allowed", n, maxTables))
	}
	type table struct {
		prefix   []byte // 0x40 0x00 reftype, or reftype
		min, max uint64
		hasMax   bool
		table64  bool
		expr     []byte // initializer expression, for the 0x40 form
	}
	tables := make([]table, 0, n)
	var sumMin uint64
	for i := uint32(0); i < n && r.err == nil; i++ {
		var t table
		start := r.pos
		if r.peek() == 0x40 {
			r.byte()
			r.byte() // reserved 0x00
		}
		r.refType()
		t.prefix = append([]byte(nil), b[start:r.pos]...)
		t.min, t.max, t.hasMax, t.table64 = r.limits()
		if len(t.prefix) > 0 && t.prefix[0] == 0x40 {
			t.expr = r.constExpr()
		}
		sumMin += t.min
		tables = append(tables, t)
	}
	if r.err != nil {
		return nil, false, withKind(ModuleInvalid, fmt.Errorf("invalid WebAssembly: table section: %w", r.err))
	}
	if sumMin > maxTableEntries {
		return nil, false, withKind(ModuleTooLarge, fmt.Errorf("tables declare %d entries at start, more than the %d allowed", sumMin, maxTableEntries))
	}
	share := uint64(maxTableEntries)
	if n > 0 {
		share = maxTableEntries / uint64(n)
	}
	changed := false
	out := binary.AppendUvarint(nil, uint64(n))
	for _, t := range tables {
		limit := max(share, t.min) // the initial size is allowed whole: it passed the sum check
		if !t.hasMax || t.max > limit {
			t.max, t.hasMax, changed = limit, true, true
		}
		out = append(out, t.prefix...)
		flag := byte(0x01)
		if t.table64 {
			flag = 0x05
		}
		out = append(out, flag)
		out = binary.AppendUvarint(out, t.min)
		out = binary.AppendUvarint(out, t.max)
		out = append(out, t.expr...)
	}
	return out, changed, nil
}

// wasmReader reads the few encodings the checks above need. The first error sticks.
type wasmReader struct {
	b   []byte
	pos int
	err error
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: "+format, append([]any{r.pos}, args...)...)
	}
}

func (r *wasmReader) peek() byte {
	if r.err != nil || r.pos >= len(r.b) {
		return 0
	}
	return r.b[r.pos]
}

func (r *wasmReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *wasmReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.fail("bad LEB128 integer")
		return 0
	}
	r.pos += n
	return v
}

func (r *wasmReader) u32() uint32 {
	v := r.u64()
	if v > 1<<32-1 {
		r.fail("integer %d overflows 32 bits", v)
	}
	return uint32(v)
}

func (r *wasmReader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(r.pos)+uint64(n) > uint64(len(r.b)) {
		r.fail("name of %d bytes runs past the end", n)
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

// refType reads a reference type: funcref/externref shorthands, or the typed-reference forms.
func (r *wasmReader) refType() {
	switch c := r.byte(); c {
	case 0x70, 0x6f: // funcref, externref
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.heapType()
	default:
		r.fail("unknown reference type 0x%02x", c)
	}
}

func (r *wasmReader) heapType() {
	// A heap type is an abstract type byte (0x6x/0x7x) or a signed type index.
	if c := r.peek(); c >= 0x40 && c < 0x80 {
		r.byte()
		return
	}
	r.u64()
}

func (r *wasmReader) tableType() {
	r.refType()
	r.limits()
}

// limits reads a limits encoding: flag, min, optional max. table64 reports the 64-bit index form.
func (r *wasmReader) limits() (min, max uint64, hasMax, table64 bool) {
	flag := r.byte()
	if flag&^0x07 != 0 {
		r.fail("unknown limits flag 0x%02x", flag)
		return
	}
	table64 = flag&0x04 != 0
	min = r.u64()
	if flag&0x01 != 0 {
		max, hasMax = r.u64(), true
	}
	return
}

// constExpr reads a table initializer: a constant expression of ref.null, ref.func or global.get,
// ending with end (0x0b). Anything else is refused rather than guessed at.
func (r *wasmReader) constExpr() []byte {
	start := r.pos
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return append([]byte(nil), r.b[start:r.pos]...)
		case 0xd0: // ref.null heaptype
			r.heapType()
		case 0xd2, 0x23: // ref.func idx, global.get idx
			r.u32()
		default:
			r.fail("table initializer opcode 0x%02x is not supported", op)
		}
	}
	return nil
}

func uleb32(b []byte) (uint32, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n <= 0:
		return 0, 0, errors.New("bad LEB128 integer")
	case n > 5 || v > 1<<32-1:
		return 0, 0, errors.New("integer overflows 32 bits")
	}
	return uint32(v), n, nil
}

const (
	sectionData      = 11
	sectionDataCount = 12
	// maxDataGap is the largest run of zeros merging two data segments may write between them.
	maxDataGap = 256
)

// mergeData merges a module's active data segments into as few as cover the same bytes. A Go
// guest has tens of thousands of small segments, and instantiation evaluates each one's offset
// and copies it separately: half of a fresh instance's cost (issue 13). Merging is exact when
// every segment is active on memory 0 at a constant offset and no two overlap: then the order in
// which they are applied does not matter, and the gaps between merged neighbours (at most
// maxDataGap bytes) are zero in a fresh memory and written by no other segment. Any other shape
// (passive segments, computed offsets, overlaps) leaves the module as it is.
func mergeData(wasm []byte) ([]byte, error) {
	secs, err := sections(wasm)
	if err != nil {
		return nil, err
	}
	var data, count *wasmSection
	for i := range secs {
		switch secs[i].id {
		case sectionData:
			data = &secs[i]
		case sectionDataCount:
			count = &secs[i]
		}
	}
	if data == nil {
		return wasm, nil
	}
	segs, ok := activeSegments(wasm[data.start:data.end])
	if !ok || len(segs) < 2 {
		return wasm, nil
	}
	sorted := slices.Clone(segs)
	slices.SortStableFunc(sorted, func(a, b dataSegment) int { return cmp.Compare(a.offset, b.offset) })
	for i := 1; i < len(sorted); i++ {
		if uint64(sorted[i-1].offset)+uint64(len(sorted[i-1].bytes)) > uint64(sorted[i].offset) {
			return wasm, nil // overlapping: the order would matter
		}
	}
	var merged []dataSegment
	for _, s := range sorted {
		if len(merged) > 0 {
			last := &merged[len(merged)-1]
			end := uint64(last.offset) + uint64(len(last.bytes))
			if gap := uint64(s.offset) - end; gap <= maxDataGap {
				last.bytes = append(last.bytes, make([]byte, gap)...)
				last.bytes = append(last.bytes, s.bytes...)
				continue
			}
		}
		merged = append(merged, dataSegment{s.offset, slices.Clone(s.bytes)})
	}
	if len(merged) == len(segs) {
		return wasm, nil
	}
	body := binary.AppendUvarint(nil, uint64(len(merged)))
	for _, s := range merged {
		body = append(body, 0x00, 0x41)
		body = appendSleb(body, int64(int32(s.offset)))
		body = append(body, 0x0b)
		body = binary.AppendUvarint(body, uint64(len(s.bytes)))
		body = append(body, s.bytes...)
	}
	out := make([]byte, 0, len(wasm))
	for _, s := range secs {
		switch {
		case s.headStart == data.headStart:
			out = append(out, sectionData)
			out = binary.AppendUvarint(out, uint64(len(body)))
			out = append(out, body...)
		case count != nil && s.headStart == count.headStart:
			c := binary.AppendUvarint(nil, uint64(len(merged)))
			out = append(out, sectionDataCount)
			out = binary.AppendUvarint(out, uint64(len(c)))
			out = append(out, c...)
		default:
			out = append(out, wasm[s.headStart:s.end]...)
		}
	}
	return append(wasm[:8:8], out...), nil
}

// s32 reads a signed LEB128 32-bit integer.
func (r *wasmReader) s32() int32 {
	var v int64
	var shift uint
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v)
		}
	}
	r.fail("bad signed LEB128 integer")
	return 0
}

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

const sectionMemory = 5

// definedMemory reads the first memory of the module's memory section, nil when there is none.
// wazero shows a memory only when it is imported or exported; a module whose memory is neither
// still declares one, and check reports it. Called on modules wazero compiled.
func definedMemory(wasm []byte) *MemoryInfo {
	secs, err := sections(wasm)
	if err != nil {
		return nil
	}
	for _, s := range secs {
		if s.id != sectionMemory {
			continue
		}
		r := &wasmReader{b: wasm[s.start:s.end]}
		if n := r.u32(); n == 0 || r.err != nil {
			return nil
		}
		lo, hi, hasMax, _ := r.limits()
		if r.err != nil || lo > 1<<32-1 || hi > 1<<32-1 {
			return nil
		}
		return &MemoryInfo{Min: uint32(lo), Max: uint32(hi), HasMax: hasMax}
	}
	return nil
}
