package registry

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The schema's wrappers (see schema.go) and the walk that fills them from the document
// BurntSushi/toml parsed. Why not let BurntSushi/toml fill the structs itself? It stops at the
// first value it cannot store (`limits = 5` where a table belongs), and we owe the user every
// problem at once. So the file is parsed once into its generic form, and this walk, which never
// fails, fills the schema: each value[T] converts its own value (toml.Unmarshaler), recording
// what is wrong instead of returning it, each table[T] records whether it was a table at all,
// and the walk notes every key no schema field claims, with its full path.

var (
	_ toml.Unmarshaler = (*value[string])(nil)
	_ node             = (*value[string])(nil)
	_ node             = (*table[limitsTable])(nil)
	_ node             = (*tables[collectorTable])(nil)
)

// node is a part of the schema that fills itself from the parsed value raw at p.
type node interface {
	decodeAt(d *decoder, raw any, p path)
}

// value is one leaf of the schema: a TOML value converted to T. set says the key was present;
// code and msg, when code is not "", say why raw could not be converted (v is then T's zero).
type value[T any] struct {
	v    T
	set  bool
	raw  any
	code Code
	msg  string
}

// UnmarshalTOML converts raw, as BurntSushi/toml decodes it generically, to T. It never returns
// an error: a conversion problem is recorded for validation to report with its position.
func (x *value[T]) UnmarshalTOML(raw any) error {
	*x = value[T]{set: true, raw: raw}
	x.code, x.msg = convert(&x.v, raw)
	if x.code != "" {
		var zero T
		x.v = zero
	}
	return nil
}

func (x *value[T]) decodeAt(_ *decoder, raw any, _ path) { _ = x.UnmarshalTOML(raw) }

// convert stores raw in dst, a pointer to a leaf type of the schema, or returns the code and
// message of a problem.
func convert(dst, raw any) (Code, string) {
	wrong := func(format string) (Code, string) { return CodeWrongType, fmt.Sprintf(format, tomlType(raw)) }
	switch d := dst.(type) {
	case *any:
		*d = raw
	case *string:
		s, ok := raw.(string)
		if !ok {
			return wrong("must be a string, not %s")
		}
		*d = s
	case *bool:
		b, ok := raw.(bool)
		if !ok {
			return wrong("must be true or false, not %s")
		}
		*d = b
	case *int64:
		n, ok := raw.(int64)
		if !ok {
			return wrong("must be an integer, not %s")
		}
		*d = n
	case *time.Time:
		tm, ok := raw.(time.Time)
		if !ok {
			return wrong("must be a date or a datetime such as 2027-06-01, not %s")
		}
		switch tm.Location().String() { // BurntSushi/toml's zones for TOML's local forms
		case "time-local":
			return CodeWrongType, "must be a date or a datetime such as 2027-06-01, not a time of day"
		case "date-local", "datetime-local": // no offset written: read as UTC, the same everywhere
			tm = time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)
		}
		*d = tm
	case *[]string:
		arr, ok := raw.([]any)
		if !ok {
			return wrong("must be an array of strings, not %s")
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return CodeWrongType, fmt.Sprintf("must be an array of strings; found %s", tomlType(e))
			}
			out = append(out, s)
		}
		*d = out
	case *Size:
		// A size is also an integer number of bytes.
		if n, ok := raw.(int64); ok {
			if n < 0 {
				return CodeInvalid, fmt.Sprintf("invalid size %d: must not be negative", n)
			}
			*d = Size(n)
			return "", ""
		}
		if _, ok := raw.(string); !ok {
			return wrong(`must be a size such as "64MiB" or an integer number of bytes, not %s`)
		}
		return text(d, raw)
	case encoding.TextUnmarshaler:
		return text(d, raw)
	default:
		panic(fmt.Sprintf("registry: no conversion to %T", dst)) // a schema field of a type this switch lacks
	}
	return "", ""
}

// text converts a string through the type's UnmarshalText, whose error is the message.
func text(d encoding.TextUnmarshaler, raw any) (Code, string) {
	s, ok := raw.(string)
	if !ok {
		return CodeWrongType, fmt.Sprintf("must be a string, not %s", tomlType(raw))
	}
	if err := d.UnmarshalText([]byte(s)); err != nil {
		return CodeInvalid, err.Error()
	}
	return "", ""
}

// table is a table of the schema holding T: a struct whose fields are its keys, a map of
// tables keyed by name, or a free-form map[string]any. bad says the value was not a table.
type table[T any] struct {
	t   T
	set bool
	bad bool
}

func (x *table[T]) decodeAt(d *decoder, raw any, p path) {
	x.set = true
	m, ok := raw.(map[string]any)
	if !ok {
		x.bad = true
		return
	}
	d.table(m, reflect.ValueOf(&x.t).Elem(), p)
}

// tables is an array of tables, [[NAME]].
type tables[T any] struct {
	elems []*table[T]
	bad   bool
}

func (x *tables[T]) decodeAt(d *decoder, raw any, p path) {
	var elems []any
	switch a := raw.(type) {
	case []map[string]any:
		for _, e := range a {
			elems = append(elems, e)
		}
	case []any:
		elems = a
	default:
		x.bad = true
		return
	}
	for i, e := range elems {
		t := &table[T]{}
		t.decodeAt(d, e, p.index(i))
		x.elems = append(x.elems, t)
	}
}

// unknownKey is a key no schema field claims (or claims only when case is ignored).
type unknownKey struct {
	p         path
	key       string
	wrongCase bool
	off       uint32 // where the key is written, to report keys in that order
}

// decoder walks a parsed document into the schema.
type decoder struct {
	unknown []unknownKey
}

// table fills rv, the T of a table[T], from the table m at p.
func (d *decoder) table(m map[string]any, rv reflect.Value, p path) {
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Elem().Kind() == reflect.Interface { // free-form: params, headers, mounts
			rv.Set(reflect.ValueOf(m))
			return
		}
		out := reflect.MakeMapWithSize(rv.Type(), len(m))
		for _, k := range sortedNames(m) {
			e := reflect.New(rv.Type().Elem().Elem())
			e.Interface().(node).decodeAt(d, m[k], p.key(k))
			out.SetMapIndex(reflect.ValueOf(k), e)
		}
		rv.Set(out)
	case reflect.Struct:
		t := rv.Type()
		for _, k := range sortedNames(m) {
			// As BurntSushi/toml matches keys to fields: exactly, else ignoring case; a key
			// matched only when case is ignored is still reported, keys being case-sensitive.
			field := -1
			for i := range t.NumField() {
				tag := t.Field(i).Tag.Get("toml")
				if tag == k {
					field = i
					break
				}
				if field < 0 && strings.EqualFold(tag, k) {
					field = i
				}
			}
			if field < 0 || t.Field(field).Tag.Get("toml") != k {
				d.unknown = append(d.unknown, unknownKey{p: p.key(k), key: k, wrongCase: k != strings.ToLower(k)})
			}
			if field >= 0 {
				rv.Field(field).Addr().Interface().(node).decodeAt(d, m[k], p.key(k))
			}
		}
	default:
		panic(fmt.Sprintf("registry: table of %s", rv.Type())) // a schema type this walk lacks
	}
}

func sortedNames(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ok reports a table of another TOML type (what the table must be: "a table", …) and returns
// false for it; an absent table is ok.
func (x *table[T]) ok(l *loader, src *source, p path, what string) bool {
	if x.bad {
		l.add(src, p, CodeWrongType, "must be %s", what)
		return false
	}
	return true
}

// get returns the value of x and whether it is present and valid, reporting what the
// conversion recorded as a problem at p.
func get[T any](l *loader, src *source, p path, x value[T]) (T, bool) {
	if x.code != "" {
		l.add(src, p, x.code, "%s", x.msg)
		return x.v, false
	}
	return x.v, x.set
}

// required is get for strings that must be present and non-empty.
func (l *loader) required(src *source, p path, x value[string]) (string, bool) {
	if !x.set {
		l.add(src, p, CodeMissing, "missing (required)")
		return "", false
	}
	s, ok := get(l, src, p, x)
	if ok && s == "" {
		l.add(src, p, CodeInvalid, "must not be empty")
		return "", false
	}
	return s, ok
}

// memoryLimit is a size that is a whole number of wasm pages within the allowed range.
func (l *loader) memoryLimit(src *source, p path, x value[Size]) (uint64, bool) {
	n, ok := get(l, src, p, x)
	if !ok {
		return 0, false
	}
	switch {
	case n < minMemoryLimit || n > maxMemoryLimit:
		l.add(src, p, CodeInvalid, "memory_limit %s is out of range: must be from 1 MiB to 4 GiB", n)
		return 0, false
	case n%wasmPage != 0:
		l.add(src, p, CodeInvalid, "memory_limit %s is not a multiple of 64 KiB (the wasm page size)", n)
		return 0, false
	}
	return uint64(n), true
}

// timeout is a timeout of the schema: a Go duration string, more than 0 and at most 24h.
type timeout time.Duration

// UnmarshalText parses a timeout and checks its bounds.
func (t *timeout) UnmarshalText(b []byte) error {
	s := string(b)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return fmt.Errorf(`invalid duration %q: use a Go duration such as "30s", "5m" or "1h30m"`, s)
	case d <= 0:
		return fmt.Errorf("timeout %q must be more than 0", s)
	case d > maxTimeout:
		return fmt.Errorf("timeout %q must be at most %v", s, maxTimeout)
	}
	*t = timeout(d)
	return nil
}

// dur returns the timeout at p, as get does.
func (l *loader) dur(src *source, p path, x value[timeout]) (time.Duration, bool) {
	t, ok := get(l, src, p, x)
	return time.Duration(t), ok
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a datetime"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// size returns the size at p in bytes, as get does.
func (l *loader) size(src *source, p path, x value[Size]) (int64, bool) {
	n, ok := get(l, src, p, x)
	return int64(n), ok
}
