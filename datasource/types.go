package datasource

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// ColumnType is the type of a result column, and so of its non-NULL values.
type ColumnType string

// The column types and the Go type of their values in a row.
const (
	TypeInt       ColumnType = "int"       // int64
	TypeFloat     ColumnType = "float"     // float64
	TypeText      ColumnType = "text"      // string
	TypeBool      ColumnType = "bool"      // bool
	TypeTimestamp ColumnType = "timestamp" // time.Time in UTC
	TypeBytes     ColumnType = "bytes"     // []byte
)

// Column describes one result column.
type Column struct {
	Name string     // as the database names it
	Type ColumnType // the type of the column's non-NULL values
}

// SQLiteTimeFormat is the layout of timestamps stored in SQLite text columns,
// and of time.Time parameters bound to SQLite statements: UTC, microseconds,
// fixed width, so that text comparison orders them by time.
const SQLiteTimeFormat = "2006-01-02T15:04:05.000000Z"

// sqliteTimeLayouts are the stored forms a SQLite timestamp column may hold;
// values without a zone are UTC.
var sqliteTimeLayouts = []string{
	time.RFC3339Nano, // covers SQLiteTimeFormat
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999", // SQLite's datetime() and CURRENT_TIMESTAMP
	"2006-01-02",
}

// pgTimeLayouts are PostgreSQL's ISO output forms of timestamptz (under
// TimeZone UTC), timestamp and date.
var pgTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s string, layouts []string) (time.Time, error) {
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", s)
}

// sqliteColumnType maps a declared column type to a ColumnType, following
// SQLite's affinity rules where they apply; ok is false for an empty
// declaration (an expression), whose type comes from its first value.
func sqliteColumnType(decl string) (t ColumnType, ok bool) {
	d := strings.ToUpper(decl)
	switch {
	case d == "":
		return TypeText, false
	case strings.Contains(d, "INT"):
		return TypeInt, true
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"),
		strings.Contains(d, "NUMERIC"), strings.Contains(d, "DECIMAL"):
		return TypeFloat, true
	case strings.Contains(d, "BOOL"):
		return TypeBool, true
	case strings.Contains(d, "TIME"), strings.Contains(d, "DATE"):
		return TypeTimestamp, true
	case strings.Contains(d, "BLOB"):
		return TypeBytes, true
	default:
		return TypeText, true
	}
}

// dynamicColumnType is the type of a column without a declared type, from
// the first value the driver returned for it.
func dynamicColumnType(v any) ColumnType {
	switch v.(type) {
	case int64:
		return TypeInt
	case float64:
		return TypeFloat
	case []byte:
		return TypeBytes
	case time.Time:
		return TypeTimestamp
	default:
		return TypeText
	}
}

// sqliteValue converts a value the SQLite driver returned to the Go type of
// column type t.
func sqliteValue(t ColumnType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case TypeInt:
		if x, ok := v.(int64); ok {
			return x, nil
		}
	case TypeFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	case TypeBool:
		if x, ok := v.(int64); ok && (x == 0 || x == 1) {
			return x == 1, nil
		}
	case TypeTimestamp:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			return parseTime(x, sqliteTimeLayouts)
		case []byte:
			return parseTime(string(x), sqliteTimeLayouts)
		}
	case TypeBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case TypeText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return nil, fmt.Errorf("%s value in a column of type %s", sqliteStorageClass(v), t)
}

func sqliteStorageClass(v any) string {
	switch v.(type) {
	case int64:
		return "integer"
	case float64:
		return "real"
	case []byte:
		return "blob"
	default:
		return "text"
	}
}

// pgColumnType maps a PostgreSQL type OID to a ColumnType. Every type not
// listed is text, in the server's text output form.
func pgColumnType(oid uint32) ColumnType {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return TypeInt
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		return TypeFloat
	case pgtype.BoolOID:
		return TypeBool
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
		return TypeTimestamp
	case pgtype.ByteaOID:
		return TypeBytes
	default:
		return TypeText
	}
}

// pgValue decodes a PostgreSQL text-format value (nil for NULL) of column
// type t; the session runs with DateStyle ISO, TimeZone UTC and bytea_output
// hex.
func pgValue(t ColumnType, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch t {
	case TypeInt:
		return strconv.ParseInt(string(raw), 10, 64)
	case TypeFloat:
		return strconv.ParseFloat(string(raw), 64)
	case TypeBool:
		switch string(raw) {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, fmt.Errorf("unrecognised boolean %q", raw)
	case TypeTimestamp:
		return parseTime(string(raw), pgTimeLayouts)
	case TypeBytes:
		s, ok := strings.CutPrefix(string(raw), `\x`)
		if !ok {
			return nil, fmt.Errorf("bytea not in hex form")
		}
		return hex.DecodeString(s)
	default:
		return string(raw), nil
	}
}

// valueSize is what a value counts against Config.MaxBytes: the length of
// text and bytes, 8 for numbers and timestamps, 1 for a bool, 0 for NULL.
func valueSize(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return int64(len(x))
	case []byte:
		return int64(len(x))
	case bool:
		return 1
	default:
		return 8
	}
}

// checkParam reports whether v is of a supported parameter type.
func checkParam(v any) error {
	switch v.(type) {
	case nil, bool, int64, float64, string, time.Time, []byte:
		return nil
	}
	return fmt.Errorf("unsupported type %T (want nil, bool, int64, float64, string, time.Time or []byte)", v)
}

// sqliteParam converts a parameter to the value bound to SQLite, times in format f.
func sqliteParam(v any, f TimeFormat) any {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return f.bind(x)
	default:
		return v
	}
}

// pgParam encodes a parameter in PostgreSQL's text format with the type OID
// it is sent as; strings go untyped (OID 0) so that the server infers their
// type from the context, as it does for a quoted literal. null reports NULL.
func pgParam(v any) (text string, oid uint32, null bool) {
	switch x := v.(type) {
	case nil:
		return "", 0, true
	case bool:
		return strconv.FormatBool(x), pgtype.BoolOID, false
	case int64:
		return strconv.FormatInt(x, 10), pgtype.Int8OID, false
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN", pgtype.Float8OID, false
		case math.IsInf(x, 1):
			return "Infinity", pgtype.Float8OID, false
		case math.IsInf(x, -1):
			return "-Infinity", pgtype.Float8OID, false
		}
		return strconv.FormatFloat(x, 'g', -1, 64), pgtype.Float8OID, false
	case time.Time:
		// Microseconds, truncated, as PostgreSQL stores them.
		return x.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), pgtype.TimestamptzOID, false
	case []byte:
		return `\x` + hex.EncodeToString(x), pgtype.ByteaOID, false
	case string:
		return x, 0, false
	}
	panic(fmt.Sprintf("datasource: unchecked parameter type %T", v))
}

// pgLiteral renders a parameter as a self-contained SQL literal for a
// statement that cannot take bound parameters (COPY), typed as pgParam sends
// it: ('text'::type), or (NULL). The surrounding parentheses keep it one token
// whatever precedes or follows it. The literal relies on
// standard_conforming_strings being on, which the transaction sets. ok is
// false for a string PostgreSQL would not accept (a NUL byte, invalid UTF-8):
// the caller then binds it instead, and gets the server's error.
func pgLiteral(v any) (lit string, ok bool) {
	text, oid, null := pgParam(v)
	if null {
		return "(NULL)", true
	}
	if strings.IndexByte(text, 0) >= 0 || !utf8.ValidString(text) {
		return "", false
	}
	quoted := "'" + strings.ReplaceAll(text, "'", "''") + "'"
	switch oid {
	case 0:
		return "(" + quoted + ")", true
	case pgtype.BoolOID:
		return "(" + quoted + "::boolean)", true
	case pgtype.Int8OID:
		return "(" + quoted + "::bigint)", true
	case pgtype.Float8OID:
		return "(" + quoted + "::double precision)", true
	case pgtype.TimestamptzOID:
		return "(" + quoted + "::timestamptz)", true
	case pgtype.ByteaOID:
		return "(" + quoted + "::bytea)", true
	}
	return "", false
}
