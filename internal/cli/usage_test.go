package cli_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestUsageErrors: a command line cobra cannot parse exits 2 with one error line and one pointer
// to the command's --help; a flag value a command refuses after parsing exits 2 without it. The
// pointer follows the error's type (cmdutil.UsageError), whatever its text says.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		err   string
		usage string // the --help line, "" for none
	}{
		{"unknown flag", []string{"check", "m.wasm", "--bogus"}, "wasmcollector: unknown flag: --bogus",
			"Run 'wasmcollector check --help' for usage."},
		{"unknown shorthand", []string{"list", "-z"}, "wasmcollector: unknown shorthand flag: 'z' in -z",
			"Run 'wasmcollector list --help' for usage."},
		{"bad flag value", []string{"check", "m.wasm", "--timeout", "soon"},
			`wasmcollector: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"`,
			"Run 'wasmcollector check --help' for usage."},
		{"flag without its value", []string{"check", "m.wasm", "--toml"}, "wasmcollector: flag needs an argument: --toml",
			"Run 'wasmcollector check --help' for usage."},
		{"bad output format", []string{"list", "-o", "yaml"}, `wasmcollector: invalid argument "yaml" for "-o, --output" flag: --output "yaml": must be text or json`,
			"Run 'wasmcollector list --help' for usage."},
		{"missing argument", []string{"check"}, "wasmcollector: accepts 1 arg(s), received 0",
			"Run 'wasmcollector check --help' for usage."},
		{"unknown command", []string{"frobnicate"}, `wasmcollector: unknown command "frobnicate" for "wasmcollector"`,
			"Run 'wasmcollector --help' for usage."},
		// Parsed, then refused by the command: bad input, no pointer to --help.
		{"refused flag value", []string{"check", "m.wasm", "--timeout", "0s"}, "wasmcollector: --timeout 0s: must be more than 0", ""},
		{"refused log level", []string{"list", "--log-level", "loud"}, `wasmcollector: --log-level "loud": must be debug, info, warn or error`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, tt.args...)
			assert.Equal(t, 2, code, errs)
			assert.Empty(t, out)
			lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
			assert.Equal(t, tt.err, lines[0])
			if tt.usage == "" {
				assert.Len(t, lines, 1, errs)
				assert.NotContains(t, errs, "--help")
				return
			}
			assert.Equal(t, []string{tt.err, tt.usage}, lines)
		})
	}
}
