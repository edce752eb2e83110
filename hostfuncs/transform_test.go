package hostfuncs

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var transformCols = []Column{{"id", "int"}, {"email", "text"}, {"at", "timestamp"}, {"ok", "bool"}, {"score", "float"}, {"raw", "bytes"}}

func TestTransformLine(t *testing.T) {
	ops, err := parseSpec([]byte(`[{"column": "email", "hash": "sha256", "salt": "s", "rename": "email_hash"},
		{"column": "raw", "drop": true}, {"column": "at", "timestamp": "2006-01-02"}]`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bindSpec(ops, transformCols)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(appendCSVRow(nil, tr.header)); got != "id,email_hash,at,ok,score\n" {
		t.Fatalf("header %q", got)
	}
	at := time.Date(2026, 11, 25, 23, 59, 0, 0, time.FixedZone("X", 3600))
	sum := sha256.Sum256([]byte("sa,b"))
	tests := []struct {
		row  []any
		want string
	}{
		{[]any{int64(-1), "a,b", at, true, 1e21, []byte("x")}, "-1," + hex.EncodeToString(sum[:]) + ",2026-11-25,true,1e+21\n"},
		{[]any{nil, nil, nil, nil, nil, nil}, ",,,,\n"},
	}
	for _, tc := range tests {
		line, err := tr.line(tc.row, transformCols, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(line) != tc.want {
			t.Errorf("line %q, want %q", line, tc.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := tr.line(tests[0].row, transformCols, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 { // the SHA-256 state
		t.Errorf("%.0f allocations per row", allocs)
	}
	if _, err := tr.line([]any{int64(1), "x", "not a time", true, 1.0, nil}, transformCols, 7); err == nil ||
		!strings.Contains(err.Error(), `row 7 column "at": string is not a timestamp`) {
		t.Errorf("a text value in a timestamp column: %v", err)
	}
}

// FuzzTransformSpec parses any spec and, when it is accepted, binds it to a fixed result and
// transforms a row: nothing panics, an accepted spec gives a header and lines that any RFC 4180
// reader reads back with the same field count.
func FuzzTransformSpec(f *testing.F) {
	f.Add([]byte(`[{"column": "email", "hash": "sha256", "salt": "s"}, {"column": "raw", "drop": true}]`), "a\"b\n")
	f.Add([]byte(`[{"column": "at", "timestamp": "Mon Jan _2 15:04:05 MST 2006"}, {"column": "id", "rename": "x,y"}]`), "")
	f.Add([]byte(`[]`), "\xff")
	f.Add([]byte(`[{"column": "id", "rename": "email"}]`), "x")
	f.Fuzz(func(t *testing.T, spec []byte, text string) {
		ops, err := parseSpec(spec)
		if err != nil {
			return
		}
		tr, err := bindSpec(ops, transformCols)
		if err != nil {
			return
		}
		header := appendCSVRow(nil, tr.header)
		rec, err := csv.NewReader(strings.NewReader(string(header))).Read()
		if err != nil || len(rec) != len(tr.keep) {
			t.Fatalf("header %q reads back as %q (%v)", header, rec, err)
		}
		line, err := tr.line([]any{int64(7), text, time.Unix(1e9, 5), false, 0.5, []byte(text)}, transformCols, 1)
		if err != nil {
			if utf8.ValidString(text) {
				t.Fatalf("valid row refused: %v", err)
			}
			return
		}
		if rec, err := csv.NewReader(strings.NewReader(string(line))).Read(); err != nil || len(rec) != len(tr.keep) {
			t.Fatalf("line %q reads back as %q (%v)", line, rec, err)
		}
	})
}
