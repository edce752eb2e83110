package cmdutil

import (
	"time"
)

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime reads a time flag: RFC 3339, or a date or date-time without a zone, taken as UTC.
func ParseTime(flag, s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, BadInput("--%s %q: not a time (use RFC 3339 like 2026-11-26T08:00:00Z, or a date like 2026-11-26, UTC)", flag, s)
}
