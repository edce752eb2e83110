package hostfuncs

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// The host owns the CSV format (design.md "The host owns the formats"): fields arrive decoded and
// are quoted here, so no guest can produce a broken file. Rules: RFC 4180 quoting; an empty string
// is written as "" and a NULL as nothing, as PostgreSQL's COPY … CSV does; rows end with LF.

// special marks the bytes that make a field need quotes.
var special = [256]bool{',': true, '"': true, '\n': true, '\r': true}

func needsQuote(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for _, c := range b {
		if special[c] {
			return true
		}
	}
	return false
}

// isASCII is the fast path of UTF-8 validation: most fields are ASCII.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
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

func itoa(i int) string { return strconv.Itoa(i) }

func quote(b []byte) string { return strconv.Quote(string(b)) }
