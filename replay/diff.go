package replay

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
)

// Diff is how a replayed output differs from the recorded one: for CSV by row (rows matched by
// their first column when its values are unique, else compared whole), for JSON by key path.
type Diff struct {
	// Format is the output format compared.
	Format hostfuncs.Format `json:"format"`
	// HeaderBefore and HeaderAfter are the CSV headers, set only when they differ.
	HeaderBefore []string `json:"header_before,omitempty"`
	HeaderAfter  []string `json:"header_after,omitempty"`
	// MatchedBy says how CSV rows were paired: "column NAME" or "whole row".
	MatchedBy string `json:"matched_by,omitempty"`
	// Added, Removed and Changed count rows (CSV) or keys (JSON).
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
	// Changes lists the first changes; Truncated says there are more.
	Changes   []Change `json:"changes,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
	// Note explains a comparison that fell back (an output that does not parse).
	Note string `json:"note,omitempty"`
}

// Change is one row or key that differs.
type Change struct {
	// Kind is "added", "removed" or "changed".
	Kind string `json:"kind"`
	// Key is the row's key (CSV: the matching column's value, or the row number) or the JSON path.
	Key string `json:"key"`
	// Columns are the CSV columns whose values changed.
	Columns []string `json:"columns,omitempty"`
	// Before and After are the row or value, as text.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Summary is the diff in one line: "3 rows changed (column status)".
func (d *Diff) Summary() string {
	unit := "rows"
	if d.Format == hostfuncs.FormatJSON {
		unit = "keys"
	}
	parts := []string{}
	if d.HeaderBefore != nil {
		parts = append(parts, "header changed")
	}
	for _, c := range []struct {
		n    int
		what string
	}{{d.Added, "added"}, {d.Removed, "removed"}, {d.Changed, "changed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s %s", c.n, unit, c.what))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no row or key differs (the bytes do: order or formatting)")
	}
	cols := map[string]bool{}
	for _, c := range d.Changes {
		for _, n := range c.Columns {
			cols[n] = true
		}
	}
	s := strings.Join(parts, ", ")
	if len(cols) > 0 && d.Format == hostfuncs.FormatCSV {
		names := make([]string, 0, len(cols))
		for n := range cols {
			names = append(names, n)
		}
		sort.Strings(names)
		s += " (columns " + strings.Join(names, ", ") + ")"
	}
	return s
}

// add counts c and lists it while fewer than max changes are listed.
func (d *Diff) add(c Change, max int) {
	switch c.Kind {
	case "added":
		d.Added++
	case "removed":
		d.Removed++
	default:
		d.Changed++
	}
	if len(d.Changes) < max {
		d.Changes = append(d.Changes, c)
	} else {
		d.Truncated = true
	}
}

// Compare diffs two outputs of the given format, listing at most max changes.
func Compare(format hostfuncs.Format, before, after []byte, max int) *Diff {
	d := &Diff{Format: format}
	add := func(c Change) { d.add(c, max) }
	if format == hostfuncs.FormatJSON {
		var a, b any
		if err := decodeJSON(before, &a); err != nil {
			d.Note = "the recorded output is not JSON: " + err.Error()
			return d
		}
		if err := decodeJSON(after, &b); err != nil {
			d.Note = "the replayed output is not JSON: " + err.Error()
			return d
		}
		diffJSON("$", a, b, add)
		return d
	}
	a, errA := readCSV(before)
	b, errB := readCSV(after)
	if errA != nil || errB != nil {
		// Not CSV the host wrote (it always is); compare lines.
		d.Note = "an output does not parse as CSV; compared line by line"
		a, b = lines(before), lines(after)
	}
	var ha, hb []string
	if len(a) > 0 {
		ha, a = a[0], a[1:]
	}
	if len(b) > 0 {
		hb, b = b[0], b[1:]
	}
	if !reflect.DeepEqual(ha, hb) {
		d.HeaderBefore, d.HeaderAfter = nonNil(ha), nonNil(hb)
	}
	names := hb
	if len(names) < len(ha) {
		names = ha
	}
	if uniqueFirst(a) && uniqueFirst(b) {
		d.MatchedBy = "column " + first(names, "1")
		diffKeyed(a, b, names, add)
	} else {
		d.MatchedBy = "whole row"
		diffMultiset(a, b, add)
	}
	return d
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

func readCSV(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

func lines(b []byte) [][]string {
	var out [][]string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			out = append(out, []string{strings.TrimSuffix(l, "\n")})
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func first(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func uniqueFirst(rows [][]string) bool {
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if len(r) == 0 || seen[r[0]] {
			return false
		}
		seen[r[0]] = true
	}
	return true
}

func rowText(r []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(r)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func diffKeyed(a, b [][]string, names []string, add func(Change)) {
	after := make(map[string][]string, len(b))
	for _, r := range b {
		after[r[0]] = r
	}
	seen := make(map[string]bool, len(a))
	for _, r := range a {
		seen[r[0]] = true
		nr, ok := after[r[0]]
		if !ok {
			add(Change{Kind: "removed", Key: r[0], Before: rowText(r)})
			continue
		}
		var cols []string
		for i := 0; i < max(len(r), len(nr)); i++ {
			var x, y string
			okx, oky := i < len(r), i < len(nr)
			if okx {
				x = r[i]
			}
			if oky {
				y = nr[i]
			}
			if x != y || okx != oky {
				name := fmt.Sprintf("#%d", i+1)
				if i < len(names) {
					name = names[i]
				}
				cols = append(cols, name)
			}
		}
		if len(cols) > 0 {
			add(Change{Kind: "changed", Key: r[0], Columns: cols, Before: rowText(r), After: rowText(nr)})
		}
	}
	for _, r := range b {
		if !seen[r[0]] {
			add(Change{Kind: "added", Key: r[0], After: rowText(r)})
		}
	}
}

func diffMultiset(a, b [][]string, add func(Change)) {
	count := map[string]int{}
	for _, r := range b {
		count[rowText(r)]++
	}
	for i, r := range a {
		t := rowText(r)
		if count[t] > 0 {
			count[t]--
			continue
		}
		add(Change{Kind: "removed", Key: fmt.Sprintf("row %d", i+1), Before: t})
	}
	for i, r := range b {
		t := rowText(r)
		if count[t] > 0 {
			count[t]--
			add(Change{Kind: "added", Key: fmt.Sprintf("row %d", i+1), After: t})
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// diffJSON compares two decoded JSON values: objects by key, arrays of objects with unique "id"
// members by id, other arrays by index.
func diffJSON(p string, a, b any, add func(Change)) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			kp := p + "." + k
			if strings.ContainsAny(k, ".[]\" ") {
				kp = p + "[" + jsonText(k) + "]"
			}
			xv, inA := x[k]
			yv, inB := y[k]
			switch {
			case !inB:
				add(Change{Kind: "removed", Key: kp, Before: jsonText(xv)})
			case !inA:
				add(Change{Kind: "added", Key: kp, After: jsonText(yv)})
			default:
				diffJSON(kp, xv, yv, add)
			}
		}
		return
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if ix, iy := idIndex(x), idIndex(y); ix != nil && iy != nil {
			for _, id := range sortedKeys(ix, iy) {
				ip := p + "[id=" + id + "]"
				xv, inA := ix[id]
				yv, inB := iy[id]
				switch {
				case !inB:
					add(Change{Kind: "removed", Key: ip, Before: jsonText(xv)})
				case !inA:
					add(Change{Kind: "added", Key: ip, After: jsonText(yv)})
				default:
					diffJSON(ip, xv, yv, add)
				}
			}
			return
		}
		for i := 0; i < max(len(x), len(y)); i++ {
			ip := fmt.Sprintf("%s[%d]", p, i)
			switch {
			case i >= len(y):
				add(Change{Kind: "removed", Key: ip, Before: jsonText(x[i])})
			case i >= len(x):
				add(Change{Kind: "added", Key: ip, After: jsonText(y[i])})
			default:
				diffJSON(ip, x[i], y[i], add)
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		add(Change{Kind: "changed", Key: p, Before: jsonText(a), After: jsonText(b)})
	}
}

// idIndex indexes an array of objects by their "id" members, nil unless every element has a
// unique one.
func idIndex(arr []any) map[string]any {
	if len(arr) == 0 {
		return nil
	}
	out := make(map[string]any, len(arr))
	for _, e := range arr {
		o, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		id, ok := o["id"]
		if !ok {
			return nil
		}
		k := jsonText(id)
		if _, dup := out[k]; dup {
			return nil
		}
		out[k] = e
	}
	return out
}

func sortedKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// streamLineKeep is how much of a line CompareStream keeps to show and to split into columns;
// the rest of a longer line is only hashed.
const streamLineKeep = 64 << 10

// CompareStream diffs two outputs too large to hold in memory, reading both once, in step: line
// by line in order (the first line of CSV is its header), listing at most maxChanges changes. A
// CSV line that differs is split into columns to name those that changed, and keyed by its first
// column when both lines have the same one. Memory stays within a few lines, however long the
// outputs; rows that moved count as changed (Compare, for outputs that fit in memory, pairs
// them by key).
func CompareStream(format hostfuncs.Format, before, after io.Reader, maxChanges int) (*Diff, error) {
	d := &Diff{Format: format, MatchedBy: "row position"}
	d.Note = "outputs this large are compared line by line, in order"
	add := func(c Change) { d.add(c, maxChanges) }
	ra, rb := newLineReader(before), newLineReader(after)
	var names []string
	for n := 1; ; n++ {
		a, errA := ra.next()
		b, errB := rb.next()
		if errA != nil && errA != io.EOF {
			return nil, fmt.Errorf("read the recorded output: %w", errA)
		}
		if errB != nil && errB != io.EOF {
			return nil, fmt.Errorf("read the replayed output: %w", errB)
		}
		if errA == io.EOF && errB == io.EOF {
			return d, nil
		}
		key := fmt.Sprintf("line %d", n)
		if format == hostfuncs.FormatCSV {
			key = fmt.Sprintf("row %d", n-1)
		}
		switch {
		case errB == io.EOF:
			add(Change{Kind: "removed", Key: key, Before: a.text()})
		case errA == io.EOF:
			add(Change{Kind: "added", Key: key, After: b.text()})
		case a.sum == b.sum:
			if n == 1 && format == hostfuncs.FormatCSV {
				names = a.fields()
			}
		case n == 1 && format == hostfuncs.FormatCSV:
			d.HeaderBefore, d.HeaderAfter = nonNil(a.fields()), nonNil(b.fields())
			names = d.HeaderAfter
			if len(names) < len(d.HeaderBefore) {
				names = d.HeaderBefore
			}
		default:
			c := Change{Kind: "changed", Key: key, Before: a.text(), After: b.text()}
			if format == hostfuncs.FormatCSV {
				fa, fb := a.fields(), b.fields()
				if len(fa) > 0 && len(fb) > 0 && fa[0] == fb[0] {
					c.Key = fa[0]
				}
				for i := 0; i < max(len(fa), len(fb)); i++ {
					if i >= len(fa) || i >= len(fb) || fa[i] != fb[i] {
						c.Columns = append(c.Columns, first(nth(names, i), fmt.Sprintf("#%d", i+1)))
					}
				}
			}
			add(c)
		}
	}
}

// nth is s[i] as a one-element slice, or none.
func nth(s []string, i int) []string {
	if i < len(s) {
		return s[i : i+1]
	}
	return nil
}

// streamLine is one line of an output read by CompareStream: its first streamLineKeep bytes and
// the sha256 of all of it.
type streamLine struct {
	head []byte
	long bool
	sum  [sha256.Size]byte
}

func (l *streamLine) text() string {
	if len(l.head) > 200 || l.long {
		return string(l.head[:min(len(l.head), 200)]) + "…"
	}
	return string(l.head)
}

// fields splits the line as a CSV row (the line as it is, when it does not parse).
func (l *streamLine) fields() []string {
	r := csv.NewReader(bytes.NewReader(l.head))
	r.FieldsPerRecord = -1
	f, err := r.Read()
	if err != nil || l.long {
		return []string{string(l.head)}
	}
	return f
}

type lineReader struct{ br *bufio.Reader }

func newLineReader(r io.Reader) *lineReader { return &lineReader{br: bufio.NewReaderSize(r, 64<<10)} }

func (r *lineReader) next() (*streamLine, error) {
	l := &streamLine{}
	h := sha256.New()
	var n, text int // bytes read, and of them the line's own (without its newline)
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(chunk) > 0 {
			n += len(chunk)
			keep := bytes.TrimSuffix(chunk, []byte("\n"))
			h.Write(keep) // a last line without its newline is the same line
			text += len(keep)
			if room := streamLineKeep - len(l.head); room > 0 {
				l.head = append(l.head, keep[:min(room, len(keep))]...)
			}
			l.long = text > len(l.head)
		}
		switch {
		case err == nil:
			h.Sum(l.sum[:0])
			return l, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && n > 0:
			h.Sum(l.sum[:0])
			return l, nil
		default:
			return nil, err
		}
	}
}
