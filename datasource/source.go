package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Driver names the database behind a Source.
type Driver string

// The supported drivers.
const (
	SQLite   Driver = "sqlite"
	Postgres Driver = "postgres"
)

// Defaults for the zero fields of a Config, and of collectors.toml's [datasources.NAME] tables.
const (
	// DefaultMaxRows caps the rows one query returns to a guest.
	DefaultMaxRows = 1_000_000
	// DefaultMaxBytes caps the encoded bytes one query returns to a guest: 64 MiB.
	DefaultMaxBytes = 64 << 20
	// DefaultTimeout caps one statement: 30 s.
	DefaultTimeout  = 30 * time.Second
	defaultMaxConns = 4
)

// Config describes one data source. Zero limits take their defaults.
type Config struct {
	// Name identifies the source in errors: datasource "awx": ….
	Name string
	// Driver is SQLite or Postgres.
	Driver Driver
	// DSN is, for SQLite, the path of an existing database file, which is
	// opened read-only; for PostgreSQL, a pgx connection string (URL or
	// key=value). pgxpool's pool_* settings in it apply, but for
	// pool_max_conns, pool_min_conns and pool_min_idle_conns: MaxConns
	// sets the size, and connections open on demand.
	DSN string
	// Password (PostgreSQL only), if set, is the role's password, resolved
	// from its secret; it takes the place of one in DSN. It is a secret:
	// set on the parsed connection settings, never spliced into a string,
	// never logged and never quoted in an error. It does cross to a worker
	// process with the rest of the Config, as DSN does.
	Password string
	// MaxRows is how many rows one Query may return; default 1,000,000.
	// StreamCSV is not capped here but by the caller's writer.
	MaxRows int64
	// MaxBytes is how many bytes of values one Query may return, counting
	// the length of text and bytes, 8 for a number or timestamp, 1 for a
	// bool and 0 for NULL; default 64 MiB. It also bounds each row of
	// StreamCSV. The cap holds before a row is read: on SQLite no value
	// may be longer than the bytes left divided by the number of columns;
	// on PostgreSQL no message from the server longer than twice MaxBytes
	// plus 1 MiB is read.
	MaxBytes int64
	// Timeout bounds each statement, from its start to its last row (or
	// its last Write); waiting for a free connection is bounded only by the
	// caller's context. Default 30 s.
	Timeout time.Duration
	// MaxConns is the most connections the source holds open; default 4.
	MaxConns int
	// AllowPrivilegedRole lets Open connect to PostgreSQL as a role that
	// may do more than read: a superuser, a role with CREATEROLE,
	// CREATEDB, REPLICATION or BYPASSRLS, a member of a predefined role
	// that reaches outside the database (pg_signal_backend,
	// pg_read_server_files, …), the owner of the database or of a schema or
	// relation in it, or a role that may write to a table or sequence.
	// Open refuses such a role with ErrPrivilegedRole unless this is set,
	// and then logs a warning to Logger each time it opens the source.
	AllowPrivilegedRole bool
	// Logger gets the warnings of Open; default slog.Default(). It does not cross a process
	// boundary: a worker opening the source sets its own.
	Logger *slog.Logger `json:"-"`
	// TimeFormat (SQLite only) is how the database's timestamp columns are written, and so how
	// time.Time parameters are bound; default TimeISO8601. PostgreSQL binds them as timestamptz.
	TimeFormat TimeFormat
}

// validate applies defaults and reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	switch c.Driver {
	case SQLite, Postgres:
	default:
		errs = append(errs, fmt.Errorf("unknown driver %q (want %q or %q)", c.Driver, SQLite, Postgres))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("dsn is empty"))
	}
	if err := c.TimeFormat.valid(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("max rows %d is negative", c.MaxRows))
	} else if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes %d is negative", c.MaxBytes))
	} else if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", c.Timeout))
	} else if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max conns %d is negative", c.MaxConns))
	} else if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns
	}
	return errors.Join(errs...)
}

// Errors callers branch on with errors.Is. The errors a Source returns name
// the source and the cause; these are their kinds.
var (
	// ErrReadOnly: the statement would write, or is of a kind that is not
	// allowed to run (only SELECT, WITH, VALUES and, on PostgreSQL, TABLE).
	ErrReadOnly = errors.New("datasource: statement refused on a read-only source")
	// ErrTooLarge: a Query result exceeded Config.MaxRows or MaxBytes.
	ErrTooLarge = errors.New("datasource: result too large")
	// ErrMultiStatement: the SQL holds more than one statement.
	ErrMultiStatement = errors.New("datasource: more than one statement")
	// ErrTimeout: the statement ran longer than Config.Timeout.
	ErrTimeout = errors.New("datasource: statement timed out")
	// ErrPrivilegedRole: Open refused a PostgreSQL role that may do more
	// than read (see Config.AllowPrivilegedRole).
	ErrPrivilegedRole = errors.New("datasource: privileged role")
)

// sourceError is an error of one source: its message names the source, Is
// matches its kind (one of the sentinels, or none) and Unwrap returns the
// cause.
type sourceError struct {
	source string
	kind   error
	msg    string
	err    error
}

func (e *sourceError) Error() string {
	var b strings.Builder
	b.WriteString("datasource ")
	b.WriteString(strconv.Quote(e.source))
	if e.msg != "" {
		b.WriteString(": ")
		b.WriteString(e.msg)
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

func (e *sourceError) Is(target error) bool { return e.kind != nil && target == e.kind }
func (e *sourceError) Unwrap() error        { return e.err }

// Source is an open data source. It is safe for concurrent use.
type Source struct {
	cfg     Config
	dialect dialect
	be      backend
	closed  atomic.Bool
	once    sync.Once
	err     error // from Close
}

// backend is what a driver implements.
type backend interface {
	// query runs st and calls columns, then row per row. Errors from the
	// callbacks are returned unchanged.
	query(ctx context.Context, st *statement, columns func([]Column) error, row func([]any) error) error
	// streamCSV writes st's result to w in the driver's own way, or
	// reports ok false to have the caller format rows itself.
	streamCSV(ctx context.Context, st *statement, w io.Writer) (n int64, ok bool, err error)
	close() error
}

// statement is a checked statement and the parameters it uses.
type statement struct {
	lexed
	args map[string]any
	// rowBytes returns how many bytes of values the next row may hold:
	// what is left of Config.MaxBytes for Query, all of it for StreamCSV.
	// A backend that can enforce it before the row is built does.
	rowBytes func() int64
}

// Open opens the source cfg describes. For PostgreSQL it connects and pings
// the server; for SQLite the database file must exist. ctx bounds only the
// opening.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		name := cfg.Name
		if name == "" {
			name = "?"
		}
		return nil, &sourceError{source: name, msg: "invalid config", err: err}
	}
	s := &Source{cfg: cfg}
	var err error
	switch cfg.Driver {
	case SQLite:
		s.dialect = dialectSQLite
		s.be, err = openSQLite(ctx, s)
	case Postgres:
		s.dialect = dialectPostgres
		s.be, err = openPostgres(ctx, s)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the source: idle connections at once, busy ones when their
// statement ends. Statements started afterwards fail. Later calls return
// the first call's result.
func (s *Source) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		if err := s.be.close(); err != nil {
			s.err = s.fail(nil, "closing", err)
		}
	})
	return s.err
}

// Name returns Config.Name.
func (s *Source) Name() string { return s.cfg.Name }

// Driver returns Config.Driver.
func (s *Source) Driver() Driver { return s.cfg.Driver }

// Query runs one read-only statement and calls columns once with the result
// columns, then row once per row with its values: nil for NULL, otherwise
// int64, float64, string, bool, time.Time (UTC) or []byte as the column's
// type says. row must not retain the slice, which is reused; the values in
// it are its own.
//
// The SQL names its parameters @name; params supplies them as nil, bool,
// int64, float64, string, time.Time or []byte. A parameter the SQL uses but
// params lacks is an error; unused entries are ignored.
//
// A result over Config.MaxRows rows or MaxBytes bytes stops with an
// ErrTooLarge error after row has seen the rows within the limits. An error
// returned by columns or row stops the statement and is returned unchanged.
func (s *Source) Query(ctx context.Context, sql string, params map[string]any, columns func([]Column) error, row func([]any) error) error {
	st, err := s.prepare(sql, params)
	if err != nil {
		return err
	}
	var rows, size int64
	st.rowBytes = func() int64 { return s.cfg.MaxBytes - size }
	return s.be.query(ctx, st, columns, func(vals []any) error {
		rows++
		if rows > s.cfg.MaxRows {
			return s.fail(ErrTooLarge, fmt.Sprintf("result has more than %d rows", s.cfg.MaxRows), nil)
		}
		for _, v := range vals {
			size += valueSize(v)
		}
		if size > s.cfg.MaxBytes {
			return s.fail(ErrTooLarge, fmt.Sprintf("result has more than %d bytes of values (row %d)", s.cfg.MaxBytes, rows), nil)
		}
		return row(vals)
	})
}

// StreamCSV runs one read-only statement, with parameters as for Query, and
// writes its result to w as CSV: the header line in the first Write, then
// exactly one row, ending in "\n", per Write. It returns the number of data
// rows written. An error from w is returned unchanged.
//
// On PostgreSQL the rows are the server's own CSV (COPY … TO STDOUT WITH
// (FORMAT csv, HEADER)), whose text forms differ from the ABI's: booleans
// are t and f, timestamps look like 2026-11-25 00:00:06.123+00 (the session
// runs in UTC), bytea is \x-hex and floats use PostgreSQL's shortest form.
// A string parameter COPY cannot carry as a literal (one holding a NUL byte
// or invalid UTF-8) makes it fall back to the row path below.
//
// On SQLite the rows are formatted from the typed values in the ABI's CSV
// form: RFC 4180 with LF line ends, a field quoted when it holds a comma, a
// double quote, CR or LF, or is empty, quotes doubled; NULL an empty
// unquoted field; ints in decimal; floats in strconv's 'g' form with the
// fewest digits; bools true and false; timestamps in RFC 3339 UTC with
// trailing zeros of the fraction trimmed (time.RFC3339Nano); bytes as text.
//
// StreamCSV is not bound by MaxRows, nor by MaxBytes but row by row (see
// Config.MaxBytes).
func (s *Source) StreamCSV(ctx context.Context, sql string, params map[string]any, w io.Writer) (int64, error) {
	st, err := s.prepare(sql, params)
	if err != nil {
		return 0, err
	}
	if n, ok, err := s.be.streamCSV(ctx, st, w); ok {
		return n, err
	}
	return rowStreamCSV(ctx, s.be, st, w)
}

// allowedKeywords are the statement kinds that may run; anything else is
// refused before it reaches the database.
var allowedKeywords = map[dialect][]string{
	dialectSQLite:   {"SELECT", "WITH", "VALUES"},
	dialectPostgres: {"SELECT", "WITH", "VALUES", "TABLE"},
}

// prepare checks sql and params before anything reaches the database.
func (s *Source) prepare(sql string, params map[string]any) (*statement, error) {
	if s.closed.Load() {
		return nil, s.fail(nil, "source is closed", nil)
	}
	lx, err := lex(sql, s.dialect)
	if err != nil {
		return nil, s.fail(nil, "statement", err)
	}
	switch {
	case lx.statements > 1:
		return nil, s.fail(ErrMultiStatement, "more than one statement (only one may run per call)", nil)
	case lx.statements == 0:
		return nil, s.fail(nil, "empty statement", nil)
	}
	allowed := allowedKeywords[s.dialect]
	ok := false
	for _, k := range allowed {
		ok = ok || lx.keyword == k
	}
	if !ok {
		kw := lx.keyword
		if kw == "" {
			kw = "no keyword"
		}
		return nil, s.fail(ErrReadOnly, fmt.Sprintf("statement begins with %s; a read-only source runs only %s statements", kw, strings.Join(allowed, ", ")), nil)
	}
	if s.dialect == dialectPostgres {
		for _, name := range lx.calls {
			if deniedCall(name) {
				return nil, s.fail(ErrReadOnly, fmt.Sprintf("function %s acts outside the statement; a read-only source does not call it", name), nil)
			}
		}
	}
	if lx.placeholder != "" {
		return nil, s.fail(nil, fmt.Sprintf("parameter %s: only @name parameters are supported", lx.placeholder), nil)
	}
	for _, p := range lx.params {
		v, ok := params[p.name]
		if !ok {
			return nil, s.fail(nil, fmt.Sprintf("parameter @%s is not supplied", p.name), nil)
		}
		if err := checkParam(v); err != nil {
			return nil, s.fail(nil, "parameter @"+p.name, err)
		}
	}
	return &statement{lexed: lx, args: params, rowBytes: func() int64 { return s.cfg.MaxBytes }}, nil
}

// substitute returns st's body with each parameter reference replaced by
// repl(name), which may return false to give up.
func (st *statement) substitute(repl func(name string) (string, bool)) (string, bool) {
	var b strings.Builder
	last := 0
	for _, p := range st.params {
		r, ok := repl(p.name)
		if !ok {
			return "", false
		}
		b.WriteString(st.body[last:p.start])
		b.WriteString(r)
		last = p.end
	}
	b.WriteString(st.body[last:])
	return b.String(), true
}

// positional rewrites st's parameters to numbered placeholders (prefix plus
// a 1-based index, one per distinct name) and returns the names in order.
func (st *statement) positional(prefix string) (string, []string) {
	index := map[string]int{}
	var names []string
	sql, _ := st.substitute(func(name string) (string, bool) {
		i, ok := index[name]
		if !ok {
			names = append(names, name)
			i = len(names)
			index[name] = i
		}
		return prefix + strconv.Itoa(i), true
	})
	return sql, names
}

// errTimedOut is the cause of a statement context that hit Config.Timeout.
var errTimedOut = errors.New("statement timeout")

// statementContext bounds one statement by Config.Timeout plus grace.
func (s *Source) statementContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.cfg.Timeout+grace, errTimedOut)
}

// contextError reports why stmtCtx (derived from ctx) ended, if it did.
func (s *Source) contextError(ctx, stmtCtx context.Context) error {
	if stmtCtx.Err() == nil {
		return nil
	}
	if errors.Is(context.Cause(stmtCtx), errTimedOut) {
		return s.timeoutError()
	}
	return s.fail(nil, "statement canceled", context.Cause(ctx))
}

func (s *Source) timeoutError() error {
	return s.fail(ErrTimeout, fmt.Sprintf("statement ran longer than %s", s.cfg.Timeout), nil)
}

// fail returns an error of kind (or none) naming the source.
func (s *Source) fail(kind error, msg string, err error) error {
	return &sourceError{source: s.cfg.Name, kind: kind, msg: msg, err: err}
}
