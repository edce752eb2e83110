package gather

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/registry"
)

// maxGuardWarnings is how many rows outside the slice a warning guard logs one by one; the
// rest are counted and logged once.
const maxGuardWarnings = 10

// SliceGuard sits between an invocation and its CSV output and checks that every row's value
// in the collector's time_column lies in the slice (since, until]: rows a guest wrote and rows a
// data source streamed (db_stream_csv, COPY) alike, since both reach the output one row per
// Write. It catches a collector that ignores its bounds, or binds them in a form its database
// does not compare correctly, before the row is shipped in the wrong slice.
//
// Create one per invocation with [NewSliceGuard]; it is not safe for concurrent use. gather uses
// it for every collector with a time_column; `wasmcollector check --fixture` too.
type SliceGuard struct {
	w            io.Writer
	column       string
	since, until time.Time
	warn         bool
	log          *slog.Logger

	idx     int // the column's index, -1 before the header
	row     int64
	outside int64
	err     error // the first row outside, when failing
}

// NewSliceGuard returns a guard for collector c's slice s (c.TimeColumn must be set) that passes
// what it accepts on to w. In failing mode (the default) the first row outside the slice is
// refused: Write returns the error, which [SliceGuard.Err] keeps; in warning mode it is logged
// and passed on.
func NewSliceGuard(w io.Writer, c *registry.Collector, s Slice, log *slog.Logger) *SliceGuard {
	return &SliceGuard{w: w, column: c.TimeColumn, since: s.Since, until: s.Until,
		warn: c.TimeGuard == registry.TimeGuardWarn, log: log.With("collector", c.Key, "slice", sliceText(s)), idx: -1}
}

// Write checks one header or row, then passes it on.
func (g *SliceGuard) Write(p []byte) (int, error) {
	if g.idx < 0 {
		rec, err := csv.NewReader(bytes.NewReader(p)).Read()
		if err != nil {
			return 0, fmt.Errorf("slice guard: read the header: %w", err)
		}
		for i, name := range rec {
			if name == g.column {
				g.idx = i
			}
		}
		if g.idx < 0 {
			g.err = fmt.Errorf("slice guard: time_column %q is not in the header (%s)", g.column, strings.Join(rec, ", "))
			return 0, g.err
		}
		return g.w.Write(p)
	}
	g.row++
	if value, ok := csvField(p, g.idx); ok {
		if err := g.check(value); err != nil {
			g.outside++
			if !g.warn {
				g.err = err
				return 0, err
			}
			if g.outside <= maxGuardWarnings {
				g.log.Warn("row outside its slice", "error", err)
			}
		}
	}
	return g.w.Write(p)
}

// check returns why value is not a time in (since, until], naming the row, the value and the
// bounds; nil when it is.
func (g *SliceGuard) check(value string) error {
	t, ok := guardTime(value)
	switch {
	case !ok:
		return fmt.Errorf("slice guard: row %d: %s = %q is not a time, so not inside the slice %s", g.row, g.column, value, g.bounds())
	case (!g.since.IsZero() && !t.After(g.since)) || (!g.until.IsZero() && t.After(g.until)):
		return fmt.Errorf("slice guard: row %d: %s = %q is outside the slice %s", g.row, g.column, value, g.bounds())
	}
	return nil
}

// csvField returns field i of the CSV record p (one record, as the host writes it: fields
// separated by commas, quoted with doubled quotes inside, ending in a newline), unquoted; false
// when the record has fewer fields. It reads only as far as the field, without allocating but
// for a quoted field holding quotes: encoding/csv's reader costs more than the rest of the guard.
func csvField(p []byte, i int) (string, bool) {
	for n := 0; ; n++ {
		var field []byte
		var quotes bool
		if len(p) > 0 && p[0] == '"' {
			j := 1
			for j < len(p) {
				if p[j] == '"' {
					if j+1 < len(p) && p[j+1] == '"' {
						quotes = true
						j += 2
						continue
					}
					break
				}
				j++
			}
			field = p[1:min(j, len(p))]
			p = p[min(j+1, len(p)):]
		} else {
			end := bytes.IndexAny(p, ",\r\n")
			if end < 0 {
				end = len(p)
			}
			field, p = p[:end], p[end:]
		}
		if n == i {
			if quotes {
				return string(bytes.ReplaceAll(field, []byte(`""`), []byte(`"`))), true
			}
			return string(field), true
		}
		if len(p) == 0 || p[0] != ',' {
			return "", false
		}
		p = p[1:]
	}
}

// Err returns why the guard refused a row (a header without the column, or the first row
// outside the slice), nil when it refused none.
func (g *SliceGuard) Err() error { return g.err }

// Outside returns how many rows were outside the slice (refused or, when warning, kept).
func (g *SliceGuard) Outside() int64 { return g.outside }

// Finish logs how many rows a warning guard let through outside the slice.
func (g *SliceGuard) Finish() {
	if g.warn && g.outside > 0 {
		g.log.Warn("rows outside their slice were kept (time_guard = \"warn\")", "rows", g.outside, "column", g.column)
	}
}

func (g *SliceGuard) bounds() string {
	return "(" + formatBound(g.since) + ", " + formatBound(g.until) + "]"
}

func formatBound(t time.Time) string {
	if t.IsZero() {
		return "unset"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// guardLayouts are the text forms of a time the guard reads: RFC 3339, SQLite's and
// PostgreSQL's (COPY writes timestamptz as 2006-01-02 15:04:05.999999+00), with or without a
// fraction; without a zone a time is UTC.
var guardLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// guardTime reads a time column value: one of guardLayouts, or an integer Unix time, in seconds
// when below 10^11 (the year 5138) and in milliseconds otherwise.
func guardTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > -1e11 && n < 1e11 {
			return time.Unix(n, 0).UTC(), true
		}
		return time.UnixMilli(n).UTC(), true
	}
	for _, l := range guardLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
