package hostfuncs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// emitArgs does what every emit function starts with: stop a guest past its deadline, refuse an
// argument over its cap (checked before the pointer, so a huge length is a status, not a trap) or
// a call for the other format, then read the argument from guest memory.
func emitArgs(ctx context.Context, m api.Module, stack []uint64, fn string, want Format, what, limitName string) (*Invocation, []byte, bool) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	limit := inv.limits.MaxBatchBytes
	if want == FormatJSON {
		limit = inv.limits.MaxJSONBytes
	}
	switch {
	case int64(n) > limit:
		stack[0] = uint64(inv.refuse(fn, abi.TooLarge, "%s of %d bytes is over %s (%d)", what, n, limitName, limit))
		return inv, nil, false
	case inv.req.Format != want:
		stack[0] = uint64(inv.refuse(fn, abi.WrongFormat, "collector %q has format %s", inv.req.Key, inv.req.Format))
		return inv, nil, false
	}
	return inv, read(m, fn, ptr, n), true
}

// emitJSON implements emit_json(ptr, len) -> status: see ABI.md "emit_json".
func emitJSON(ctx context.Context, m api.Module, stack []uint64) {
	const fn = abi.FuncEmitJSON
	inv, doc, ok := emitArgs(ctx, m, stack, fn, FormatJSON, "document", "max_json_bytes")
	if !ok {
		return
	}
	switch {
	case inv.report.JSONDocuments > 0:
		stack[0] = uint64(inv.refuse(fn, abi.WrongState, "a second JSON document (one per invocation)"))
	case inv.report.Bytes+int64(len(doc)) > inv.limits.MaxOutputBytes:
		stack[0] = uint64(inv.refuse(fn, abi.OverBudget, "output would pass max_output_bytes (%d)", inv.limits.MaxOutputBytes))
	case !utf8.Valid(doc):
		stack[0] = uint64(inv.refuse(fn, abi.Invalid, "document is not UTF-8"))
	case !json.Valid(doc):
		stack[0] = uint64(inv.refuse(fn, abi.Invalid, "document is not valid JSON"))
	default:
		inv.write(doc)
		inv.report.JSONDocuments++
		stack[0] = uint64(abi.OK)
	}
}

// csvHeader implements csv_header(ptr, len) -> status: see ABI.md "csv_header".
func csvHeader(ctx context.Context, m api.Module, stack []uint64) {
	const fn = abi.FuncCSVHeader
	inv, b, ok := emitArgs(ctx, m, stack, fn, FormatCSV, "header", "max_batch_bytes")
	if !ok {
		return
	}
	if inv.headerCols > 0 {
		stack[0] = uint64(inv.refuse(fn, abi.WrongState, "the header is already set"))
		return
	}
	names, rest, reason := parseRow(b, -1)
	if reason == "" && len(rest) > 0 {
		reason = "trailing bytes after the header"
	}
	if reason == "" {
		reason = checkHeaderNames(names)
	}
	if reason != "" {
		stack[0] = uint64(inv.refuse(fn, abi.Invalid, "%s", reason))
		return
	}
	line := appendCSVRow(inv.rowBuf[:0], names)
	if inv.report.Bytes+int64(len(line)) > inv.limits.MaxOutputBytes {
		stack[0] = uint64(inv.refuse(fn, abi.OverBudget, "output would pass max_output_bytes (%d)", inv.limits.MaxOutputBytes))
		return
	}
	inv.rowBuf = line
	inv.write(line)
	inv.headerCols, inv.headerLine = len(names), append([]byte(nil), line...)
	stack[0] = uint64(abi.OK)
}

func checkHeaderNames(names []field) string {
	if len(names) == 0 {
		return "the header has no columns"
	}
	seen := make(map[string]int, len(names))
	for i, f := range names {
		switch {
		case f.null:
			return "header column " + itoa(i+1) + " is NULL"
		case len(f.b) == 0:
			return "header column " + itoa(i+1) + " is empty"
		}
		if j, dup := seen[string(f.b)]; dup {
			return "header column " + itoa(i+1) + " repeats column " + itoa(j+1) + " " + quote(f.b)
		}
		seen[string(f.b)] = i
	}
	return ""
}

// csvRows implements csv_rows(ptr, len) -> status: see ABI.md "csv_rows".
func csvRows(ctx context.Context, m api.Module, stack []uint64) {
	const fn = abi.FuncCSVRows
	inv, b, ok := emitArgs(ctx, m, stack, fn, FormatCSV, "batch", "max_batch_bytes")
	if !ok {
		return
	}
	if inv.headerCols == 0 {
		stack[0] = uint64(inv.refuse(fn, abi.WrongState, "rows before the header"))
		return
	}
	inv.batches++
	// Encode the whole batch before writing any of it, so a refused batch writes nothing; the
	// buffer holds one batch, never the output.
	inv.batchBuf, inv.rowEnds = inv.batchBuf[:0], inv.rowEnds[:0]
	for rest := b; len(rest) > 0; {
		var reason string
		inv.fields, rest, reason = parseRowInto(inv.fields[:0], rest, inv.headerCols)
		if reason != "" {
			stack[0] = uint64(inv.refuse(fn, abi.Invalid, "batch %d row %d (row %d of the output): %s",
				inv.batches, len(inv.rowEnds)+1, inv.report.Rows+int64(len(inv.rowEnds))+1, reason))
			return
		}
		inv.batchBuf = appendCSVRow(inv.batchBuf, inv.fields)
		inv.rowEnds = append(inv.rowEnds, len(inv.batchBuf))
	}
	if inv.report.Bytes+int64(len(inv.batchBuf)) > inv.limits.MaxOutputBytes {
		stack[0] = uint64(inv.refuse(fn, abi.OverBudget, "output would pass max_output_bytes (%d) at row %d",
			inv.limits.MaxOutputBytes, inv.report.Rows+1))
		return
	}
	// One row per Write: the contract Request.Output documents.
	start := 0
	for _, end := range inv.rowEnds {
		inv.write(inv.batchBuf[start:end])
		start = end
	}
	inv.report.Rows += int64(len(inv.rowEnds))
	stack[0] = uint64(abi.OK)
}

// field is one decoded field of an ABI field list; b aliases guest memory.
type field struct {
	b    []byte
	null bool
}

func parseRow(b []byte, want int) ([]field, []byte, string) {
	return parseRowInto(nil, b, want)
}

// parseRowInto decodes one row of the ABI field list encoding (see ABI.md "Data encodings") from b,
// appending its fields to dst. want is the required field count, or -1 for any. It returns the rest
// of b and a reason when the row is malformed.
func parseRowInto(dst []field, b []byte, want int) ([]field, []byte, string) {
	if len(b) < 4 {
		return dst, nil, "batch ends inside a row (no field count)"
	}
	count := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if want >= 0 && count != uint32(want) {
		return dst, nil, "row has " + itoa(int(count)) + " fields, header has " + itoa(want)
	}
	if uint64(count)*4 > uint64(len(b)) {
		return dst, nil, "row declares " + itoa(int(count)) + " fields, more than the batch holds"
	}
	for i := uint32(0); i < count; i++ {
		if len(b) < 4 {
			return dst, nil, "batch ends inside field " + itoa(int(i)+1)
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if n == abi.NullField {
			dst = append(dst, field{null: true})
			continue
		}
		if uint64(n) > uint64(len(b)) {
			return dst, nil, "field " + itoa(int(i)+1) + " of " + itoa(int(n)) + " bytes runs past the end of the batch"
		}
		v := b[:n]
		if !isASCII(v) && !utf8.Valid(v) {
			return dst, nil, "field " + itoa(int(i)+1) + " is not UTF-8"
		}
		dst = append(dst, field{b: v})
		b = b[n:]
	}
	return dst, b, ""
}
