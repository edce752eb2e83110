//go:build !wasip1

package awxdata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

const progressEvery = 100_000

// progress counts one table's rows and reports them through Options.Progress.
type progress struct {
	f     func(Progress)
	start time.Time
	table string
	rows  int64
	next  int64
}

func (p *progress) begin(t *Table) {
	p.table, p.rows, p.next = t.Name, 0, progressEvery
}

func (p *progress) add(n int) {
	p.rows += int64(n)
	if p.f != nil && p.rows >= p.next {
		p.f(Progress{Table: p.table, Rows: p.rows, Elapsed: time.Since(p.start)})
		p.next = (p.rows/progressEvery + 1) * progressEvery
	}
}

func (p *progress) end() {
	if p.f != nil {
		p.f(Progress{Table: p.table, Rows: p.rows, Done: true, Elapsed: time.Since(p.start)})
	}
}

// LoadSQLite creates the SQLite database path (which must not exist, or be empty) with
// SchemaSQLite and the data opts describe. The rows go in one transaction through prepared
// statements, with journaling and syncing off; the indexes are built afterwards, then ANALYZE
// runs. On failure the file is removed.
func LoadSQLite(ctx context.Context, path string, opts Options) (err error) {
	if _, err := opts.normalize(); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return fmt.Errorf("awxdata: %s already exists", path)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("awxdata: %w", err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("awxdata: open %s: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("awxdata: close %s: %w", path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	conn, err := db.Conn(ctx) // PRAGMAs hold per connection: keep one
	if err != nil {
		return fmt.Errorf("awxdata: open %s: %w", path, err)
	}
	defer conn.Close()
	for _, s := range []string{"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "PRAGMA cache_size=-65536"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("awxdata: %s: %w", s, err)
		}
	}
	for _, t := range Tables {
		if _, err := conn.ExecContext(ctx, sqlite.createTable(t, true)); err != nil {
			return fmt.Errorf("awxdata: create %s: %w", t.Name, err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("awxdata: begin: %w", err)
	}
	sink := &sqliteSink{ctx: ctx, tx: tx, p: progress{f: opts.Progress, start: time.Now()}}
	if err := generatePipelined(opts, sink); err != nil {
		sink.closeStmts()
		_ = tx.Rollback()
		return err
	}
	sink.closeStmts()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("awxdata: commit: %w", err)
	}
	for _, t := range Tables {
		for _, s := range createIndexes(t) {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("awxdata: %s: %w", s, err)
			}
		}
	}
	for _, s := range []string{"PRAGMA analysis_limit=1000", "ANALYZE", "PRAGMA journal_mode=DELETE"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("awxdata: %s: %w", s, err)
		}
	}
	return nil
}

type sinkOp struct {
	begin, end bool
	t          *Table
	rows       [][]any
}

// opSink hands everything it receives to send.
type opSink func(sinkOp) error

func (f opSink) Begin(t *Table) error              { return f(sinkOp{begin: true, t: t}) }
func (f opSink) Rows(t *Table, rows [][]any) error { return f(sinkOp{t: t, rows: rows}) }
func (f opSink) End(t *Table) error                { return f(sinkOp{end: true, t: t}) }

var errStopped = errors.New("awxdata: stopped")

// generatePipelined runs Generate in a goroutine of its own and hands the batches to sink in this
// one, so that generating and loading overlap.
func generatePipelined(opts Options, sink Sink) error {
	ch, stop, genErr := make(chan sinkOp, 8), make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(ch)
		genErr <- Generate(opts, opSink(func(op sinkOp) error {
			select {
			case ch <- op:
				return nil
			case <-stop:
				return errStopped
			}
		}))
	}()
	var err error
	for op := range ch {
		if err != nil {
			continue // drain until the generator notices
		}
		switch {
		case op.begin:
			err = sink.Begin(op.t)
		case op.end:
			err = sink.End(op.t)
		default:
			err = sink.Rows(op.t, op.rows)
		}
		if err != nil {
			close(stop)
		}
	}
	if gerr := <-genErr; err == nil {
		err = gerr
	}
	return err
}

// sqliteRowsPerInsert is how many rows one multi-row INSERT carries (fewer driver round trips).
const sqliteRowsPerInsert = 32

type sqliteSink struct {
	ctx       context.Context
	tx        *sql.Tx
	p         progress
	one, many *sql.Stmt // one row, sqliteRowsPerInsert rows
	args      []any
	timeBuf   []byte
	columns   int
}

func insertSQL(t *Table, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", t.Name, strings.Join(t.ColumnNames(), ", "))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

func (s *sqliteSink) Begin(t *Table) error {
	s.p.begin(t)
	s.columns = len(t.Columns)
	var err error
	if s.one, err = s.tx.PrepareContext(s.ctx, insertSQL(t, 1)); err != nil {
		return fmt.Errorf("awxdata: prepare insert into %s: %w", t.Name, err)
	}
	if s.many, err = s.tx.PrepareContext(s.ctx, insertSQL(t, sqliteRowsPerInsert)); err != nil {
		return fmt.Errorf("awxdata: prepare insert into %s: %w", t.Name, err)
	}
	return nil
}

// value converts a generated value to what the SQLite schema stores.
func (s *sqliteSink) value(v any) any {
	switch x := v.(type) {
	case time.Time:
		s.timeBuf = AppendTime(s.timeBuf[:0], x)
		return string(s.timeBuf)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

func (s *sqliteSink) Rows(t *Table, rows [][]any) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	for len(rows) > 0 {
		stmt, n := s.one, 1
		if len(rows) >= sqliteRowsPerInsert {
			stmt, n = s.many, sqliteRowsPerInsert
		}
		s.args = s.args[:0]
		for _, row := range rows[:n] {
			for _, v := range row {
				s.args = append(s.args, s.value(v))
			}
		}
		if _, err := stmt.ExecContext(s.ctx, s.args...); err != nil {
			return fmt.Errorf("awxdata: insert into %s: %w", t.Name, err)
		}
		rows = rows[n:]
		s.p.add(n)
	}
	return nil
}

func (s *sqliteSink) End(t *Table) error {
	s.closeStmts()
	s.p.end()
	return nil
}

func (s *sqliteSink) closeStmts() {
	for _, st := range []*sql.Stmt{s.one, s.many} {
		if st != nil {
			_ = st.Close()
		}
	}
	s.one, s.many = nil, nil
}

// LoadPostgres loads the data opts describe into the PostgreSQL database dsn names (a libpq
// connection string or URL), replacing the tables of SchemaPostgres if they exist. Everything
// happens in one transaction: the tables are dropped and created, each filled with COPY, then
// given their primary keys and indexes; ANALYZE runs after the commit.
func LoadPostgres(ctx context.Context, dsn string, opts Options) error {
	if _, err := opts.normalize(); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("awxdata: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("awxdata: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var stmts []string
	for i := len(Tables) - 1; i >= 0; i-- {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+Tables[i].Name)
	}
	for _, t := range Tables {
		stmts = append(stmts, postgres.createTable(t, false))
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("awxdata: %s: %w", firstLine(s), err)
		}
	}
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sink := &pgSink{ctx: loadCtx, tx: tx, p: progress{f: opts.Progress, start: time.Now()}}
	if err := Generate(opts, sink); err != nil {
		cancel()
		sink.wait()
		return err
	}
	stmts = stmts[:0]
	for _, t := range Tables {
		stmts = append(stmts, addPrimaryKey(t))
		stmts = append(stmts, createIndexes(t)...)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("awxdata: %s: %w", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("awxdata: commit: %w", err)
	}
	for _, t := range Tables {
		if _, err := conn.Exec(ctx, "ANALYZE "+t.Name); err != nil {
			return fmt.Errorf("awxdata: analyze %s: %w", t.Name, err)
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, " (")
}

// pgSink feeds each table to a COPY running in its own goroutine while the next rows are
// generated.
type pgSink struct {
	ctx  context.Context
	tx   pgx.Tx
	p    progress
	ch   chan [][]any
	done chan struct{}
	err  error
}

func (s *pgSink) Begin(t *Table) error {
	s.p.begin(t)
	s.ch, s.done, s.err = make(chan [][]any, 8), make(chan struct{}), nil
	go func(ch <-chan [][]any) {
		defer close(s.done)
		src := &chanSource{ctx: s.ctx, ch: ch}
		if _, err := s.tx.CopyFrom(s.ctx, pgx.Identifier{t.Name}, t.ColumnNames(), src); err != nil {
			s.err = fmt.Errorf("awxdata: copy into %s: %w", t.Name, err)
		}
	}(s.ch)
	return nil
}

func (s *pgSink) Rows(t *Table, rows [][]any) error {
	select {
	case s.ch <- rows:
		s.p.add(len(rows))
		return nil
	case <-s.done:
		if s.err == nil {
			s.err = fmt.Errorf("awxdata: copy into %s ended early", t.Name)
		}
		return s.err
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *pgSink) End(t *Table) error {
	close(s.ch)
	s.ch = nil
	<-s.done
	if s.err != nil {
		return s.err
	}
	s.p.end()
	return nil
}

// wait lets a COPY in flight end (after its context is canceled).
func (s *pgSink) wait() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
		<-s.done
	}
}

// chanSource is a pgx.CopyFromSource over batches of rows from a channel.
type chanSource struct {
	ctx   context.Context
	ch    <-chan [][]any
	batch [][]any
	i     int
	err   error
}

func (c *chanSource) Next() bool {
	c.i++
	for c.i >= len(c.batch) {
		select {
		case b, ok := <-c.ch:
			if !ok {
				return false
			}
			c.batch, c.i = b, 0
		case <-c.ctx.Done():
			c.err = c.ctx.Err()
			return false
		}
	}
	return true
}

func (c *chanSource) Values() ([]any, error) { return c.batch[c.i], nil }

func (c *chanSource) Err() error { return c.err }
