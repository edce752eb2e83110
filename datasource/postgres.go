package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQLSTATEs the errors are classified by.
const (
	pgReadOnlyTransaction = "25006" // read_only_sql_transaction
	pgActiveTransaction   = "25001" // active_sql_transaction: cannot run in a transaction block
	pgQueryCanceled       = "57014" // query_canceled, also by statement_timeout
)

// pgMessageSlack is what a server message may hold beyond twice
// Config.MaxBytes.
const pgMessageSlack = 1 << 20

// pgGrace is how long past Config.Timeout the client waits for the server's
// own statement_timeout before it cancels the statement itself.
const pgGrace = time.Second

type pgBackend struct {
	s    *Source
	pool *pgxpool.Pool
	// warned is set once a connection's role has been found privileged but
	// allowed, and the warning logged: later connections skip the check.
	warned atomic.Bool
}

// openPostgres connects to s.cfg.DSN, with s.cfg.Password if set, and
// checks the role. Statements run each in a transaction of their own, begun
// READ ONLY and rolled back, on a connection of a pgxpool pool of up to
// MaxConns.
func openPostgres(ctx context.Context, s *Source) (backend, error) {
	pc, err := pgxpool.ParseConfig(s.cfg.DSN)
	if err != nil {
		// The parser's message quotes the string, whose password it
		// redacts only on a best-effort basis: say nothing more.
		return nil, s.fail(nil, "invalid postgres connection string", nil)
	}
	cc := pc.ConnConfig
	if s.cfg.Password != "" {
		// Set on the parsed config rather than spliced into the string, so
		// no string holding the secret is built (nor quoted in an error).
		cc.Password = s.cfg.Password
	}
	// On a canceled context, ask the server to cancel the statement rather
	// than only dropping the connection under it.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	// No message the server sends may be longer than twice MaxBytes (a CSV
	// line doubles quotes; numbers' text is longer than the 8 bytes they
	// count for) plus room for many small columns: the host does not read,
	// let alone allocate, a row far over the cap.
	maxMessage := int(min(2*s.cfg.MaxBytes+pgMessageSlack, math.MaxInt32))
	b := &pgBackend{s: s}
	pc.MaxConns = int32(min(s.cfg.MaxConns, math.MaxInt32))
	pc.MinConns, pc.MinIdleConns = 0, 0
	// Every new connection is checked before the pool hands it out, so a
	// role granted more after Open is refused from then on.
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		c := conn.PgConn()
		c.Frontend().SetMaxBodyLen(maxMessage)
		// ctx is canceled only when the pool closes: bound the check.
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		return b.checkRole(ctx, c)
	}
	where := cc.Host
	if !strings.HasPrefix(where, "/") {
		where = net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	}
	if b.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, s.fail(nil, "connecting to postgres at "+where, err)
	}
	// The pool connects lazily: connect (and check the role) now.
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := b.pool.Acquire(cctx)
	if err != nil {
		b.pool.Close()
		if se := privilegedError(err); se != nil {
			return nil, se
		}
		return nil, s.fail(nil, "connecting to postgres at "+where, err)
	}
	c.Release()
	return b, nil
}

// checkRole refuses c's role if it may do more than read, unless
// AllowPrivilegedRole is set, in which case it warns once per Source.
func (b *pgBackend) checkRole(ctx context.Context, c *pgconn.PgConn) error {
	s := b.s
	if s.cfg.AllowPrivilegedRole && b.warned.Load() {
		return nil
	}
	role, reasons, err := roleReasons(ctx, c)
	if err != nil || len(reasons) == 0 {
		return err
	}
	what := fmt.Sprintf("role %q %s", role, strings.Join(reasons, ", "))
	if !s.cfg.AllowPrivilegedRole {
		return s.fail(ErrPrivilegedRole, what+"; connect as a role that may only read (CONNECT, USAGE and SELECT), or set allow_privileged_role = true", nil)
	}
	if b.warned.CompareAndSwap(false, true) {
		log := s.cfg.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("data source connects as a privileged role (allow_privileged_role = true): collectors' SQL runs read-only, but not as a role that can only read",
			"datasource", s.cfg.Name, "role", role, "privileges", strings.Join(reasons, ", "))
	}
	return nil
}

// privilegedError returns the refusal of checkRole inside err, if there is
// one, so it reaches the caller as it is rather than as a connection error.
func privilegedError(err error) error {
	var se *sourceError
	if errors.As(err, &se) && se.kind == ErrPrivilegedRole {
		return se
	}
	return nil
}

// privilegeQuery lists what the session's role may do beyond reading, with
// the roles it is a member of: role attributes, predefined roles that reach
// outside the database, ownership of the database or of a schema or
// relation outside the system schemas, and write privileges on a relation.
// For a superuser it reports only that.
const privilegeQuery = `WITH mine AS (SELECT * FROM pg_roles r WHERE pg_has_role(r.oid, 'MEMBER')),
rels AS (SELECT c.oid, c.relkind, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))
SELECT current_user::text, CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN ARRAY['is a superuser']
ELSE array_remove(ARRAY[
	(SELECT 'has SUPERUSER through ' || string_agg(quote_ident(rolname), ', ') FROM mine WHERE rolsuper),
	(SELECT 'has CREATEROLE' FROM mine WHERE rolcreaterole LIMIT 1),
	(SELECT 'has CREATEDB' FROM mine WHERE rolcreatedb LIMIT 1),
	(SELECT 'has REPLICATION' FROM mine WHERE rolreplication LIMIT 1),
	(SELECT 'has BYPASSRLS' FROM mine WHERE rolbypassrls LIMIT 1),
	(SELECT 'is a member of ' || string_agg(rolname, ', ' ORDER BY rolname) FROM mine WHERE rolname IN
		('pg_write_all_data', 'pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program',
		 'pg_signal_backend', 'pg_checkpoint', 'pg_maintain', 'pg_create_subscription', 'pg_use_reserved_connections')),
	(SELECT 'owns database ' || quote_ident(datname) FROM pg_database WHERE datname = current_database() AND pg_has_role(datdba, 'MEMBER')),
	(SELECT 'owns schema ' || min(quote_ident(nspname)) FROM pg_namespace
		WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%' AND pg_has_role(nspowner, 'MEMBER') HAVING count(*) > 0),
	(SELECT 'owns ' || min(oid::regclass::text) FROM rels WHERE pg_has_role(relowner, 'MEMBER') HAVING count(*) > 0),
	(SELECT 'may write to ' || min(oid::regclass::text) FROM rels
		WHERE relkind <> 'S' AND has_table_privilege(oid, 'INSERT, UPDATE, DELETE, TRUNCATE') HAVING count(*) > 0),
	(SELECT 'may update sequence ' || min(oid::regclass::text) FROM rels
		WHERE CASE WHEN relkind = 'S' THEN has_sequence_privilege(oid, 'UPDATE') END HAVING count(*) > 0)
], NULL) END`

// roleReasons returns the session's role and what it may do beyond
// reading (privilegeQuery), if anything.
func roleReasons(ctx context.Context, c *pgconn.PgConn) (string, []string, error) {
	res := c.ExecParams(ctx, privilegeQuery, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return "", nil, fmt.Errorf("checking the role's privileges: %w", res.Err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return "", nil, errors.New("checking the role's privileges: unexpected result")
	}
	var reasons []string
	if err := pgtype.NewMap().Scan(pgtype.TextArrayOID, pgtype.TextFormatCode, res.Rows[0][1], &reasons); err != nil {
		return "", nil, fmt.Errorf("checking the role's privileges: %w", err)
	}
	return string(res.Rows[0][0]), reasons, nil
}

// close closes the idle connections now and the busy ones when their
// statement ends: pgxpool's Close waits for those, so it runs in the
// background.
func (b *pgBackend) close() error {
	for _, c := range b.pool.AcquireAllIdle(context.Background()) {
		dropConn(c)
	}
	go b.pool.Close()
	return nil
}

// begin opens the statement's transaction. The session settings fix the
// text forms the values are decoded from and the quoting COPY literals rely
// on.
func (b *pgBackend) begin(ctx context.Context, c *pgconn.PgConn) error {
	// The server enforces the caller's deadline too (a collector's invocation ends there): a
	// worker process killed at its deadline cannot cancel its statement, but the server stops it
	// on its own at the same moment.
	timeout := b.s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	ms := timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	_, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"+
		" SET LOCAL statement_timeout = "+strconv.FormatInt(ms, 10)+";"+
		" SET LOCAL TimeZone = 'UTC';"+
		" SET LOCAL standard_conforming_strings = on;"+
		" SET LOCAL DateStyle = 'ISO, MDY';"+
		" SET LOCAL IntervalStyle = 'postgres';"+
		" SET LOCAL bytea_output = 'hex';"+
		" SET LOCAL extra_float_digits = 1").ReadAll()
	return err
}

// start acquires a connection and begins the transaction on it. A pooled
// connection found dead (the server restarted, or ended the session) is
// dropped and another tried, up to MaxConns+1 in all: pgxpool pings only a
// connection idle for over a second before handing it out.
func (b *pgBackend) start(ctx, sctx context.Context) (*pgxpool.Conn, error) {
	for attempt := 0; ; attempt++ {
		c, err := b.pool.Acquire(ctx)
		if err != nil {
			if cerr := b.s.contextError(ctx, sctx); cerr != nil {
				return nil, cerr
			}
			if b.s.closed.Load() {
				return nil, b.s.fail(nil, "source is closed", nil)
			}
			if se := privilegedError(err); se != nil {
				return nil, se
			}
			return nil, b.s.fail(nil, "connecting to postgres", err)
		}
		pc := c.Conn().PgConn()
		err = b.begin(sctx, pc)
		if err == nil {
			return c, nil
		}
		dead := pc.IsClosed()
		dropConn(c)
		if !dead || sctx.Err() != nil || attempt >= b.s.cfg.MaxConns {
			return nil, b.mapErr(ctx, sctx, err)
		}
	}
}

// finish ends the transaction and returns c to the pool if it is clean:
// not canceled (a cancel request may still be on its way to it), and
// rolled back (which also releases any session advisory lock the statement
// took). Otherwise it closes c.
func (b *pgBackend) finish(c *pgxpool.Conn, canceled bool) {
	pc := c.Conn().PgConn()
	if !canceled && !pc.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pc.Exec(ctx, "ROLLBACK; SELECT pg_advisory_unlock_all()").ReadAll()
		cancel()
		if err == nil {
			c.Release()
			return
		}
	}
	dropConn(c)
}

// dropConn takes c out of the pool and closes it.
func dropConn(c *pgxpool.Conn) {
	conn := c.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

func (b *pgBackend) query(ctx context.Context, st *statement, columns func([]Column) error, row func([]any) error) error {
	s := b.s
	sctx, cancel := s.statementContext(ctx, pgGrace)
	defer cancel()
	conn, err := b.start(ctx, sctx)
	if err != nil {
		return err
	}
	c := conn.Conn().PgConn()
	// qctx is canceled to stop the statement early, on a callback's error.
	qctx, stop := context.WithCancel(sctx)
	defer func() {
		canceled := qctx.Err() != nil
		stop()
		b.finish(conn, canceled)
	}()

	text, names := st.positional("$")
	values := make([][]byte, len(names))
	oids := make([]uint32, len(names))
	for i, name := range names {
		v, oid, null := pgParam(st.args[name])
		if !null {
			values[i] = []byte(v)
		}
		oids[i] = oid
	}
	rr := c.ExecParams(qctx, text, values, oids, nil, nil)
	fds := rr.FieldDescriptions()
	if fds == nil {
		if _, err := rr.Close(); err != nil {
			return b.mapErr(ctx, sctx, err)
		}
	}
	cols := make([]Column, len(fds))
	for i, fd := range fds {
		cols[i] = Column{Name: fd.Name, Type: pgColumnType(fd.DataTypeOID)}
	}
	// abort stops the statement and returns err, a callback's or a
	// decoding error.
	abort := func(err error) error {
		stop()
		rr.Close()
		return err
	}
	if err := columns(cols); err != nil {
		return abort(err)
	}
	vals := make([]any, len(cols))
	for n := 1; rr.NextRow(); n++ {
		for i, raw := range rr.Values() {
			if vals[i], err = pgValue(cols[i].Type, raw); err != nil {
				return abort(s.fail(nil, fmt.Sprintf("row %d, column %q", n, cols[i].Name), err))
			}
		}
		if err := row(vals); err != nil {
			return abort(err)
		}
	}
	if _, err := rr.Close(); err != nil {
		return b.mapErr(ctx, sctx, err)
	}
	return nil
}

// streamCSV runs the statement under COPY, which cannot take bound
// parameters: they are rendered as literals. ok is false when one cannot be.
func (b *pgBackend) streamCSV(ctx context.Context, st *statement, w io.Writer) (int64, bool, error) {
	text, ok := st.substitute(func(name string) (string, bool) { return pgLiteral(st.args[name]) })
	if !ok {
		return 0, false, nil
	}
	s := b.s
	sctx, cancel := s.statementContext(ctx, pgGrace)
	defer cancel()
	conn, err := b.start(ctx, sctx)
	if err != nil {
		return 0, true, err
	}
	cw := &copyWriter{w: w}
	err = copyOut(sctx, conn.Conn().PgConn(), text, cw)
	// Only an error from the server leaves the connection at a clean
	// ReadyForQuery.
	b.finish(conn, sctx.Err() != nil || err != nil && (cw.err != nil || !isPgError(err)))
	n := cw.writes - 1
	if n < 0 {
		n = 0
	}
	switch {
	case cw.err != nil:
		return n, true, cw.err
	case err != nil:
		return n, true, b.mapErr(ctx, sctx, err)
	}
	return n, true, nil
}

// copyOut runs COPY (query) TO STDOUT WITH (FORMAT csv, HEADER) and writes
// each row to w. It goes over the extended protocol, not the simple one
// pgconn's CopyTo uses, so that whatever the text holds the server runs
// one statement: Parse refuses a string of several. The query is first
// parsed on its own, which fails unless it is one complete statement; so
// its tokens stay its own inside the parentheses, a trailing -- comment
// ends at the line break after it, and nothing can close the parenthesis
// early to turn the COPY into something else (TO PROGRAM, FROM).
func copyOut(ctx context.Context, c *pgconn.PgConn, query string, w io.Writer) error {
	fe := c.Frontend()
	fe.Send(&pgproto3.Parse{Query: query})
	fe.Send(&pgproto3.Parse{Query: "COPY (" + query + "\n) TO STDOUT WITH (FORMAT csv, HEADER)"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		return err
	}
	// One watch of ctx for the whole copy rather than one per message (as
	// ReceiveMessage(ctx) would): ask the server to cancel the statement,
	// and if it does not end soon break the connection, which the caller
	// then closes (ctx is done).
	stop := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.CancelRequest(cctx)
		c.Conn().SetDeadline(time.Now().Add(2 * time.Second))
	})
	defer stop()
	var pgErr error
	for {
		msg, err := c.ReceiveMessage(context.Background())
		if err != nil {
			return err
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if _, err := w.Write(msg.Data); err != nil {
				// The caller closes the connection, which stops the
				// statement.
				return err
			}
		case *pgproto3.ErrorResponse:
			if pgErr == nil {
				pgErr = pgconn.ErrorResponseToPgError(msg)
			}
		case *pgproto3.ReadyForQuery:
			return pgErr
		}
	}
}

// isPgError reports whether err came from the server, which leaves the
// connection usable.
func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// copyWriter forwards each CopyData message, one line of CSV, as one Write.
type copyWriter struct {
	w      io.Writer
	writes int64
	err    error
}

func (c *copyWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
		return n, err
	}
	c.writes++
	return n, nil
}

// mapErr classifies an error from the server or the connection.
func (b *pgBackend) mapErr(ctx, sctx context.Context, err error) error {
	var long *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &long) {
		return b.s.fail(ErrTooLarge, fmt.Sprintf("a row of the result is over %d bytes (twice max bytes %d, and some)", long.MaxExpectedBodyLen, b.s.cfg.MaxBytes), nil)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgReadOnlyTransaction, pgActiveTransaction:
			return b.s.fail(ErrReadOnly, "statement refused", err)
		case pgQueryCanceled:
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Millisecond && dl.Before(time.Now().Add(b.s.cfg.Timeout)) {
				// statement_timeout was the caller's remaining time (begin).
				return b.s.fail(ErrTimeout, "statement stopped at the caller's deadline", nil)
			}
			if ctx.Err() == nil {
				// Canceled by statement_timeout, or by the client
				// after the grace period.
				return b.s.timeoutError()
			}
		}
	}
	if cerr := b.s.contextError(ctx, sctx); cerr != nil {
		return cerr
	}
	return b.s.fail(nil, "", err)
}
