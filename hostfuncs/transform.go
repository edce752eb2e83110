package hostfuncs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Caps of a db_stream_csv_transform spec: the common per-row logic (rename, drop, hash, format a
// timestamp) fits in far less.
const (
	maxSpecBytes  = 64 << 10
	maxSpecOps    = 1024
	maxLayoutLen  = 64
	maxSaltLength = 1024
)

// columnOp is one entry of a transform spec (ABI.md "db_stream_csv_transform").
type columnOp struct {
	Column    string  `json:"column"`
	Rename    *string `json:"rename"`
	Drop      bool    `json:"drop"`
	Hash      string  `json:"hash"`
	Salt      string  `json:"salt"`
	Timestamp string  `json:"timestamp"`
}

// transform is a checked spec, bound to a result's columns.
type transform struct {
	keep   []int      // the result columns written, in order
	ops    []columnOp // per result column (zero for a column the spec does not name)
	header []field    // the output header
	salt   [][]byte   // per result column: the hash salt, nil when not hashed

	scratch []byte  // the current row's field bytes
	ends    []int   // where each field of scratch ends; -1 for NULL
	fields  []field // the current row
	buf     []byte  // the current CSV line
}

// parseSpec reads a transform spec: a JSON array of column operations, each naming a column.
func parseSpec(b []byte) ([]columnOp, error) {
	var ops []columnOp
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ops); err != nil {
		return nil, fmt.Errorf("spec is not a JSON array of column operations: %w", err)
	}
	if dec.More() {
		return nil, errors.New("spec has data after its JSON array")
	}
	if len(ops) > maxSpecOps {
		return nil, fmt.Errorf("spec has %d operations, over %d", len(ops), maxSpecOps)
	}
	seen := map[string]bool{}
	for i, op := range ops {
		at := fmt.Sprintf("spec entry %d", i+1)
		switch {
		case op.Column == "":
			return nil, fmt.Errorf("%s: \"column\" is required", at)
		case seen[op.Column]:
			return nil, fmt.Errorf("%s: column %q is named twice", at, op.Column)
		case op.Drop && (op.Rename != nil || op.Hash != "" || op.Timestamp != "" || op.Salt != ""):
			return nil, fmt.Errorf("%s: column %q is dropped: \"drop\" takes no other operation", at, op.Column)
		case op.Rename != nil && *op.Rename == "":
			return nil, fmt.Errorf("%s: column %q: \"rename\" is empty", at, op.Column)
		case op.Hash != "" && op.Hash != "sha256":
			return nil, fmt.Errorf("%s: column %q: hash %q is not supported (only \"sha256\")", at, op.Column, op.Hash)
		case op.Salt != "" && op.Hash == "":
			return nil, fmt.Errorf("%s: column %q: \"salt\" needs \"hash\"", at, op.Column)
		case len(op.Salt) > maxSaltLength:
			return nil, fmt.Errorf("%s: column %q: salt of %d bytes is over %d", at, op.Column, len(op.Salt), maxSaltLength)
		case op.Hash != "" && op.Timestamp != "":
			return nil, fmt.Errorf("%s: column %q: \"hash\" and \"timestamp\" do not combine", at, op.Column)
		case len(op.Timestamp) > maxLayoutLen:
			return nil, fmt.Errorf("%s: column %q: timestamp layout of %d bytes is over %d", at, op.Column, len(op.Timestamp), maxLayoutLen)
		}
		seen[op.Column] = true
	}
	return ops, nil
}

// bind checks the spec against the result's columns.
func bindSpec(ops []columnOp, cols []Column) (*transform, error) {
	index := make(map[string]int, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		index[c.Name] = i
		names[i] = c.Name
	}
	t := &transform{ops: make([]columnOp, len(cols)), salt: make([][]byte, len(cols))}
	for i, op := range ops {
		j, ok := index[op.Column]
		if !ok {
			return nil, fmt.Errorf("spec entry %d: column %q is not in the result (columns: %s)", i+1, op.Column, strings.Join(names, ", "))
		}
		if op.Timestamp != "" && cols[j].Type != "timestamp" {
			return nil, fmt.Errorf("spec entry %d: column %q is %s, not a timestamp", i+1, op.Column, cols[j].Type)
		}
		t.ops[j] = op
		if op.Hash != "" {
			t.salt[j] = []byte(op.Salt)
		}
	}
	out := map[string]bool{}
	for j, c := range cols {
		op := t.ops[j]
		if op.Drop {
			continue
		}
		name := c.Name
		if op.Rename != nil {
			name = *op.Rename
		}
		if out[name] {
			return nil, fmt.Errorf("output column %q appears twice", name)
		}
		out[name] = true
		t.keep = append(t.keep, j)
		t.header = append(t.header, field{b: []byte(name)})
	}
	if len(t.keep) == 0 {
		return nil, errors.New("the spec drops every column")
	}
	return t, nil
}

// errBadValue marks a value the transform cannot write (status invalid).
var errBadValue = errors.New("transform")

// line encodes one transformed row as a CSV line, in buffers the transform reuses.
func (t *transform) line(row []any, cols []Column, rowNum int64) ([]byte, error) {
	t.scratch, t.fields, t.ends = t.scratch[:0], t.fields[:0], t.ends[:0]
	for _, j := range t.keep {
		v, op := row[j], t.ops[j]
		start := len(t.scratch)
		switch {
		case v == nil:
			t.ends = append(t.ends, -1)
			continue
		case op.Timestamp != "":
			ts, ok := v.(time.Time)
			if !ok {
				return nil, fmt.Errorf("%w: row %d column %q: %T is not a timestamp", errBadValue, rowNum, cols[j].Name, v)
			}
			t.scratch = ts.UTC().AppendFormat(t.scratch, op.Timestamp)
		default:
			t.scratch = appendTextValue(t.scratch, v)
		}
		if op.Hash != "" {
			h := sha256.New()
			h.Write(t.salt[j])
			h.Write(t.scratch[start:])
			var sum [sha256.Size]byte
			t.scratch = hex.AppendEncode(t.scratch[:start], h.Sum(sum[:0]))
		}
		if b := t.scratch[start:]; !isASCII(b) && !utf8.Valid(b) {
			return nil, fmt.Errorf("%w: row %d column %q: value is not UTF-8", errBadValue, rowNum, cols[j].Name)
		}
		t.ends = append(t.ends, len(t.scratch))
	}
	start := 0
	for _, end := range t.ends {
		if end < 0 {
			t.fields = append(t.fields, field{null: true})
			continue
		}
		t.fields = append(t.fields, field{b: t.scratch[start:end]})
		start = end
	}
	t.buf = appendCSVRow(t.buf[:0], t.fields)
	return t.buf, nil
}

// appendTextValue appends a value in the row cursor's CSV form (the Go SDK's CSV.FieldValue).
func appendTextValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return x.UTC().AppendFormat(b, time.RFC3339Nano)
	case string:
		return append(b, x...)
	case []byte:
		return append(b, x...)
	}
	return fmt.Append(b, v)
}

// dbStreamCSVTransform implements db_stream_csv_transform: see ABI.md "db_stream_csv_transform".
func dbStreamCSVTransform(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	const fn = abi.FuncDBStreamCSVTransform
	specPtr, specLen := api.DecodeU32(stack[6]), api.DecodeU32(stack[7])
	rowsOut := api.DecodeU32(stack[8])
	fail := func(st abi.Status, err error) {
		inv.lastError = err.Error()
		stack[0] = uint64(inv.refuse(fn, st, "%v", err))
	}
	if inv.req.Format != FormatCSV {
		fail(abi.WrongFormat, fmt.Errorf("collector %q has format %s", inv.req.Key, inv.req.Format))
		return
	}
	if specLen > maxSpecBytes {
		fail(abi.TooLarge, fmt.Errorf("transform spec of %d bytes is over %d", specLen, maxSpecBytes))
		return
	}
	src, sql, params, st := inv.dbArgs(m, fn, stack)
	if st != abi.OK {
		fail(st, errors.New(inv.lastError))
		return
	}
	ops, err := parseSpec(read(m, fn, specPtr, specLen))
	if err != nil {
		fail(abi.Invalid, err)
		return
	}
	w := &streamWriter{inv: inv}
	var (
		t       *transform
		cols    []Column
		rows    int64
		specErr error
	)
	err = src.Query(ctx, sql, params, func(c []Column) error {
		cols = c
		if t, specErr = bindSpec(ops, c); specErr != nil {
			return specErr
		}
		_, err := w.Write(appendCSVRow(nil, t.header))
		return err
	}, func(row []any) error {
		rows++
		line, err := t.line(row, cols, rows)
		if err != nil {
			return err
		}
		_, err = w.Write(line)
		return err
	})
	if err != nil {
		status := abi.QueryFailed
		switch {
		case w.status != abi.OK:
			status = w.status
		case specErr != nil, errors.Is(err, errBadValue):
			status = abi.Invalid
		case errors.Is(err, ErrResultTooLarge):
			status = abi.TooLarge
		}
		if w.err != nil {
			err = w.err
		}
		fail(status, err)
		return
	}
	if !m.Memory().WriteUint64Le(rowsOut, uint64(rows)) {
		trap(m, fn, rowsOut, 8)
	}
	stack[0] = uint64(abi.OK)
}
