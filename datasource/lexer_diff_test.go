package datasource

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The lexer decides how many statements a text holds before the database
// sees it. These tests compare its verdict with the real parsers' on a
// bounded corpus of generated texts built from the pieces where lexers
// disagree: line ends inside comments, nested comments, quotes of every
// kind, backslashes, dollar quotes, semicolons.

// verdict is what a lexer or a parser says of a text.
type verdict int

const (
	refused verdict = iota // a lexical or syntax error
	empty                  // no statement
	single                 // one statement
	multi                  // more than one
)

func (v verdict) String() string {
	return [...]string{"refused", "empty", "single", "multi"}[v]
}

func lexVerdict(sql string, d dialect) verdict {
	lx, err := lex(sql, d)
	switch {
	case err != nil, lx.placeholder != "":
		return refused // prepare refuses placeholders of other styles
	case lx.statements == 0:
		return empty
	case lx.statements == 1:
		return single
	}
	return multi
}

// lexCorpus returns the attacks of issue 11 and n texts made of a
// statement, pieces from pieces and, for half of them, a second statement
// and more pieces; the same ones for the same seed.
func lexCorpus(seed uint64, n int, pieces []string) []string {
	r := rand.New(rand.NewPCG(seed, 0))
	out := []string{copyBreakout, "SELECT 1 --\r; SELECT 2", "SELECT 1 /* /* */ ; SELECT 2 */", "SELECT 'a\\'; SELECT 2"}
	for range n {
		var b strings.Builder
		b.WriteString("SELECT 1")
		add := func() {
			for k := 1 + r.IntN(4); k > 0; k-- {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		add()
		if r.IntN(2) == 0 {
			b.WriteString("; SELECT 2")
			add()
		}
		out = append(out, b.String())
	}
	return out
}

// sharedPieces are pieces both dialects read, mostly the same way.
var sharedPieces = []string{
	" ", "\n", "\r", "\r\n", "\t", "\v", "\f", ";", "; SELECT 2", "--", "-- ; x", "--\r", "-- x\r", "/*", "*/", "/* ; */", "/* /* */",
	"'", "''", "';'", "'\\'", "\\", "\"", "\"\"", "\";\"", "(", ")", ", 2", " AS x", " + 1", "-", "*", "/",
	"||", "'--'", "'/*'", "\"--\"", "X'00'",
}

// TestLexAgreesWithPostgres compares the lexer with PostgreSQL's parser,
// which it asks through Parse (the extended protocol: nothing runs), which
// refuses a text of several statements. Where PostgreSQL sees more than one
// statement the lexer must refuse the text; where PostgreSQL parses one,
// the lexer must not see several.
func TestLexAgreesWithPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgFixture(t)
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, dsn)
	require.NoError(t, err)
	defer c.Close(ctx)
	pieces := append([]string{"E'", "e'\\''", "E'\\\\'", "$$", "$$;$$", "$q$", "$q$;$q$", "$q$ $$ $q$",
		"U&'", "U&'\\0027'", "B'1'", "1", " x", "--\r;", "/* */ */", "$1", "1e", "::text"}, sharedPieces...)
	counts := map[[2]verdict]int{}
	for _, sql := range lexCorpus(1, 2000, pieces) {
		lexed := lexVerdict(sql, dialectPostgres)
		server := single
		if _, err := c.Prepare(ctx, "", sql, nil); err != nil {
			var pe *pgconn.PgError
			require.True(t, errors.As(err, &pe), "%q: %v", sql, err)
			server = refused
			// The server's message is the only thing telling this
			// syntax error from the others.
			if pe.Message == "cannot insert multiple commands into a prepared statement" {
				server = multi
			}
		}
		counts[[2]verdict{lexed, server}]++
		switch server {
		case multi:
			require.Contains(t, []verdict{refused, multi}, lexed, "PostgreSQL sees several statements in %q", sql)
		case single:
			require.NotEqual(t, multi, lexed, "PostgreSQL sees one statement in %q", sql)
		}
	}
	t.Logf("lexer/server verdicts: %v", counts)
	require.Positive(t, counts[[2]verdict{multi, multi}], "the corpus has texts of several statements")
	require.Positive(t, counts[[2]verdict{single, single}], "the corpus has texts of one statement")
}

// TestLexAgreesWithSQLite compares the lexer with SQLite's, which it asks
// through sqlite3_prepare_v2 on an empty in-memory database, statement by
// statement along the tail it returns.
func TestLexAgreesWithSQLite(t *testing.T) {
	t.Parallel()
	p := newSQLitePreparer(t)
	pieces := append([]string{"[", "]", "[;]", "`", "``", "`;`", "?", ":a", "$a", "#a", "@a", "@a(", "$a(", "::", "é",
		"/* -- */", "--\r;", "--\r\n;"}, sharedPieces...)
	counts := map[[2]verdict]int{}
	for _, sql := range lexCorpus(2, 2000, pieces) {
		lexed := lexVerdict(sql, dialectSQLite)
		server := p.verdict(sql)
		counts[[2]verdict{lexed, server}]++
		switch server {
		case multi:
			require.Contains(t, []verdict{refused, multi}, lexed, "SQLite sees several statements in %q", sql)
		case single:
			require.NotEqual(t, multi, lexed, "SQLite sees one statement in %q", sql)
		}
	}
	t.Logf("lexer/SQLite verdicts: %v", counts)
	require.Positive(t, counts[[2]verdict{multi, multi}], "the corpus has texts of several statements")
	require.Positive(t, counts[[2]verdict{single, single}], "the corpus has texts of one statement")
}

// sqlitePreparer prepares statements on an in-memory database through
// SQLite's C API as modernc.org/sqlite transpiles it.
type sqlitePreparer struct {
	tls *libc.TLS
	db  uintptr
	out uintptr // two pointers: *sqlite3_stmt, then the tail
}

func newSQLitePreparer(t testing.TB) *sqlitePreparer {
	tls := libc.NewTLS()
	p := &sqlitePreparer{tls: tls, out: tls.Alloc(16)}
	name, err := libc.CString(":memory:")
	require.NoError(t, err)
	defer libc.Xfree(tls, name)
	rc := sqlite3.Xsqlite3_open_v2(tls, name, p.out, sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_CREATE, 0)
	require.Equal(t, int32(sqlite3.SQLITE_OK), rc)
	p.db = p.pointerAt(p.out)
	t.Cleanup(func() {
		sqlite3.Xsqlite3_close_v2(tls, p.db)
		tls.Free(16)
		tls.Close()
	})
	return p
}

// verdict prepares sql statement by statement: refused if the first fails,
// multi if anything but spaces and comments follows it.
func (p *sqlitePreparer) verdict(sql string) verdict {
	csql, err := libc.CString(sql)
	if err != nil {
		panic(err)
	}
	defer libc.Xfree(p.tls, csql)
	stmt, tail := p.out, p.out+8
	cur, n := csql, 0
	for libc.GoBytes(cur, 1)[0] != 0 {
		rc := sqlite3.Xsqlite3_prepare_v2(p.tls, p.db, cur, -1, stmt, tail)
		if rc != sqlite3.SQLITE_OK {
			if n == 0 {
				return refused
			}
			return multi // tokens after the first statement
		}
		if s := p.pointerAt(stmt); s != 0 {
			sqlite3.Xsqlite3_finalize(p.tls, s)
			n++
		}
		next := p.pointerAt(tail)
		if next == cur {
			break
		}
		cur = next
	}
	switch n {
	case 0:
		return empty
	case 1:
		return single
	}
	return multi
}

// pointerAt reads the pointer stored at addr in C memory (64-bit, little
// endian: the platforms the tests run on).
func (p *sqlitePreparer) pointerAt(addr uintptr) uintptr {
	return uintptr(binary.LittleEndian.Uint64(libc.GoBytes(addr, 8)))
}
