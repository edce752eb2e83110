package gather_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// attack is one hostile collector: what it runs and how its invocation must fail. kind "module"
// means the module is refused before anything runs.
type attack struct {
	key, module, function string
	format                string // default json
	kind                  runtime.ErrorKind
	refused               bool // a *runtime.ModuleError instead of an invocation error
	contains              []string
	processOnly           bool   // see the comment where it is set
	timeout               string // default 1s
	swapped               bool   // the module file is replaced after the registry is loaded
	bomb                  bool   // a compile bomb: runs in a registry of its own
}

// suiteGroups splits the suite into the compile bombs and the rest, each run with a registry of
// its own.
func suiteGroups(attacks []attack) [][]attack {
	var rest, bombs []attack
	for _, a := range attacks {
		if a.bomb {
			bombs = append(bombs, a)
		} else {
			rest = append(rest, a)
		}
	}
	return [][]attack{rest, bombs}
}

// hostileSuite is the hostile suite as collectors of one registry: every attack of
// internal/testguests/wat and hostile/, and the ones the process executor was built for.
func hostileSuite() []attack {
	return []attack{
		{key: "spin", module: "spin.wasm", function: "spin", kind: runtime.KindTimeout, contains: []string{"timed out after 1s"}},
		{key: "go_spin", module: "hostile.wasm", function: "go_spin", kind: runtime.KindTimeout, contains: []string{"timed out after 1s"}},
		{key: "grow_bomb", module: "grow_bomb.wasm", function: "grow_bomb", kind: runtime.KindMemory, contains: []string{"memory limit of 16 MiB reached"}, timeout: "20s"},
		{key: "go_mem_bomb", module: "hostile.wasm", function: "go_mem_bomb", kind: runtime.KindMemory, contains: []string{"memory limit of 16 MiB reached"}, timeout: "20s"},
		{key: "table_bomb", module: "table_bomb.wasm", function: "table_bomb", kind: runtime.KindTrap, contains: []string{"unreachable"}},
		{key: "table_refusals_ignored", module: "table_bomb.wasm", function: "ignore_refusal", kind: runtime.KindTimeout, contains: []string{"timed out after 1s"}},
		{key: "init_loop", module: "init_loop.wasm", function: "collect", kind: runtime.KindTimeout, contains: []string{"timed out after 1s"}},
		{key: "start_loop", module: "start_loop.wasm", function: "collect", kind: runtime.KindTimeout, contains: []string{"timed out after 1s"}},
		{key: "exit_canceled", module: "reserved_exit.wasm", function: "exit_canceled", kind: runtime.KindExit, contains: []string{"guest exited with code 4294967295"}},
		{key: "exit_deadline", module: "reserved_exit.wasm", function: "exit_deadline", kind: runtime.KindExit, contains: []string{"guest exited with code 4026531839"}},
		{key: "go_panic", module: "hostile.wasm", function: "go_panic", kind: runtime.KindTrap, contains: []string{"unreachable", "panic: assignment to entry in nil map"}},
		{key: "go_exit", module: "hostile.wasm", function: "go_exit", kind: runtime.KindExit, contains: []string{"guest exited with code 3"}},
		{key: "oob_emit_json", module: "pointers.wasm", function: "oob_emit_json", kind: runtime.KindBadPointer, contains: []string{"emit_json: pointer out of bounds"}},
		{key: "oob_csv_rows", module: "pointers.wasm", function: "oob_csv_rows", format: "csv", kind: runtime.KindBadPointer, contains: []string{"csv_rows: pointer out of bounds"}},
		{key: "invalid_json", module: "outputs.wasm", function: "invalid_json", kind: runtime.KindRefused, contains: []string{"document is not valid JSON"}},
		{key: "import_table", module: "import_table.wasm", function: "collect", refused: true, contains: []string{"imports table env.table"}},
		{key: "import_global", module: "import_global.wasm", function: "collect", refused: true, contains: []string{"imports global env.secret"}},
		{key: "unknown_import", module: "unknown_import.wasm", function: "collect", refused: true, contains: []string{"imports env.steal_secrets"}},
		{key: "fifo", module: "fifo.wasm", function: "collect", refused: true, swapped: true, contains: []string{"is not a regular file (a named pipe)"}},
		{key: "device", module: "device.wasm", function: "collect", refused: true, swapped: true, contains: []string{"is not a regular file (a device)"}},
		// Host-side work for the guest: the data source's byte cap stops it inside SQLite; past
		// that, a worker's data limit would.
		{key: "randomblob", module: "dbprobe.wasm", function: "stream", format: "csv"},
		// Compile bombs never finish compiling: in-process the compilation goroutine would go on
		// burning a CPU for minutes after the load gave up, so they run in-process only in a
		// child process (TestHostileGatherCLI).
		{key: "nested_blocks", module: "nested_blocks.wasm", function: "bomb", refused: true, processOnly: true, bomb: true, contains: []string{"compilation did not finish within 2s"}},
		{key: "br_table", module: "br_table.wasm", function: "bomb", refused: true, processOnly: true, bomb: true, contains: []string{"compilation did not finish within 2s"}},
	}
}

// hostileRegistry writes the suite's registry: each attack a collector, each followed by a good
// one ("after_KEY") from a healthy module, with 1 s timeouts and 16 MiB of memory.
func hostileRegistry(t testing.TB, attacks []attack) (*registry.Registry, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "blob.db")
	conn, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = conn.Exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	modules := map[string]string{
		"good.wasm": testguests.WAT(t, "pointers"), "hostile.wasm": testguests.Go(t, "internal/testguests/hostile"),
		"dbprobe.wasm":       testguests.Go(t, "internal/testguests/dbprobe"),
		"nested_blocks.wasm": testguests.CompileBomb(t, "nested_blocks", 100_000), "br_table.wasm": testguests.CompileBomb(t, "br_table", 1_000_000),
		// Stand-ins, replaced by a FIFO and a device once the registry is loaded.
		"fifo.wasm": testguests.WAT(t, "spin"), "device.wasm": testguests.WAT(t, "spin"),
	}
	for _, name := range []string{"spin", "grow_bomb", "table_bomb", "init_loop", "start_loop", "reserved_exit", "pointers", "outputs",
		"import_table", "import_global", "unknown_import"} {
		modules[name+".wasm"] = testguests.WAT(t, name)
	}
	var b strings.Builder
	b.WriteString("[limits]\nmax_stdio_bytes = \"4KiB\"\n\n[datasources.blob]\ndriver = \"sqlite\"\npath = \"" + db + "\"\n\n")
	b.WriteString("[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\nmodule = \"good.wasm\"\nfunction = \"ok\"\n\n")
	for _, a := range attacks {
		format := a.format
		if format == "" {
			format = "json"
		}
		timeout := a.timeout
		if timeout == "" {
			timeout = "1s"
		}
		b.WriteString("[[collector]]\nkey = \"" + a.key + "\"\nversion = \"1\"\nformat = \"" + format + "\"\nmodule = \"" + a.module +
			"\"\nfunction = \"" + a.function + "\"\ntimeout = \"" + timeout + "\"\n")
		if a.key == "randomblob" {
			b.WriteString("datasources = [\"blob\"]\n[collector.params]\nsource = \"blob\"\n" +
				"sql = \"SELECT randomblob(999999999) a, randomblob(999999999) b, randomblob(999999999) c\"\n")
		}
		b.WriteString("\n[[collector]]\nkey = \"after_" + a.key + "\"\nversion = \"1\"\nformat = \"csv\"\nmodule = \"good.wasm\"\nfunction = \"ok_csv\"\n\n")
	}
	used := map[string]bool{}
	for _, a := range attacks {
		used[a.module] = true
	}
	for _, m := range []string{"grow_bomb.wasm", "hostile.wasm"} {
		if used[m] {
			b.WriteString("[modules.\"" + m + "\"]\nmemory_limit = \"16MiB\"\n")
		}
	}
	// Compile bombs get a short compile_timeout; the rest a long one, so that a loaded machine
	// loading compiled code from the cache is not mistaken for a bomb.
	compileTimeout := "60s"
	for _, a := range attacks {
		if a.bomb {
			compileTimeout = "2s"
		}
	}
	path := testguests.Registry(t, modules, b.String(), `compile_timeout = "`+compileTimeout+`"`)
	reg, err := registry.Load(path)
	require.NoError(t, err)
	// The Go guests take longer than the suite's 2 s compile_timeout to compile cold (under the
	// race detector): compile them into the shared cache first, as an earlier gather would have.
	// Compiled code differs with the interrupt flag, so both variants are cached (nothing runs).
	for _, interrupt := range []bool{true, false} {
		eng, err := runtime.New(context.Background(), runtime.NewConfig().WithCacheDir(reg.Runtime.CacheDir).
			WithCompileTimeout(10*time.Minute).WithInterruptCheck(interrupt))
		require.NoError(t, err)
		for _, m := range []string{"hostile.wasm", "dbprobe.wasm"} {
			_, err := eng.Load(context.Background(), runtime.ModuleSpec{Path: filepath.Join(reg.Runtime.ModulesDir, m)})
			require.NoError(t, err)
		}
		require.NoError(t, eng.Close(context.Background()))
	}

	// Swapped after loading, as a module replaced during a gather would be.
	dir := reg.Runtime.ModulesDir
	require.NoError(t, os.Remove(filepath.Join(dir, "fifo.wasm")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.wasm"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "device.wasm")))
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "device.wasm")))
	return reg, path
}

// TestHostileSuiteBothExecutors runs every attack through both executors: each fails only its
// own invocation with the right kind and message, and the collector after it succeeds on the
// same executor.
func TestHostileSuiteBothExecutors(t *testing.T) {
	for _, attacks := range suiteGroups(hostileSuite()) {
		reg, _ := hostileRegistry(t, attacks)
		hostileSuiteOn(t, reg, attacks)
	}
}

func hostileSuiteOn(t *testing.T, reg *registry.Registry, attacks []attack) {
	for _, isolation := range []string{registry.IsolationProcess, registry.IsolationInProcess} {
		t.Run(isolation, func(t *testing.T) {
			r := *reg
			r.Runtime.Isolation = isolation
			exec, closeExec, err := executor.New(context.Background(), &r, quiet)
			require.NoError(t, err)
			defer closeExec()
			require.Equal(t, isolation, exec.Isolation())
			for _, a := range attacks {
				if a.processOnly && isolation != registry.IsolationProcess {
					continue
				}
				t.Run(a.key, func(t *testing.T) {
					err := invokeCollector(t, exec, &r, a.key)
					require.Error(t, err, "the attack must fail")
					var me *runtime.ModuleError
					var ie *runtime.InvocationError
					switch {
					case a.key == "randomblob":
						// The worker's data limit, the source's cap or the deadline (the worker is killed) stops it.
						require.ErrorAs(t, err, &ie)
						assert.Contains(t, []runtime.ErrorKind{runtime.KindMemory, runtime.KindTimeout, runtime.KindFailed, runtime.KindOutput, runtime.KindRefused}, ie.Kind, "%v", err)
					case a.refused:
						require.ErrorAs(t, err, &me, "%v", err)
					default:
						require.ErrorAs(t, err, &ie, "%v", err)
						assert.Equal(t, a.kind, ie.Kind, "%v", err)
					}
					for _, s := range a.contains {
						assert.Contains(t, err.Error(), s)
					}
					require.NoError(t, invokeCollector(t, exec, &r, "after_"+a.key), "the next collector on the same executor")
				})
			}
		})
	}
}

// invokeCollector runs the registry's collector key once, as a gather would.
func invokeCollector(t *testing.T, exec gather.Executor, reg *registry.Registry, key string) error {
	t.Helper()
	cs := reg.Collector(key)
	require.Len(t, cs, 1)
	c := cs[0]
	req := hostfuncs.Request{Key: c.Key, Format: hostfuncs.Format(c.Format), Params: c.Params, Limits: gather.Limits(c),
		Logger: quiet, Since: time.Now().Add(-time.Hour), Until: time.Now()}
	var err error
	if c.Format == registry.FormatCSV {
		split := packaging.NewSplitter(t.TempDir(), c.Key, 0)
		req.Output = split
		_, err = exec.Run(context.Background(), c, req)
		if err == nil {
			_, err = split.Close()
		} else {
			split.Abort()
		}
	} else {
		var out bytes.Buffer
		req.Output = &out
		_, err = exec.Run(context.Background(), c, req)
	}
	if err != nil && errors.Is(err, context.Canceled) {
		t.Fatalf("unexpected cancellation: %v", err)
	}
	return err
}
