// Package abi holds the names, status codes and binary layouts of ABI v1, the contract between the
// host module that [github.com/wasmcollector/wasmcollector/hostfuncs] serves and the guest SDKs.
//
// It lives in the Go SDK's module, which has no dependencies, and imports only the standard
// library: the SDK and the host (which requires the SDK module) both use it, so they cannot drift
// apart. hostfuncs/ABI.md is the prose version of this file; a test checks that the
// two agree.
package abi

import (
	"encoding/binary"
	"math"
	"time"
)

// ModuleName is the import module every ABI v1 host function lives in. The version is part of the
// name, so a module built against another ABI fails at load time with a clear message instead of
// misbehaving at run time.
const ModuleName = "wasmcollector_v1"

// ModulePrefix is the common prefix of every ABI generation's import module name.
const ModulePrefix = "wasmcollector_"

// Names of the ABI v1 host functions, in the order ABI.md documents them.
const (
	FuncEmitJSON       = "emit_json"       // (ptr, len i32) -> status
	FuncCSVHeader      = "csv_header"      // (ptr, len i32) -> status
	FuncCSVRows        = "csv_rows"        // (ptr, len i32) -> status
	FuncSliceBounds    = "slice_bounds"    // (out_ptr i32) -> status
	FuncCollectionType = "collection_type" // () -> i32
	FuncParam          = "param"           // (name_ptr, name_len, buf_ptr, buf_cap, len_out_ptr i32) -> status
	FuncParamsJSON     = "params_json"     // (buf_ptr, buf_cap, len_out_ptr i32) -> status
	FuncLog            = "log"             // (level, ptr, len i32) -> status
	FuncFail           = "fail"            // (ptr, len i32) -> status
	FuncDBQuery        = "db_query"        // (src_ptr, src_len, sql_ptr, sql_len, params_ptr, params_len, len_out_ptr i32) -> status
	FuncDBResult       = "db_result"       // (buf_ptr, buf_cap, len_out_ptr i32) -> status
	FuncDBStreamCSV    = "db_stream_csv"   // (src_ptr, src_len, sql_ptr, sql_len, params_ptr, params_len, rows_out_ptr i32) -> status
	FuncLastError      = "last_error"      // (buf_ptr, buf_cap, len_out_ptr i32) -> status
	FuncDBQueryRows    = "db_query_rows"   // (src_ptr, src_len, sql_ptr, sql_len, params_ptr, params_len, len_out_ptr i32) -> status
	FuncDBRowsNext     = "db_rows_next"    // (buf_ptr, buf_cap, len_out_ptr i32) -> status
	// (src_ptr, src_len, sql_ptr, sql_len, params_ptr, params_len, spec_ptr, spec_len, rows_out_ptr i32) -> status
	FuncDBStreamCSVTransform = "db_stream_csv_transform"
)

// Functions lists every ABI v1 host function name.
func Functions() []string {
	return []string{
		FuncEmitJSON, FuncCSVHeader, FuncCSVRows, FuncSliceBounds, FuncCollectionType,
		FuncParam, FuncParamsJSON, FuncLog, FuncFail,
		FuncDBQuery, FuncDBResult, FuncDBStreamCSV, FuncLastError,
		FuncDBQueryRows, FuncDBRowsNext, FuncDBStreamCSVTransform,
	}
}

// Status is the i32 result of an ABI v1 host function. Recoverable conditions are reported as a
// Status; only pointer misuse traps.
type Status uint32

// Status codes. The numbers are part of the ABI and never change meaning.
const (
	// OK means the call did what was asked.
	OK Status = 0
	// Invalid means the input was malformed: JSON that does not parse, text that is not UTF-8, a
	// CSV row whose field count differs from the header, a bad level.
	Invalid Status = 1
	// TooLarge means one item (a JSON document, a batch of rows, a log line) is over its cap.
	TooLarge Status = 2
	// OverBudget means the invocation's total output or log budget is spent.
	OverBudget Status = 3
	// WrongFormat means a JSON function was called by a CSV collector or the other way round.
	WrongFormat Status = 4
	// WrongState means the call came out of order: rows before the header, a second header, a
	// second JSON document.
	WrongState Status = 5
	// NotFound means the named parameter does not exist.
	NotFound Status = 6
	// BufferTooSmall means the guest's buffer cannot hold the answer; the needed length was
	// written to len_out_ptr and nothing else was written.
	BufferTooSmall Status = 7
	// Denied means the collector was not granted the capability the call needs.
	Denied Status = 8
	// QueryFailed means a data-source query failed (syntax, a write refused, a time or size
	// cap); last_error says why.
	QueryFailed Status = 9
)

var statusNames = [...]string{
	OK: "ok", Invalid: "invalid", TooLarge: "too_large", OverBudget: "over_budget",
	WrongFormat: "wrong_format", WrongState: "wrong_state", NotFound: "not_found",
	BufferTooSmall: "buffer_too_small", Denied: "denied", QueryFailed: "query_failed",
}

// String returns the status's ABI name, such as "too_large".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + itoa(uint32(s)) + ")"
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// Collection types returned by collection_type.
const (
	CollectionDryRun    = 1
	CollectionManual    = 2
	CollectionScheduled = 3
)

// Log levels accepted by log.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Layout of the record slice_bounds writes at out_ptr (little endian, no alignment required).
const (
	SliceSinceOffset = 0  // i64: since, Unix nanoseconds (0 when unset)
	SliceUntilOffset = 8  // i64: until, Unix nanoseconds (0 when unset)
	SliceFlagsOffset = 16 // u32: SliceFlag* bits
	SliceRecordSize  = 24 // bytes 20..23 are reserved and written as zero
)

// Bits of the slice_bounds flags word.
const (
	SliceFlagSinceSet = 1 << 0
	SliceFlagUntilSet = 1 << 1
	SliceFlagFullSync = 1 << 2
)

// NullField is the field length that marks a NULL value in a csv_rows batch. A NULL is written as
// an empty unquoted field, an empty string as "" (as PostgreSQL's COPY … CSV does).
const NullField = 0xFFFFFFFF

// Value tags of the binary row encoding (ABI.md "Row pages"): the first byte of every value in a
// db_rows_next page, and the type byte of every column in the db_query_rows header. A value's tag
// can differ from its column's type (SQLite's columns are dynamically typed), so a reader
// dispatches on the value's tag.
const (
	TagNull      = 0 // no payload
	TagInt       = 1 // i64
	TagFloat     = 2 // f64 (IEEE 754 bits)
	TagText      = 3 // u32 len, UTF-8 bytes
	TagBool      = 4 // u8: 0 false, 1 true
	TagTimestamp = 5 // i64 Unix seconds, u32 nanoseconds (0..999999999), UTC
	TagBytes     = 6 // u32 len, bytes
)

// RowsPageBytes is the size the host fills a db_rows_next page to before it hands it over: a page
// holds whole rows, so it is at most this plus one row.
const RowsPageBytes = 64 << 10

// AppendRowValue appends v in the row-page value encoding (a tag byte, then the payload). v is one
// of the values data sources give: nil, int64, float64, string, bool, time.Time or []byte; ok is
// false for any other type, or a text or bytes value longer than a u32 length can say.
func AppendRowValue(b []byte, v any) (_ []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(b, TagNull), true
	case int64:
		return binary.LittleEndian.AppendUint64(append(b, TagInt), uint64(x)), true
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, TagFloat), math.Float64bits(x)), true
	case string:
		if uint64(len(x)) > math.MaxUint32 {
			return b, false
		}
		b = binary.LittleEndian.AppendUint32(append(b, TagText), uint32(len(x)))
		return append(b, x...), true
	case bool:
		if x {
			return append(b, TagBool, 1), true
		}
		return append(b, TagBool, 0), true
	case time.Time:
		b = binary.LittleEndian.AppendUint64(append(b, TagTimestamp), uint64(x.Unix()))
		return binary.LittleEndian.AppendUint32(b, uint32(x.Nanosecond())), true
	case []byte:
		if uint64(len(x)) > math.MaxUint32 {
			return b, false
		}
		b = binary.LittleEndian.AppendUint32(append(b, TagBytes), uint32(len(x)))
		return append(b, x...), true
	}
	return b, false
}
