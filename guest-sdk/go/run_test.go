package collector

import (
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		fn       func() error
		wantCode int32
		wantFail string // "" when fail must not be called
	}{
		{"success", func() error { return nil }, 0, ""},
		{"error", func() error { return errors.New("database unreachable") }, 1, "database unreachable"},
		{"status error", func() error { return &StatusError{Func: "emit_json", Status: StatusTooLarge} }, 1,
			"wasmcollector: emit_json: too_large"},
		{"empty error", func() error { return errors.New("") }, 1, "collector returned an error with no message"},
		{"panic", func() error { panic("index out of range") }, 1, "panic: index out of range"},
		{"panic with error", func() error { panic(errors.New("nil map")) }, 1, "panic: nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fails []string
			code := run(tt.fn, func(msg string) { fails = append(fails, msg) })
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			switch {
			case tt.wantFail == "" && len(fails) > 0:
				t.Errorf("fail called with %q", fails)
			case tt.wantFail != "" && (len(fails) != 1 || fails[0] != tt.wantFail):
				t.Errorf("fail calls = %q, want [%q]", fails, tt.wantFail)
			}
		})
	}
}

// TestRunRefusesUnflushedRows uses NewCSV, whose host calls return ErrNoHost outside wasip1, so it
// builds its writers by hand and registers them as NewCSV does.
func TestRunRefusesUnflushedRows(t *testing.T) {
	register := func(w *CSV) *CSV {
		writers.Lock()
		writers.list = append(writers.list, w)
		writers.Unlock()
		return w
	}
	tests := []struct {
		name     string
		fn       func() error
		wantCode int32
		wantFail string
	}{
		{"flushed", func() error {
			w := register(newCSV(&recorder{}, BatchSize))
			if err := w.Header("a"); err != nil {
				return err
			}
			if err := w.Row("1"); err != nil {
				return err
			}
			return w.Flush()
		}, 0, ""},
		{"one row left", func() error {
			w := register(newCSV(&recorder{}, BatchSize))
			if err := w.Header("a"); err != nil {
				return err
			}
			return w.Row("1")
		}, 1, "collector: csv writer holds 1 row that was never sent: call Flush before returning"},
		{"rows left", func() error {
			w := register(newCSV(&recorder{}, BatchSize))
			if err := w.Header("a"); err != nil {
				return err
			}
			if err := w.Row("1"); err != nil {
				return err
			}
			return w.Row("2")
		}, 1, "collector: csv writer holds 2 rows that were never sent: call Flush before returning"},
		{"unfinished row", func() error {
			w := register(newCSV(&recorder{}, BatchSize))
			if err := w.Header("a"); err != nil {
				return err
			}
			w.Field("1")
			return w.Flush()
		}, 1, "collector: csv writer holds an unfinished row: call EndRow and Flush before returning"},
		{"no rows", func() error {
			w := register(newCSV(&recorder{}, BatchSize))
			return w.Header("a")
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writers.Lock()
			writers.list = nil
			writers.Unlock()
			var fails []string
			code := run(tt.fn, func(msg string) { fails = append(fails, msg) })
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if got := strings.Join(fails, "|"); got != tt.wantFail {
				t.Errorf("fail = %q, want %q", got, tt.wantFail)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		st   uint32
		want string
	}{
		{uint32(StatusInvalid), "wasmcollector: csv_rows: invalid"},
		{uint32(StatusOverBudget), "wasmcollector: csv_rows: over_budget"},
		{uint32(StatusDenied), "wasmcollector: csv_rows: denied"},
		{99, "wasmcollector: csv_rows: status(99)"},
	}
	for _, tt := range tests {
		err := statusErr("csv_rows", tt.st)
		var se *StatusError
		if !errors.As(err, &se) || uint32(se.Status) != tt.st || se.Func != "csv_rows" {
			t.Fatalf("statusErr(%d) = %#v", tt.st, err)
		}
		if err.Error() != tt.want {
			t.Errorf("Error() = %q, want %q", err.Error(), tt.want)
		}
	}
	if err := statusErr("csv_rows", 0); err != nil {
		t.Errorf("ok status gave %v", err)
	}
	if err := statusErr("csv_rows", statusNoHost); err != ErrNoHost {
		t.Errorf("no-host status gave %v", err)
	}
}
