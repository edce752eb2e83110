package hostfuncs

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCSVQuoting(t *testing.T) {
	null := field{null: true}
	s := func(v string) field { return field{b: []byte(v)} }
	tests := []struct {
		name   string
		fields []field
		want   string
	}{
		{"plain", []field{s("a"), s("b")}, "a,b\n"},
		{"comma", []field{s("a,b"), s("c")}, "\"a,b\",c\n"},
		{"quote doubled", []field{s(`say "hi"`)}, "\"say \"\"hi\"\"\"\n"},
		{"newline", []field{s("line1\nline2")}, "\"line1\nline2\"\n"},
		{"carriage return", []field{s("a\rb")}, "\"a\rb\"\n"},
		{"empty string is quoted", []field{s(""), s("x")}, "\"\",x\n"},
		{"null is empty", []field{null, s("x"), null}, ",x,\n"},
		{"spaces kept unquoted", []field{s(" a "), s("b")}, " a ,b\n"},
		{"unicode", []field{s("zürich"), s("東京")}, "zürich,東京\n"},
		{"only quotes", []field{s(`""`)}, "\"\"\"\"\"\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendCSVRow(nil, tt.fields)
			require.Equal(t, tt.want, string(got))
			// Any RFC 4180 reader gets the values back (NULL and "" both read as empty).
			rec, err := csv.NewReader(strings.NewReader(string(got))).Read()
			require.NoError(t, err)
			require.Len(t, rec, len(tt.fields))
			for i, f := range tt.fields {
				require.Equal(t, string(f.b), rec[i])
			}
		})
	}
}

func TestParseRow(t *testing.T) {
	row := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	u32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	tests := []struct {
		name   string
		in     []byte
		want   int
		fields []string
		reason string
	}{
		{"two fields", row(u32(2), u32(1), []byte("a"), u32(0)), 2, []string{"a", ""}, ""},
		{"null", row(u32(1), u32(0xFFFFFFFF)), 1, []string{"<null>"}, ""},
		{"wrong count", row(u32(3)), 2, nil, "row has 3 fields, header has 2"},
		{"no count", []byte{1, 0}, -1, nil, "batch ends inside a row (no field count)"},
		{"count bomb", row(u32(0x7fffffff)), -1, nil, "row declares 2147483647 fields, more than the batch holds"},
		{"length past end", row(u32(1), u32(100), []byte("abc")), 1, nil, "field 1 of 100 bytes runs past the end of the batch"},
		{"not utf8", row(u32(1), u32(2), []byte{0xff, 0xfe}), 1, nil, "field 1 is not UTF-8"},
		{"ends inside field header", row(u32(2), u32(4), []byte("abcd"), []byte{0}), 2, nil, "batch ends inside field 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, reason := parseRow(tt.in, tt.want)
			require.Equal(t, tt.reason, reason)
			if tt.reason != "" {
				return
			}
			var vals []string
			for _, f := range got {
				if f.null {
					vals = append(vals, "<null>")
				} else {
					vals = append(vals, string(f.b))
				}
			}
			require.Equal(t, tt.fields, vals)
		})
	}
}
