package datasource

import (
	"fmt"
	"strings"
)

// dialect selects the lexical rules of one database's SQL.
type dialect int

const (
	// dialectSQLite: '…' strings, "…" `…` […] identifiers, flat /* */ comments,
	// -- comments ending at LF, and the placeholders ?, ?NNN, :name, $name
	// and #name.
	dialectSQLite dialect = iota
	// dialectPostgres: '…' and E'…' strings, "…" identifiers, $tag$…$tag$
	// dollar quotes, nested /* */ comments, -- comments ending at LF or CR,
	// and the placeholder $n.
	dialectPostgres
)

// param is one @name parameter reference: name without the @, and the byte
// offsets of "@name" in the statement.
type param struct {
	name       string
	start, end int
}

// lexed is what the lexer reports about a statement string.
type lexed struct {
	// statements is the number of non-empty statements: "SELECT 1;" and
	// "SELECT 1; -- done" are one, "SELECT 1; SELECT 2" two, ";" none.
	// Lexing stops at the second statement's first token, so 2 stands for
	// "more than one" and the other fields describe the first.
	statements int
	// keyword is the first word of the first statement, upper-cased, after
	// any opening parentheses: "SELECT" for "(SELECT 1) UNION (SELECT 2)".
	// It is empty when the statement does not begin with a word.
	keyword string
	// body is the first statement without its terminating semicolon and
	// anything after it; offsets in params are valid in body.
	body string
	// params are the @name references outside quotes and comments, in order.
	params []param
	// placeholder is the first parameter of another style (?, :name, $1, …)
	// outside quotes and comments, or "" if there is none. Only @name
	// parameters are supported, on every driver, so that one lexer decides
	// what is a parameter.
	placeholder string
	// calls are the names of the functions the first statement calls: each
	// word or "quoted identifier" followed, past spaces and comments, by
	// '(' or by a parameter (which COPY renders in parentheses); so also
	// keywords such as IN and VALUES. Lower-cased and unquoted, in order.
	calls []string
}

// lex splits sql into tokens just far enough to count statements, find the
// first keyword and the @name parameters, and check that quotes, comments and
// parentheses are closed. It does not parse SQL: anything it does not
// recognise is passed through for the database to judge. Its errors are about
// the statement text and name the byte offset. Where PostgreSQL versions
// lex a text differently (a quote or $ directly after a number), it refuses
// the text rather than pick one reading.
//
// Parameters follow the rule pgx uses for named arguments: @ followed by an
// ASCII letter or underscore starts a parameter whose name continues with
// letters, digits and underscores. An @ that directly follows another @ is
// part of an operator (PostgreSQL's @@), and so is an @ followed by anything
// else (@>, "@ x"). Write PostgreSQL's @-operators with a space after them
// (a <@ b) so that they are not read as parameters.
func lex(sql string, d dialect) (lexed, error) {
	var (
		res       lexed
		n         = len(sql)
		i         int
		depth     int  // parenthesis depth
		inStmt    bool // the current statement has a token
		bodyStart int  // offset of the first statement (after empty ones)
		bodyEnd   = -1 // offset of the first statement's ';', once seen
		parens    = true
		prevWord  bool   // the previous byte ended a word, number or parameter
		callee    string // the previous token, if it was a word or "identifier"
	)
	for i < n {
		c := sql[i]
		if isSpace(c) {
			i++
			prevWord = false
			continue
		}
		if c == '-' && i+1 < n && sql[i+1] == '-' {
			// PostgreSQL ends a line comment at LF or CR (scan.l:
			// non_newline [^\n\r]), SQLite only at LF (tokenize.c).
			ends := "\n"
			if d == dialectPostgres {
				ends = "\n\r"
			}
			if j := strings.IndexAny(sql[i:], ends); j >= 0 {
				i += j + 1
			} else {
				i = n
			}
			prevWord = false
			continue
		}
		if c == '/' && i+1 < n && sql[i+1] == '*' {
			j, err := skipBlockComment(sql, i, d == dialectPostgres)
			if err != nil {
				return lexed{}, err
			}
			i = j
			prevWord = false
			continue
		}
		if c == ';' {
			switch {
			case inStmt && bodyEnd < 0:
				if depth != 0 {
					return lexed{}, fmt.Errorf("unbalanced parentheses: ';' at offset %d inside parentheses", i)
				}
				bodyEnd = i
			case res.statements == 0:
				bodyStart = i + 1 // an empty statement before the first
			}
			inStmt = false
			i++
			prevWord = false
			continue
		}
		// c starts a token.
		if !inStmt {
			inStmt = true
			res.statements++
			if res.statements > 1 {
				// The first statement lexed cleanly; what follows is
				// refused unread.
				break
			}
		}
		word := false
		name := ""
		switch {
		case c == '\'':
			j, err := skipQuoted(sql, i, '\'', false)
			if err != nil {
				return lexed{}, err
			}
			i = j
		case (c == 'e' || c == 'E') && d == dialectPostgres && !prevWord && i+1 < n && sql[i+1] == '\'':
			j, err := skipQuoted(sql, i+1, '\'', true)
			if err != nil {
				return lexed{}, err
			}
			i = j
		case (c == 'u' || c == 'U') && d == dialectPostgres && !prevWord && strings.HasPrefix(sql[i+1:], `&"`):
			// U&"d\0061ta" names "data": a name the deny list of
			// functions could not see.
			return lexed{}, fmt.Errorf(`U&"…" identifier at offset %d: write the name plainly`, i)
		case c == '"' || (c == '`' && d == dialectSQLite):
			j, err := skipQuoted(sql, i, c, false)
			if err != nil {
				return lexed{}, err
			}
			name = strings.ReplaceAll(sql[i+1:j-1], string(c)+string(c), string(c))
			i = j
		case c == '[' && d == dialectSQLite:
			j := strings.IndexByte(sql[i+1:], ']')
			if j < 0 {
				return lexed{}, fmt.Errorf("unterminated [identifier] at offset %d", i)
			}
			i += j + 2
		case c == '$' && d == dialectPostgres:
			if tag, ok := dollarTag(sql[i:]); ok && !prevWord {
				j := strings.Index(sql[i+len(tag):], tag)
				if j < 0 {
					return lexed{}, fmt.Errorf("unterminated dollar-quoted string %s at offset %d", tag, i)
				}
				i += len(tag) + j + len(tag)
				break
			}
			j := i + 1
			for j < n && isDigit(sql[j]) {
				j++
			}
			if j > i+1 && res.placeholder == "" {
				res.placeholder = sql[i:j]
			}
			word = j > i+1
			i = j
		case d == dialectSQLite && c == '?':
			j := i + 1
			for j < n && isDigit(sql[j]) {
				j++
			}
			if res.placeholder == "" {
				res.placeholder = sql[i:j]
			}
			i, word = j, true
		case d == dialectSQLite && (c == ':' || c == '$' || c == '#') && i+1 < n && isIdentStart(sql[i+1]):
			j := i + 1
			for j < n && isIdentPart(sql[j]) {
				j++
			}
			if res.placeholder == "" {
				res.placeholder = sql[i:j]
			}
			i, word = j, true
		case c == '@' && i+1 < n && (isASCIILetter(sql[i+1]) || sql[i+1] == '_') && (i == 0 || sql[i-1] != '@'):
			j := i + 2
			for j < n && (isASCIILetter(sql[j]) || isDigit(sql[j]) || sql[j] == '_') {
				j++
			}
			if d == dialectPostgres && j < n && sql[j] == '$' {
				// Rendered, @a$$ is ('…')$$ or $1$$: a dollar quote
				// this lexer would not have seen.
				return lexed{}, fmt.Errorf("$ directly after parameter @%s at offset %d is ambiguous: add a space", sql[i+1:j], j)
			}
			if d == dialectSQLite && j < n && (sql[j] == '$' || sql[j] >= 0x80 || sql[j] == '(' || strings.HasPrefix(sql[j:], "::")) {
				// SQLite reads @a$b, @aé, @a(…) and @a::b as one
				// parameter (tokenize.c): refuse what it would read
				// otherwise than this lexer.
				return lexed{}, fmt.Errorf("%q directly after parameter @%s at offset %d: add a space", sql[j], sql[i+1:j], j)
			}
			res.params = append(res.params, param{name: sql[i+1 : j], start: i, end: j})
			if callee != "" {
				// COPY renders the parameter in parentheses: f @a
				// becomes a call of f.
				res.calls = append(res.calls, strings.ToLower(callee))
			}
			i, word = j, true
		case c == '(':
			if callee != "" {
				res.calls = append(res.calls, strings.ToLower(callee))
			}
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				return lexed{}, fmt.Errorf("unbalanced parentheses: ')' at offset %d closes nothing", i)
			}
			i++
		case isIdentStart(c) || isDigit(c):
			j := i + 1
			for j < n && isIdentPart(sql[j]) && !(isDigit(c) && sql[j] == '$') {
				j++
			}
			if d == dialectPostgres && isDigit(c) && j < n && (sql[j] == '\'' || sql[j] == '$') {
				// 1E'…' is 1 and an E-string to PostgreSQL before 15,
				// 1$$…$$ a number and a dollar quote: refuse rather than
				// guess, since COPY trusts this lexer's view of quotes.
				return lexed{}, fmt.Errorf("%c directly after the number at offset %d is ambiguous: add a space", sql[j], i)
			}
			if parens && isIdentStart(c) {
				res.keyword = strings.ToUpper(sql[i:j])
			}
			if isIdentStart(c) {
				name = sql[i:j]
			}
			i, word = j, true
		default:
			i++
		}
		parens = parens && c == '('
		prevWord = word
		callee = name
	}
	if res.statements > 1 {
		return res, nil
	}
	if depth != 0 {
		return lexed{}, fmt.Errorf("unbalanced parentheses: %d left open", depth)
	}
	if bodyEnd < 0 {
		bodyEnd = n
	}
	res.body = strings.TrimRight(sql[bodyStart:bodyEnd], " \t\r\n\f")
	for k := range res.params {
		res.params[k].start -= bodyStart
		res.params[k].end -= bodyStart
	}
	return res, nil
}

// skipBlockComment returns the offset after the /* */ comment starting at i.
func skipBlockComment(sql string, i int, nested bool) (int, error) {
	start := i
	level := 0
	for i < len(sql) {
		switch {
		case sql[i] == '/' && i+1 < len(sql) && sql[i+1] == '*' && (nested || level == 0):
			level++
			i += 2
		case sql[i] == '*' && i+1 < len(sql) && sql[i+1] == '/':
			level--
			i += 2
			if level == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	if !nested && start+2 < len(sql) {
		// SQLite ends an unterminated comment at the end of the text,
		// but reads a /* that ends the text as / and * (tokenize.c).
		return len(sql), nil
	}
	return 0, fmt.Errorf("unterminated /* comment at offset %d", start)
}

// skipQuoted returns the offset after the quoted token opening with q at i.
// A doubled q stands for itself; with backslash, \ escapes the next byte.
func skipQuoted(sql string, i int, q byte, backslash bool) (int, error) {
	start := i
	for i++; i < len(sql); i++ {
		switch sql[i] {
		case '\\':
			if backslash {
				i++
			}
		case q:
			if i+1 < len(sql) && sql[i+1] == q {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	kind := "string"
	if q != '\'' {
		kind = string(q) + "identifier" + string(q)
	}
	return 0, fmt.Errorf("unterminated %s at offset %d", kind, start)
}

// dollarTag returns the $tag$ opening a dollar-quoted string at the start of s.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '$' {
			return s[:i+1], true
		}
		if !(isIdentStart(c) || i > 1 && isDigit(c)) {
			return "", false
		}
	}
	return "", false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }

// isSpace reports whether c is white space to both databases: SQLite's
// tokenizer and PostgreSQL 15's scanner. (PostgreSQL 16 adds \v, which
// SQLite refuses; here it is a token of its own, so a text holding one is
// at worst refused.)
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
func isIdentStart(c byte) bool { return isASCIILetter(c) || c == '_' || c >= 0x80 }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '$' }
