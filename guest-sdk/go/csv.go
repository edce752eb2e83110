package collector

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// BatchSize is the size in bytes up to which a [CSV] writer collects encoded rows before it hands
// them to the host in one csv_rows call. A host call costs far more than a row, so rows are batched;
// a row that is larger than BatchSize on its own is sent alone.
const BatchSize = 64 << 10

// rowSink is where a CSV writer sends its output: the host functions in a guest, a recorder in tests.
type rowSink interface {
	header(fields []byte) error
	rows(batch []byte) error
	fail(msg string)
}

// hostSink sends to the ABI v1 host functions.
type hostSink struct{}

func (hostSink) header(fields []byte) error { return csvHeader(fields) }
func (hostSink) rows(batch []byte) error    { return csvRows(batch) }
func (hostSink) fail(msg string)            { failMessage(msg) }

// CSV writes the rows of a CSV collector. The host owns the CSV format: the writer encodes each row
// as an ABI "field list" (hostfuncs/ABI.md, "Data encodings") and the host quotes and writes it, so a
// field may hold any UTF-8 text, commas, quotes and newlines included.
//
// Call [CSV.Header] once, then add rows with [CSV.Row], [CSV.Values] or field by field
// ([CSV.Field] … [CSV.EndRow]), then call [CSV.Flush] before the collector returns. Rows are
// buffered up to [BatchSize]; rows still buffered when the collector returns are lost, and [Run]
// fails the invocation when that happens rather than ship a file with rows missing.
//
// Errors are sticky: after the first failure every method does nothing and the error-returning
// ones return that error. A failure the writer detects itself (a row before the header, a row whose
// field count differs from the header's) is reported to the host with fail, exactly as the host
// would treat a refused batch, so the invocation is recorded as failed even if the error is dropped.
//
// A CSV is not safe for concurrent use.
type CSV struct {
	sink  rowSink
	limit int

	buf       []byte // encoded complete rows not yet sent, then the open row (if inRow)
	pending   int    // complete rows in buf
	inRow     bool   // a row is being built field by field
	rowStart  int    // offset of the open row in buf
	rowFields uint32 // fields in the open row

	columns int   // header field count; 0 until Header succeeded
	rows    int64 // rows accepted so far
	err     error // the first failure; sticky
	dates   dateCache
}

// writers holds the CSV writers created since Run started, so Run can refuse to succeed while one
// still holds rows. A guest instance serves one invocation, so this is per invocation.
var writers struct {
	sync.Mutex
	list []*CSV
}

// NewCSV returns a writer for this invocation's CSV output. A collector normally needs one.
func NewCSV() *CSV {
	w := newCSV(hostSink{}, BatchSize)
	writers.Lock()
	writers.list = append(writers.list, w)
	writers.Unlock()
	return w
}

func newCSV(sink rowSink, limit int) *CSV {
	return &CSV{sink: sink, limit: limit}
}

// Header sets the column names. It must be called once, before any row; the host refuses an empty
// list, an empty or duplicate name and a second header. It returns a *[StatusError] when the host
// refuses the header, [ErrNoHost] outside a host.
func (w *CSV) Header(names ...string) error {
	if w.err != nil {
		return w.err
	}
	size := 4
	for _, n := range names {
		size += 4 + len(n)
	}
	b := make([]byte, 0, size)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	if err := w.sink.header(b); err != nil {
		w.err = err
		return err
	}
	w.columns = len(names)
	return nil
}

// Row adds a row of text fields; it is the fast path: it copies the fields into the batch buffer and
// allocates nothing per row. A field may be empty (written as "") but not NULL: use [CSV.Values]
// with nil, or [CSV.FieldNull], for that. The row must have as many fields as the header.
//
// It returns an error when the row is refused or when sending a full batch fails (a *[StatusError],
// [ErrNoHost] outside a host); the error is sticky.
func (w *CSV) Row(fields ...string) error {
	if w.err != nil {
		return w.err
	}
	if w.inRow {
		return w.abort(fmt.Errorf("collector: csv row %d: Row called while a row built field by field is open", w.rows+1))
	}
	w.begin()
	for _, f := range fields {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(f)))
		w.buf = append(w.buf, f...)
	}
	w.rowFields = uint32(len(fields))
	return w.EndRow()
}

// Values adds a row of values of any type, formatted as [CSV.FieldValue] describes: nil is NULL,
// numbers, booleans and times get a fixed text form. It returns errors as [CSV.Row] does.
func (w *CSV) Values(values ...any) error {
	if w.err != nil {
		return w.err
	}
	if w.inRow {
		return w.abort(fmt.Errorf("collector: csv row %d: Values called while a row built field by field is open", w.rows+1))
	}
	w.begin()
	for _, v := range values {
		w.FieldValue(v)
	}
	return w.EndRow()
}

// Field appends a text field to the open row, opening one if needed. Together with the other
// Field methods and [CSV.EndRow] it builds a row without allocating:
//
//	w.FieldInt(id)
//	w.Field(name)
//	w.FieldNull()
//	if err := w.EndRow(); err != nil {
//		return err
//	}
//
// The Field methods report nothing; errors surface at EndRow.
func (w *CSV) Field(s string) {
	if w.err != nil {
		return
	}
	w.open()
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(s)))
	w.buf = append(w.buf, s...)
	w.rowFields++
}

// FieldBytes appends a text field holding a copy of b; an empty or nil b is the empty string, not
// NULL. b may be reused as soon as FieldBytes returns.
func (w *CSV) FieldBytes(b []byte) {
	if w.err != nil {
		return
	}
	w.open()
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(b)))
	w.buf = append(w.buf, b...)
	w.rowFields++
}

// FieldNull appends a NULL field, which the host writes as an empty unquoted field (an empty string
// is written as ""), the convention of PostgreSQL's COPY … CSV.
func (w *CSV) FieldNull() {
	if w.err != nil {
		return
	}
	w.open()
	w.buf = binary.LittleEndian.AppendUint32(w.buf, abi.NullField)
	w.rowFields++
}

// FieldInt appends v in decimal.
func (w *CSV) FieldInt(v int64) {
	if w.err != nil {
		return
	}
	at := w.openField()
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.closeField(at)
}

// FieldUint appends v in decimal.
func (w *CSV) FieldUint(v uint64) {
	if w.err != nil {
		return
	}
	at := w.openField()
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.closeField(at)
}

// FieldFloat appends v in the shortest form that reads back exactly (strconv format 'g', precision
// -1), such as 1.5, 1e+21, NaN or +Inf.
func (w *CSV) FieldFloat(v float64) {
	if w.err != nil {
		return
	}
	at := w.openField()
	w.buf = strconv.AppendFloat(w.buf, v, 'g', -1, 64)
	w.closeField(at)
}

// FieldBool appends "true" or "false".
func (w *CSV) FieldBool(v bool) {
	if w.err != nil {
		return
	}
	at := w.openField()
	w.buf = strconv.AppendBool(w.buf, v)
	w.closeField(at)
}

// FieldTime appends t in UTC as RFC 3339 with as many fraction digits as needed
// (time.RFC3339Nano), such as 2025-03-01T12:00:00.25Z.
func (w *CSV) FieldTime(t time.Time) {
	if w.err != nil {
		return
	}
	at := w.openField()
	w.buf = appendRFC3339NanoCached(w.buf, t.Unix(), t.Nanosecond(), &w.dates)
	w.closeField(at)
}

// FieldValue appends v formatted by its type:
//
//   - nil, and a nil pointer: NULL
//   - string, []byte: the text itself
//   - int, int8 … int64, uint, uint8 … uint64, uintptr: decimal
//   - float32, float64: strconv format 'g', shortest exact form (1.5, 1e+21)
//   - bool: "true" or "false"
//   - time.Time: UTC, RFC 3339 with nanoseconds as needed ("2006-01-02T15:04:05.999999999Z07:00")
//   - error: its Error method; fmt.Stringer: its String method
//   - a non-nil pointer without those methods: the value it points to
//   - anything else: fmt.Sprint
func (w *CSV) FieldValue(v any) {
	if w.err != nil {
		return
	}
	at := w.openField()
	var null bool
	w.buf, null = appendValue(w.buf, v)
	if null {
		binary.LittleEndian.PutUint32(w.buf[at:], abi.NullField)
		w.rowFields++
		return
	}
	w.closeField(at)
}

// EndRow ends the row built with the Field methods and adds it to the batch, sending the batch with
// csv_rows when the row would push it over [BatchSize]. Called with no open row it adds a row with no
// fields, which is refused. It returns errors as [CSV.Row] does.
func (w *CSV) EndRow() error {
	if w.err != nil {
		return w.err
	}
	if !w.inRow {
		w.begin()
	}
	w.inRow = false
	binary.LittleEndian.PutUint32(w.buf[w.rowStart:], w.rowFields)
	switch {
	case w.columns == 0:
		return w.abort(fmt.Errorf("collector: csv row %d comes before the header", w.rows+1))
	case int(w.rowFields) != w.columns:
		return w.abort(fmt.Errorf("collector: csv row %d has %d fields, header has %d", w.rows+1, w.rowFields, w.columns))
	}
	w.rows++
	w.pending++
	if w.rowStart > 0 && len(w.buf) > w.limit {
		// This row pushes the batch over the limit: send the rows before it, keep it for the next.
		if err := w.send(w.buf[:w.rowStart]); err != nil {
			return err
		}
		w.buf = w.buf[:copy(w.buf, w.buf[w.rowStart:])]
		w.pending = 1
	}
	if len(w.buf) >= w.limit {
		// No further row fits (or this row is over the limit on its own): send it now.
		if err := w.send(w.buf); err != nil {
			return err
		}
		w.reset()
	}
	return nil
}

// Flush sends the rows added so far with csv_rows. A collector must call it before it returns:
// rows still buffered then are lost, and [Run] fails the invocation. A row being built field by field
// is not complete and stays buffered. Flush returns the writer's sticky error, or a *[StatusError]
// when the host refuses the batch ([ErrNoHost] outside a host).
func (w *CSV) Flush() error {
	if w.err != nil {
		return w.err
	}
	end := len(w.buf)
	if w.inRow {
		end = w.rowStart
	}
	if end == 0 {
		return nil
	}
	if err := w.send(w.buf[:end]); err != nil {
		return err
	}
	if !w.inRow {
		w.reset()
		return nil
	}
	w.buf = w.buf[:copy(w.buf, w.buf[end:])]
	w.rowStart = 0
	w.pending = 0
	return nil
}

// Rows returns the number of rows accepted so far, sent or still buffered.
func (w *CSV) Rows() int64 { return w.rows }

// Err returns the writer's sticky error, or nil.
func (w *CSV) Err() error { return w.err }

// unflushed reports whether the writer holds rows, or a started row, that never reached the host.
func (w *CSV) unflushed() bool {
	return w.err == nil && (w.pending > 0 || w.inRow)
}

// begin opens a row: a field-count slot that EndRow fills in.
func (w *CSV) begin() {
	if w.buf == nil {
		w.buf = make([]byte, 0, w.limit)
	}
	w.inRow = true
	w.rowStart = len(w.buf)
	w.rowFields = 0
	w.buf = append(w.buf, 0, 0, 0, 0)
}

// open opens a row unless one is open.
func (w *CSV) open() {
	if !w.inRow {
		w.begin()
	}
}

// openField starts a field whose length is patched by closeField; it returns the length's offset.
func (w *CSV) openField() int {
	w.open()
	at := len(w.buf)
	w.buf = append(w.buf, 0, 0, 0, 0)
	return at
}

func (w *CSV) closeField(at int) {
	binary.LittleEndian.PutUint32(w.buf[at:], uint32(len(w.buf)-at-4))
	w.rowFields++
}

// send hands a batch to the sink; a refusal becomes the sticky error (the host has already recorded
// the invocation as failed).
func (w *CSV) send(batch []byte) error {
	if err := w.sink.rows(batch); err != nil {
		w.err = err
		return err
	}
	return nil
}

// reset empties the buffer after a send, dropping a buffer that grew for an oversized row.
func (w *CSV) reset() {
	w.pending = 0
	if cap(w.buf) > 2*w.limit {
		w.buf = nil
		return
	}
	w.buf = w.buf[:0]
}

// abort records an error the writer found itself, drops the open row and tells the host, so the
// invocation fails as it would had the host refused the batch.
func (w *CSV) abort(err error) error {
	if w.inRow {
		w.buf = w.buf[:w.rowStart]
		w.inRow = false
	}
	w.err = err
	w.sink.fail(err.Error())
	return err
}

// appendValue appends v formatted as FieldValue documents; null reports a NULL, for which nothing
// was appended.
func appendValue(b []byte, v any) (_ []byte, null bool) {
	switch x := v.(type) {
	case nil:
		return b, true
	case string:
		return append(b, x...), false
	case []byte:
		return append(b, x...), false
	case int:
		return strconv.AppendInt(b, int64(x), 10), false
	case int8:
		return strconv.AppendInt(b, int64(x), 10), false
	case int16:
		return strconv.AppendInt(b, int64(x), 10), false
	case int32:
		return strconv.AppendInt(b, int64(x), 10), false
	case int64:
		return strconv.AppendInt(b, x, 10), false
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), false
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), false
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), false
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), false
	case uint64:
		return strconv.AppendUint(b, x, 10), false
	case uintptr:
		return strconv.AppendUint(b, uint64(x), 10), false
	case float32:
		return strconv.AppendFloat(b, float64(x), 'g', -1, 32), false
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64), false
	case bool:
		return strconv.AppendBool(b, x), false
	case time.Time:
		return appendRFC3339Nano(b, x.Unix(), x.Nanosecond()), false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return b, true
		}
		// A fixed format beats a String method only the pointer has (*time.Time); otherwise the
		// pointer's own methods win, then what it points to.
		if elem := rv.Elem().Interface(); isFormatted(elem) || !hasTextMethod(v) {
			return appendValue(b, elem)
		}
	}
	switch x := v.(type) {
	case error:
		return append(b, x.Error()...), false
	case fmt.Stringer:
		return append(b, x.String()...), false
	}
	return fmt.Append(b, v), false
}

// hasTextMethod reports whether v has an Error or String method.
func hasTextMethod(v any) bool {
	switch v.(type) {
	case error, fmt.Stringer:
		return true
	}
	return false
}

// isFormatted reports whether appendValue has a fixed format for v's type, which then wins over a
// String method that only a pointer to it has (*time.Time).
func isFormatted(v any) bool {
	switch v.(type) {
	case string, []byte, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, bool, time.Time:
		return true
	}
	return false
}
