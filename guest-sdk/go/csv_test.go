package collector

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func newTestCSV(t *testing.T, limit int, header ...string) (*CSV, *recorder) {
	t.Helper()
	rec := &recorder{}
	w := newCSV(rec, limit)
	if len(header) > 0 {
		if err := w.Header(header...); err != nil {
			t.Fatalf("Header: %v", err)
		}
	}
	return w, rec
}

func TestHeaderEncoding(t *testing.T) {
	w, rec := newTestCSV(t, BatchSize, "id", "name, quoted \"x\"", "")
	if w.columns != 3 {
		t.Fatalf("columns = %d, want 3", w.columns)
	}
	if len(rec.headers) != 1 {
		t.Fatalf("got %d headers, want 1", len(rec.headers))
	}
	got, err := decodeBatch(rec.headers[0])
	if err != nil {
		t.Fatal(err)
	}
	want := [][]field{{txt("id"), txt("name, quoted \"x\""), txt("")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("header = %v, want %v", got, want)
	}
}

func TestFieldListRoundTrip(t *testing.T) {
	long := strings.Repeat("é,\"\n", 5000)
	ts := time.Date(2025, 3, 1, 12, 30, 0, 250_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		write func(w *CSV) error
		want  []field
	}{
		{"row", func(w *CSV) error { return w.Row("1", "web-001", "a, \"b\"") },
			[]field{txt("1"), txt("web-001"), txt("a, \"b\"")}},
		{"row empty strings", func(w *CSV) error { return w.Row("", "", "") },
			[]field{txt(""), txt(""), txt("")}},
		{"row long unicode", func(w *CSV) error { return w.Row(long, "ü", "\r\n") },
			[]field{txt(long), txt("ü"), txt("\r\n")}},
		{"values with null", func(w *CSV) error { return w.Values(nil, "", 42) },
			[]field{null, txt(""), txt("42")}},
		{"values mixed", func(w *CSV) error { return w.Values(int64(-7), 1.5, ts) },
			[]field{txt("-7"), txt("1.5"), txt("2025-03-01T11:30:00.25Z")}},
		{"fields", func(w *CSV) error {
			w.FieldInt(-3)
			w.FieldNull()
			w.Field("x")
			return w.EndRow()
		}, []field{txt("-3"), null, txt("x")}},
		{"typed fields", func(w *CSV) error {
			w.FieldUint(18446744073709551615)
			w.FieldBool(true)
			w.FieldFloat(0.1)
			return w.EndRow()
		}, []field{txt("18446744073709551615"), txt("true"), txt("0.1")}},
		{"bytes and time fields", func(w *CSV) error {
			w.FieldBytes(nil)
			w.FieldBytes([]byte("abc"))
			w.FieldTime(ts)
			return w.EndRow()
		}, []field{txt(""), txt("abc"), txt("2025-03-01T11:30:00.25Z")}},
		{"field value", func(w *CSV) error {
			w.FieldValue(nil)
			w.FieldValue(true)
			w.FieldValue([]byte{})
			return w.EndRow()
		}, []field{null, txt("true"), txt("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, rec := newTestCSV(t, BatchSize, "a", "b", "c")
			if err := tt.write(w); err != nil {
				t.Fatalf("write: %v", err)
			}
			if len(rec.batches) != 0 {
				t.Fatalf("sent %d batches before Flush", len(rec.batches))
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			got, err := rec.allRows()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]field{tt.want}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("rows =\n%swant\n%s", formatRows(got), formatRows(want))
			}
			if w.Rows() != 1 {
				t.Fatalf("Rows() = %d, want 1", w.Rows())
			}
		})
	}
}

func TestManyRowsRoundTrip(t *testing.T) {
	w, rec := newTestCSV(t, BatchSize, "id", "name", "note")
	var want [][]field
	for i := range 20000 {
		switch i % 3 {
		case 0:
			if err := w.Row(string(rune('a'+i%26)), "row", strings.Repeat("x", i%97)); err != nil {
				t.Fatal(err)
			}
			want = append(want, []field{txt(string(rune('a' + i%26))), txt("row"), txt(strings.Repeat("x", i%97))})
		case 1:
			if err := w.Values(i, nil, "n"); err != nil {
				t.Fatal(err)
			}
			want = append(want, []field{txt(itoa(i)), null, txt("n")})
		default:
			w.FieldInt(int64(i))
			w.Field("f")
			w.FieldNull()
			if err := w.EndRow(); err != nil {
				t.Fatal(err)
			}
			want = append(want, []field{txt(itoa(i)), txt("f"), null})
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := rec.allRows()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ: got %d rows, want %d", len(got), len(want))
	}
	if len(rec.batches) < 2 {
		t.Fatalf("got %d batches, want several", len(rec.batches))
	}
	for i, b := range rec.batches {
		if len(b) > BatchSize {
			t.Errorf("batch %d is %d bytes, over BatchSize", i, len(b))
		}
	}
}

func itoa(i int) string {
	b, _ := appendValue(nil, i)
	return string(b)
}

// rowOfSize returns a one-field row whose encoding is exactly n bytes (n >= 8).
func rowOfSize(n int) string { return strings.Repeat("r", n-8) }

func TestBatching(t *testing.T) {
	const limit = BatchSize
	tests := []struct {
		name string
		rows []int // encoded size of each row, in order
		// batches is the encoded size of each batch sent, Flush included.
		batches []int
		// beforeFlush is how many batches were sent before Flush.
		beforeFlush int
	}{
		{"one small row", []int{100}, []int{100}, 0},
		{"under the limit", []int{limit / 2, limit/2 - 1}, []int{limit - 1}, 0},
		{"exactly the limit is sent at once", []int{limit / 2, limit / 2}, []int{limit}, 1},
		{"exactly the limit then more", []int{limit / 2, limit / 2, 8}, []int{limit, 8}, 1},
		{"one byte over", []int{limit / 2, limit/2 + 1}, []int{limit / 2, limit/2 + 1}, 1},
		{"row pushing over", []int{1000, 1000, limit - 2500, 600}, []int{limit - 500, 600}, 1},
		{"single row at the limit", []int{limit}, []int{limit}, 1},
		{"single row over the limit", []int{limit + 1}, []int{limit + 1}, 1},
		{"big row between small ones", []int{100, 3 * limit, 100}, []int{100, 3 * limit, 100}, 2},
		{"big row first", []int{2 * limit, 100, 200}, []int{2 * limit, 300}, 1},
		{"many equal rows", repeat(1000, 70), []int{65000, 5000}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, rec := newTestCSV(t, limit, "v")
			var want [][]field
			for _, n := range tt.rows {
				s := rowOfSize(n)
				if err := w.Row(s); err != nil {
					t.Fatal(err)
				}
				want = append(want, []field{txt(s)})
			}
			if got := len(rec.batches); got != tt.beforeFlush {
				t.Errorf("%d batches before Flush, want %d", got, tt.beforeFlush)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			for _, b := range rec.batches {
				sizes = append(sizes, len(b))
			}
			if !reflect.DeepEqual(sizes, tt.batches) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.batches)
			}
			got, err := rec.allRows()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ: got %d, want %d", len(got), len(want))
			}
			if w.unflushed() {
				t.Errorf("writer still holds rows after Flush")
			}
			if cap(w.buf) > 2*limit {
				t.Errorf("buffer kept %d bytes after an oversized row", cap(w.buf))
			}
		})
	}
}

func repeat(n, times int) []int {
	s := make([]int, times)
	for i := range s {
		s[i] = n
	}
	return s
}

func TestFlushKeepsOpenRow(t *testing.T) {
	w, rec := newTestCSV(t, BatchSize, "a", "b")
	if err := w.Row("1", "2"); err != nil {
		t.Fatal(err)
	}
	w.Field("3")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !w.unflushed() {
		t.Fatal("open row not reported as unflushed")
	}
	w.Field("4")
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := rec.allRows()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]field{{txt("1"), txt("2")}, {txt("3"), txt("4")}}
	if !reflect.DeepEqual(got, want) || len(rec.batches) != 2 {
		t.Fatalf("rows = %v in %d batches, want %v in 2", got, len(rec.batches), want)
	}
}

func TestWriterErrors(t *testing.T) {
	refused := &StatusError{Func: "csv_rows", Status: StatusOverBudget}
	tests := []struct {
		name     string
		header   []string
		rowsErr  error
		write    func(w *CSV) error
		wantErr  string
		wantFail bool // the writer itself reports the failure to the host
	}{
		{"row before header", nil, nil,
			func(w *CSV) error { return w.Row("a") },
			"collector: csv row 1 comes before the header", true},
		{"too few fields", []string{"a", "b"}, nil,
			func(w *CSV) error { return w.Row("1") },
			"collector: csv row 1 has 1 fields, header has 2", true},
		{"too many values on row 2", []string{"a"}, nil,
			func(w *CSV) error {
				if err := w.Values(1); err != nil {
					return err
				}
				return w.Values(1, 2)
			},
			"collector: csv row 2 has 2 fields, header has 1", true},
		{"empty EndRow", []string{"a"}, nil,
			func(w *CSV) error { return w.EndRow() },
			"collector: csv row 1 has 0 fields, header has 1", true},
		{"Row inside an open row", []string{"a"}, nil,
			func(w *CSV) error { w.Field("x"); return w.Row("y") },
			"collector: csv row 1: Row called while a row built field by field is open", true},
		{"host refuses at Flush", []string{"a"}, refused,
			func(w *CSV) error {
				if err := w.Row("x"); err != nil {
					return err
				}
				return w.Flush()
			},
			"wasmcollector: csv_rows: over_budget", false},
		{"host refuses a full batch", []string{"a"}, refused,
			func(w *CSV) error { return w.Row(rowOfSize(BatchSize + 10)) },
			"wasmcollector: csv_rows: over_budget", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, rec := newTestCSV(t, BatchSize, tt.header...)
			rec.rowsErr = tt.rowsErr
			err := tt.write(w)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if gotFail := len(rec.fails) > 0; gotFail != tt.wantFail {
				t.Errorf("fail called = %v (%q), want %v", gotFail, rec.fails, tt.wantFail)
			}
			if tt.wantFail && rec.fails[0] != tt.wantErr {
				t.Errorf("fail message = %q, want %q", rec.fails[0], tt.wantErr)
			}
			// Sticky: later calls return the same error and send nothing.
			rec.rowsErr = nil
			for name, call := range map[string]func() error{
				"Row":    func() error { return w.Row("z") },
				"Values": func() error { return w.Values("z") },
				"EndRow": func() error { w.Field("z"); return w.EndRow() },
				"Flush":  w.Flush,
				"Header": func() error { return w.Header("z") },
			} {
				if got := call(); got != err {
					t.Errorf("%s after failure = %v, want the first error", name, got)
				}
			}
			if len(rec.batches) != 0 {
				t.Errorf("%d batches sent after the failure", len(rec.batches))
			}
			if w.Err() != err {
				t.Errorf("Err() = %v", w.Err())
			}
			var se *StatusError
			if got, want := errors.As(err, &se), tt.rowsErr != nil; got != want {
				t.Errorf("errors.As(err, *StatusError) = %v, want %v", got, want)
			}
			if w.unflushed() {
				t.Errorf("a failed writer must not be reported as unflushed")
			}
		})
	}
}

func TestRowDoesNotAllocate(t *testing.T) {
	rec := &recorder{discard: true}
	w := newCSV(rec, BatchSize)
	if err := w.Header("id", "host", "event"); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10000, func() {
		if err := w.Row("123456", "web-012.example.com", "runner_on_ok"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Row allocates %v times per row, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(10000, func() {
		w.FieldInt(123456)
		w.Field("web-012.example.com")
		w.FieldNull()
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Field…EndRow allocates %v times per row, want 0", allocs)
	}
	if rec.nBatches == 0 {
		t.Fatal("no batch was sent")
	}
}

func BenchmarkRow(b *testing.B) {
	w := newCSV(&recorder{discard: true}, BatchSize)
	if err := w.Header("id", "created", "host", "event", "task"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Row("123456", "2025-03-01T12:00:06.000000Z", "web-012.example.com", "runner_on_ok", "Install packages: nginx, \"openssl\""); err != nil {
			b.Fatal(err)
		}
	}
}
