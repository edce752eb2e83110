package registry

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// path names a value in a TOML document the way problems show it. Each element is one segment,
// already formatted: a key (quoted when it is not a bare key) or an array index "[2]".
type path []string

// key returns p extended by the TOML key k.
func (p path) key(k string) path {
	return p.with(quoteKey(k))
}

// index returns p extended by the array index i.
func (p path) index(i int) path {
	return p.with("[" + strconv.Itoa(i) + "]")
}

func (p path) with(seg string) path {
	q := make(path, len(p), len(p)+1)
	copy(q, p)
	return append(q, seg)
}

// String joins the segments: runtime.timeout, collector[2].format, modules."a.wasm".sha256.
func (p path) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// quoteKey returns k as a bare TOML key when it can be one, else as a quoted key.
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyChar(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// locator maps paths to the line that defines them. BurntSushi/toml keeps positions per key
// without array indexes, so the locator scans the raw text itself: it follows table headers
// ([x], [[collector]] counting elements, [collector.params] belonging to the latest collector,
// quoted keys) and `key = value` lines, skipping over multi-line strings and arrays. It handles
// ordinary formatting; for anything else line falls back to the enclosing table, then to 0.
type locator struct {
	lines  map[string]int // path.String() → 1-based line of its first definition
	arrays map[string]int // path of an array of tables → elements seen so far
}

func newLocator(text string) *locator {
	l := &locator{lines: map[string]int{}, arrays: map[string]int{}}
	var (
		table path
		val   valueScanner
	)
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if val.open() {
			val.scan(line)
			continue
		}
		s := strings.TrimSpace(line)
		switch {
		case s == "" || s[0] == '#':
		case strings.HasPrefix(s, "[["):
			if parts, rest, ok := parseKey(s[2:]); ok && strings.HasPrefix(strings.TrimSpace(rest), "]]") {
				table = l.table(parts, true)
				l.mark(table, n)
			}
		case s[0] == '[':
			if parts, rest, ok := parseKey(s[1:]); ok && strings.HasPrefix(strings.TrimSpace(rest), "]") {
				table = l.table(parts, false)
				l.mark(table, n)
			}
		default:
			parts, rest, ok := parseKey(s)
			rest = strings.TrimSpace(rest)
			if !ok || !strings.HasPrefix(rest, "=") {
				continue
			}
			p := table
			for _, k := range parts {
				p = p.key(k)
			}
			l.mark(p, n)
			val.scan(rest[1:])
		}
	}
	return l
}

// table resolves a header's keys to a path, indexing arrays of tables by their latest element;
// for an [[array]] header it starts a new element.
func (l *locator) table(parts []string, array bool) path {
	var p path
	for i, k := range parts {
		p = p.key(k)
		s := p.String()
		if array && i == len(parts)-1 {
			c := l.arrays[s]
			l.arrays[s] = c + 1
			p = p.index(c)
		} else if c, ok := l.arrays[s]; ok {
			p = p.index(c - 1)
		}
	}
	return p
}

// mark records line n for p and for each of its prefixes not seen before.
func (l *locator) mark(p path, n int) {
	for i := 1; i <= len(p); i++ {
		s := p[:i].String()
		if _, ok := l.lines[s]; !ok {
			l.lines[s] = n
		}
	}
}

// line returns the line defining p, else that of its nearest enclosing table or key, else 0.
func (l *locator) line(p path) int {
	for ; len(p) > 0; p = p[:len(p)-1] {
		if n, ok := l.lines[p.String()]; ok {
			return n
		}
	}
	return 0
}

// parseKey reads a possibly dotted key (bare, "basic" or 'literal' parts) from the start of s
// and returns its parts and the text after it.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		var part string
		switch s[0] {
		case '"':
			j := 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, "", false
			}
			var err error
			if part, err = strconv.Unquote(s[:j+1]); err != nil {
				part = s[1:j]
			}
			s = s[j+1:]
		case '\'':
			j := strings.IndexByte(s[1:], '\'')
			if j < 0 {
				return nil, "", false
			}
			part, s = s[1:j+1], s[j+2:]
		default:
			j := 0
			for j < len(s) && isBareKeyChar(s[j]) {
				j++
			}
			if j == 0 {
				return nil, "", false
			}
			part, s = s[:j], s[j:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, true
		}
		s = s[1:]
	}
}

// valueScanner follows a TOML value across lines, just enough to know when it has ended:
// strings (multi-line ones included) and nesting of arrays and inline tables.
type valueScanner struct {
	str   string // the open string's delimiter: `"`, `'`, `"""` or `'''`; "" outside strings
	depth int    // open [ and {
}

// open reports whether the value continues on the next line.
func (v *valueScanner) open() bool {
	return v.str == `"""` || v.str == `'''` || v.depth > 0
}

func (v *valueScanner) scan(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch v.str {
		case `"`, `"""`:
			if c == '\\' {
				i++
			} else if strings.HasPrefix(s[i:], v.str) {
				i += len(v.str) - 1
				v.str = ""
			}
			continue
		case `'`, `'''`:
			if strings.HasPrefix(s[i:], v.str) {
				i += len(v.str) - 1
				v.str = ""
			}
			continue
		}
		switch c {
		case '#':
			return
		case '"', '\'':
			v.str = string(c)
			if strings.HasPrefix(s[i:], strings.Repeat(v.str, 3)) {
				v.str = strings.Repeat(v.str, 3)
				i += 2
			}
		case '[', '{':
			v.depth++
		case ']', '}':
			v.depth--
		}
	}
	if v.str == `"` || v.str == `'` {
		v.str = "" // single-line strings end with the line
	}
}

// resolve turns a key as BurntSushi/toml reports it (no array indexes) into the paths of every
// value it names in the decoded document: ["collector", "bogus"] → collector[3].bogus for each
// collector that has a bogus key.
func resolve(doc map[string]any, k toml.Key) []path {
	var out []path
	var walk func(v any, i int, p path)
	walk = func(v any, i int, p path) {
		t, ok := v.(map[string]any)
		if !ok {
			return
		}
		child, ok := t[k[i]]
		if !ok {
			return
		}
		p = p.key(k[i])
		if i == len(k)-1 {
			out = append(out, p)
			return
		}
		switch a := child.(type) {
		case []map[string]any:
			for j, e := range a {
				walk(e, i+1, p.index(j))
			}
		case []any:
			for j, e := range a {
				walk(e, i+1, p.index(j))
			}
		default:
			walk(child, i+1, p)
		}
	}
	if len(k) > 0 {
		walk(doc, 0, nil)
	}
	return out
}
