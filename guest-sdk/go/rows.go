package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Rows is a query result read row by row, a page at a time (hostfuncs/ABI.md "Row pages"): memory
// holds one page of about 64 KiB however many rows the query returns, and reading a number, a
// boolean or a timestamp allocates nothing. Use it for collectors that look at every row:
//
//	rows, err := collector.QueryRows("awx", "SELECT id, name FROM main_host", nil)
//	if err != nil {
//		return err
//	}
//	defer rows.Close()
//	for rows.Next() {
//		var id int64
//		var name []byte // reused: Scan copies into its capacity
//		if err := rows.Scan(&id, &name); err != nil {
//			return err
//		}
//	}
//	if err := rows.Err(); err != nil {
//		return err
//	}
//
// One Rows reads at a time: a later QueryRows abandons the one before (its Next then returns false
// and Err says why). [Query] may be called while a Rows is open.
type Rows struct {
	cols  []Column
	fetch func(buf []byte) ([]byte, error) // the next page into buf; an empty page at the end
	gen   uint64                           // the QueryRows that made it, for the one-at-a-time rule
	buf   []byte                           // where pages land
	page  []byte                           // the current page
	pos   int                              // read offset in page
	left  uint32                           // rows of page not yet read
	vals  []rowValue                       // the current row
	err   error
	done  bool
}

// rowValue is one value of the current row: its tag and where its payload lies in the page.
type rowValue struct {
	tag byte
	off uint32
	n   uint32
}

// rowsGen counts QueryRows calls; only the newest Rows has a cursor on the host.
var rowsGen uint64

// activeRows is the Rows the host's cursor belongs to, nil when that one is finished.
var activeRows *Rows

// QueryRows runs one read-only statement on the data source named source (as [Query] does, with
// the same parameters) and returns a cursor over its rows, which the host streams a page at a time
// while the guest reads.
func QueryRows(source, sql string, params map[string]any) (*Rows, error) {
	var n uint32
	if err := dbCall(abi.FuncDBQueryRows, hostDBQueryRows, source, sql, params, unsafe.Pointer(&n)); err != nil {
		return nil, err
	}
	raw, st := readValue(func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32 {
		return hostDBResult(buf, bufCap, lenOut)
	})
	if st != uint32(abi.OK) {
		return nil, statusErr(abi.FuncDBResult, st)
	}
	cols, err := decodeHeader(raw)
	if err != nil {
		return nil, err
	}
	rowsGen++
	r := newRows(cols, hostPage)
	r.gen = rowsGen
	activeRows = r
	return r, nil
}

// hostPage reads the next page with db_rows_next into buf, growing it when the host says so.
func hostPage(buf []byte) ([]byte, error) {
	for range maxReadAttempts {
		var n uint32
		p, c := bytesArg(buf[:cap(buf)])
		st := hostDBRowsNext(p, c, unsafe.Pointer(&n))
		runtime.KeepAlive(buf)
		switch {
		case st == uint32(abi.OK) && int(n) <= cap(buf):
			return buf[:n], nil
		case st == uint32(abi.BufferTooSmall):
			buf = make([]byte, 0, n)
		case st == uint32(abi.OK):
			return nil, errors.New("collector: db_rows_next: the host claimed a page larger than the buffer")
		default:
			return nil, dataErr(abi.FuncDBRowsNext, st)
		}
	}
	return nil, statusErr(abi.FuncDBRowsNext, uint32(abi.BufferTooSmall))
}

func newRows(cols []Column, fetch func([]byte) ([]byte, error)) *Rows {
	return &Rows{cols: cols, fetch: fetch, vals: make([]rowValue, len(cols)), buf: make([]byte, 0, abi.RowsPageBytes+abi.RowsPageBytes/4)}
}

// Columns returns the result's columns. The caller must not change them.
func (r *Rows) Columns() []Column { return r.cols }

// Next moves to the next row; it returns false at the end of the rows or on an error ([Rows.Err]).
func (r *Rows) Next() bool {
	if r.err != nil || r.done {
		return false
	}
	for r.left == 0 {
		if r.pos != len(r.page) {
			return r.fail(fmt.Errorf("collector: query result page has %d bytes after its last row", len(r.page)-r.pos))
		}
		if r.gen != 0 && r.gen != rowsGen {
			return r.fail(errors.New("collector: query rows abandoned: a later QueryRows started another result (one reads at a time)"))
		}
		page, err := r.fetch(r.buf)
		if err != nil {
			return r.fail(err)
		}
		r.buf = page[:0]
		if len(page) == 0 {
			r.finish()
			return false
		}
		if len(page) < 4 {
			return r.fail(fmt.Errorf("collector: query result page of %d bytes", len(page)))
		}
		r.left = binary.LittleEndian.Uint32(page)
		if r.left == 0 {
			return r.fail(errors.New("collector: query result page with no rows"))
		}
		r.page, r.pos = page, 4
	}
	p, pos := r.page, r.pos
	for i := range r.vals {
		if pos >= len(p) {
			return r.fail(errShortRow)
		}
		v := &r.vals[i]
		v.tag = p[pos]
		pos++
		switch v.tag {
		case abi.TagNull:
			v.n = 0
		case abi.TagInt, abi.TagFloat:
			v.n = 8
		case abi.TagBool:
			v.n = 1
		case abi.TagTimestamp:
			v.n = 12
		case abi.TagText, abi.TagBytes:
			if len(p)-pos < 4 {
				return r.fail(errShortRow)
			}
			v.n = binary.LittleEndian.Uint32(p[pos:])
			pos += 4
		default:
			return r.fail(fmt.Errorf("collector: query result column %q has unknown value tag %d", r.cols[i].Name, v.tag))
		}
		if uint64(len(p)-pos) < uint64(v.n) {
			return r.fail(errShortRow)
		}
		v.off = uint32(pos)
		pos += int(v.n)
	}
	r.pos = pos
	r.left--
	return true
}

var errShortRow = errors.New("collector: query result page ends inside a row")

func (r *Rows) fail(err error) bool {
	r.err = err
	r.finish()
	return false
}

// finish drops the page buffer and, for the active Rows, lets Query use the binary path again.
func (r *Rows) finish() {
	r.done, r.page, r.buf, r.pos, r.left = true, nil, nil, 0, 0
	if activeRows == r {
		activeRows = nil
	}
}

// Err returns the error that ended the rows early, nil after a complete read. A failed query makes
// the rows incomplete: a collector should return the error rather than ship what it read.
func (r *Rows) Err() error { return r.err }

// Close ends reading early. The host stops the query at the next QueryRows or when the invocation
// ends. Close is safe to call more than once and after the end.
func (r *Rows) Close() error {
	if !r.done {
		r.finish()
	}
	return nil
}

func (r *Rows) payload(i int) []byte {
	v := r.vals[i]
	return r.page[v.off : v.off+v.n]
}

// IsNull reports whether column i of the current row is NULL.
func (r *Rows) IsNull(i int) bool { return r.vals[i].tag == abi.TagNull }

// Int64 returns column i as an integer: an int as it is, a float truncated, a bool as 0 or 1, a
// timestamp as Unix seconds; NULL, text and bytes are 0. Use [Rows.Scan] to have mismatches reported.
func (r *Rows) Int64(i int) int64 {
	switch r.vals[i].tag {
	case abi.TagInt:
		return int64(binary.LittleEndian.Uint64(r.payload(i)))
	case abi.TagFloat:
		return int64(r.Float64(i))
	case abi.TagBool:
		return int64(r.payload(i)[0] & 1)
	case abi.TagTimestamp:
		return int64(binary.LittleEndian.Uint64(r.payload(i)))
	}
	return 0
}

// Float64 returns column i as a float: a float as it is, an int converted; anything else is 0.
func (r *Rows) Float64(i int) float64 {
	switch r.vals[i].tag {
	case abi.TagFloat:
		return math.Float64frombits(binary.LittleEndian.Uint64(r.payload(i)))
	case abi.TagInt:
		return float64(r.Int64(i))
	}
	return 0
}

// Bool returns column i as a boolean: a bool as it is, a number true when not zero; anything
// else is false.
func (r *Rows) Bool(i int) bool {
	switch r.vals[i].tag {
	case abi.TagBool:
		return r.payload(i)[0] != 0
	case abi.TagInt, abi.TagFloat:
		return r.Float64(i) != 0
	}
	return false
}

// Time returns column i as a time in UTC when it is a timestamp, the zero time otherwise.
func (r *Rows) Time(i int) time.Time {
	if r.vals[i].tag != abi.TagTimestamp {
		return time.Time{}
	}
	p := r.payload(i)
	return time.Unix(int64(binary.LittleEndian.Uint64(p)), int64(binary.LittleEndian.Uint32(p[8:]))).UTC()
}

// Text returns column i's text or bytes without copying: the slice is valid until the next call of
// Next. NULL and other types give nil.
func (r *Rows) Text(i int) []byte {
	switch r.vals[i].tag {
	case abi.TagText, abi.TagBytes:
		return r.payload(i)
	}
	return nil
}

// Value returns column i as [Query] gives it: nil (NULL), int64, float64, string, bool, time.Time
// (UTC) or []byte (a copy). It allocates; the typed getters do not.
func (r *Rows) Value(i int) any {
	switch r.vals[i].tag {
	case abi.TagInt:
		return r.Int64(i)
	case abi.TagFloat:
		return r.Float64(i)
	case abi.TagText:
		return string(r.payload(i))
	case abi.TagBool:
		return r.Bool(i)
	case abi.TagTimestamp:
		return r.Time(i)
	case abi.TagBytes:
		return append([]byte{}, r.payload(i)...)
	}
	return nil
}

// Scan copies the current row's columns into dest, one pointer per column: *int64, *int, *float64,
// *bool, *string, *[]byte (filled within its capacity, so a reused slice allocates nothing; NULL
// leaves it nil), *time.Time or *any ([Rows.Value]). NULL into any other pointer is an error, as is
// a value its type cannot hold; check [Rows.IsNull] first or scan into *any for nullable columns.
func (r *Rows) Scan(dest ...any) error {
	if r.page == nil {
		return errors.New("collector: Scan called without a current row (call Next first)")
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("collector: Scan got %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := r.scanOne(i, d); err != nil {
			return fmt.Errorf("collector: Scan column %q: %w", r.cols[i].Name, err)
		}
	}
	return nil
}

func (r *Rows) scanOne(i int, dest any) error {
	tag := r.vals[i].tag
	if d, ok := dest.(*any); ok {
		*d = r.Value(i)
		return nil
	}
	if d, ok := dest.(*[]byte); ok {
		switch tag {
		case abi.TagNull:
			*d = nil
		case abi.TagText, abi.TagBytes:
			*d = append((*d)[:0], r.payload(i)...)
		default:
			*d = r.appendText((*d)[:0], i)
		}
		return nil
	}
	if tag == abi.TagNull {
		return fmt.Errorf("NULL into %T (scan into *any or check IsNull)", dest)
	}
	switch d := dest.(type) {
	case *int64:
		if tag != abi.TagInt {
			return fmt.Errorf("%s into *int64", tagName(tag))
		}
		*d = r.Int64(i)
	case *int:
		if tag != abi.TagInt {
			return fmt.Errorf("%s into *int", tagName(tag))
		}
		*d = int(r.Int64(i))
	case *float64:
		if tag != abi.TagFloat && tag != abi.TagInt {
			return fmt.Errorf("%s into *float64", tagName(tag))
		}
		*d = r.Float64(i)
	case *bool:
		if tag != abi.TagBool {
			return fmt.Errorf("%s into *bool", tagName(tag))
		}
		*d = r.Bool(i)
	case *time.Time:
		if tag != abi.TagTimestamp {
			return fmt.Errorf("%s into *time.Time", tagName(tag))
		}
		*d = r.Time(i)
	case *string:
		*d = string(r.appendText(nil, i))
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

// appendText appends column i in the CSV writer's text form ([CSV.FieldValue]).
func (r *Rows) appendText(b []byte, i int) []byte {
	switch r.vals[i].tag {
	case abi.TagInt:
		return strconv.AppendInt(b, r.Int64(i), 10)
	case abi.TagFloat:
		return strconv.AppendFloat(b, r.Float64(i), 'g', -1, 64)
	case abi.TagBool:
		return strconv.AppendBool(b, r.Bool(i))
	case abi.TagTimestamp:
		p := r.payload(i)
		return appendRFC3339Nano(b, int64(binary.LittleEndian.Uint64(p)), int(binary.LittleEndian.Uint32(p[8:])))
	case abi.TagText, abi.TagBytes:
		return append(b, r.payload(i)...)
	}
	return b
}

func tagName(tag byte) string {
	switch tag {
	case abi.TagNull:
		return "NULL"
	case abi.TagInt:
		return "int"
	case abi.TagFloat:
		return "float"
	case abi.TagText:
		return "text"
	case abi.TagBool:
		return "bool"
	case abi.TagTimestamp:
		return "timestamp"
	case abi.TagBytes:
		return "bytes"
	}
	return "tag " + strconv.Itoa(int(tag))
}

// CopyRow adds the current row of r as a CSV row, each value in the form [CSV.FieldValue] gives
// it (the forms db_stream_csv writes on SQLite), allocating nothing. Bytes are written as they are,
// like text, so the host refuses bytes that are not UTF-8. It returns errors as
// [CSV.EndRow] does.
func (w *CSV) CopyRow(r *Rows) error {
	if r.page == nil {
		return w.abort(errors.New("collector: CopyRow called without a current row"))
	}
	for i, v := range r.vals {
		switch v.tag {
		case abi.TagNull:
			w.FieldNull()
		case abi.TagInt:
			w.FieldInt(r.Int64(i))
		case abi.TagFloat:
			w.FieldFloat(r.Float64(i))
		case abi.TagBool:
			w.FieldBool(r.Bool(i))
		case abi.TagTimestamp:
			if w.err == nil {
				p := r.payload(i)
				at := w.openField()
				w.buf = appendRFC3339NanoCached(w.buf, int64(binary.LittleEndian.Uint64(p)), int(binary.LittleEndian.Uint32(p[8:])), &w.dates)
				w.closeField(at)
			}
		default:
			w.FieldBytes(r.payload(i))
		}
	}
	return w.EndRow()
}

// decodeHeader reads the column header of db_query_rows (hostfuncs/ABI.md "Row pages").
func decodeHeader(b []byte) ([]Column, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("collector: query result header of %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b))/5 {
		return nil, fmt.Errorf("collector: query result header claims %d columns in %d bytes", n, len(b))
	}
	cols := make([]Column, n)
	for i := range cols {
		if len(b) < 5 {
			return nil, errors.New("collector: query result header ends inside a column")
		}
		tag, l := b[0], binary.LittleEndian.Uint32(b[1:])
		b = b[5:]
		if uint64(l) > uint64(len(b)) {
			return nil, errors.New("collector: query result header ends inside a column name")
		}
		if tag == abi.TagNull || tag > abi.TagBytes {
			return nil, fmt.Errorf("collector: query result column %d has unknown type %d", i, tag)
		}
		cols[i] = Column{Name: string(b[:l]), Type: tagName(tag)}
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("collector: query result header has %d bytes after its columns", len(b))
	}
	return cols, nil
}
