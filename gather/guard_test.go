package gather

import (
	"bytes"
	"encoding/csv"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/registry"
)

func TestGuardTime(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Time
		ok    bool
	}{
		{"rfc 3339", "2026-11-26T10:00:00Z", at, true},
		{"rfc 3339 micro", "2026-11-26T10:00:00.000001Z", at.Add(time.Microsecond), true},
		{"offset", "2026-11-26T11:00:00+01:00", at, true},
		{"sqlite", "2026-11-26 10:00:00", at, true},
		{"sqlite ms", "2026-11-26 10:00:00.250", at.Add(250 * time.Millisecond), true},
		{"postgres copy", "2026-11-26 10:00:00.5+00", at.Add(500 * time.Millisecond), true},
		{"no zone with T", "2026-11-26T10:00:00", at, true},
		{"unix seconds", "1795687200", at, true},
		{"unix milliseconds", "1795687200000", at, true},
		{"date", "2026-11-26", at.Add(-10 * time.Hour), true},
		{"empty (NULL)", "", time.Time{}, false},
		{"words", "yesterday", time.Time{}, false},
		{"float", "1795687200.5", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := guardTime(tt.value)
			require.Equal(t, tt.ok, ok)
			require.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
		})
	}
}

// BenchmarkSliceGuard measures what the guard adds per row: one CSV parse and one time parse.
func BenchmarkSliceGuard(b *testing.B) {
	row := []byte(`4242,2026-11-26T10:15:00.123456Z,"Install packages: nginx, openssl",ansible.builtin.dnf,false,true,site.yml` + "\n")
	header := []byte("id,modified,task,action,failed,changed,playbook\n")
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, guarded := range []bool{false, true} {
		name := "unguarded"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			var w io.Writer = io.Discard
			if guarded {
				c := &registry.Collector{Key: "events", TimeColumn: "modified", TimeGuard: registry.TimeGuardFail}
				w = NewSliceGuard(io.Discard, c, Slice{Since: at, Until: at.Add(time.Hour)}, slog.New(slog.DiscardHandler))
			}
			if _, err := w.Write(header); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(row)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCSVField: csvField agrees with encoding/csv on every record the host can write.
func FuzzCSVField(f *testing.F) {
	f.Add("4242", "2026-11-26T10:15:00Z", `Install "nginx", openssl`, "")
	f.Add("", "", "", "")
	f.Add("a\nb", `""`, ",", "\r")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		for _, s := range []string{a, b, c, d} {
			if !utf8.ValidString(s) {
				return
			}
			if strings.Contains(s, "\r\n") {
				// encoding/csv reads a quoted "\r\n" as "\n"; the host keeps the bytes it wrote,
				// and so does csvField: encoding/csv is no oracle there (a fuzz find, kept).
				return
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		require.NoError(t, w.Write([]string{a, b, c, d}))
		w.Flush()
		want, err := csv.NewReader(bytes.NewReader(buf.Bytes())).Read()
		if err != nil {
			return // encoding/csv cannot read back what it wrote (a lone \r): not a row the host writes
		}
		for i := range 5 {
			got, ok := csvField(buf.Bytes(), i)
			if i >= len(want) {
				require.False(t, ok, "field %d of %q", i, buf.String())
				continue
			}
			require.True(t, ok, "field %d of %q", i, buf.String())
			require.Equal(t, want[i], got, "field %d of %q", i, buf.String())
		}
	})
}

// TestCSVFieldKeepsCRLF: a quoted "\r\n" is read back as written (encoding/csv would drop the \r).
func TestCSVFieldKeepsCRLF(t *testing.T) {
	got, ok := csvField([]byte("\"\r\n\",0\n"), 0)
	require.True(t, ok)
	require.Equal(t, "\r\n", got)
}
