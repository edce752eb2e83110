package gather_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/registry"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// cliBinary builds the wasmcollector command once per test binary, without the race detector:
// the host's memory is measured as an operator's binary would use it.
func cliBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmcollector-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "wasmcollector")
		cmd := exec.Command("go", "build", "-o", cliPath, "./cmd/wasmcollector")
		cmd.Dir = testguests.Root(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = err
			t.Logf("%s", out)
		}
	})
	require.NoError(t, cliErr)
	return cliPath
}

// withRuntime rewrites the registry's [runtime] table with extra lines.
func withRuntime(t *testing.T, path string, lines ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.Replace(string(b), "[runtime]\n", "[runtime]\n"+strings.Join(lines, "\n")+"\n", 1)
	out := filepath.Join(filepath.Dir(path), "collectors-"+strings.NewReplacer("\"", "", " ", "", "=", "-").Replace(strings.Join(lines, "_"))+".toml")
	require.NoError(t, os.WriteFile(out, []byte(s), 0o644))
	return out
}

// TestHostileGatherCLI runs the hostile suite as gathers of the real command (the compile bombs
// in one of their own), once per isolation: every attack fails alone, every collector after one
// succeeds, and with worker processes the host stays under 100 MiB whatever the guests do.
func TestHostileGatherCLI(t *testing.T) {
	var attacks []attack
	for _, a := range hostileSuite() {
		// The registry refuses a FIFO or a device in place of a module when it loads; the
		// executors' own refusal, of a file swapped later, is TestHostileSuiteBothExecutors'.
		if !a.swapped {
			attacks = append(attacks, a)
		}
	}
	for _, group := range suiteGroups(attacks) {
		hostileGatherCLI(t, group)
	}
}

func hostileGatherCLI(t *testing.T, attacks []attack) {
	bin := cliBinary(t)
	_, path := hostileRegistry(t, attacks)
	for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
		t.Run(isolation, func(t *testing.T) {
			cfg := withRuntime(t, path, `isolation = "`+isolation+`"`)
			out := t.TempDir()
			cmd := exec.Command(bin, "gather", "-c", cfg, "--dry-run", "-o", "json", "--out", out, "--log-level", "error",
				"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z")
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "collectors failed: exit 3\n%s", stderr.String())
			require.Equal(t, 3, ee.ExitCode(), stderr.String())
			var res gather.Result
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
			require.Equal(t, isolation, res.Isolation)
			byKey := map[string]*gather.CollectorResult{}
			for _, c := range res.Collectors {
				byKey[c.Key] = c
			}
			for _, a := range attacks {
				c := byKey[a.key]
				require.NotNil(t, c, a.key)
				assert.Equal(t, "failed", c.Status, "%s: %s", a.key, c.Error)
				for _, s := range a.contains {
					assert.Contains(t, c.Error, s, a.key)
				}
				after := byKey["after_"+a.key]
				require.NotNil(t, after)
				assert.Equal(t, "ok", after.Status, "after_%s: %s", a.key, after.Error)
			}
			t.Logf("%s: host peak RSS %d MiB", isolation, res.HostPeakRSS>>20)
			if isolation == registry.IsolationProcess {
				assert.Less(t, res.HostPeakRSS, int64(100<<20), "the host's peak RSS")
			}
		})
	}
}

// TestSignalDuringHostileInvocation sends SIGTERM while a compile bomb compiles and while a guest
// spins, with both isolations: the gather exits within 2 s and leaves no staging behind.
func TestSignalDuringHostileInvocation(t *testing.T) {
	bin := cliBinary(t)
	modules := map[string]string{
		"good.wasm": testguests.WAT(t, "pointers"), "spin.wasm": testguests.WAT(t, "spin"),
		"bomb.wasm": testguests.CompileBomb(t, "nested_blocks", 100_000),
	}
	collectors := `
[[collector]]
key = "config"
version = "1"
config = true
module = "good.wasm"
function = "ok"

[[collector]]
key = "bomb"
version = "1"
module = "bomb.wasm"
function = "bomb"

[[collector]]
key = "spin"
version = "1"
module = "spin.wasm"
function = "spin"
`
	path := testguests.Registry(t, modules, collectors, `timeout = "5m"`, `compile_timeout = "5m"`)
	for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
		for _, key := range []string{"bomb", "spin"} {
			t.Run(isolation+"/"+key, func(t *testing.T) {
				cfg := withRuntime(t, path, `isolation = "`+isolation+`"`)
				out := t.TempDir()
				cmd := exec.Command(bin, "gather", "-c", cfg, "--dry-run", "--out", out, "--log-level", "debug",
					"--since", "2026-11-25T00:00:00Z", "--until", "2026-11-25T01:00:00Z", "--subset", key)
				cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
				stderr, err := cmd.StderrPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				defer cmd.Process.Kill()
				lines := bufio.NewScanner(stderr)
				for lines.Scan() && !(strings.Contains(lines.Text(), "msg=collecting") && strings.Contains(lines.Text(), "collector="+key)) {
				}
				var rest strings.Builder
				drained := make(chan struct{})
				go func() {
					for lines.Scan() {
						rest.WriteString(lines.Text() + "\n")
					}
					close(drained)
				}()
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
				sent := time.Now()
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("the gather did not exit 10 s after SIGTERM")
				}
				took := time.Since(sent)
				<-drained
				t.Logf("exited %s after SIGTERM: %s", took, cmd.ProcessState)
				assert.Contains(t, rest.String(), "interrupted", "the gather says it was interrupted")
				assert.Less(t, took, 2*time.Second)
				entries, _ := os.ReadDir(out)
				for _, e := range entries {
					assert.False(t, strings.HasPrefix(e.Name(), ".staging-"), "staging left behind: %s", e.Name())
				}
			})
		}
	}
}
