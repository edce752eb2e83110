package datasource

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// streamCSV writes st's result as CSV by stepping the statement through
// SQLite's C API on the connection's own handle, with the CSV line built
// straight from SQLite's memory: no driver.Value per cell, no Go string per
// text value, and timestamp text already in the output form copied rather
// than parsed into a time.Time and formatted back (issue 13).
//
// The output is byte for byte what the row path (query, then
// csvLineWriter) writes, errors included: every value goes through the
// conversions modernc.org/sqlite's rows.Next and sqliteValue apply, which
// rawCell reproduces. The differential test and FuzzStreamCSVRaw hold the
// two paths to it.
//
// The guarantees of query hold here too: the connection's authorizer
// refuses anything but reads at prepare, the byte cap is SQLITE_LIMIT_LENGTH
// per row share, the statement timeout and cancellation interrupt the
// handle, and errors are classified by mapErr. The connection is held
// inside sql.Conn.Raw for the duration, so nothing else uses the handle.
// One difference: a wait for a lock another process holds (busy_timeout,
// 5 s) is not cut short by the context, as the driver's busy handler does
// for its own calls; the watchdog's interrupt takes effect after it.
func (b *sqliteBackend) streamCSV(ctx context.Context, st *statement, w io.Writer) (int64, bool, error) {
	s := b.s
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return 0, true, s.fail(nil, "connection", err)
	}
	defer conn.Close()
	var n int64
	err = conn.Raw(func(dc any) error {
		handle, err := sqliteHandleOf(dc)
		if err != nil {
			return s.fail(nil, "connection", err)
		}
		n, err = b.streamRaw(ctx, handle, st, w)
		return err
	})
	return n, true, err
}

// streamRaw is streamCSV on handle, which the caller holds exclusively.
func (b *sqliteBackend) streamRaw(ctx context.Context, handle uintptr, st *statement, w io.Writer) (int64, error) {
	s := b.s
	sctx, cancel := s.statementContext(ctx, 0)
	defer cancel()
	// The watchdog interrupts every step once sctx ends; it is stopped
	// before the handle goes back to the pool (defers run last in, first
	// out).
	defer interruptOnDone(sctx, handle)()
	// A TLS of this call's own: the connection's belongs to the driver,
	// which does not run while Raw holds the connection.
	c := &cStmt{tls: libc.NewTLS(), db: handle}
	defer c.tls.Close()
	c.out = c.tls.Alloc(16)
	defer c.tls.Free(16)

	text, names := st.positional("?")
	args := make([]any, len(names))
	for i, name := range names {
		args[i] = sqliteParam(st.args[name], s.cfg.TimeFormat)
	}

	// As in query: the number of columns comes from a first prepare, under
	// the connection's limits, and sets the share of SQLITE_LIMIT_LENGTH
	// the statement is then prepared and run under.
	if err := sctx.Err(); err != nil {
		return 0, b.mapErr(ctx, sctx, err)
	}
	ncols, err := c.columnCount(text)
	if err != nil {
		return 0, b.mapErr(ctx, sctx, err)
	}
	prev := sqlite3.Xsqlite3_limit(c.tls, handle, sqlite3.SQLITE_LIMIT_LENGTH, -1)
	defer sqlite3.Xsqlite3_limit(c.tls, handle, sqlite3.SQLITE_LIMIT_LENGTH, prev)
	rowBytes := st.rowBytes
	var share int64
	limit := func() {
		next := max(rowBytes()/int64(max(ncols, 1)), 1)
		if next == share {
			return // StreamCSV's budget per row does not change
		}
		share = next
		sqlite3.Xsqlite3_limit(c.tls, handle, sqlite3.SQLITE_LIMIT_LENGTH, int32(min(share, int64(prev))))
	}
	stepErr := func(n int, err error) error {
		if se, ok := asCodeError(err); ok && se.Code()&0xff == sqliteTooBig && s.contextError(ctx, sctx) == nil {
			return s.fail(ErrTooLarge, fmt.Sprintf("result has more than %d bytes of values: row %d has a value over %d bytes (the %d bytes left, shared among %d columns)",
				s.cfg.MaxBytes, n, share, rowBytes(), max(ncols, 1)), nil)
		}
		return b.mapErr(ctx, sctx, err)
	}
	limit()
	if err := sctx.Err(); err != nil {
		return 0, stepErr(1, err)
	}
	if err := c.prepare(text); err != nil {
		return 0, stepErr(1, err)
	}
	defer c.finalize()
	if err := c.bind(args); err != nil {
		return 0, stepErr(1, err)
	}
	more, err := c.step()
	if err != nil {
		return 0, stepErr(1, err)
	}

	cols := make([]rawColumn, sqlite3.Xsqlite3_column_count(c.tls, c.stmt))
	for i := range cols {
		col := &cols[i]
		col.name = libc.GoString(sqlite3.Xsqlite3_column_name(c.tls, c.stmt, int32(i)))
		decl := strings.ToUpper(libc.GoString(sqlite3.Xsqlite3_column_decltype(c.tls, c.stmt, int32(i))))
		var declared bool
		col.typ, declared = sqliteColumnType(decl)
		// The declared types modernc.org/sqlite parses text of into
		// time.Time (rows.Next).
		col.driverTime = decl == "DATE" || decl == "DATETIME" || decl == "TIMESTAMP"
		if !declared && more {
			col.typ = dynamicRawType(sqlite3.Xsqlite3_column_type(c.tls, c.stmt, int32(i)))
		}
	}
	cw := csvLineWriter{w: w}
	cw.line = cw.line[:0]
	for i, col := range cols {
		if i > 0 {
			cw.line = append(cw.line, ',')
		}
		cw.line = appendCSVText(cw.line, col.name)
	}
	if err := cw.flush(); err != nil {
		return 0, err
	}
	var rows int64
	n := 1
	for ; more; n++ {
		cw.line = cw.line[:0]
		for i := range cols {
			if i > 0 {
				cw.line = append(cw.line, ',')
			}
			if cw.line, err = c.appendCell(cw.line, i, &cols[i]); err != nil {
				return rows, s.fail(nil, fmt.Sprintf("row %d, column %q", n, cols[i].name), err)
			}
		}
		if err := cw.flush(); err != nil {
			return rows, err
		}
		rows++
		limit()
		if more, err = c.step(); err != nil {
			return rows, stepErr(n+1, err)
		}
	}
	if err := c.finalize(); err != nil {
		return rows, b.mapErr(ctx, sctx, err)
	}
	return rows, s.contextError(ctx, sctx)
}

// rawColumn is one result column of the raw path.
type rawColumn struct {
	name string
	typ  ColumnType
	// driverTime: the driver would parse the column's text into a
	// time.Time before sqliteValue sees it.
	driverTime bool
}

// dynamicRawType is dynamicColumnType of the value the driver makes of a
// value of storage class ct (a column without a declared type is never
// parsed into a time.Time).
func dynamicRawType(ct int32) ColumnType {
	switch ct {
	case sqlite3.SQLITE_INTEGER:
		return TypeInt
	case sqlite3.SQLITE_FLOAT:
		return TypeFloat
	case sqlite3.SQLITE_BLOB:
		return TypeBytes
	}
	return TypeText
}

// cStmt is one statement on a connection's handle, through the C API.
type cStmt struct {
	tls    *libc.TLS
	db     uintptr
	stmt   uintptr
	out    uintptr   // two pointers in C memory: *sqlite3_stmt, then the tail
	allocs []uintptr // C memory of bound values, freed after finalize
}

// sqliteAPIError is an error code from the C API, with the message
// modernc.org/sqlite would give it (its errstrForDB), so that mapErr and
// callers see the same errors on both paths.
type sqliteAPIError struct {
	msg  string
	code int
}

func (e *sqliteAPIError) Error() string { return e.msg }

// Code returns the SQLite result code.
func (e *sqliteAPIError) Code() int { return e.code }

func (c *cStmt) errstr(rc int32) error {
	str := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	var busy string
	if rc == sqlite3.SQLITE_BUSY {
		busy = " (SQLITE_BUSY)"
	}
	if msg := libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)); msg != str {
		return &sqliteAPIError{msg: fmt.Sprintf("%s: %s (%v)%s", str, msg, rc, busy), code: int(rc)}
	}
	return &sqliteAPIError{msg: fmt.Sprintf("%s (%v)%s", str, rc, busy), code: int(rc)}
}

// pointerAt reads the pointer stored at addr in C memory.
func pointerAt(addr uintptr) uintptr {
	return uintptr(binary.NativeEndian.Uint64(cBytes(addr, 8)))
}

// cBytes views n bytes of C memory at p (SQLite's, not Go's heap) without
// copying; the view is valid until SQLite frees or moves them.
func cBytes(p uintptr, n int32) []byte {
	if p == 0 || n <= 0 {
		return nil
	}
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&p)), int(n))
}

// prepareFirst prepares the first statement of sql and returns what
// follows it.
func (c *cStmt) prepareFirst(sql string) (stmt uintptr, tail string, err error) {
	z, err := libc.CString(sql)
	if err != nil {
		return 0, "", err
	}
	defer libc.Xfree(c.tls, z)
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, z, -1, c.out, c.out+8); rc != sqlite3.SQLITE_OK {
		return 0, "", c.errstr(rc)
	}
	if p := pointerAt(c.out + 8); p != 0 {
		tail = libc.GoString(p) // before z is freed
	}
	return pointerAt(c.out), tail, nil
}

// columnCount returns the number of result columns of sql, which it
// prepares but does not run (as sqliteColumnCount does).
func (c *cStmt) columnCount(sql string) (int, error) {
	stmt, _, err := c.prepareFirst(sql)
	if err != nil || stmt == 0 {
		return 0, err
	}
	n := int(sqlite3.Xsqlite3_column_count(c.tls, stmt))
	if rc := sqlite3.Xsqlite3_finalize(c.tls, stmt); rc != sqlite3.SQLITE_OK {
		return 0, c.errstr(rc)
	}
	return n, nil
}

// prepare prepares sql, which must be one statement (prepare has checked
// it already; this holds even if the lexer and SQLite ever disagree).
func (c *cStmt) prepare(sql string) error {
	stmt, tail, err := c.prepareFirst(sql)
	if err != nil {
		return err
	}
	if stmt == 0 {
		return fmt.Errorf("no statement in %q", sql)
	}
	c.stmt = stmt
	if tail != "" {
		// Only spaces, comments and semicolons may follow.
		next, _, err := c.prepareFirst(tail)
		if err != nil {
			return err
		}
		if next != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, next)
			return ErrMultiStatement
		}
	}
	return nil
}

// bind binds args to ?1…?n as modernc.org/sqlite's conn.bind does.
func (c *cStmt) bind(args []any) error {
	n := int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, c.stmt))
	for i := 1; i <= n; i++ {
		if i > len(args) {
			return fmt.Errorf("missing argument with index %d", i)
		}
		var rc int32
		switch x := args[i-1].(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, c.stmt, int32(i))
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, c.stmt, int32(i), x)
		case float64:
			rc = sqlite3.Xsqlite3_bind_double(c.tls, c.stmt, int32(i), x)
		case bool:
			rc = sqlite3.Xsqlite3_bind_int(c.tls, c.stmt, int32(i), int32(boolInt(x)))
		case string:
			p, err := libc.CString(x)
			if err != nil {
				return err
			}
			c.allocs = append(c.allocs, p)
			rc = sqlite3.Xsqlite3_bind_text(c.tls, c.stmt, int32(i), p, int32(len(x)), 0)
		case []byte:
			switch {
			case x == nil: // the driver binds a nil []byte as NULL
				rc = sqlite3.Xsqlite3_bind_null(c.tls, c.stmt, int32(i))
			case len(x) == 0:
				rc = sqlite3.Xsqlite3_bind_zeroblob(c.tls, c.stmt, int32(i), 0)
			default:
				p := libc.Xmalloc(c.tls, uint64(len(x)))
				if p == 0 {
					return fmt.Errorf("cannot allocate %d bytes for parameter %d", len(x), i)
				}
				c.allocs = append(c.allocs, p)
				copy(cBytes(p, int32(len(x))), x)
				rc = sqlite3.Xsqlite3_bind_blob(c.tls, c.stmt, int32(i), p, int32(len(x)), 0)
			}
		default:
			// sqliteParam leaves only the types above.
			return fmt.Errorf("sqlite: invalid parameter type %T", x)
		}
		if rc != sqlite3.SQLITE_OK {
			return c.errstr(rc)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// step steps the statement: true for a row, false when done.
func (c *cStmt) step() (bool, error) {
	switch rc := sqlite3.Xsqlite3_step(c.tls, c.stmt); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, c.errstr(rc)
	}
}

// finalize finalizes the statement, once, and frees the bound values.
func (c *cStmt) finalize() error {
	if c.stmt == 0 {
		return nil
	}
	rc := sqlite3.Xsqlite3_finalize(c.tls, c.stmt)
	c.stmt = 0
	for _, p := range c.allocs {
		libc.Xfree(c.tls, p)
	}
	c.allocs = nil
	if rc != sqlite3.SQLITE_OK {
		return c.errstr(rc)
	}
	return nil
}

// appendCell appends column i of the current row as the row path writes
// it: the value modernc.org/sqlite's rows.Next makes of it, converted by
// sqliteValue to col's type, formatted by appendCSVValue. The errors are
// sqliteValue's.
func (c *cStmt) appendCell(b []byte, i int, col *rawColumn) ([]byte, error) {
	// One sqlite3_column_value, which takes the connection's mutex, and
	// then the sqlite3_value_* functions, which do not, rather than a
	// sqlite3_column_* call (and mutex) per type, text and length. The
	// value is only read, by the one goroutine that holds the connection,
	// before the next step.
	val := sqlite3.Xsqlite3_column_value(c.tls, c.stmt, int32(i))
	switch sqlite3.Xsqlite3_value_type(c.tls, val) {
	case sqlite3.SQLITE_NULL:
		return b, nil
	case sqlite3.SQLITE_INTEGER:
		// The driver's _inttotime is off: an integer stays an int64, also
		// in a DATETIME column.
		v := sqlite3.Xsqlite3_value_int64(c.tls, val)
		switch col.typ {
		case TypeInt, TypeText:
			return strconv.AppendInt(b, v, 10), nil
		case TypeFloat:
			return strconv.AppendFloat(b, float64(v), 'g', -1, 64), nil
		case TypeBool:
			if v == 0 || v == 1 {
				return strconv.AppendBool(b, v == 1), nil
			}
		}
		return b, storageError("integer", col.typ)
	case sqlite3.SQLITE_FLOAT:
		v := sqlite3.Xsqlite3_value_double(c.tls, val)
		switch col.typ {
		case TypeFloat, TypeText:
			return strconv.AppendFloat(b, v, 'g', -1, 64), nil
		}
		return b, storageError("real", col.typ)
	case sqlite3.SQLITE_TEXT:
		p := sqlite3.Xsqlite3_value_text(c.tls, val)
		v := cBytes(p, sqlite3.Xsqlite3_value_bytes(c.tls, val))
		switch col.typ {
		case TypeText, TypeBytes:
			return appendCSVBytes(b, v), nil
		case TypeTimestamp:
			if col.driverTime {
				return appendDriverTime(b, v)
			}
			return appendTimestamp(b, v)
		}
		// A time.Time the driver made of the text is "text" to sqliteValue
		// too.
		return b, storageError("text", col.typ)
	case sqlite3.SQLITE_BLOB:
		p := sqlite3.Xsqlite3_value_blob(c.tls, val)
		v := cBytes(p, sqlite3.Xsqlite3_value_bytes(c.tls, val))
		switch col.typ {
		case TypeText, TypeBytes:
			// An empty blob is a nil []byte, not NULL: quoted "".
			return appendCSVBytes(b, v), nil
		case TypeTimestamp:
			// The driver parses only text; sqliteValue parses the bytes.
			return appendTimestamp(b, v)
		}
		return b, storageError("blob", col.typ)
	}
	return b, fmt.Errorf("unknown storage class of column %d", i)
}

// storageError is sqliteValue's error for a value of storage class class
// in a column of type t.
func storageError(class string, t ColumnType) error {
	return fmt.Errorf("%s value in a column of type %s", class, t)
}

// appendDriverTime appends text v of a DATE, DATETIME or TIMESTAMP column:
// what modernc.org/sqlite parses it into, or, if it does not, what
// sqliteValue parses the text into, in RFC 3339 UTC.
func appendDriverTime(b, v []byte) ([]byte, error) {
	if out, ok := appendCanonicalTime(b, v); ok {
		return out, nil
	}
	s := string(v)
	if t, ok := driverParseTime(s); ok {
		return t.UTC().AppendFormat(b, time.RFC3339Nano), nil
	}
	t, err := parseTime(s, sqliteTimeLayouts)
	if err != nil {
		return b, err
	}
	return t.AppendFormat(b, time.RFC3339Nano), nil
}

// appendTimestamp appends v, text or a blob sqliteValue parses as a
// timestamp, in RFC 3339 UTC.
func appendTimestamp(b, v []byte) ([]byte, error) {
	if out, ok := appendCanonicalTime(b, v); ok {
		return out, nil
	}
	t, err := parseTime(string(v), sqliteTimeLayouts)
	if err != nil {
		return b, err
	}
	return t.AppendFormat(b, time.RFC3339Nano), nil
}

// driverTimeFormats are modernc.org/sqlite v1.62.0's parseTimeFormats
// (sqlite.go), which its conn.parseTime tries, in order, on the text of a
// DATE, DATETIME or TIMESTAMP column with one trailing "Z" cut off. The
// driver tries the format that matched the column's previous value first;
// no text matches two of them, so the order does not change the result.
var driverTimeFormats = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// driverParseTime is modernc.org/sqlite v1.62.0's conn.parseTime (conn.go)
// without a location (the DSN sets no _loc): first the form of
// time.Time.String, then driverTimeFormats.
func driverParseTime(s string) (time.Time, bool) {
	// conn.parseTimeString: the text of time.Time.String, cut before a
	// monotonic clock reading ("m=").
	ts := s
	if x := strings.Index(s, "m="); x > 0 {
		ts = s[:x]
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(ts)); err == nil {
		return t, true
	}
	ts, _ = strings.CutSuffix(s, "Z")
	for _, f := range driverTimeFormats {
		if t, err := time.Parse(f, ts); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// appendCanonicalTime appends, without parsing into a time.Time, a
// timestamp of the common stored shapes, YYYY-MM-DD alone or
// YYYY-MM-DD{T| }HH:MM:SS with an optional fraction of 1 to 9 digits and an
// optional trailing Z, whose fields are in range: the date and midnight,
// or the date, T, the time, the fraction without its
// trailing zeros (and without the dot if nothing is left) and Z. That is
// the RFC 3339 UTC form time.Time.AppendFormat(time.RFC3339Nano) gives the
// time every parse on the row path (the driver's layouts and
// sqliteTimeLayouts) makes of such text: each reads it as UTC, and none
// accepts it in two ways. Text of any other shape reports false, and the
// caller parses it.
func appendCanonicalTime(b, v []byte) ([]byte, bool) {
	num := func(i, j int) int {
		n := 0
		for ; i < j; i++ {
			d := v[i] - '0'
			if d > 9 {
				return -1
			}
			n = n*10 + int(d)
		}
		return n
	}
	validDate := func() bool {
		year, month, day := num(0, 4), num(5, 7), num(8, 10)
		return v[4] == '-' && v[7] == '-' && year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year)
	}
	if len(v) == 10 {
		// A date alone, midnight UTC ("2006-01-02" in both layout lists;
		// with a Z only the driver's accepts it, so that goes the slow way).
		if !validDate() {
			return b, false
		}
		b = append(b, v...)
		return append(b, "T00:00:00Z"...), true
	}
	if n := len(v); n > 0 && v[n-1] == 'Z' {
		v = v[:n-1]
	}
	if len(v) < 19 || len(v) > 29 || !validDate() || (v[10] != 'T' && v[10] != ' ') || v[13] != ':' || v[16] != ':' {
		return b, false
	}
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	if hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return b, false
	}
	frac := v[19:]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || num(20, len(v)) < 0 {
			return b, false
		}
		frac = frac[1:]
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
	}
	b = append(b, v[:10]...)
	b = append(b, 'T')
	b = append(b, v[11:19]...)
	if len(frac) > 0 {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return append(b, 'Z'), true
}

// daysIn is the number of days of month in year, as time.Parse checks it.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
