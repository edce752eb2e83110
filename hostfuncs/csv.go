package hostfuncs

import (
	"bytes"
	"strconv"
)

// The host owns the CSV format (design.md "The host owns the formats"): fields arrive decoded and
// are quoted here, so no guest can produce a broken file. Rules: RFC 4180 quoting; an empty string
// is written as "" and a NULL as nothing, as PostgreSQL's COPY … CSV does; rows end with LF.

func needsQuote(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for _, c := range b {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

func appendCSVRow(dst []byte, fields []field) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if f.null {
			continue
		}
		if !needsQuote(f.b) {
			dst = append(dst, f.b...)
			continue
		}
		dst = append(dst, '"')
		for rest := f.b; ; {
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				dst = append(dst, rest...)
				break
			}
			dst = append(dst, rest[:j+1]...)
			dst = append(dst, '"')
			rest = rest[j+1:]
		}
		dst = append(dst, '"')
	}
	return append(dst, '\n')
}

// csvRowSize returns len(appendCSVRow(nil, fields)) without encoding.
func csvRowSize(fields []field) int64 {
	n := int64(len(fields)) // separators plus the newline
	for _, f := range fields {
		if f.null {
			continue
		}
		n += int64(len(f.b))
		if needsQuote(f.b) {
			n += 2 + int64(bytes.Count(f.b, []byte{'"'}))
		}
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }

func quote(b []byte) string { return strconv.Quote(string(b)) }
