package registry

import (
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/pelletier/go-toml/v2/unstable"
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

// locator maps paths to the line that defines them. BurntSushi/toml, which decodes, keeps
// positions per key only internally and without array indexes, so the locator indexes the
// document with go-toml's parser (pelletier/go-toml/v2/unstable), which reports where every key
// is: it follows table headers ([x], [[collector]] counting elements, [collector.params]
// belonging to the latest collector), dotted keys, inline tables and arrays of them. A path no
// key defines falls back to its enclosing table or key, then to 0.
type locator struct {
	lines    map[string]int // path.String() → 1-based line of its first definition
	arrays   map[string]int // path of an array of tables → elements seen so far
	newlines []int          // offsets of the text's newlines, to turn offsets into lines
}

func newLocator(text []byte) *locator {
	l := &locator{lines: map[string]int{}, arrays: map[string]int{}}
	for i, c := range text {
		if c == '\n' {
			l.newlines = append(l.newlines, i)
		}
	}
	var (
		p     unstable.Parser
		table path
	)
	p.Reset(text)
	// The text decoded already; should the two parsers disagree, what was indexed until then
	// stays, and the rest falls back to enclosing tables.
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var parts []string
			line := 0
			for it := e.Key(); it.Next(); {
				k := it.Node()
				if line == 0 {
					line = l.lineAt(k.Raw.Offset)
				}
				parts = append(parts, string(k.Data))
			}
			table = l.table(parts, e.Kind == unstable.ArrayTable)
			l.mark(table, line)
		case unstable.KeyValue:
			l.keyValue(table, e)
		}
	}
	return l
}

// keyValue indexes a key = value under the table at base: each part of a dotted key, and the
// keys of inline tables in the value.
func (l *locator) keyValue(base path, kv *unstable.Node) {
	p := base
	for it := kv.Key(); it.Next(); {
		k := it.Node()
		p = p.key(string(k.Data))
		l.mark(p, l.lineAt(k.Raw.Offset))
	}
	l.value(p, kv.Value())
}

// value indexes the keys inside a value at p: those of an inline table, and of each element of
// an array, by index.
func (l *locator) value(p path, v *unstable.Node) {
	switch v.Kind {
	case unstable.InlineTable:
		for it := v.Children(); it.Next(); {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				l.keyValue(p, c)
			}
		}
	case unstable.Array:
		i := 0
		for it := v.Children(); it.Next(); {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			if c.Raw.Length > 0 {
				l.mark(p.index(i), l.lineAt(c.Raw.Offset))
			}
			l.value(p.index(i), c)
			i++
		}
	}
}

// lineAt returns the 1-based line of a byte offset.
func (l *locator) lineAt(off uint32) int {
	n, _ := slices.BinarySearch(l.newlines, int(off))
	return n + 1
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
