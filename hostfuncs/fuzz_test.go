package hostfuncs

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// fieldList encodes rows in the ABI field-list encoding (ABI.md "Data encodings"); a nil field
// is NULL.
func fieldList(rows ...[]*string) []byte {
	var b []byte
	for _, row := range rows {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(row)))
		for _, f := range row {
			if f == nil {
				b = binary.LittleEndian.AppendUint32(b, abi.NullField)
				continue
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(len(*f)))
			b = append(b, *f...)
		}
	}
	return b
}

func str(s string) *string { return &s }

// FuzzFieldList decodes what a guest passes to csv_header and csv_rows, the way those functions
// do, from any bytes: decoding never panics or reads past the batch; a decoded row has the
// header's field count and valid UTF-8; the CSV the host writes for it is one well-formed record
// that any RFC 4180 reader gives back field for field; a header that passes the checks has
// distinct, non-empty, non-NULL names.
func FuzzFieldList(f *testing.F) {
	f.Add(uint8(2), fieldList([]*string{str("a"), str("b")}, []*string{nil, str("")}))
	f.Add(uint8(1), fieldList([]*string{str("line1\nline2")}, []*string{str(`say "hi", ok`)}, []*string{str("a\r\nb")}))
	f.Add(uint8(3), fieldList([]*string{str("zürich"), str("東京"), nil}))
	f.Add(uint8(1), fieldList([]*string{str("\xff")}))
	f.Add(uint8(2), []byte{2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})   // a field longer than the batch
	f.Add(uint8(0), []byte{0xff, 0xff, 0xff, 0xff})               // a field count larger than the batch
	f.Add(uint8(255), fieldList([]*string{str("a"), str("a")}))   // a repeated header name
	f.Add(uint8(1), append(fieldList([]*string{str("x")}), 1, 0)) // a batch ending inside a row
	f.Fuzz(func(t *testing.T, want uint8, batch []byte) {
		// As csv_header: one row of any field count, then the names' checks.
		names, rest, reason := parseRow(batch, -1)
		if reason == "" && len(rest) == 0 && checkHeaderNames(names) == "" {
			seen := map[string]bool{}
			for _, n := range names {
				if n.null || len(n.b) == 0 || seen[string(n.b)] {
					t.Fatalf("header names %v passed the checks", names)
				}
				seen[string(n.b)] = true
			}
			checkRecord(t, names)
		}
		// As csv_rows: rows of the header's field count, at least 1 (csv_rows refuses rows
		// before a header, and a header has columns), until the batch ends.
		cols := int(want) + 1
		var fields []field
		for rest := batch; len(rest) > 0; {
			var reason string
			before := len(rest)
			fields, rest, reason = parseRowInto(fields[:0], rest, cols)
			if reason != "" {
				return
			}
			if len(rest) >= before {
				t.Fatalf("a row consumed nothing: %d bytes left of %d", len(rest), before)
			}
			if len(fields) != cols {
				t.Fatalf("row has %d fields, want %d", len(fields), cols)
			}
			checkRecord(t, fields)
		}
	})
}

// checkRecord checks the CSV line written for fields: one line ending in LF that encoding/csv
// reads back as the fields (NULL and "" both read as empty; encoding/csv drops the CR of a CRLF
// inside a quoted field, and skips the empty line of a row of one NULL).
func checkRecord(t *testing.T, fields []field) {
	t.Helper()
	line := appendCSVRow(nil, fields)
	if !bytes.HasSuffix(line, []byte("\n")) || !utf8.Valid(line) {
		t.Fatalf("CSV line %q", line)
	}
	if len(fields) == 1 && fields[0].null {
		if string(line) != "\n" {
			t.Fatalf("a lone NULL is written as %q", line)
		}
		return
	}
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = len(fields)
	rec, err := r.Read()
	if err != nil {
		t.Fatalf("CSV line %q of fields %v: %v", line, fields, err)
	}
	if _, err := r.Read(); err == nil {
		t.Fatalf("CSV line %q of one row reads as more than one record", line)
	}
	for i, f := range fields {
		if want := strings.ReplaceAll(string(f.b), "\r\n", "\n"); rec[i] != want {
			t.Fatalf("field %d reads back as %q, want %q (line %q)", i+1, rec[i], want, line)
		}
	}
}

// FuzzDecodeParams decodes the query parameters a guest passes to db_query and db_stream_csv from
// any bytes: never a panic, and an accepted object holds only the scalar types the data sources
// bind (nil, bool, string, int64, float64).
func FuzzDecodeParams(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"a": 1, "b": 1.5, "c": "x", "d": null, "e": true}`, `{"big": 1e400}`, `{"n": 9223372036854775808}`,
		`{"a": [1]}`, `{"a": {}}`, `[]`, `{"a": 1} {}`, `{"a": "\ud800"}`, "{\"\xff\": 1}", `  `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		params, err := decodeParams(b)
		if err != nil {
			return
		}
		for k, v := range params {
			switch v.(type) {
			case nil, bool, string, int64, float64:
			default:
				t.Fatalf("parameter %q has type %T", k, v)
			}
		}
	})
}
