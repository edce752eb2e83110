package cmdutil

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable returns s as it should appear in text output: as is when every character prints
// plainly on a terminal, else quoted with Go's rules (strconv.Quote), so that control characters,
// ANSI escapes, newlines, invalid UTF-8 and bidirectional overrides from untrusted data (member
// names of a tarball) show as escapes and cannot forge rows or drive the terminal. A string
// containing a backslash or a double quote is quoted too, so that a quoted name and a plain one
// can never look alike.
func Printable(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || r == '"' || !printsPlainly(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// EscapeControl returns s with every character that does not print plainly replaced by its Go
// escape (\n, \x1b, \u202e, and \xff for a byte of invalid UTF-8), the rest unchanged: for
// messages, which mix our text with untrusted data and stay readable without quotes.
func EscapeControl(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !printsPlainly(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&0xf, 16))
		case printsPlainly(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// printsPlainly reports whether r shows as itself on a terminal: a graphic character or the ASCII
// space (not a control, format or other invisible character).
func printsPlainly(r rune) bool {
	return r == ' ' || strconv.IsPrint(r)
}
