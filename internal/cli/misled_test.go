package cli_test

// Tests of issue 15 item 6, the CLI side: messages and behaviour that misled.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

// startIngress runs a real ingress on loopback and returns its upload URL.
func startIngress(t *testing.T) string {
	t.Helper()
	ing, err := ingress.New(ingress.Config{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(ing)
	t.Cleanup(func() { srv.Close(); ing.Close() })
	return srv.URL + ingress.DefaultPath
}

// shippingRegistry ships to url: a config collector and "chatty", a CSV collector sliced by the
// hour that logs the same info line and the same warning in every slice, over a 3-hour window;
// extra adds collectors. It returns the registry, its state directory and its status file.
func shippingRegistry(t *testing.T, url, extra string) (reg, stateDir, status string) {
	t.Helper()
	dir := t.TempDir()
	stateDir, status = filepath.Join(dir, "state"), filepath.Join(dir, "status.json")
	reg = testguests.Registry(t, map[string]string{
		"pointers.wasm": testguests.WAT(t, "pointers"),
		"outputs.wasm":  testguests.WAT(t, "outputs"),
		"chatty.wasm":   testguests.WAT(t, "chatty"),
	}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q
status_file = %q
max_window = "3h"

[shipping]
url = %q
auth = "none"

[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"

[[collector]]
key = "chatty"
version = "1.0"
format = "csv"
slicing = "1h"
module = "chatty.wasm"
function = "chatty_csv"
%s`, filepath.Join(dir, "out"), stateDir, status, url, extra))
	return reg, stateDir, status
}

// readStatus reads the status file.
func readStatus(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc), string(b))
	return doc
}

// TestScheduledQuietAndExitCodes: `gather --scheduled` prints nothing on success (no guest info
// lines, no line per tarball), each warning once however many slices repeat it, and exits as the
// README says: 0 ok, 3 a failed collector, 4 another gather holds the lock, 0 when the minimum
// interval has not passed; the status file agrees with each.
func TestScheduledQuietAndExitCodes(t *testing.T) {
	url := startIngress(t)
	reg, stateDir, status := shippingRegistry(t, url, "")
	now := "2026-11-25T03:00:00Z"

	t.Run("ok", func(t *testing.T) {
		stdout, errs, code := runCLI(t, "gather", "--scheduled", "-c", reg, "--now", now)
		require.Equal(t, 0, code, errs)
		assert.Empty(t, stdout, "no summary on success")
		assert.NotContains(t, errs, "level=INFO", "no guest info lines, no per-tarball lines")
		assert.NotContains(t, errs, "one row collected")
		assert.Equal(t, 1, strings.Count(errs, "chatty: column a is obsolete"), "a warning three slices repeat is printed once:\n%s", errs)
		assert.Equal(t, 1, strings.Count(errs, "\n"), "the warning is all there is:\n%s", errs)
		doc := readStatus(t, status)
		assert.Equal(t, "ok", doc["result"])
		assert.Equal(t, float64(0), doc["exit_code"])
		assert.Equal(t, map[string]any{"shipped": float64(3)}, doc["tarballs"], "chatty's three slices, config with the first")
	})

	t.Run("min-interval not passed", func(t *testing.T) {
		stdout, errs, code := runCLI(t, "gather", "--scheduled", "-c", reg, "--now", "2026-11-25T04:00:00Z", "--min-interval", "4h")
		require.Equal(t, 0, code, errs)
		assert.Empty(t, stdout)
		assert.Empty(t, errs)
		doc := readStatus(t, status)
		assert.Equal(t, "skipped", doc["result"])
		assert.Equal(t, float64(0), doc["exit_code"])
		assert.Contains(t, doc["reason"], "minimum interval")
	})

	t.Run("lock held", func(t *testing.T) {
		unlock, err := state.NewFileStore(stateDir).TryLock(context.Background())
		require.NoError(t, err)
		defer unlock()
		stdout, errs, code := runCLI(t, "gather", "--scheduled", "-c", reg, "--now", "2026-11-25T05:00:00Z")
		require.Equal(t, 4, code, "exit 4, as README and SuccessExitStatus=4 say: %s", errs)
		assert.Empty(t, stdout)
		assert.Empty(t, errs, "quiet: not a failure for a timer")
		doc := readStatus(t, status)
		assert.Equal(t, "skipped", doc["result"])
		assert.Equal(t, float64(4), doc["exit_code"])
		assert.Contains(t, doc["reason"], "another gather holds the lock")

		// Asked for, the reason is shown; with -o json it is the result.
		_, errs, code = runCLI(t, "gather", "--scheduled", "-c", reg, "--now", "2026-11-25T05:00:00Z", "--log-level", "info")
		assert.Equal(t, 4, code)
		assert.Regexp(t, `msg="not gathering" reason="state: another gather holds the lock: `, errs)
		stdout, _, code = runCLI(t, "gather", "--scheduled", "-c", reg, "--now", "2026-11-25T05:00:00Z", "-o", "json")
		assert.Equal(t, 4, code)
		var skip struct {
			Skipped bool
			Reason  string
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &skip), stdout)
		assert.True(t, skip.Skipped)
		assert.Contains(t, skip.Reason, "another gather holds the lock")

		// By hand it is an error, and the status file says the same as for a timer.
		_, errs, code = runCLI(t, "gather", "--manual", "-c", reg, "--now", "2026-11-25T05:00:00Z")
		assert.Equal(t, 4, code)
		assert.Contains(t, errs, "wasmcollector: state: another gather holds the lock")
		doc = readStatus(t, status)
		assert.Equal(t, "skipped", doc["result"])
		assert.Equal(t, float64(4), doc["exit_code"])
	})

	t.Run("failed collector", func(t *testing.T) {
		reg, _, status := shippingRegistry(t, url, `
[[collector]]
key = "bad_json"
version = "1.0"
module = "outputs.wasm"
function = "invalid_json"
`)
		stdout, errs, code := runCLI(t, "gather", "--scheduled", "-c", reg, "--now", now)
		require.Equal(t, 3, code, errs)
		assert.Regexp(t, `bad_json\s+failed`, stdout, "the summary, since something failed")
		assert.Contains(t, errs, "level=ERROR")
		assert.NotContains(t, errs, "level=INFO")
		doc := readStatus(t, status)
		assert.Equal(t, "failed", doc["result"])
		assert.Equal(t, float64(3), doc["exit_code"])
	})
}

// TestGatherNothingNew: a second gather seconds after the last one says "nothing new" (exit 0)
// instead of shipping a window of those seconds; with a collector lagging behind, a gather
// within the same second as the last one is refused too, since its tarball names would repeat.
// No tarball name is ever shipped twice.
func TestGatherNothingNew(t *testing.T) {
	url := startIngress(t)
	reg, _, status := shippingRegistry(t, url, "")
	shipped := map[string]string{} // tarball name → the run that shipped it
	gather := func(now string, extra ...string) (stdout, errs string, code int) {
		stdout, errs, code = runCLI(t, append([]string{"gather", "--manual", "-c", reg, "--now", now, "--log-level", "warn"}, extra...)...)
		var res struct {
			Tarballs []struct{ Name, Fate string }
		}
		if json.Unmarshal([]byte(stdout), &res) == nil {
			for _, tb := range res.Tarballs {
				require.NotContains(t, shipped, tb.Name, "run at %s ships a name the run at %s shipped", now, shipped[tb.Name])
				shipped[tb.Name] = now
			}
		}
		return stdout, errs, code
	}

	_, errs, code := gather("2026-11-25T03:00:00Z", "-o", "json")
	require.Equal(t, 0, code, errs)
	require.Len(t, shipped, 3)

	stdout, errs, code := gather("2026-11-25T03:00:05Z")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "gather: nothing new since the last gather at 2026-11-25T03:00:00Z (5s ago; a gather collects at least 1m0s): nothing collected, nothing shipped\n", stdout)
	assert.Len(t, shipped, 3)
	doc := readStatus(t, status)
	assert.Equal(t, "skipped", doc["result"])
	assert.Contains(t, doc["reason"], "nothing new")

	stdout, _, code = gather("2026-11-25T03:00:30Z", "-o", "json")
	require.Equal(t, 0, code)
	var skip struct {
		Skipped bool
		Reason  string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &skip), stdout)
	assert.True(t, skip.Skipped)
	assert.Contains(t, skip.Reason, "nothing new")

	// A minute on, there is something new.
	_, errs, code = gather("2026-11-25T03:01:00Z", "-o", "json")
	require.Equal(t, 0, code, errs)
	assert.Len(t, shipped, 4, "config and chatty's minute")

	t.Run("lagging collector", func(t *testing.T) {
		reg, _, _ := shippingRegistry(t, url, `
[[collector]]
key = "bad_json"
version = "1.0"
module = "outputs.wasm"
function = "invalid_json"
`)
		run := func(now string) (string, string, int) {
			stdout, errs, code := runCLI(t, "gather", "--manual", "-c", reg, "--now", now, "--log-level", "error", "-o", "json")
			var res struct{ Tarballs []struct{ Name string } }
			if json.Unmarshal([]byte(stdout), &res) == nil {
				for _, tb := range res.Tarballs {
					require.NotContains(t, shipped, tb.Name, "run at %s", now)
					shipped[tb.Name] = now
				}
			}
			return stdout, errs, code
		}
		_, errs, code := run("2026-11-26T03:00:00.100Z")
		require.Equal(t, 3, code, errs)
		// bad_json lags behind: seconds later the gather runs again, to retry it.
		_, errs, code = run("2026-11-26T03:00:05Z")
		require.Equal(t, 3, code, errs)
		// Within the same second, the names (one per second) would repeat: refused.
		stdout, errs, code := run("2026-11-26T03:00:05.700Z")
		require.Equal(t, 0, code, errs)
		assert.Contains(t, stdout, "within this second; its tarball names would repeat")
	})
}

// TestStateResetAsks: `state reset` without a key asks on a terminal, and refuses without one
// unless --yes, naming --yes; a key needs no confirmation.
func TestStateResetAsks(t *testing.T) {
	reg, _, stateDir := gatherRegistry(t, "")
	store := state.NewFileStore(stateDir)
	last := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	seed := func() {
		require.NoError(t, store.Save(context.Background(), state.State{LastGather: last, Entries: map[string]time.Time{"rows": last, "other": last}}))
	}
	kept := func() {
		t.Helper()
		st, err := store.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, last, st.LastGather, "nothing was forgotten")
	}
	seed()

	// Not a terminal, no --yes: refused, as a command-line error.
	var stdout, stderr bytes.Buffer
	code := cli.MainIO([]string{"state", "reset", "-c", reg}, strings.NewReader("y\n"), &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "pass --yes to confirm (standard input is not a terminal, so it cannot ask)")
	assert.Empty(t, stdout.String())
	kept()

	// A terminal: the question, then the answer.
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	defer tty.Close()
	go io.Copy(io.Discard, ptmx) // the echo of what is typed
	for _, tt := range []struct {
		answer string
		code   int
	}{{"n\n", 1}, {"\n", 1}, {"yes\n", 0}} {
		stdout.Reset()
		stderr.Reset()
		_, err := ptmx.WriteString(tt.answer)
		require.NoError(t, err)
		code := cli.MainIO([]string{"state", "reset", "-c", reg}, tty, &stdout, &stderr)
		assert.Equal(t, tt.code, code, "answer %q: %s", tt.answer, stderr.String())
		assert.Contains(t, stderr.String(), "Forget every entry and the last gather in "+stateDir)
		assert.Contains(t, stderr.String(), "[y/N] ")
		if tt.code != 0 {
			assert.Contains(t, stderr.String(), "state reset: not confirmed; nothing changed")
			kept()
		}
	}
	assert.Contains(t, stdout.String(), "state reset: every entry and the last gather forgotten")

	// --yes, and a key, need no terminal.
	seed()
	_, errs, code := runCLI(t, "state", "reset", "rows", "-c", reg)
	require.Equal(t, 0, code, errs)
	_, errs, code = runCLI(t, "state", "reset", "-c", reg, "--yes")
	require.Equal(t, 0, code, errs)
	st, err := store.Load(context.Background())
	require.NoError(t, err)
	assert.True(t, st.LastGather.IsZero())
}

// TestJSONErrors: with -o json a failing command prints its error as one JSON object on stdout,
// with the exit code it returns, whichever command and however it failed; the line for people
// stays on stderr.
func TestJSONErrors(t *testing.T) {
	reg, _, _ := gatherRegistry(t, "")
	broken := filepath.Join(t.TempDir(), "collectors.toml")
	require.NoError(t, os.WriteFile(broken, []byte("[gather]\nmax_window = \"forever\"\n"), 0o644))
	tests := []struct {
		name     string
		args     []string
		exit     int
		code     string
		contains string
		problems bool
	}{
		{"validate, bad log level", []string{"validate", "-c", broken, "-o", "json", "--log-level", "loud"}, 2, "bad_input", `--log-level "loud"`, false},
		{"list, broken registry", []string{"list", "-c", broken, "-o", "json"}, 2, "bad_input", "in the registry", true},
		{"gather, bad flag before -o", []string{"gather", "-c", reg, "--bogus", "-o", "json"}, 2, "bad_input", "unknown flag: --bogus", false},
		{"gather, bad flag value", []string{"gather", "-c", reg, "-ojson", "--since", "yesterday"}, 2, "bad_input", `--since "yesterday": not a time`, false},
		{"gather, unknown key", []string{"gather", "-c", reg, "--subset", "nope", "--output=json"}, 2, "bad_input", `unknown key in subset: "nope"`, false},
		{"run, unknown key", []string{"run", "nope", "-c", reg, "-o", "json"}, 2, "bad_input", "", false},
		{"inspect, missing tarball", []string{"inspect", "-o", "json", filepath.Join(t.TempDir(), "x.tar.gz")}, 1, "failed", "x.tar.gz", false},
		{"state show, broken registry", []string{"state", "show", "-c", broken, "--output", "json"}, 2, "bad_input", "in the registry", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, errs, code := runCLI(t, tt.args...)
			require.Equal(t, tt.exit, code, errs)
			var doc struct {
				Error    string `json:"error"`
				Code     string `json:"code"`
				ExitCode int    `json:"exit_code"`
				Problems []struct {
					File    string `json:"file"`
					Line    int    `json:"line"`
					Field   string `json:"field"`
					Message string `json:"message"`
				} `json:"problems"`
			}
			dec := json.NewDecoder(strings.NewReader(stdout))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&doc), "stdout is one JSON object:\n%s", stdout)
			assert.False(t, dec.More(), "and nothing else")
			assert.Equal(t, tt.exit, doc.ExitCode)
			assert.Equal(t, tt.code, doc.Code)
			assert.NotEmpty(t, doc.Error)
			assert.Contains(t, doc.Error, tt.contains)
			assert.Contains(t, errs, "wasmcollector: ", "the line for people is still on stderr")
			if tt.problems {
				require.NotEmpty(t, doc.Problems)
				assert.Equal(t, broken, doc.Problems[0].File)
				assert.Equal(t, "gather.max_window", doc.Problems[0].Field)
			}
		})
	}

	// validate reports a broken registry in its own document, JSON already.
	stdout, _, code := runCLI(t, "validate", "-c", broken, "-o", "json")
	assert.Equal(t, 1, code)
	var report struct{ Valid bool }
	require.NoError(t, json.Unmarshal([]byte(stdout), &report), stdout)
	assert.False(t, report.Valid)

	// Text mode is unchanged: nothing on stdout.
	stdout, errs, code := runCLI(t, "gather", "-c", reg, "--bogus")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, errs, "wasmcollector: unknown flag: --bogus")
	// -o text after -o json wins.
	stdout, _, _ = runCLI(t, "gather", "-c", reg, "-o", "json", "--subset", "nope", "-o", "text")
	assert.Empty(t, stdout)
}

// TestProgressOnTerminal runs a gather with its standard error on a pseudo-terminal while the
// guest logs in every slice: each log line starts on a line of its own (the progress line is
// erased first, not run into), the progress is drawn again after it, shows an ETA, and is
// erased at the end. The terminal is narrower than the progress line, which is cut to fit: a
// line that wrapped would leave a row the next erase does not clear.
func TestProgressOnTerminal(t *testing.T) {
	reg, _, _ := gatherRegistry(t, `
[[collector]]
key = "chatty"
version = "1.0"
format = "csv"
slicing = "1h"
module = "chatty.wasm"
function = "chatty_csv"
`)
	// gatherRegistry has no chatty.wasm: copy it beside the others.
	b, err := os.ReadFile(testguests.WAT(t, "chatty"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(reg), "modules", "chatty.wasm"), b, 0o644))

	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	const cols = 40
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: cols}))
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() { io.Copy(&screen, ptmx); close(read) }() // ends with EIO once tty is closed

	var stdout bytes.Buffer
	code := cli.MainIO([]string{"gather", "--dry-run", "-c", reg, "--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T06:00:00Z"}, nil, &stdout, tty)
	require.Equal(t, 0, code, stdout.String())
	tty.Close()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	out := strings.ReplaceAll(screen.String(), "\r\n", "\n") // the terminal's ONLCR
	t.Logf("terminal output: %q", out)

	lines := strings.Split(out, "\n")
	logs, redrawn := 0, 0
	for i, line := range lines {
		at := strings.Index(line, "time=")
		if at < 0 {
			continue
		}
		logs++
		before := line[:at]
		if cr := strings.LastIndex(before, "\r"); cr >= 0 {
			before = before[cr+1:]
		}
		assert.Contains(t, []string{"", "\x1b[K"}, before, "a log line run into the progress line: %q", line)
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\r\x1b[K[") {
			redrawn++
		}
	}
	assert.GreaterOrEqual(t, logs, 6, "chatty logs in each of its six slices")
	assert.Positive(t, redrawn, "the progress line comes back after a log line")
	assert.Regexp(t, regexp.MustCompile(`\[\d+/\d+\] chatty slice \d/6, \d+ tarb`), out)
	// Every drawn status fits in the terminal, its last column free, and the long ones say they
	// were cut.
	cut := 0
	for _, drawn := range strings.Split(out, "\r\x1b[K")[1:] {
		status, _, _ := strings.Cut(drawn, "\n")
		if !strings.HasPrefix(status, "[") {
			continue // a log line
		}
		assert.Less(t, utf8.RuneCountInString(status), cols, "the progress line is wider than the terminal: %q", status)
		if strings.HasSuffix(status, "…") {
			cut++
		}
	}
	assert.Positive(t, cut, "a progress line longer than the terminal is cut, with an ellipsis")
	last := lines[len(lines)-1]
	assert.True(t, last == "" || strings.HasSuffix(last, "\r\x1b[K"), "the progress line is erased at the end: %q", last)
}
