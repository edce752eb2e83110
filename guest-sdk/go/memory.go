package collector

import (
	"runtime"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Passing memory to the host: a pointer (an offset into linear memory once compiled for wasm) and a
// uint32 length. Go's garbage collector does not move heap objects, and the callers keep each buffer
// alive across the call with runtime.KeepAlive.

// placeholder is what a zero-length buffer points at, so the host always gets a pointer that lies
// inside linear memory (the data pointer of an empty slice may be nil or dangle one past the end).
var placeholder [1]byte

// bytesArg returns the pointer and length the host functions take for b.
func bytesArg(b []byte) (unsafe.Pointer, uint32) {
	if len(b) == 0 {
		return unsafe.Pointer(&placeholder[0]), 0
	}
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

// stringArg returns the pointer and length the host functions take for s. The host only reads it.
func stringArg(s string) (unsafe.Pointer, uint32) {
	if len(s) == 0 {
		return unsafe.Pointer(&placeholder[0]), 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

// emitJSON calls emit_json with one complete JSON document.
func emitJSON(doc []byte) error {
	p, n := bytesArg(doc)
	st := hostEmitJSON(p, n)
	runtime.KeepAlive(doc)
	return statusErr(abi.FuncEmitJSON, st)
}

// csvHeader calls csv_header with an encoded header field list.
func csvHeader(fields []byte) error {
	p, n := bytesArg(fields)
	st := hostCSVHeader(p, n)
	runtime.KeepAlive(fields)
	return statusErr(abi.FuncCSVHeader, st)
}

// csvRows calls csv_rows with an encoded batch of rows.
func csvRows(batch []byte) error {
	p, n := bytesArg(batch)
	st := hostCSVRows(p, n)
	runtime.KeepAlive(batch)
	return statusErr(abi.FuncCSVRows, st)
}

// logMessage calls log and returns its status.
func logMessage(level Level, msg string) error {
	p, n := stringArg(msg)
	st := hostLog(int32(level), p, n)
	runtime.KeepAlive(msg)
	return statusErr(abi.FuncLog, st)
}

// failMessage calls fail.
func failMessage(msg string) {
	p, n := stringArg(msg)
	hostFail(p, n)
	runtime.KeepAlive(msg)
}

// maxReadAttempts bounds the buffer_too_small retries of readValue. Parameters do not change
// during an invocation, so the second attempt always fits; the bound only guards against a host bug.
const maxReadAttempts = 4

// readValue runs a read function of the param / params_json shape: it passes a buffer and a length
// slot, and when the host answers buffer_too_small it retries with a buffer of the length the host
// wrote. It returns the value and the final status.
func readValue(read func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32) ([]byte, uint32) {
	var small [256]byte
	buf := small[:]
	for range maxReadAttempts {
		var n uint32
		p, c := bytesArg(buf)
		st := read(p, c, unsafe.Pointer(&n))
		runtime.KeepAlive(buf)
		switch {
		case st == uint32(abi.OK) && int(n) <= len(buf):
			out := make([]byte, n)
			copy(out, buf[:n])
			return out, st
		case st == uint32(abi.OK):
			// The host claimed success for a value larger than the buffer: treat it as too small.
			fallthrough
		case st == uint32(abi.BufferTooSmall):
			buf = make([]byte, n)
		default:
			return nil, st
		}
	}
	return nil, uint32(abi.BufferTooSmall)
}
