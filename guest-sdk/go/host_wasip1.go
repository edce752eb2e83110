//go:build wasip1

package collector

import "unsafe"

// The ABI v1 host functions, one declaration per entry of the function table in hostfuncs/ABI.md.
// The //go:wasmimport directive takes no constants, so the module and function names are spelled
// out here; a test checks them against the abi package. Every status result is an abi.Status.
//
// Pointers are offsets into linear memory. The host only reads or writes through them during the
// call, so //go:noescape lets small buffers stay on the Go stack (Go's wasm stacks live in linear
// memory and cannot move while the goroutine is blocked in the call).

//go:wasmimport wasmcollector_v1 emit_json
//go:noescape
func hostEmitJSON(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 csv_header
//go:noescape
func hostCSVHeader(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 csv_rows
//go:noescape
func hostCSVRows(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 slice_bounds
//go:noescape
func hostSliceBounds(out unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 collection_type
func hostCollectionType() int32

//go:wasmimport wasmcollector_v1 param
//go:noescape
func hostParam(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 params_json
//go:noescape
func hostParamsJSON(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 log
//go:noescape
func hostLog(level int32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 fail
//go:noescape
func hostFail(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmcollector_v1 db_query
//go:noescape
func hostDBQuery(src unsafe.Pointer, srcLen uint32, sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 db_result
//go:noescape
func hostDBResult(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 db_stream_csv
//go:noescape
func hostDBStreamCSV(src unsafe.Pointer, srcLen uint32, sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32, rowsOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 last_error
//go:noescape
func hostLastError(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 db_query_rows
//go:noescape
func hostDBQueryRows(src unsafe.Pointer, srcLen uint32, sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 db_rows_next
//go:noescape
func hostDBRowsNext(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmcollector_v1 db_stream_csv_transform
//go:noescape
func hostDBStreamCSVTransform(src unsafe.Pointer, srcLen uint32, sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32, spec unsafe.Pointer, specLen uint32, rowsOut unsafe.Pointer) uint32
