package hostfuncs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// DataSource is a data source granted to a collector (the gather adapts *datasource.Source to
// it). Only granted sources are in [Request.DataSources]: the guest can name no other.
type DataSource interface {
	// Query runs one read-only statement with @name parameters, calling columns once, then row
	// once per row with values nil, int64, float64, string, bool, time.Time or []byte. A result
	// over the source's caps is an error wrapping [ErrResultTooLarge].
	Query(ctx context.Context, sql string, params map[string]any, columns func([]Column) error, row func([]any) error) error
	// StreamCSV writes the statement's result as CSV to w: the header in the first Write, then
	// one row per Write. It returns the number of rows.
	StreamCSV(ctx context.Context, sql string, params map[string]any, w io.Writer) (int64, error)
}

// Column is one column of a query result; Type is "int", "float", "text", "bool", "timestamp"
// or "bytes".
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ErrResultTooLarge marks a query result over the data source's caps (status too_large).
var ErrResultTooLarge = errors.New("query result too large")

const (
	maxSQLBytes    = 1 << 20  // one statement
	maxParamsBytes = 1 << 20  // the JSON parameter object
	maxResultBytes = 64 << 20 // one encoded db_query result held for db_result
)

// dbArgs reads the source, SQL and parameters of db_query and db_stream_csv. It returns a status
// other than OK, with the reason recorded for last_error, when they are unusable.
func (inv *Invocation) dbArgs(m api.Module, fn string, stack []uint64) (DataSource, string, map[string]any, abi.Status) {
	srcPtr, srcLen := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	sqlPtr, sqlLen := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	parPtr, parLen := api.DecodeU32(stack[4]), api.DecodeU32(stack[5])
	switch {
	case srcLen > maxMessageBytes:
		return inv.dbFail(abi.TooLarge, "data source name of %d bytes is too long", srcLen)
	case sqlLen > maxSQLBytes:
		return inv.dbFail(abi.TooLarge, "statement of %d bytes is over %d", sqlLen, maxSQLBytes)
	case parLen > maxParamsBytes:
		return inv.dbFail(abi.TooLarge, "parameters of %d bytes are over %d", parLen, maxParamsBytes)
	}
	name := string(read(m, fn, srcPtr, srcLen))
	sql := string(read(m, fn, sqlPtr, sqlLen))
	rawParams := read(m, fn, parPtr, parLen)
	src, ok := inv.req.DataSources[name]
	if !ok {
		return inv.dbFail(abi.Denied, "data source %q is not granted to collector %q (grant it with datasources = [%q] in the TOML)", name, inv.req.Key, name)
	}
	params, err := decodeParams(rawParams)
	if err != nil {
		return inv.dbFail(abi.Invalid, "parameters: %v", err)
	}
	for _, reserved := range []string{"since", "until"} {
		if _, ok := params[reserved]; ok {
			return inv.dbFail(abi.Invalid, "parameter %q is reserved: the host binds the slice bounds", reserved)
		}
	}
	params["since"], params["until"] = timeOrNil(inv.req.Since), timeOrNil(inv.req.Until)
	return src, sql, params, abi.OK
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// dbFail records why a data call failed, for last_error and the log, and returns the status.
func (inv *Invocation) dbFail(st abi.Status, format string, args ...any) (DataSource, string, map[string]any, abi.Status) {
	inv.lastError = fmt.Sprintf(format, args...)
	inv.log.Warn("data call failed", "status", st.String(), "error", inv.lastError)
	return nil, "", nil, st
}

// decodeParams reads the JSON object of query parameters: null, booleans, numbers (integers stay
// integers), strings.
func decodeParams(b []byte) (map[string]any, error) {
	params := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return params, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	for k, v := range raw {
		switch x := v.(type) {
		case nil, bool, string:
			params[k] = x
		case json.Number:
			if i, err := x.Int64(); err == nil {
				params[k] = i
			} else if f, err := x.Float64(); err == nil {
				params[k] = f
			} else {
				return nil, fmt.Errorf("parameter %q: %v", k, err)
			}
		default:
			return nil, fmt.Errorf("parameter %q: arrays and objects are not parameters", k)
		}
	}
	return params, nil
}

// dbQuery implements db_query: see ABI.md "db_query".
func dbQuery(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	lenOut := api.DecodeU32(stack[6])
	inv.dbResult = nil
	src, sql, params, st := inv.dbArgs(m, abi.FuncDBQuery, stack)
	if st != abi.OK {
		stack[0] = uint64(st)
		return
	}
	res, err := runQuery(ctx, src, sql, params)
	if err != nil {
		st := abi.QueryFailed
		if errors.Is(err, ErrResultTooLarge) {
			st = abi.TooLarge
		}
		_, _, _, st = inv.dbFail(st, "%v", err)
		stack[0] = uint64(st)
		return
	}
	inv.dbResult = res
	writeU32(m, abi.FuncDBQuery, lenOut, uint32(len(res)))
	stack[0] = uint64(abi.OK)
}

// runQuery runs the query and encodes its result as ABI.md "db_query" describes:
// {"columns": [{"name", "type"}], "rows": [[…]]}.
func runQuery(ctx context.Context, src DataSource, sql string, params map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"columns":`)
	rows := 0
	err := src.Query(ctx, sql, params, func(cols []Column) error {
		b, err := json.Marshal(cols)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteString(`,"rows":[`)
		return nil
	}, func(row []any) error {
		if rows > 0 {
			buf.WriteByte(',')
		}
		rows++
		buf.WriteByte('[')
		for i, v := range row {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendJSONValue(&buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		if buf.Len() > maxResultBytes {
			return fmt.Errorf("%w: over %d bytes", ErrResultTooLarge, maxResultBytes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}

func appendJSONValue(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case time.Time:
		buf.WriteString(`"` + x.UTC().Format(time.RFC3339Nano) + `"`)
	case []byte:
		buf.WriteString(`"` + base64.StdEncoding.EncodeToString(x) + `"`)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			fmt.Fprintf(buf, "%q", fmt.Sprint(x))
			return nil
		}
		b, _ := json.Marshal(x)
		buf.Write(b)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

// dbResultFn implements db_result: see ABI.md "db_result".
func dbResultFn(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	buf, capacity, lenOut := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	if inv.dbResult == nil {
		stack[0] = uint64(abi.NotFound)
		return
	}
	stack[0] = answer(m, abi.FuncDBResult, inv.dbResult, buf, capacity, lenOut)
}

// lastError implements last_error: see ABI.md "last_error".
func lastError(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	buf, capacity, lenOut := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	if inv.lastError == "" {
		stack[0] = uint64(abi.NotFound)
		return
	}
	stack[0] = answer(m, abi.FuncLastError, []byte(inv.lastError), buf, capacity, lenOut)
}

// dbStreamCSV implements db_stream_csv: see ABI.md "db_stream_csv".
func dbStreamCSV(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	const fn = abi.FuncDBStreamCSV
	rowsOut := api.DecodeU32(stack[6])
	if inv.req.Format != FormatCSV {
		stack[0] = uint64(inv.refuse(fn, abi.WrongFormat, "collector %q has format %s", inv.req.Key, inv.req.Format))
		return
	}
	src, sql, params, st := inv.dbArgs(m, fn, stack)
	if st != abi.OK {
		if st == abi.Denied {
			inv.refuse(fn, st, "%s", inv.lastError)
		}
		stack[0] = uint64(st)
		return
	}
	w := &streamWriter{inv: inv}
	rows, err := src.StreamCSV(ctx, sql, params, w)
	if w.outErr != nil {
		// Raised only now, once the data source has ended its statement and freed its
		// connection: a panic inside its stream would leak both.
		panic(w.outErr)
	}
	if err == nil {
		err = w.err
	}
	if err != nil {
		// Rows may have reached the output: the invocation must fail (ABI.md "Refused output").
		status := abi.QueryFailed
		if w.status != abi.OK {
			status = w.status
		}
		inv.lastError = err.Error()
		stack[0] = uint64(inv.refuse(fn, status, "%v", err))
		return
	}
	if !m.Memory().WriteUint64Le(rowsOut, uint64(rows)) {
		trap(m, fn, rowsOut, 8)
	}
	stack[0] = uint64(abi.OK)
}

// streamWriter takes a data source's CSV (header first, then a row per Write) into the
// invocation's output, with the same header rule and budget as csv_rows.
type streamWriter struct {
	inv    *Invocation
	n      int
	err    error
	status abi.Status
	outErr *OutputError // the output refused a write: ends the invocation once the stream is over
}

// write is inv.write returning, not panicking with, the output's error: the caller is inside a
// data source's stream.
func (w *streamWriter) write(p []byte) error {
	if _, err := w.inv.req.Output.Write(p); err != nil {
		w.outErr = &OutputError{Err: err}
		return w.outErr
	}
	w.inv.report.Bytes += int64(len(p))
	return nil
}

func (w *streamWriter) Write(p []byte) (int, error) {
	inv := w.inv
	w.n++
	if w.n == 1 {
		cols, err := csv.NewReader(bytes.NewReader(p)).Read()
		if err != nil {
			return w.fail(abi.Invalid, fmt.Errorf("stream header: %w", err))
		}
		if inv.headerCols > 0 {
			if !bytes.Equal(p, inv.headerLine) {
				return w.fail(abi.Invalid, fmt.Errorf("stream header %q differs from the header already set %q",
					strings.TrimSpace(string(p)), strings.TrimSpace(string(inv.headerLine))))
			}
			return len(p), nil
		}
		if inv.report.Bytes+int64(len(p)) > inv.limits.MaxOutputBytes {
			return w.fail(abi.OverBudget, fmt.Errorf("output would pass max_output_bytes (%d)", inv.limits.MaxOutputBytes))
		}
		inv.headerCols, inv.headerLine = len(cols), append([]byte(nil), p...)
		if err := w.write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if inv.report.Bytes+int64(len(p)) > inv.limits.MaxOutputBytes {
		return w.fail(abi.OverBudget, fmt.Errorf("output would pass max_output_bytes (%d) at row %d", inv.limits.MaxOutputBytes, inv.report.Rows+1))
	}
	if err := w.write(p); err != nil {
		return 0, err
	}
	inv.report.Rows++
	return len(p), nil
}

func (w *streamWriter) fail(st abi.Status, err error) (int, error) {
	w.status, w.err = st, err
	return 0, err
}
