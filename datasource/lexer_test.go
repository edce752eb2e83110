package datasource

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLex(t *testing.T) {
	const pg, lite = dialectPostgres, dialectSQLite
	tests := []struct {
		name       string
		dialect    dialect
		sql        string
		statements int
		keyword    string
		params     []string // names, in order
		body       string   // "" means the whole sql, right-trimmed
		holder     string
	}{
		{name: "simple", dialect: pg, sql: "SELECT 1", statements: 1, keyword: "SELECT"},
		{name: "trailing semicolon", dialect: pg, sql: "SELECT 1;", statements: 1, keyword: "SELECT", body: "SELECT 1"},
		{name: "semicolon then comments", dialect: pg, sql: "SELECT 1 ; -- done\n /* really */ \n", statements: 1, keyword: "SELECT", body: "SELECT 1"},
		{name: "empty statements around", dialect: pg, sql: " ; ;SELECT 1;;", statements: 1, keyword: "SELECT", body: "SELECT 1"},
		{name: "two statements", dialect: pg, sql: "SELECT 1; DELETE FROM t", statements: 2, keyword: "SELECT"},
		{name: "two statements, second bad", dialect: pg, sql: "SELECT 1; DELETE FROM t WHERE (", statements: 2, keyword: "SELECT"},
		{name: "only a semicolon", dialect: pg, sql: " ; ", statements: 0},
		{name: "empty", dialect: lite, sql: "", statements: 0},
		{name: "only comments", dialect: lite, sql: "-- x\n/* y */", statements: 0},
		{name: "sqlite comment to the end", dialect: lite, sql: "SELECT 1 /* ; DELETE", statements: 1, keyword: "SELECT"},
		{name: "semicolon in string", dialect: pg, sql: "SELECT 'a;b'", statements: 1, keyword: "SELECT"},
		{name: "semicolon in identifier", dialect: pg, sql: `SELECT 1 AS "a;b"`, statements: 1, keyword: "SELECT"},
		{name: "semicolon in line comment", dialect: pg, sql: "SELECT 1 -- ; DELETE\n", statements: 1, keyword: "SELECT", body: "SELECT 1 -- ; DELETE"},
		{name: "semicolon in block comment", dialect: lite, sql: "SELECT 1 /* ; DELETE */", statements: 1, keyword: "SELECT"},
		{name: "doubled quote", dialect: pg, sql: "SELECT 'it''s; ok'", statements: 1, keyword: "SELECT"},
		{name: "quote in comment", dialect: pg, sql: "SELECT 1 /* it's */ ; ", statements: 1, keyword: "SELECT", body: "SELECT 1 /* it's */"},
		{name: "quote in line comment", dialect: lite, sql: "SELECT 1 -- it's\n, 2", statements: 1, keyword: "SELECT"},
		{name: "comment opener in string", dialect: pg, sql: "SELECT '/*', 2; SELECT 3", statements: 2, keyword: "SELECT"},
		{name: "dash dash in string", dialect: pg, sql: "SELECT '--'; DELETE FROM t", statements: 2, keyword: "SELECT"},
		{name: "nested comment pg", dialect: pg, sql: "SELECT /* a /* b */ ; */ 1", statements: 1, keyword: "SELECT"},
		{name: "flat comment sqlite", dialect: lite, sql: "SELECT /* a /* b */ 1", statements: 1, keyword: "SELECT"},
		{name: "e-string backslash quote", dialect: pg, sql: `SELECT E'it\'s; fine'`, statements: 1, keyword: "SELECT"},
		{name: "e-string backslash backslash", dialect: pg, sql: `SELECT e'a\\'; SELECT 2`, statements: 2, keyword: "SELECT"},
		{name: "standard string ends at backslash quote", dialect: pg, sql: `SELECT 'a\'; SELECT 2`, statements: 2, keyword: "SELECT"},
		{name: "identifier ending in e", dialect: pg, sql: `SELECT some'x\'; SELECT 2`, statements: 2, keyword: "SELECT"},
		{name: "sqlite has no e-strings", dialect: lite, sql: `SELECT E'a\'; SELECT 2`, statements: 2, keyword: "SELECT"},
		{name: "dollar quote", dialect: pg, sql: "SELECT $$a;'b$$", statements: 1, keyword: "SELECT"},
		{name: "dollar quote with tag", dialect: pg, sql: "SELECT $fn$ $$; $x$ $fn$; ", statements: 1, keyword: "SELECT", body: "SELECT $fn$ $$; $x$ $fn$"},
		{name: "dollar in identifier", dialect: pg, sql: "SELECT a$b$c FROM t; SELECT 2", statements: 2, keyword: "SELECT"},
		{name: "positional pg", dialect: pg, sql: "SELECT $1", statements: 1, keyword: "SELECT", holder: "$1"},
		{name: "param", dialect: pg, sql: "SELECT * FROM t WHERE modified > @since AND modified <= @until", statements: 1, keyword: "SELECT", params: []string{"since", "until"}},
		{name: "param repeated", dialect: lite, sql: "SELECT @a, @b, @a", statements: 1, keyword: "SELECT", params: []string{"a", "b", "a"}},
		{name: "param without spaces", dialect: pg, sql: "SELECT x FROM t WHERE x>@since_1", statements: 1, keyword: "SELECT", params: []string{"since_1"}},
		{name: "param then cast", dialect: pg, sql: "SELECT @x::int", statements: 1, keyword: "SELECT", params: []string{"x"}},
		{name: "at in string", dialect: pg, sql: "SELECT '@nope', E'\\'@nope', $$@nope$$, \"@nope\"", statements: 1, keyword: "SELECT"},
		{name: "at in comments", dialect: lite, sql: "SELECT 1 -- @nope\n/* @nope */", statements: 1, keyword: "SELECT"},
		{name: "double at operator", dialect: pg, sql: "SELECT to_tsvector(x) @@ to_tsquery('a') FROM t", statements: 1, keyword: "SELECT"},
		{name: "double at before word", dialect: pg, sql: "SELECT v @@q FROM t", statements: 1, keyword: "SELECT"},
		{name: "absolute value operator", dialect: pg, sql: "SELECT @ -5, @ x FROM t", statements: 1, keyword: "SELECT"},
		{name: "containment operators", dialect: pg, sql: "SELECT a @> b, a <@ b FROM t", statements: 1, keyword: "SELECT"},
		{name: "at digit", dialect: pg, sql: "SELECT @1", statements: 1, keyword: "SELECT"},
		{name: "parenthesised", dialect: pg, sql: "(SELECT 1) UNION (SELECT 2)", statements: 1, keyword: "SELECT"},
		{name: "comment before keyword", dialect: pg, sql: "/* hi */ -- there\n ( with x AS (SELECT 1) SELECT * FROM x)", statements: 1, keyword: "WITH"},
		{name: "no keyword", dialect: pg, sql: "'x' SELECT", statements: 1, keyword: ""},
		{name: "keyword is first word only", dialect: lite, sql: "VALUES (1) -- SELECT", statements: 1, keyword: "VALUES"},
		{name: "sqlite question mark", dialect: lite, sql: "SELECT ?", statements: 1, keyword: "SELECT", holder: "?"},
		{name: "sqlite numbered", dialect: lite, sql: "SELECT ?12", statements: 1, keyword: "SELECT", holder: "?12"},
		{name: "sqlite colon", dialect: lite, sql: "SELECT :since", statements: 1, keyword: "SELECT", holder: ":since"},
		{name: "sqlite dollar", dialect: lite, sql: "SELECT $since", statements: 1, keyword: "SELECT", holder: "$since"},
		{name: "pg question mark is an operator", dialect: pg, sql: "SELECT j ? 'k' FROM t", statements: 1, keyword: "SELECT"},
		{name: "pg cast is not a placeholder", dialect: pg, sql: "SELECT x::text FROM t", statements: 1, keyword: "SELECT"},
		{name: "sqlite bracket identifier", dialect: lite, sql: "SELECT [a;b] FROM t", statements: 1, keyword: "SELECT"},
		{name: "sqlite backtick identifier", dialect: lite, sql: "SELECT `a;``b` FROM t", statements: 1, keyword: "SELECT"},
		{name: "unicode identifier", dialect: pg, sql: "SELECT 1 AS é; SELECT 2", statements: 2, keyword: "SELECT"},
		{name: "lowercase keyword", dialect: lite, sql: "select 1", statements: 1, keyword: "SELECT"},
		{name: "typed literal without space", dialect: pg, sql: "SELECT date'2026-01-01'", statements: 1, keyword: "SELECT"},
		{name: "number then space then string", dialect: pg, sql: "SELECT 1 'x'", statements: 1, keyword: "SELECT"},
		{name: "sqlite number then string", dialect: lite, sql: "SELECT 1'x'", statements: 1, keyword: "SELECT"},
		{name: "attach", dialect: lite, sql: "ATTACH 'x.db' AS x", statements: 1, keyword: "ATTACH"},
		{name: "pg line comment ends at CR", dialect: pg, sql: "SELECT 1 -- x\r; SELECT 2", statements: 2, keyword: "SELECT"},
		{name: "pg line comment ends at CR LF", dialect: pg, sql: "SELECT 1 -- x\r\n; SELECT 2", statements: 2, keyword: "SELECT"},
		{name: "sqlite line comment goes on past CR", dialect: lite, sql: "SELECT 1 -- x\r; SELECT 2", statements: 1, keyword: "SELECT"},
		{name: "unicode string", dialect: pg, sql: `SELECT U&'\0027'; SELECT 2`, statements: 2, keyword: "SELECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lex(tt.sql, tt.dialect)
			require.NoError(t, err)
			require.Equal(t, tt.statements, got.statements, "statements")
			require.Equal(t, tt.keyword, got.keyword, "keyword")
			require.Equal(t, tt.holder, got.placeholder, "placeholder")
			var names []string
			for _, p := range got.params {
				names = append(names, p.name)
				require.Equal(t, "@"+p.name, got.body[p.start:p.end], "param span")
			}
			require.Equal(t, tt.params, names, "params")
			if tt.statements == 1 {
				want := tt.body
				if want == "" {
					want = trimRight(tt.sql)
				}
				require.Equal(t, want, got.body, "body")
			}
		})
	}
}

func trimRight(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func TestLexErrors(t *testing.T) {
	const pg, lite = dialectPostgres, dialectSQLite
	tests := []struct {
		name    string
		dialect dialect
		sql     string
		want    string
	}{
		{name: "unterminated string", dialect: pg, sql: "SELECT 'abc", want: "unterminated string at offset 7"},
		{name: "unterminated e-string", dialect: pg, sql: `SELECT E'abc\'`, want: "unterminated string"},
		{name: "unterminated identifier", dialect: lite, sql: `SELECT "abc`, want: `unterminated "identifier"`},
		{name: "unterminated comment pg", dialect: pg, sql: "SELECT 1 /* abc", want: "unterminated /* comment at offset 9"},
		{name: "sqlite tcl-style parameter", dialect: lite, sql: "SELECT @a('), 1; DELETE FROM t; SELECT ')", want: `'(' directly after parameter @a at offset 9`},
		{name: "sqlite parameter with dollar", dialect: lite, sql: "SELECT @a$b", want: `'$' directly after parameter @a`},
		{name: "pg dollar after parameter", dialect: pg, sql: "SELECT @a$$ ) $$", want: "$ directly after parameter @a at offset 9 is ambiguous"},
		{name: "unterminated nested comment", dialect: pg, sql: "SELECT 1 /* a /* b */", want: "unterminated /* comment"},
		{name: "unterminated dollar quote", dialect: pg, sql: "SELECT $x$ abc $y$", want: "unterminated dollar-quoted string $x$"},
		{name: "unterminated bracket", dialect: lite, sql: "SELECT [abc", want: "unterminated [identifier]"},
		{name: "close without open", dialect: pg, sql: "SELECT 1) TO PROGRAM 'x' --", want: "')' at offset 8 closes nothing"},
		{name: "left open", dialect: pg, sql: "SELECT (1", want: "1 left open"},
		{name: "quote after number", dialect: pg, sql: `SELECT 1E'a\'' ) x '`, want: "' directly after the number at offset 7 is ambiguous"},
		{name: "dollar after number", dialect: pg, sql: "SELECT 1$$ ) $$", want: "$ directly after the number at offset 7 is ambiguous"},
		{name: "semicolon inside parentheses", dialect: pg, sql: "SELECT (1; DELETE FROM t)", want: "';' at offset 9 inside parentheses"},
		{name: "COPY breakout at CR", dialect: pg, sql: copyBreakout, want: "')' at offset 17 closes nothing"},
		{name: "unicode identifier", dialect: pg, sql: `SELECT 1 AS U&"a"`, want: `U&"…" identifier at offset 12`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lex(tt.sql, tt.dialect)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLexCalls(t *testing.T) {
	tests := []struct {
		sql   string
		calls []string
	}{
		{"SELECT now(), lower(x) FROM t", []string{"now", "lower"}},
		{"SELECT x FROM t WHERE id IN (1, 2)", []string{"in"}},
		{`SELECT "PG_Notify"('a', 'b')`, []string{"pg_notify"}},
		{`SELECT "a""b"(1)`, []string{`a"b`}},
		{"SELECT pg_catalog . pg_notify /* c */ -- d\n ('a', 'b')", []string{"pg_notify"}},
		{"SELECT f @a, g(@b)", []string{"f", "g"}},
		{"SELECT 'f'(1), $$g$$(2), 3(4)", nil},
		{"SELECT f ; SELECT g(1)", nil},
	}
	for _, tt := range tests {
		lx, err := lex(tt.sql, dialectPostgres)
		require.NoError(t, err, tt.sql)
		require.Equal(t, tt.calls, lx.calls, tt.sql)
	}
}

func TestSubstitute(t *testing.T) {
	lx, err := lex("SELECT @a, '@a', @b, @a -- @c\n;", dialectPostgres)
	require.NoError(t, err)
	st := &statement{lexed: lx}
	sql, names := st.positional("$")
	require.Equal(t, "SELECT $1, '@a', $2, $1 -- @c", sql)
	require.Equal(t, []string{"a", "b"}, names)
}

func TestPGLiteral(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
		ok   bool
	}{
		{name: "nil", v: nil, want: "(NULL)", ok: true},
		{name: "string", v: "it's", want: "('it''s')", ok: true},
		{name: "backslash", v: `a\'b`, want: `('a\''b')`, ok: true},
		{name: "int", v: int64(-9223372036854775808), want: "('-9223372036854775808'::bigint)", ok: true},
		{name: "float", v: 1.5, want: "('1.5'::double precision)", ok: true},
		{name: "bool", v: true, want: "('true'::boolean)", ok: true},
		{name: "bytes", v: []byte("a'"), want: `('\x6127'::bytea)`, ok: true},
		{name: "nul", v: "a\x00b", ok: false},
		{name: "invalid utf-8", v: "a\xffb", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pgLiteral(tt.v)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// FuzzLex checks what StreamCSV's COPY path relies on: a statement the
// lexer accepts stays one balanced statement inside COPY ( … ) whatever
// string its parameters are rendered from, and param spans are exact. It
// also holds the lexer against SQLite's own tokenizer (sqlite3_prepare_v2
// in process): where SQLite sees several statements the lexer must refuse
// the text, and where it sees one the lexer must not see several.
// (PostgreSQL's parser is compared in TestLexAgreesWithPostgres: a round
// trip per input is too slow for fuzzing.)
func FuzzLex(f *testing.F) {
	for _, s := range []string{
		"SELECT @a", "SELECT '@a', @a -- @b", "SELECT $t$ @a $t$, E'\\'@a'", "SELECT /* /* */ @a */ @b",
		"SELECT 1; SELECT 2", "SELECT (@a)::int)", `SELECT "a""b" FROM t WHERE x > @since`, "VALUES (@a),(@a)",
		copyBreakout, "SELECT 1 --\r; SELECT 2", "SELECT 1 --\r\n) x", "SELECT U&'\\0027', U&\"a\"",
		"SELECT pg_catalog . \"pg_notify\" /* */ ('a', 'b')", "SELECT [a;b], `c;d` -- x\r; y",
	} {
		f.Add(s, "it's \\' */ -- $$ )")
	}
	lite := newSQLitePreparer(f)
	f.Fuzz(func(t *testing.T, sql, value string) {
		if !strings.ContainsRune(sql, 0) {
			lexed, server := lexVerdict(sql, dialectSQLite), lite.verdict(sql)
			if server == multi && lexed != refused && lexed != multi || server == single && lexed == multi {
				t.Fatalf("SQLite reads %q as %s, the lexer as %s", sql, server, lexed)
			}
		}
		for _, d := range []dialect{dialectSQLite, dialectPostgres} {
			lx, err := lex(sql, d)
			if err != nil || lx.statements != 1 {
				continue
			}
			for _, p := range lx.params {
				if lx.body[p.start:p.end] != "@"+p.name {
					t.Fatalf("param span %d:%d is %q, not @%s", p.start, p.end, lx.body[p.start:p.end], p.name)
				}
			}
			if d != dialectPostgres {
				continue
			}
			st := &statement{lexed: lx}
			body, ok := st.substitute(func(string) (string, bool) { return pgLiteral(value) })
			if !ok {
				continue
			}
			wrapped, err := lex("COPY ("+body+"\n) TO STDOUT WITH (FORMAT csv, HEADER)", d)
			if err != nil || wrapped.statements != 1 || len(wrapped.params) != 0 {
				t.Fatalf("COPY wrapping of %q with %q: %v, %d statements, %d params", sql, value, err, wrapped.statements, len(wrapped.params))
			}
			// The deny list sees the same calls inside COPY.
			if want := slices.Concat([]string{"copy"}, lx.calls, []string{"with"}); !slices.Equal(want, wrapped.calls) {
				t.Fatalf("COPY wrapping of %q with %q changes the calls: %v, then %v", sql, value, lx.calls, wrapped.calls)
			}
		}
	})
}
