package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// SQLSTATEs the errors are classified by.
const (
	pgReadOnlyTransaction = "25006" // read_only_sql_transaction
	pgActiveTransaction   = "25001" // active_sql_transaction: cannot run in a transaction block
	pgQueryCanceled       = "57014" // query_canceled, also by statement_timeout
)

// pgGrace is how long past Config.Timeout the client waits for the server's
// own statement_timeout before it cancels the statement itself.
const pgGrace = time.Second

type pgBackend struct {
	s    *Source
	pool *pgPool
}

// openPostgres connects to s.cfg.DSN and pings the server. Statements run
// each in a transaction of their own, begun READ ONLY and rolled back.
func openPostgres(ctx context.Context, s *Source) (backend, error) {
	pc, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		// The parser's message quotes the string, whose password it
		// redacts only on a best-effort basis: say nothing more.
		return nil, s.fail(nil, "invalid postgres connection string", nil)
	}
	// On a canceled context, ask the server to cancel the statement rather
	// than only dropping the connection under it.
	pc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	b := &pgBackend{s: s, pool: &pgPool{cfg: pc, slots: make(chan struct{}, s.cfg.MaxConns)}}
	where := pc.Host
	if !strings.HasPrefix(where, "/") {
		where = net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, _, err := b.pool.acquire(cctx)
	if err == nil {
		err = c.Ping(cctx)
		b.pool.release(c, err == nil)
	}
	if err != nil {
		b.pool.close()
		return nil, s.fail(nil, "connecting to postgres at "+where, err)
	}
	return b, nil
}

func (b *pgBackend) close() error {
	b.pool.close()
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

// start acquires a connection and begins the transaction on it, retrying
// once on a fresh connection if a pooled one turns out dead.
func (b *pgBackend) start(ctx, sctx context.Context) (*pgconn.PgConn, error) {
	for attempt := 0; ; attempt++ {
		c, fresh, err := b.pool.acquire(ctx)
		if err != nil {
			if cerr := b.s.contextError(ctx, sctx); cerr != nil {
				return nil, cerr
			}
			return nil, b.s.fail(nil, "connecting to postgres", err)
		}
		err = b.begin(sctx, c)
		if err == nil {
			return c, nil
		}
		b.pool.release(c, false)
		var pe *pgconn.PgError
		if fresh || attempt > 0 || errors.As(err, &pe) || sctx.Err() != nil {
			return nil, b.mapErr(ctx, sctx, err)
		}
	}
}

// finish ends the transaction and returns c to the pool if it is clean:
// not canceled, and rolled back (which also releases any session advisory
// lock the statement took).
func (b *pgBackend) finish(c *pgconn.PgConn, canceled bool) {
	ok := false
	if !canceled && !c.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Exec(ctx, "ROLLBACK; SELECT pg_advisory_unlock_all()").ReadAll()
		cancel()
		ok = err == nil
	}
	b.pool.release(c, ok)
}

func (b *pgBackend) query(ctx context.Context, st *statement, columns func([]Column) error, row func([]any) error) error {
	s := b.s
	sctx, cancel := s.statementContext(ctx, pgGrace)
	defer cancel()
	c, err := b.start(ctx, sctx)
	if err != nil {
		return err
	}
	// qctx is canceled to stop the statement early, on a callback's error.
	qctx, stop := context.WithCancel(sctx)
	defer func() {
		canceled := qctx.Err() != nil
		stop()
		b.finish(c, canceled)
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
	c, err := b.start(ctx, sctx)
	if err != nil {
		return 0, true, err
	}
	cw := &copyWriter{w: w}
	// The newline ends a trailing -- comment of the statement.
	_, err = c.CopyTo(sctx, cw, "COPY ("+text+"\n) TO STDOUT WITH (FORMAT csv, HEADER)")
	b.finish(c, sctx.Err() != nil)
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgReadOnlyTransaction, pgActiveTransaction:
			return b.s.fail(ErrReadOnly, "statement refused", err)
		case pgQueryCanceled:
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

// pgPool holds up to cap(slots) connections.
type pgPool struct {
	cfg   *pgconn.Config
	slots chan struct{}

	mu     sync.Mutex
	idle   []*pgconn.PgConn
	closed bool
}

var errPoolClosed = errors.New("source is closed")

// acquire returns an idle connection or a new one (fresh).
func (p *pgPool) acquire(ctx context.Context) (c *pgconn.PgConn, fresh bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, false, errPoolClosed
	}
	for len(p.idle) > 0 {
		c = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosed() {
			p.mu.Unlock()
			return c, false, nil
		}
	}
	p.mu.Unlock()
	c, err = pgconn.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, true, nil
}

// release returns c to the pool if reuse is set and it is usable, and
// closes it otherwise.
func (p *pgPool) release(c *pgconn.PgConn, reuse bool) {
	p.mu.Lock()
	if reuse && !p.closed && !c.IsClosed() && !c.IsBusy() {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		closeConn(c)
	}
	<-p.slots
}

func (p *pgPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		closeConn(c)
	}
}

func closeConn(c *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
}
