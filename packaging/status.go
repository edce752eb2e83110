package packaging

import (
	"strconv"
	"strings"
	"time"
)

// statusHeader is the header of data_collection_status.csv (upstream 4.3; design.md D12).
var statusHeader = [...]string{"collection_start_timestamp", "since", "until", "file_name", "status", "elapsed"}

// StatusRow is one row of a tarball's data_collection_status.csv, as text.
type StatusRow struct {
	CollectionStart string // when gathering started, Python's str(datetime), or empty
	Since           string // start of the collection's window, or empty
	Until           string // end of the collection's window, or empty
	FileName        string // "<key>.<format>"
	Status          string // "ok" or "failed"
	Elapsed         string // whole seconds gathering took, Python's timedelta.seconds
}

func (r StatusRow) fields() [6]string {
	return [6]string{r.CollectionStart, r.Since, r.Until, r.FileName, r.Status, r.Elapsed}
}

// statusRowOf returns the status row upstream writes for c.
func statusRowOf(c Collection) StatusRow {
	status := "ok"
	if c.Failed {
		status = "failed"
	}
	return StatusRow{
		CollectionStart: pyTime(c.Started),
		Since:           pyTime(c.Since),
		Until:           pyTime(c.Until),
		FileName:        c.fileName(),
		Status:          status,
		Elapsed:         pyElapsed(c.Started, c.Finished),
	}
}

// appendStatusCSV appends data_collection_status.csv for rows to dst, written as Python's csv
// module writes it: comma separated, CRLF line endings, a field quoted only when it holds a
// comma, a quote, CR or LF, quotes doubled.
func appendStatusCSV(dst []byte, rows []StatusRow) []byte {
	dst = appendCSVLine(dst, statusHeader)
	for _, r := range rows {
		dst = appendCSVLine(dst, r.fields())
	}
	return dst
}

func appendCSVLine(dst []byte, fields [6]string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !strings.ContainsAny(f, ",\"\r\n") {
			dst = append(dst, f...)
			continue
		}
		dst = append(dst, '"')
		dst = append(dst, strings.ReplaceAll(f, `"`, `""`)...)
		dst = append(dst, '"')
	}
	return append(dst, '\r', '\n')
}

// pyTime formats t as Python's str() prints a UTC-aware datetime: "2026-11-26 16:16:54.531620+00:00",
// the microseconds only when they are not zero ("2026-11-26 00:00:00+00:00"). The zero time
// (upstream's None) is the empty string. t is converted to UTC first; below a microsecond it is
// truncated, as Python has no nanoseconds.
func pyTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += "." + strconv.Itoa(1000000 + us)[1:]
	}
	return s + "+00:00"
}

// pyElapsed returns upstream's elapsed column: (finished − started).seconds of Python's timedelta,
// that is the whole seconds, floored, modulo one day (the days part is dropped; a negative
// duration of one second gives 86399). It is "0" when either time is zero, as upstream writes 0
// when a time is None.
func pyElapsed(started, finished time.Time) string {
	if started.IsZero() || finished.IsZero() {
		return "0"
	}
	// Python datetimes hold microseconds: subtract those, then floor to seconds.
	us := finished.UnixMicro() - started.UnixMicro()
	secs := us / 1e6
	if us%1e6 < 0 {
		secs--
	}
	secs %= 86400
	if secs < 0 {
		secs += 86400
	}
	return strconv.FormatInt(secs, 10)
}
