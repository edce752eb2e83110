package checkcmd

import (
	"bytes"
	"errors"
	"fmt"
)

// wasmInfo is what check reads from a module's binary itself, for the details of its report: the
// runtime decides whether the module is fit, this only names what it found.
type wasmInfo struct {
	imports    []wasmImport
	hasMemory  bool
	memMin     uint64 // declared minimum, in 64 KiB pages
	memMax     uint64 // declared maximum, in pages, when hasMemMax
	hasMemMax  bool
	importsMem bool
}

type wasmImport struct {
	module, name string
	kind         byte // 0 function, 1 table, 2 memory, 3 global, 4 tag
}

// importModules returns how many imports come from each import module, in order of first use.
func (w *wasmInfo) importModules() (names []string, counts map[string]int) {
	counts = map[string]int{}
	for _, im := range w.imports {
		if counts[im.module] == 0 {
			names = append(names, im.module)
		}
		counts[im.module]++
	}
	return names, counts
}

var errTruncated = errors.New("truncated")

// parseWasm reads the import and memory sections of a WebAssembly binary. It checks nothing else:
// compilation is the runtime's job.
func parseWasm(b []byte) (*wasmInfo, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("no \\0asm magic")
	}
	r := &reader{b: b[8:]}
	info := &wasmInfo{}
	for r.len() > 0 {
		id, err := r.byte()
		if err != nil {
			return info, err
		}
		size, err := r.u32()
		if err != nil {
			return info, err
		}
		body, err := r.bytes(int(size))
		if err != nil {
			return info, err
		}
		s := &reader{b: body}
		switch id {
		case 2:
			if err := parseImports(s, info); err != nil {
				return info, fmt.Errorf("import section: %w", err)
			}
		case 5:
			n, err := s.u32()
			if err != nil {
				return info, fmt.Errorf("memory section: %w", err)
			}
			if n > 0 && !info.hasMemory {
				if err := parseMemLimits(s, info); err != nil {
					return info, fmt.Errorf("memory section: %w", err)
				}
			}
		}
	}
	return info, nil
}

func parseImports(r *reader, info *wasmInfo) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		mod, err := r.name()
		if err != nil {
			return err
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		info.imports = append(info.imports, wasmImport{module: mod, name: name, kind: kind})
		switch kind {
		case 0: // function: type index
			_, err = r.u32()
		case 1: // table: reference type, limits
			if _, err = r.byte(); err == nil {
				err = skipLimits(r)
			}
		case 2: // memory
			info.importsMem = true
			err = skipLimits(r)
		case 3: // global: value type, mutability
			_, err = r.bytes(2)
		case 4: // tag: attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return fmt.Errorf("unknown import kind %d", kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseMemLimits(r *reader, info *wasmInfo) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if info.memMin, err = r.u64(); err != nil {
		return err
	}
	if flags&1 != 0 {
		if info.memMax, err = r.u64(); err != nil {
			return err
		}
		info.hasMemMax = true
	}
	info.hasMemory = true
	return nil
}

func skipLimits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u64(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.u64()
	}
	return err
}

type reader struct{ b []byte }

func (r *reader) len() int { return len(r.b) }

func (r *reader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errTruncated
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b) {
		return nil, errTruncated
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

// u64 reads an unsigned LEB128 of up to 64 bits.
func (r *reader) u64() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("LEB128 too long")
}

func (r *reader) u32() (uint32, error) {
	v, err := r.u64()
	if err == nil && v > 1<<32-1 {
		err = errors.New("LEB128 over 32 bits")
	}
	return uint32(v), err
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	return string(b), err
}
