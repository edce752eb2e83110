package registry

import (
	"encoding"
	"fmt"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// The helpers in this file convert one decoded schema value v, found at p in src, to its Go
// type. Each returns ok = false when the value is absent (v == nil) or invalid; when invalid, it
// has recorded a problem.

// str accepts a string.
func (l *loader) str(src *source, p path, v any) (string, bool) {
	if v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		l.add(src, p, CodeWrongType, "must be a string, not %s", tomlType(v))
	}
	return s, ok
}

// required is str for keys that must be present and non-empty.
func (l *loader) required(src *source, p path, v any) (string, bool) {
	if v == nil {
		l.add(src, p, CodeMissing, "missing (required)")
		return "", false
	}
	s, ok := l.str(src, p, v)
	if ok && s == "" {
		l.add(src, p, CodeInvalid, "must not be empty")
		return "", false
	}
	return s, ok
}

// text accepts a string and parses it into dst, a value type of the schema; the error of its
// UnmarshalText is the problem's message.
func (l *loader) text(src *source, p path, v any, dst encoding.TextUnmarshaler) bool {
	s, ok := l.str(src, p, v)
	if !ok {
		return false
	}
	if err := dst.UnmarshalText([]byte(s)); err != nil {
		l.add(src, p, CodeInvalid, "%v", err)
		return false
	}
	return true
}

// boolean accepts true or false.
func (l *loader) boolean(src *source, p path, v any) (bool, bool) {
	if v == nil {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		l.add(src, p, CodeWrongType, "must be true or false, not %s", tomlType(v))
	}
	return b, ok
}

// integer accepts a TOML integer.
func (l *loader) integer(src *source, p path, v any) (int64, bool) {
	if v == nil {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		l.add(src, p, CodeWrongType, "must be an integer, not %s", tomlType(v))
	}
	return n, ok
}

// size accepts a size string (see [Size]) or an integer number of bytes.
func (l *loader) size(src *source, p path, v any) (int64, bool) {
	switch t := v.(type) {
	case nil:
		return 0, false
	case int64:
		if t < 0 {
			l.add(src, p, CodeInvalid, "invalid size %d: must not be negative", t)
			return 0, false
		}
		return t, true
	case string:
		var n Size
		if !l.text(src, p, t, &n) {
			return 0, false
		}
		return int64(n), true
	}
	l.add(src, p, CodeWrongType, `must be a size such as "64MiB" or an integer number of bytes, not %s`, tomlType(v))
	return 0, false
}

// memoryLimit is a size that is a whole number of wasm pages within the allowed range.
func (l *loader) memoryLimit(src *source, p path, v any) (uint64, bool) {
	n, ok := l.size(src, p, v)
	if !ok {
		return 0, false
	}
	switch {
	case n < minMemoryLimit || n > maxMemoryLimit:
		l.add(src, p, CodeInvalid, "memory_limit %s is out of range: must be from 1 MiB to 4 GiB", bytesize.Format(n))
		return 0, false
	case n%wasmPage != 0:
		l.add(src, p, CodeInvalid, "memory_limit %s is not a multiple of 64 KiB (the wasm page size)", bytesize.Format(n))
		return 0, false
	}
	return uint64(n), true
}

// timeout is a Go duration string, more than 0 and at most 24h.
func (l *loader) timeout(src *source, p path, v any) (time.Duration, bool) {
	s, ok := l.str(src, p, v)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		l.add(src, p, CodeInvalid, `invalid duration %q: use a Go duration such as "30s", "5m" or "1h30m"`, s)
		return 0, false
	case d <= 0:
		l.add(src, p, CodeInvalid, "timeout %q must be more than 0", s)
		return 0, false
	case d > maxTimeout:
		l.add(src, p, CodeInvalid, "timeout %q must be at most %v", s, maxTimeout)
		return 0, false
	}
	return d, true
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
