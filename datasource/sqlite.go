package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite result codes the errors are classified by.
const (
	sqliteReadOnly = 8  // SQLITE_READONLY
	sqliteTooBig   = 18 // SQLITE_TOOBIG: a string or blob over SQLITE_LIMIT_LENGTH
	sqliteAuth     = 23 // SQLITE_AUTH
)

// sqliteDriver opens every SQLite connection of this package. It is a
// driver of its own, not the one modernc.org/sqlite registers, so that its
// connection hook (installing readOnlyAuthorizer) reaches only these
// connections.
var sqliteDriver = func() *sqlite.Driver {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
		r, ok := c.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("sqlite connection cannot take an authorizer")
		}
		return r.RegisterAuthorizer(readOnlyAuthorizer)
	})
	return d
}()

// readOnlyAuthorizer lets a statement compile only if all it does is read:
// SELECT, reading columns, recursive CTEs and functions other than
// load_extension. Everything else (writes, DDL, ATTACH, PRAGMA, VACUUM,
// transactions) fails to prepare with SQLITE_AUTH.
func readOnlyAuthorizer(action sqlite.AuthorizerActionCode, _, arg2, _, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	case sqlite.AuthFunction:
		if strings.EqualFold(arg2, "load_extension") {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	}
	return sqlite.AuthorizerDeny
}

// sqliteConnector opens connections to one database with sqliteDriver.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return sqliteDriver.Open(c.dsn)
}
func (c sqliteConnector) Driver() driver.Driver { return sqliteDriver }

type sqliteBackend struct {
	s  *Source
	db *sql.DB
}

// openSQLite opens s.cfg.DSN read-only. Four layers keep it so: the file is
// opened with mode=ro; every connection runs with query_only; an authorizer
// refuses to compile anything but reads; and prepare lets only SELECT, WITH
// and VALUES statements through.
func openSQLite(ctx context.Context, s *Source) (backend, error) {
	path, err := filepath.Abs(s.cfg.DSN)
	if err != nil {
		return nil, s.fail(nil, "sqlite database", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, s.fail(nil, "sqlite database", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, s.fail(nil, "sqlite database "+path+" is not a regular file", nil)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)"
	db := sql.OpenDB(sqliteConnector{dsn: dsn})
	db.SetMaxOpenConns(s.cfg.MaxConns)
	db.SetMaxIdleConns(s.cfg.MaxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, s.fail(nil, "opening sqlite database "+path, err)
	}
	return &sqliteBackend{s: s, db: db}, nil
}

func (b *sqliteBackend) close() error { return b.db.Close() }

func (b *sqliteBackend) query(ctx context.Context, st *statement, columns func([]Column) error, row func([]any) error) error {
	s := b.s
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return s.fail(nil, "connection", err)
	}
	defer conn.Close()
	handle, err := sqliteHandle(conn)
	if err != nil {
		return s.fail(nil, "connection", err)
	}
	sctx, cancel := s.statementContext(ctx, 0)
	defer cancel()
	// The driver interrupts a statement whose context ends only while it
	// computes the first row; the watchdog covers the rest. It is stopped
	// before the connection goes back to the pool (defers run last in,
	// first out).
	defer interruptOnDone(sctx, handle)()

	text, names := st.positional("?")
	args := make([]any, len(names))
	for i, name := range names {
		args[i] = sqliteParam(st.args[name], s.cfg.TimeFormat)
	}
	// The byte cap holds inside SQLite, before a value is built or copied:
	// before each step, SQLITE_LIMIT_LENGTH is set to the row's byte budget
	// divided among its columns, so no value of the row, stored or
	// computed, can be longer than its share (SQLite fails it with
	// SQLITE_TOOBIG), and the row as a whole stays within the budget.
	ncols, err := sqliteColumnCount(conn, text)
	if err != nil {
		return b.mapErr(ctx, sctx, err)
	}
	prev, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, -1)
	if err != nil {
		return s.fail(nil, "connection", err)
	}
	defer sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, prev)
	rowBytes := st.rowBytes
	if rowBytes == nil {
		rowBytes = func() int64 { return s.cfg.MaxBytes }
	}
	var share int64
	limit := func() error {
		next := max(rowBytes()/int64(max(ncols, 1)), 1)
		if next == share {
			return nil // StreamCSV's budget per row does not change
		}
		share = next
		_, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, int(min(share, int64(prev))))
		return err
	}
	// stepErr classifies an error from a step of row n.
	stepErr := func(n int, err error) error {
		if se, ok := asCodeError(err); ok && se.Code()&0xff == sqliteTooBig && s.contextError(ctx, sctx) == nil {
			return s.fail(ErrTooLarge, fmt.Sprintf("result has more than %d bytes of values: row %d has a value over %d bytes (the %d bytes left, shared among %d columns)",
				s.cfg.MaxBytes, n, share, rowBytes(), max(ncols, 1)), nil)
		}
		return b.mapErr(ctx, sctx, err)
	}
	if err := limit(); err != nil {
		return s.fail(nil, "connection", err)
	}
	rows, err := conn.QueryContext(sctx, text, args...)
	if err != nil {
		return stepErr(1, err)
	}
	defer rows.Close()

	cts, err := rows.ColumnTypes()
	if err != nil {
		return b.mapErr(ctx, sctx, err)
	}
	cols := make([]Column, len(cts))
	declared := make([]bool, len(cts))
	for i, ct := range cts {
		cols[i].Name = ct.Name()
		cols[i].Type, declared[i] = sqliteColumnType(ct.DatabaseTypeName())
	}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	more := rows.Next()
	if more {
		if err := rows.Scan(ptrs...); err != nil {
			return b.mapErr(ctx, sctx, err)
		}
		for i := range cols {
			if !declared[i] {
				cols[i].Type = dynamicColumnType(raw[i])
			}
		}
	}
	if err := columns(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	n := 1
	for ; more; n++ {
		if n > 1 {
			if err := rows.Scan(ptrs...); err != nil {
				return b.mapErr(ctx, sctx, err)
			}
		}
		for i, c := range cols {
			if vals[i], err = sqliteValue(c.Type, raw[i]); err != nil {
				return s.fail(nil, fmt.Sprintf("row %d, column %q", n, c.Name), err)
			}
		}
		if err := row(vals); err != nil {
			return err
		}
		if err := limit(); err != nil {
			return s.fail(nil, "connection", err)
		}
		more = rows.Next()
	}
	if err := rows.Err(); err != nil {
		return stepErr(n, err)
	}
	if err := rows.Close(); err != nil {
		return b.mapErr(ctx, sctx, err)
	}
	return s.contextError(ctx, sctx)
}

// sqliteColumnCount returns the number of result columns of sql, which it
// prepares but does not run.
func sqliteColumnCount(conn *sql.Conn, sql string) (int, error) {
	var n int
	err := conn.Raw(func(dc any) error {
		ci, ok := dc.(interface {
			ColumnInfo(string) ([]sqlite.ColumnInfo, error)
		})
		if !ok {
			return fmt.Errorf("%T cannot describe a statement (has modernc.org/sqlite changed?)", dc)
		}
		info, err := ci.ColumnInfo(sql)
		n = len(info)
		return err
	})
	return n, err
}

// mapErr classifies an error from the driver.
func (b *sqliteBackend) mapErr(ctx, sctx context.Context, err error) error {
	if cerr := b.s.contextError(ctx, sctx); cerr != nil {
		return cerr
	}
	if se, ok := asCodeError(err); ok {
		// The authorizer's denials are SQLITE_AUTH, or SQLITE_ERROR
		// "not authorized to use function: …".
		code := se.Code() & 0xff
		if code == sqliteReadOnly || code == sqliteAuth || strings.Contains(se.Error(), "not authorized") {
			return b.s.fail(ErrReadOnly, "statement refused", err)
		}
	}
	return b.s.fail(nil, "", err)
}

// asCodeError finds an error with a SQLite result code in err's chain: the
// driver's *sqlite.Error, or the raw stream path's *sqliteAPIError.
func asCodeError(err error) (interface {
	error
	Code() int
}, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se, true
	}
	var ae *sqliteAPIError
	if errors.As(err, &ae) {
		return ae, true
	}
	return nil, false
}

// sqliteHandle returns the sqlite3* handle of conn's driver connection,
// read from the driver's unexported db field (modernc.org/sqlite exposes no
// way to interrupt a statement past its first row).
func sqliteHandle(conn *sql.Conn) (uintptr, error) {
	var h uintptr
	err := conn.Raw(func(dc any) (err error) {
		h, err = sqliteHandleOf(dc)
		return err
	})
	return h, err
}

// sqliteHandleOf is sqliteHandle of the driver connection dc, for a caller
// already inside sql.Conn.Raw.
func sqliteHandleOf(dc any) (uintptr, error) {
	v := reflect.ValueOf(dc)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("db"); f.IsValid() && f.Kind() == reflect.Uintptr && f.Uint() != 0 {
			return uintptr(f.Uint()), nil
		}
	}
	return 0, fmt.Errorf("cannot find the sqlite3 handle in %T (has modernc.org/sqlite changed?)", dc)
}

// interruptOnDone calls sqlite3_interrupt on handle once ctx ends, until the
// returned stop function is called; after stop returns it never will.
func interruptOnDone(ctx context.Context, handle uintptr) (stop func()) {
	var mu sync.Mutex
	stopped := false
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			mu.Lock()
			if !stopped {
				// A TLS of its own: the connection's may be in use by the
				// statement being interrupted. sqlite3_interrupt is safe to
				// call from any thread.
				tls := libc.NewTLS()
				sqlite3.Xsqlite3_interrupt(tls, handle)
				tls.Close()
			}
			mu.Unlock()
		case <-done:
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		close(done)
	}
}
