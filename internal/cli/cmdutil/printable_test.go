package cmdutil

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPrintable(t *testing.T) {
	tests := []struct {
		name, in, printable, escaped string
	}{
		{"plain", "./rows.csv", "./rows.csv", "./rows.csv"},
		{"spaces and unicode", "données 2026.csv", "données 2026.csv", "données 2026.csv"},
		{"newline forging a row", "a.csv\n./b.csv\t12\t1.0", `"a.csv\n./b.csv\t12\t1.0"`, `a.csv\n./b.csv\t12\t1.0`},
		{"ANSI escape", "\x1b[2J\x1b[31mred", `"\x1b[2J\x1b[31mred"`, `\x1b[2J\x1b[31mred`},
		{"carriage return", "ok\rEVIL", `"ok\rEVIL"`, `ok\rEVIL`},
		{"C1 CSI", "a\u009b31m", `"a\u009b31m"`, `a\u009b31m`},
		{"DEL", "a\x7f", `"a\x7f"`, `a\x7f`},
		{"bidi override", "txt.\u202egpj", `"txt.\u202egpj"`, `txt.\u202egpj`},
		{"invalid UTF-8", "a\xffb", `"a\xffb"`, `a\xffb`},
		{"backslash", `a\nb`, `"a\\nb"`, `a\nb`},
		{"double quote", `"x"`, `"\"x\""`, `"x"`},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.printable, Printable(tt.in))
			require.Equal(t, tt.escaped, EscapeControl(tt.in))
			for _, out := range []string{Printable(tt.in), EscapeControl(tt.in)} {
				for _, r := range out {
					require.True(t, printsPlainly(r), "%q left in %q", r, out)
				}
			}
		})
	}
}

// TestWriteJSONEscapes: characters encoding/json leaves raw but a terminal would act on are
// written as \u escapes; the document decodes to the same value.
func TestWriteJSONEscapes(t *testing.T) {
	in := map[string]string{"name": "a\x7fb\u009b31m\u202e\U0001F600\x1b\n😀 é"}
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, in))
	require.Equal(t, "{\n  \"name\": \"a\\u007fb\\u009b31m\\u202e😀\\u001b\\n😀 é\"\n}\n", buf.String())
	var out map[string]string
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	require.Equal(t, in, out)
}
