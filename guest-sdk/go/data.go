package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Column describes one column of a query result.
type Column struct {
	// Name is the column's name as the query gives it.
	Name string `json:"name"`
	// Type is "int", "float", "text", "bool", "timestamp" or "bytes".
	Type string `json:"type"`
}

// Result is what [Query] returns: the columns, and the rows with typed values: nil (NULL),
// int64, float64, string, bool, time.Time (UTC) or []byte.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// Query runs one read-only statement on the data source named source (granted to this collector
// in the TOML) and returns its rows. Parameters are named @name in the SQL; params gives their
// values (nil, bool, integers, floats, string, time.Time). The host binds @since and @until to the
// slice bounds itself. The result is held in memory: for big tables use [StreamCSV].
//
//	r, err := collector.Query("awx", "SELECT id, name FROM main_organization WHERE id > @after", map[string]any{"after": 3})
func Query(source, sql string, params map[string]any) (*Result, error) {
	if activeRows == nil {
		return queryBinary(source, sql, params)
	}
	// A Rows is being read, and the host keeps one row cursor: take the JSON path, which leaves
	// it alone.
	var n uint32
	if err := dbCall(abi.FuncDBQuery, hostDBQuery, source, sql, params, unsafe.Pointer(&n)); err != nil {
		return nil, err
	}
	raw, st := readValue(func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32 {
		return hostDBResult(buf, bufCap, lenOut)
	})
	if st != uint32(abi.OK) {
		return nil, statusErr(abi.FuncDBResult, st)
	}
	return decodeResult(raw)
}

// queryBinary is Query through db_query_rows: the same values as the JSON path, decoded without
// JSON (hostfuncs/ABI.md "Row pages").
func queryBinary(source, sql string, params map[string]any) (*Result, error) {
	rows, err := QueryRows(source, sql, params)
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: rows.Columns(), Rows: [][]any{}}
	for rows.Next() {
		row := make([]any, len(res.Columns))
		for i := range row {
			row[i] = rows.Value(i)
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// StreamCSV runs one read-only statement on the data source named source and writes its result
// straight into this collector's CSV output, without passing it through guest memory: the header
// from the column names, then the rows. It returns the number of rows. If a header is already set
// the result's must be the same. Any failure fails the invocation (rows may have been written).
func StreamCSV(source, sql string, params map[string]any) (int64, error) {
	var rows uint64
	if err := dbCall(abi.FuncDBStreamCSV, hostDBStreamCSV, source, sql, params, unsafe.Pointer(&rows)); err != nil {
		return 0, err
	}
	return int64(rows), nil
}

// ColumnOp is one column operation of [StreamCSVTransform] (hostfuncs/ABI.md
// "db_stream_csv_transform"): it names a column of the result and says what the host does with it.
// Columns no ColumnOp names are written as they are.
type ColumnOp struct {
	// Column names a column of the result. Required.
	Column string `json:"column"`
	// Rename gives the column another name in the header.
	Rename string `json:"rename,omitempty"`
	// Drop leaves the column out; it takes no other operation.
	Drop bool `json:"drop,omitempty"`
	// Hash replaces each value by the hex SHA-256 of Salt followed by the value's text ("sha256"
	// is the only algorithm); NULL stays NULL.
	Hash string `json:"hash,omitempty"`
	// Salt is hashed before each value.
	Salt string `json:"salt,omitempty"`
	// Timestamp formats a timestamp column with this Go layout, in UTC ("2006-01-02").
	Timestamp string `json:"timestamp,omitempty"`
}

// StreamCSVTransform is [StreamCSV] with per-column operations done by the host (rename, drop,
// hash, format a timestamp), so per-row logic of that kind never enters the guest. Values take the
// forms of [CSV.CopyRow] on both databases. The source's row and byte caps apply (as for [Query]).
// Any failure, a bad spec included, fails the invocation.
//
//	n, err := collector.StreamCSVTransform("awx", "SELECT id, email, created FROM main_user", nil,
//		collector.ColumnOp{Column: "email", Hash: "sha256", Salt: salt, Rename: "email_hash"},
//		collector.ColumnOp{Column: "created", Timestamp: "2006-01-02"})
func StreamCSVTransform(source, sql string, params map[string]any, ops ...ColumnOp) (int64, error) {
	if ops == nil {
		ops = []ColumnOp{}
	}
	spec, err := json.Marshal(ops)
	if err != nil {
		return 0, fmt.Errorf("collector: transform spec: %w", err)
	}
	p, err := encodeParams(params)
	if err != nil {
		return 0, err
	}
	var rows uint64
	sp, sn := stringArg(source)
	qp, qn := stringArg(sql)
	pp, pn := bytesArg(p)
	xp, xn := bytesArg(spec)
	st := hostDBStreamCSVTransform(sp, sn, qp, qn, pp, pn, xp, xn, unsafe.Pointer(&rows))
	runtime.KeepAlive(source)
	runtime.KeepAlive(sql)
	runtime.KeepAlive(p)
	runtime.KeepAlive(spec)
	if st != uint32(abi.OK) {
		return 0, dataErr(abi.FuncDBStreamCSVTransform, st)
	}
	return int64(rows), nil
}

// dbCall calls db_query or db_stream_csv, which take the same arguments, with out as the last.
func dbCall(fn string, host func(unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer, uint32, unsafe.Pointer) uint32,
	source, sql string, params map[string]any, out unsafe.Pointer) error {
	p, err := encodeParams(params)
	if err != nil {
		return err
	}
	sp, sn := stringArg(source)
	qp, qn := stringArg(sql)
	pp, pn := bytesArg(p)
	st := host(sp, sn, qp, qn, pp, pn, out)
	runtime.KeepAlive(source)
	runtime.KeepAlive(sql)
	runtime.KeepAlive(p)
	if st != uint32(abi.OK) {
		return dataErr(fn, st)
	}
	return nil
}

// Maps returns the rows keyed by column name.
func (r *Result) Maps() []map[string]any {
	out := make([]map[string]any, len(r.Rows))
	for i, row := range r.Rows {
		m := make(map[string]any, len(r.Columns))
		for j, c := range r.Columns {
			m[c.Name] = row[j]
		}
		out[i] = m
	}
	return out
}

// Int returns the single value of a one-row, one-column result as an integer (COUNT(*) and the
// like); NULL is 0.
func (r *Result) Int() (int64, error) {
	if len(r.Rows) != 1 || len(r.Columns) != 1 {
		return 0, fmt.Errorf("collector: want one value, the result has %d rows of %d columns", len(r.Rows), len(r.Columns))
	}
	switch v := r.Rows[0][0].(type) {
	case nil:
		return 0, nil
	case int64:
		return v, nil
	case float64:
		return int64(v), nil
	default:
		return 0, fmt.Errorf("collector: want an integer, the value is %T", v)
	}
}

// dataErr is statusErr with the host's reason from last_error.
func dataErr(fn string, st uint32) error {
	err := statusErr(fn, st)
	var se *StatusError
	if errors.As(err, &se) {
		if msg, st := readValue(func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32 {
			return hostLastError(buf, bufCap, lenOut)
		}); st == uint32(abi.OK) {
			se.Reason = string(msg)
		}
	}
	return err
}

func encodeParams(params map[string]any) ([]byte, error) {
	if len(params) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("collector: query parameters: %w", err)
	}
	return b, nil
}

// decodeResult reads the db_query result JSON (hostfuncs/ABI.md "db_query") into typed values, in
// one pass: cells are decoded as generic JSON values (numbers kept exact) and converted by their
// column's type, rather than unmarshalled one by one.
func decodeResult(raw []byte) (*Result, error) {
	var doc struct {
		Columns []Column `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("collector: query result: %w", err)
	}
	for i, row := range doc.Rows {
		if len(row) != len(doc.Columns) {
			return nil, fmt.Errorf("collector: query result row %d has %d values for %d columns", i, len(row), len(doc.Columns))
		}
		for j, cell := range row {
			v, err := convertCell(cell, doc.Columns[j].Type)
			if err != nil {
				return nil, fmt.Errorf("collector: query result row %d column %q: %w", i, doc.Columns[j].Name, err)
			}
			row[j] = v
		}
	}
	return &Result{Columns: doc.Columns, Rows: doc.Rows}, nil
}

// convertCell turns a generic JSON value into the Go type of its column.
func convertCell(cell any, typ string) (any, error) {
	if cell == nil {
		return nil, nil
	}
	switch typ {
	case "int":
		n, ok := cell.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %T", cell)
		}
		return n.Int64()
	case "float":
		switch x := cell.(type) {
		case json.Number:
			return x.Float64()
		case string: // NaN and infinities come as strings
			return strconv.ParseFloat(x, 64)
		}
		return nil, fmt.Errorf("want a number, got %T", cell)
	case "bool":
		b, ok := cell.(bool)
		if !ok {
			return nil, fmt.Errorf("want a boolean, got %T", cell)
		}
		return b, nil
	case "timestamp":
		s, ok := cell.(string)
		if !ok {
			return nil, fmt.Errorf("want a timestamp, got %T", cell)
		}
		return time.Parse(time.RFC3339Nano, s)
	case "bytes":
		s, ok := cell.(string)
		if !ok {
			return nil, fmt.Errorf("want base64, got %T", cell)
		}
		return base64.StdEncoding.DecodeString(s)
	default:
		s, ok := cell.(string)
		if !ok {
			return nil, fmt.Errorf("want text, got %T", cell)
		}
		return s, nil
	}
}
