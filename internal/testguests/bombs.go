package testguests

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CompileBomb writes a module that is valid WebAssembly but very costly to compile, and returns
// its path. kind is "nested_blocks" (n nested empty blocks in one function) or "br_table" (one
// br_table with n targets). Its only collector export is "bomb". Generated rather than written in
// WAT: wat2wasm itself struggles with such input.
func CompileBomb(tb testing.TB, kind string, n int) string {
	tb.Helper()
	var body []byte
	body = append(body, 0x00) // no locals
	switch kind {
	case "nested_blocks":
		for range n {
			body = append(body, 0x02, 0x40) // block (empty type)
		}
		for range n {
			body = append(body, 0x0b) // end
		}
		body = append(body, 0x41, 0x00, 0x0b) // i32.const 0, end
	case "br_table":
		body = append(body, 0x02, 0x40, 0x41, 0x00, 0x0e) // block; i32.const 0; br_table
		body = binary.AppendUvarint(body, uint64(n))
		for range n {
			body = append(body, 0x00)
		}
		body = append(body, 0x00, 0x0b, 0x41, 0x00, 0x0b) // default 0; end block; i32.const 0; end
	default:
		tb.Fatalf("testguests: unknown compile bomb %q", kind)
	}
	section := func(id byte, content []byte) []byte {
		out := []byte{id}
		out = binary.AppendUvarint(out, uint64(len(content)))
		return append(out, content...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, []byte{0x01, 0x60, 0x00, 0x01, 0x7f})...) // type () -> i32
	m = append(m, section(3, []byte{0x01, 0x00})...)                   // one function of type 0
	m = append(m, section(5, []byte{0x01, 0x00, 0x01})...)             // memory, min 1 page
	exports := []byte{0x02, 0x06}
	exports = append(exports, "memory"...)
	exports = append(exports, 0x02, 0x00, 0x04)
	exports = append(exports, "bomb"...)
	exports = append(exports, 0x00, 0x00)
	m = append(m, section(7, exports)...)
	code := binary.AppendUvarint([]byte{0x01}, uint64(len(body)))
	m = append(m, section(10, append(code, body...))...)

	out := filepath.Join(CacheDir(tb), fmt.Sprintf("bomb-%s-%d.wasm", kind, n))
	if err := os.WriteFile(out, m, 0o644); err != nil {
		tb.Fatalf("testguests: %v", err)
	}
	return out
}
