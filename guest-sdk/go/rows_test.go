package collector

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// encodeHeader builds a db_query_rows header with the abi package's layout.
func encodeHeader(cols ...Column) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(cols)))
	for _, c := range cols {
		tag := byte(0)
		for t := byte(abi.TagInt); t <= abi.TagBytes; t++ {
			if tagName(t) == c.Type {
				tag = t
			}
		}
		b = append(b, tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Name)))
		b = append(b, c.Name...)
	}
	return b
}

// encodePage builds a page with the host's encoder (abi.AppendRowValue).
func encodePage(t testing.TB, rows ...[]any) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rows)))
	for _, r := range rows {
		for _, v := range r {
			var ok bool
			if b, ok = abi.AppendRowValue(b, v); !ok {
				t.Fatalf("cannot encode %T", v)
			}
		}
	}
	return b
}

// pages serves the given pages, then the end.
func pages(ps ...[]byte) func([]byte) ([]byte, error) {
	return func(buf []byte) ([]byte, error) {
		if len(ps) == 0 {
			return buf[:0], nil
		}
		p := ps[0]
		ps = ps[1:]
		return append(buf[:0], p...), nil
	}
}

var allTypes = []Column{{"i", "int"}, {"f", "float"}, {"t", "text"}, {"b", "bool"}, {"ts", "timestamp"}, {"raw", "bytes"}}

func TestRowsRoundTrip(t *testing.T) {
	ts := time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)
	want := [][]any{
		{nil, nil, nil, nil, nil, nil},
		{int64(math.MinInt64), math.Inf(-1), "", false, ts, []byte{}},
		{int64(math.MaxInt64), 5e-324, "héllo, \"x\"\n", true, time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), []byte{0, 0xff}},
	}
	hdr, err := decodeHeader(encodeHeader(allTypes...))
	if err != nil {
		t.Fatal(err)
	}
	if len(hdr) != len(allTypes) || hdr[4] != allTypes[4] {
		t.Fatalf("header %v", hdr)
	}
	// The rows split over two pages.
	r := newRows(hdr, pages(encodePage(t, want[:2]...), encodePage(t, want[2:]...)))
	var got [][]any
	for r.Next() {
		row := make([]any, len(hdr))
		dest := make([]any, len(row))
		for i := range dest {
			dest[i] = &row[i]
		}
		if err := r.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		got = append(got, row)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			w, g := want[i][j], got[i][j]
			if wt, ok := w.(time.Time); ok {
				if !wt.Equal(g.(time.Time)) {
					t.Errorf("row %d col %d: %v, want %v", i, j, g, w)
				}
				continue
			}
			if describeValue(w) != describeValue(g) {
				t.Errorf("row %d col %d: %#v, want %#v", i, j, g, w)
			}
		}
	}
	if r.Next() {
		t.Fatal("Next after the end")
	}
}

func describeValue(v any) string {
	b, _ := appendValue(nil, v)
	switch v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "bytes:" + string(b)
	}
	return string(b)
}

func TestRowsScanRules(t *testing.T) {
	r := newRows(allTypes, pages(encodePage(t,
		[]any{int64(7), 1.5, "x", true, time.Unix(1, 2).UTC(), []byte("ab")},
		[]any{nil, nil, nil, nil, nil, nil})))
	if !r.Next() {
		t.Fatal(r.Err())
	}
	var (
		i   int64
		f   float64
		s   string
		b   bool
		ts  time.Time
		raw = make([]byte, 0, 16)
	)
	if err := r.Scan(&i, &f, &s, &b, &ts, &raw); err != nil {
		t.Fatal(err)
	}
	if i != 7 || f != 1.5 || s != "x" || !b || !ts.Equal(time.Unix(1, 2)) || string(raw) != "ab" || cap(raw) != 16 {
		t.Fatalf("scanned %v %v %v %v %v %q (cap %d)", i, f, s, b, ts, raw, cap(raw))
	}
	if err := r.Scan(&s, &f, &s, &b, &ts, &raw); err != nil || s != "x" {
		t.Fatalf("an int into *string is its text: %v", err)
	}
	if err := r.Scan(&i, &f, &i, &b, &ts, &raw); err == nil || !strings.Contains(err.Error(), `column "t": text into *int64`) {
		t.Fatalf("text into *int64: %v", err)
	}
	if err := r.Scan(&i); err == nil {
		t.Fatal("a short destination list must fail")
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	if err := r.Scan(&i, &f, &s, &b, &ts, &raw); err == nil || !strings.Contains(err.Error(), "NULL into *int64") {
		t.Fatalf("NULL into *int64: %v", err)
	}
	for c := range allTypes {
		if !r.IsNull(c) {
			t.Errorf("column %d not NULL", c)
		}
	}
}

// TestRowsAllocations: reading numbers, booleans and timestamps, and copying rows to a CSV
// writer, allocates nothing per row.
func TestRowsAllocations(t *testing.T) {
	row := []any{int64(7), 1.5, "some text", true, time.Unix(1, 2).UTC(), []byte("ab")}
	var rows [][]any
	for range 200 {
		rows = append(rows, row)
	}
	page := encodePage(t, rows...)
	r := newRows(allTypes, pages())
	w, _ := newTestCSV(t, BatchSize, "i", "f", "t", "b", "ts", "raw")
	// The destinations escape (they go through interfaces), so they live outside the loop, as
	// with database/sql.
	var (
		raw []byte
		i   int64
		f   float64
		b   bool
		ts  time.Time
	)
	allocs := testing.AllocsPerRun(20, func() {
		r.page, r.pos, r.left, r.done = append(r.buf[:0], page...), 4, 200, false
		r.buf = r.page[:0]
		for r.Next() {
			if err := r.Scan(&i, &f, &raw, &b, &ts, &raw); err != nil {
				t.Fatal(err)
			}
			if err := w.CopyRow(r); err != nil {
				t.Fatal(err)
			}
		}
		r.fetch = pages()
	})
	if allocs > 5 { // a few per page (the page buffer, the Scan argument list), none per row
		t.Fatalf("%.1f allocations per 200 rows", allocs)
	}
}

func TestRowsMalformedPages(t *testing.T) {
	good := encodePage(t, []any{int64(1), "abc"})
	cols := []Column{{"a", "int"}, {"b", "text"}}
	tests := []struct {
		name string
		page []byte
		want string
	}{
		{"short count", []byte{1, 0}, "page of 2 bytes"},
		{"no rows", []byte{0, 0, 0, 0}, "no rows"},
		{"cut in a value", good[:len(good)-1], "ends inside a row"},
		{"cut in a length", good[:15], "ends inside a row"},
		{"unknown tag", append(append([]byte{}, good[:4]...), 9), "unknown value tag 9"},
		{"trailing bytes", append(append([]byte{}, good...), 0), "after its last row"},
		{"huge text length", append(append([]byte{}, good[:13]...), abi.TagText, 0xff, 0xff, 0xff, 0xff), "ends inside a row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRows(cols, pages(tc.page))
			for r.Next() {
			}
			if r.Err() == nil || !strings.Contains(r.Err().Error(), tc.want) {
				t.Fatalf("error %v, want %q", r.Err(), tc.want)
			}
		})
	}
	r := newRows(cols, func([]byte) ([]byte, error) { return nil, errors.New("host says no") })
	if r.Next() || r.Err() == nil {
		t.Fatal("a fetch error must end the rows")
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{1, 0, 0, 0},
		{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0},
		{1, 0, 0, 0, 0, 1, 0, 0, 0, 'a'},       // type 0
		{1, 0, 0, 0, 1, 9, 0, 0, 0, 'a'},       // name longer than the header
		{1, 0, 0, 0, 1, 1, 0, 0, 0, 'a', 'b'},  // trailing byte
		{2, 0, 0, 0, 1, 1, 0, 0, 0, 'a', 7, 0}, // cut
	} {
		if _, err := decodeHeader(b); err == nil {
			t.Errorf("header %x accepted", b)
		}
	}
}

// FuzzRowsPage feeds arbitrary headers and pages to the decoder, Scan and CopyRow: they return
// errors, never panic, and never read past the page.
func FuzzRowsPage(f *testing.F) {
	f.Add(encodeHeader(allTypes...), encodePage(f, []any{int64(-1), 2.5, "x,y", false, time.Unix(0, 5).UTC(), []byte{1}}, []any{nil, nil, nil, nil, nil, nil}))
	f.Add(encodeHeader(Column{"a", "text"}), []byte{1, 0, 0, 0, abi.TagText, 3, 0, 0, 0, 'a', 'b'})
	f.Add([]byte{0, 0, 0, 0}, []byte{5, 0, 0, 0})
	f.Fuzz(func(t *testing.T, header, page []byte) {
		cols, err := decodeHeader(header)
		if err != nil {
			return
		}
		r := newRows(cols, pages(page, page))
		rec := &recorder{}
		w := newCSV(rec, BatchSize)
		names := make([]string, len(cols))
		for i := range names {
			names[i] = "c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		}
		if len(cols) > 0 {
			_ = w.Header(names...)
		}
		dest := make([]any, len(cols))
		vals := make([]any, len(cols))
		for i := range dest {
			dest[i] = &vals[i]
		}
		for n := 0; r.Next() && n < 10000; n++ {
			_ = r.Scan(dest...)
			for i := range cols {
				_, _, _, _, _ = r.Int64(i), r.Float64(i), r.Bool(i), r.Time(i), r.Text(i)
			}
			_ = w.CopyRow(r)
		}
	})
}

// BenchmarkRowsCopy decodes pages of job-event-like rows (23 values) and copies each row to a CSV
// writer: the guest's share of a per-row collector, here natively.
func BenchmarkRowsCopy(b *testing.B) {
	ts := time.Date(2026, 11, 25, 0, 0, 6, 123456000, time.UTC)
	row := []any{int64(123456), ts, ts, ts, "0b8f2a7e-5c1d-4c3e-9f5a-2d7e1b6c9a40", "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
		"runner_on_ok", "ansible.builtin.command", "ansible.builtin.command", "", false, true, "site.yml", "all",
		"Gathering Facts", nil, int64(4242), int64(17), "web-01.example.com", ts, ts, 1.25, int64(0)}
	cols := make([]Column, len(row))
	for i := range cols {
		cols[i] = Column{Name: "c" + strconv.Itoa(i), Type: "text"}
	}
	var rows [][]any
	for range 200 {
		rows = append(rows, row)
	}
	page := encodePage(b, rows...)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	w := newCSV(discard{}, BatchSize)
	if err := w.Header(names...); err != nil {
		b.Fatal(err)
	}
	r := newRows(cols, pages())
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		r.page, r.pos, r.left, r.done = append(r.buf[:0], page...), 4, 200, false
		r.buf = r.page[:0]
		for r.Next() {
			if err := w.CopyRow(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "rows/s")
}

type discard struct{}

func (discard) header([]byte) error { return nil }
func (discard) rows([]byte) error   { return nil }
func (discard) fail(string)         {}
