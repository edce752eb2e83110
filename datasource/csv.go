package datasource

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvLineWriter writes CSV records to w one line per Write, in the ABI's CSV
// form: RFC 4180 with LF line ends; a field is quoted when it holds a comma,
// a double quote, CR or LF, or is the empty string, with quotes doubled;
// NULL is an empty unquoted field. The line buffer is reused, so w must not
// retain it (the io.Writer contract).
type csvLineWriter struct {
	w    io.Writer
	line []byte
}

// rowStreamCSV is StreamCSV on the row path: be's query, each row formatted
// from its typed values.
func rowStreamCSV(ctx context.Context, be backend, st *statement, w io.Writer) (int64, error) {
	cw := &csvLineWriter{w: w}
	var n int64
	err := be.query(ctx, st, cw.header, func(vals []any) error {
		if err := cw.record(vals); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// header writes the column names.
func (c *csvLineWriter) header(cols []Column) error {
	c.line = c.line[:0]
	for i, col := range cols {
		if i > 0 {
			c.line = append(c.line, ',')
		}
		c.line = appendCSVText(c.line, col.Name)
	}
	return c.flush()
}

// record writes one row of typed values.
func (c *csvLineWriter) record(row []any) error {
	c.line = c.line[:0]
	for i, v := range row {
		if i > 0 {
			c.line = append(c.line, ',')
		}
		c.line = appendCSVValue(c.line, v)
	}
	return c.flush()
}

func (c *csvLineWriter) flush() error {
	c.line = append(c.line, '\n')
	_, err := c.w.Write(c.line)
	return err
}

// appendCSVValue appends one typed value: NULL empty; ints in decimal;
// floats in strconv's shortest 'g' form; bools true/false; timestamps in
// RFC 3339 UTC with trailing zeros of the fraction trimmed; bytes and text
// as text.
func appendCSVValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return x.UTC().AppendFormat(b, time.RFC3339Nano)
	case []byte:
		return appendCSVText(b, string(x))
	case string:
		return appendCSVText(b, x)
	}
	panic("datasource: unexpected value type in csv")
}

// appendCSVText appends a text field, quoted when it must be.
func appendCSVText(b []byte, s string) []byte {
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// appendCSVBytes is appendCSVText of string(v), without making the string.
func appendCSVBytes(b, v []byte) []byte {
	if len(v) != 0 && bytes.IndexAny(v, ",\"\r\n") < 0 {
		return append(b, v...)
	}
	b = append(b, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		b = append(b, v[:i+1]...)
		b = append(b, '"')
		v = v[i+1:]
	}
	b = append(b, v...)
	return append(b, '"')
}
