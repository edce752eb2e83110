package cli_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeSettingsFromFile: serve takes its address, schedule and watching from [serve] in
// collectors.toml, and the flags given override them.
func TestServeSettingsFromFile(t *testing.T) {
	reg, _, _ := gatherRegistry(t, `
[serve]
listen = "127.0.0.2:0"
cron = "TZ=UTC 0 0 1 1 *"
jitter = "1m"
watch = false
`)
	// serve runs until told to stop; it returns the lines it logged up to its first "next
	// gather" and whether it then exited 0 on SIGINT.
	run := func(args ...string) string {
		t.Helper()
		child := exec.Command(os.Args[0], append([]string{"serve", "-c", reg, "--now", "2026-11-25T03:00:00Z"}, args...)...)
		child.Env = append(os.Environ(), "WASMCOLLECTOR_CLI_CHILD=1", "GORACE=atexit_sleep_ms=0")
		stderr, err := child.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, child.Start())
		defer child.Process.Kill()
		guard := time.AfterFunc(90*time.Second, func() { child.Process.Kill() })
		defer guard.Stop()
		var logged strings.Builder
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			logged.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), "next gather") {
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		m := regexp.MustCompile(`url=(http://[0-9.]+:\d+/)`).FindStringSubmatch(logged.String())
		require.NotNil(t, m, "serve logged its URL:\n%s", logged.String())
		resp, err := http.Get(m[1] + "readyz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		require.NoError(t, child.Process.Signal(os.Interrupt))
		waited := make(chan error, 1)
		go func() { waited <- child.Wait() }()
		select {
		case err := <-waited:
			assert.NoError(t, err, "exit 0")
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not exit within 10 s of SIGINT")
		}
		return logged.String()
	}

	logged := run()
	assert.Regexp(t, `url=http://127\.0\.0\.2:\d+/`, logged, "[serve] listen")
	assert.Contains(t, logged, `schedule="at the times of cron \"TZ=UTC 0 0 1 1 *\", each delayed by up to 1m0s"`)
	assert.Regexp(t, `"next gather" at=\d{4}-01-01T00:00:\d\dZ`, logged, "the cron's first time (plus jitter), not a gather at once")
	assert.NotContains(t, logged, "gather done")

	logged = run("--listen", "127.0.0.1:0", "--interval", "1h", "--jitter", "0s")
	assert.Regexp(t, `url=http://127\.0\.0\.1:\d+/`, logged, "--listen over [serve] listen")
	assert.Contains(t, logged, `schedule="every 1h0m0s"`, "--interval over [serve] cron, --jitter over [serve] jitter")
	assert.Contains(t, logged, "gather done", "an interval gathers at once")
}

// TestServeBadFileSettings: a bad [serve] value stops serve before it starts, exit 2, with the
// problem at its file and line, as validate reports it (exit 1: it found a problem); one only the flags make bad names both.
func TestServeBadFileSettings(t *testing.T) {
	reg, _, _ := gatherRegistry(t, "\n[serve]\ncron = \"61 * * * *\"\n")
	_, errs, code := runCLI(t, "serve", "-c", reg)
	assert.Equal(t, 2, code)
	assert.Regexp(t, `collectors\.toml:\d+: serve\.cron: invalid cron "61 \* \* \* \*"`, errs)
	stdout, _, code := runCLI(t, "validate", "-c", reg)
	assert.Equal(t, 1, code, "validate found a problem")
	assert.Regexp(t, `collectors\.toml:\d+: serve\.cron: invalid cron`, stdout)

	reg, _, _ = gatherRegistry(t, "\n[serve]\ninterval = \"1h\"\njitter = \"30m\"\n")
	_, errs, code = runCLI(t, "serve", "-c", reg, "--interval", "20m")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "jitter 30m0s ([serve] jitter) must be less than the interval 20m0s (--interval)")

	// A cron expression's shortest gap bounds the jitter as the interval does, flag or file.
	reg, _, _ = gatherRegistry(t, "\n[serve]\ncron = \"0 9,17 * * *\"\njitter = \"30m\"\n")
	_, errs, code = runCLI(t, "serve", "-c", reg, "--jitter", "8h")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `jitter 8h0m0s (--jitter) must be less than the shortest time between two firings of cron "0 9,17 * * *", 8h ([serve] cron)`)
	_, errs, code = runCLI(t, "serve", "-c", reg, "--cron", "*/10 * * * *")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `jitter 30m0s ([serve] jitter) must be less than the shortest time between two firings of cron "*/10 * * * *", 10m (--cron)`)
}
