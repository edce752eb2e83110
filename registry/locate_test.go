package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocator(t *testing.T) {
	text := strings.Join([]string{
		`# comment with key = "value" and [[collector]]`, // 1
		`[runtime]`,                            // 2
		`  timeout = "60s" # trailing comment`, // 3
		`[modules."a.wasm"]`,                   // 4
		`sha256 = "x"`,                         // 5
		`[ modules . 'b.wasm' ]`,               // 6
		`memory_limit = 1`,                     // 7
		`[[collector]]`,                        // 8
		`key = "a"`,                            // 9
		`description = """`,                    // 10
		`[[collector]]`,                        // 11: inside a multi-line string
		`key = "not a key"`,                    // 12
		`"""`,                                  // 13
		`version = "1"`,                        // 14
		`limits.max_json_bytes = 5`,            // 15
		`[collector.params]`,                   // 16
		`tables = [`,                           // 17
		`  ["nested", "array"],`,               // 18: not a table header
		`  "x = 1",`,                           // 19
		`]`,                                    // 20
		`"quoted.key" = 1`,                     // 21
		"[[collector]]\r",                      // 22: CRLF
		"key = 'b'\r",                          // 23
		`notes = '''`,                          // 24
		`[runtime]`,                            // 25: inside a literal multi-line string
		`'''`,                                  // 26
		`inline = { a = "}", b = [1, 2] }`,     // 27
		`[collector.limits]`,                   // 28
		`max_output_bytes = "1GiB"`,            // 29
	}, "\n")
	loc := newLocator([]byte(text))

	collector := func(i int) path { return path{}.key("collector").index(i) }
	tests := []struct {
		name string
		p    path
		want int
	}{
		{"table", path{}.key("runtime"), 2},
		{"key with trailing comment", path{}.key("runtime").key("timeout"), 3},
		{"quoted table key", path{}.key("modules").key("a.wasm"), 4},
		{"key under quoted table", path{}.key("modules").key("a.wasm").key("sha256"), 5},
		{"literal table key with spaces", path{}.key("modules").key("b.wasm").key("memory_limit"), 7},
		{"first collector header", collector(0), 8},
		{"collector key", collector(0).key("key"), 9},
		{"key after multi-line string", collector(0).key("version"), 14},
		{"dotted key", collector(0).key("limits").key("max_json_bytes"), 15},
		{"dotted key prefix", collector(0).key("limits"), 15},
		{"subtable of collector", collector(0).key("params"), 16},
		{"key after multi-line array", collector(0).key("params").key("quoted.key"), 21},
		{"second collector header", collector(1), 22},
		{"second collector key with CRLF", collector(1).key("key"), 23},
		{"key after multi-line literal string", collector(1).key("inline"), 27},
		{"subtable of second collector", collector(1).key("limits").key("max_output_bytes"), 29},
		{"fallback to table", collector(1).key("version"), 22},
		{"fallback to nearest key", collector(1).key("inline").key("a"), 27},
		{"unknown", path{}.key("nothing"), 0},
		{"no third collector", collector(2).key("key"), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, loc.line(tt.p), tt.p.String())
		})
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		name string
		p    path
		want string
	}{
		{"bare keys", path{}.key("runtime").key("timeout"), "runtime.timeout"},
		{"array index", path{}.key("collector").index(2).key("format"), "collector[2].format"},
		{"quoted key", path{}.key("modules").key("a.wasm").key("sha256"), `modules."a.wasm".sha256`},
		{"empty key", path{}.key(""), `""`},
		{"empty path", path{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.p.String())
		})
	}
}
