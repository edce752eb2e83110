package datasource

import (
	"fmt"
	"time"
)

// TimeFormat is how a SQLite source's timestamp columns are written, and so how time.Time
// parameters (such as @since and @until) are bound to compare correctly with them. SQLite has no
// timestamp type: a column compares as text or as a number, so a bound value must have the same
// form as the stored ones, or rows land on the wrong side of a slice boundary (' ' sorts before
// 'T', 'Z' after '.').
//
// The comparison rule: a time is bound in the source's form, truncated to the form's precision,
// the same truncation for both ends of every slice. Consecutive slices share a bound, so every
// stored value falls into exactly one (since, until]; a value equal to until belongs to the slice
// ending there.
type TimeFormat string

// The time formats; the zero value means TimeISO8601.
const (
	TimeISO8601        TimeFormat = "iso8601"         // 2006-01-02T15:04:05.000000Z (SQLiteTimeFormat)
	TimeISO8601Seconds TimeFormat = "iso8601-seconds" // 2006-01-02T15:04:05Z
	TimeSQLite         TimeFormat = "sqlite"          // 2006-01-02 15:04:05, what CURRENT_TIMESTAMP writes
	TimeSQLiteMillis   TimeFormat = "sqlite-ms"       // 2006-01-02 15:04:05.000
	TimeUnixEpoch      TimeFormat = "unixepoch"       // integer seconds since 1970 (INTEGER column)
	TimeUnixEpochMilli TimeFormat = "unixepoch-ms"    // integer milliseconds since 1970
)

// timeLayouts are the text layouts of the text formats.
var timeLayouts = map[TimeFormat]string{
	TimeISO8601:        SQLiteTimeFormat,
	TimeISO8601Seconds: "2006-01-02T15:04:05Z",
	TimeSQLite:         "2006-01-02 15:04:05",
	TimeSQLiteMillis:   "2006-01-02 15:04:05.000",
}

// valid reports whether f is a known format or empty.
func (f TimeFormat) valid() error {
	switch f {
	case "", TimeUnixEpoch, TimeUnixEpochMilli:
		return nil
	}
	if _, ok := timeLayouts[f]; ok {
		return nil
	}
	return fmt.Errorf("unknown time format %q", string(f))
}

// bind returns t as bound to a SQLite statement in format f: text in the format's layout, or an
// integer. Time.Format truncates, it never rounds, so both ends of a slice move the same way.
func (f TimeFormat) bind(t time.Time) any {
	t = t.UTC()
	switch f {
	case TimeUnixEpoch:
		return t.Unix()
	case TimeUnixEpochMilli:
		return t.UnixMilli()
	case "":
		f = TimeISO8601
	}
	return t.Format(timeLayouts[f])
}
