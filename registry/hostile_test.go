package registry

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The attacks of issue 11 on the registry, at full size. Each must be refused with a clear
// problem in the vendor's file, cost only that vendor's module, and stay cheap.

// twoSidecars writes a root file and a good sidecar (good.wasm) beside the hostile one
// (bad.wasm, bad.toml = hostile) and returns the root file's path.
func twoSidecars(t *testing.T, root, hostile string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":   root + configCollector,
		"modules/jobs.wasm": wasmBytes,
		"modules/good.wasm": wasmBytes,
		"modules/good.toml": "[[collector]]\nkey = \"good\"\nversion = \"1\"\n",
		"modules/bad.wasm":  wasmBytes,
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", "bad.toml"), []byte(hostile), 0o644))
	return filepath.Join(dir, "collectors.toml")
}

// loadDisabled loads path, expects the root file to be fine and bad.wasm to be the one disabled
// module, and returns its problems.
func loadDisabled(t *testing.T, path string) Problems {
	t.Helper()
	reg, err := Load(path)
	require.NoError(t, err, "a vendor's broken sidecar must not fail the registry")
	require.Len(t, reg.Disabled, 1)
	d := reg.Disabled[0]
	require.Equal(t, "bad.wasm", d.Name)
	require.Equal(t, filepath.Join(filepath.Dir(path), "modules", "bad.toml"), d.Sidecar)
	require.NotEmpty(t, d.Problems)
	var keys []string
	for _, c := range reg.Collectors {
		keys = append(keys, c.Key)
		require.NotEqual(t, "bad.wasm", c.Module.Name, "a disabled module's collectors do not run")
	}
	require.Equal(t, []string{"config", "good"}, keys, "every other module still loads")
	for _, m := range reg.Modules {
		require.NotEqual(t, "bad.wasm", m.Name)
	}
	return d.Problems
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestSidecarGrantingItselfIsRefused(t *testing.T) {
	// As in the issue: a mount of "/", a secret variable and 4 GiB, which validate accepted.
	hostile := "[module]\nmounts = {\"/host\" = \"/\"}\nenv = [\"SECRET_TOKEN\"]\nmemory_limit = \"4GiB\"\n\n[[collector]]\nkey = \"steal\"\nversion = \"1\"\n"
	ps := loadDisabled(t, twoSidecars(t, "", hostile))
	require.Len(t, ps, 3)
	for _, p := range ps {
		require.Contains(t, p.Message, "to grant it, add to collectors.toml:\n  [modules.\"bad.wasm\"]\n")
	}

	// Granted by the operator, exactly as the problems say, the same sidecar loads and gets it.
	reg, err := Load(twoSidecars(t, "[modules.\"bad.wasm\"]\nmounts = { \"/host\" = \"/\" }\nenv = [\"SECRET_TOKEN\"]\nmemory_limit = \"4 GiB\"\n", hostile))
	require.NoError(t, err)
	require.Empty(t, reg.Disabled)
	bad := reg.Collector("steal")[0].Module
	require.Equal(t, []Mount{{Guest: "/host", Host: "/"}}, bad.Mounts)
	require.Equal(t, []string{"SECRET_TOKEN"}, bad.Env)
	require.Equal(t, uint64(4<<30), bad.MemoryLimit)
	require.Equal(t, Requests{Mounts: bad.Mounts, Env: bad.Env, MemoryLimit: 4 << 30}, bad.Requested)
}

func TestSidecarRequestsGrantedByTheOperator(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": `
[runtime]
timeout = "30s"
memory_limit = "128MiB"

[datasources.awx]
driver = "sqlite"
path = "awx.db"

[datasources.extra]
driver = "sqlite"
path = "extra.db"

[modules."awx.wasm"]
datasources = ["awx", "extra"]
env = ["TZ"]
timeout = "10m"
`,
		"modules/awx.wasm": wasmBytes,
		"modules/awx.toml": `
[module]
memory_limit = "32MiB"
timeout = "5m"

[[collector]]
key = "config"
version = "1"
config = true
datasources = ["awx"]

[[collector]]
key = "slow"
version = "1"
timeout = "10m"
`,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	m := reg.Modules[0]
	require.Equal(t, uint64(32<<20), m.MemoryLimit, "the sidecar lowers the memory limit")
	require.Equal(t, 5*time.Minute, m.Timeout, "the sidecar lowers the module's default timeout")
	require.Equal(t, []string{"awx", "extra"}, m.DataSources, "grants come from collectors.toml only")
	require.Equal(t, []string{"TZ"}, m.Env, "the operator may grant more than the sidecar asks")
	require.Equal(t, Requests{DataSources: []string{"awx"}, MemoryLimit: 32 << 20, Timeout: 10 * time.Minute}, m.Requested)
	require.Equal(t, 5*time.Minute, reg.Collector("config")[0].Timeout)
	require.Equal(t, 10*time.Minute, reg.Collector("slow")[0].Timeout, "up to the operator's ceiling")
	require.Equal(t, []string{"awx", "extra"}, reg.Collector("config")[0].DataSources)
	require.Equal(t, "  [modules.\"awx.wasm\"]\n  datasources = [\"awx\"]\n  memory_limit = \"32 MiB\"\n  timeout = \"10m\"\n", m.Requested.GrantTOML("awx.wasm"))
}

func TestBrokenSidecarDisablesOnlyItsModule(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": `
[[collector]]
key = "config"
version = "1"
config = true
module = "jobs.wasm"

[[collector]]
key = "root_b"
version = "1"
module = "b.wasm"
`,
		"modules/jobs.wasm": wasmBytes,
		"modules/a.wasm":    wasmBytes,
		"modules/a.toml":    "[[collector]]\nkey = \"a\"\nversion = \"1\"\n",
		"modules/b.wasm":    wasmBytes,
		"modules/b.toml":    "[[collector]]\nkey = \"b\"\nversion = 2\n",
		"modules/c.wasm":    wasmBytes,
		"modules/c.toml":    "[[collector]]\nkey = = \"c\"\n",
		"modules/d.wasm":    wasmBytes,
		"modules/d.toml":    "[[collector]]\nkey = \"d\"\nversion = \"1\"\n",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	var keys []string
	for _, c := range reg.Collectors {
		keys = append(keys, c.Key)
	}
	require.Equal(t, []string{"config", "a", "d"}, keys)
	require.Len(t, reg.Disabled, 2)
	b, c := reg.Disabled[0], reg.Disabled[1]
	require.Equal(t, "b.wasm", b.Name)
	require.Equal(t, []string{filepath.Join(dir, "modules", "b.toml") + ":3: collector[0].version: must be a string, not an integer"}, problemStrings(b.Problems))
	require.Len(t, b.Collectors, 2, "the root file's collector of b.wasm is disabled with it")
	require.Equal(t, "root_b", b.Collectors[0].Key)
	require.Equal(t, "b", b.Collectors[1].Key)
	require.NotNil(t, b.Module)
	require.Equal(t, "c.wasm", c.Name)
	require.Nil(t, c.Module, "a sidecar that does not parse has no module")
	require.Empty(t, c.Collectors)
	require.Contains(t, c.Problems[0].Message, "invalid TOML")
	for _, m := range reg.Modules {
		require.NotContains(t, []string{"b.wasm", "c.wasm"}, m.Name)
	}

	// A problem in the operator's own file still fails the load, with every problem.
	writeFiles(t, dir, map[string]string{"collectors.toml": "[runtime]\ntimeout = 5\n" + configCollector})
	_, err = Load(filepath.Join(dir, "collectors.toml"))
	ps := problems(t, err)
	require.Len(t, ps, 3)
	require.Equal(t, "runtime.timeout", ps[0].Field)
}

func TestBrokenSidecarWithTheConfigCollector(t *testing.T) {
	// The config collector lived in the broken sidecar: "no config collector" is not the
	// operator's fault, and the rest still loads.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": "",
		"modules/a.wasm":  wasmBytes,
		"modules/a.toml":  "[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\nbogus = 1\n",
		"modules/d.wasm":  wasmBytes,
		"modules/d.toml":  "[[collector]]\nkey = \"d\"\nversion = \"1\"\n",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Len(t, reg.Disabled, 1)
	require.Equal(t, "config", reg.Disabled[0].Collectors[0].Key)
	require.Nil(t, reg.ConfigCollector())
	require.Len(t, reg.Collectors, 1)
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Error()
	}
	return out
}

func TestHostileSidecars(t *testing.T) {
	// Big enough for the deep ones to pass the size cap, so that the nesting check is what
	// refuses them.
	const bigCap = "[runtime]\nmax_sidecar_size = \"64MiB\"\n"
	tests := []struct {
		name    string
		root    string
		sidecar func() string
		want    string // the problem's Error() after the file name
		line    int
	}{
		{
			// Killed the host with a stack overflow in the decoder.
			name: "2M levels of nested arrays",
			root: bigCap,
			sidecar: func() string {
				return "x = " + strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000) + "\n"
			},
			want: "nests deeper than 64 levels (arrays, inline tables, table headers and dotted keys together); refused before parsing",
			line: 1,
		},
		{
			// Ran out of memory.
			name: "1M nested inline tables",
			root: bigCap,
			sidecar: func() string {
				return "[[collector]]\nkey = \"x\"\nversion = \"1\"\n[collector.params]\np = " + strings.Repeat("{a=", 1_000_000) + "1" + strings.Repeat("}", 1_000_000) + "\n"
			},
			want: "nests deeper than 64 levels",
			line: 5,
		},
		{
			name: "1M dotted key segments",
			root: bigCap,
			sidecar: func() string {
				return "a" + strings.Repeat(".a", 1_000_000) + " = 1\n"
			},
			want: "nests deeper than 64 levels",
			line: 1,
		},
		{
			name: "a 2 MiB sidecar under the default cap",
			sidecar: func() string {
				return "[[collector]]\nkey = \"x\"\nversion = \"1\"\ndescription = \"" + strings.Repeat("x", 2<<20) + "\"\n"
			},
			want: "file is 2097207 bytes, over the cap of 1 MiB ([runtime] max_sidecar_size in collectors.toml); refused unread",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.sidecar()
			path := twoSidecars(t, tt.root, text)
			var ps Problems
			alloc := allocated(func() { ps = loadDisabled(t, path) })
			require.Len(t, ps, 1)
			require.Equal(t, tt.line, ps[0].Line)
			require.Contains(t, ps[0].Message, tt.want)
			// Refused before parsing: what Load allocates is about the file read once, not the
			// several times its size a parse costs.
			require.Less(t, alloc, uint64(len(text))+4<<20, "allocated %d bytes for a %d-byte sidecar", alloc, len(text))
		})
	}
}

func TestHugeSidecarIsNotRead(t *testing.T) {
	// As in the issue: a 100 MB sidecar (sparse here) once cost 665 MB. It is refused by its size
	// alone.
	path := twoSidecars(t, "", "")
	bad := filepath.Join(filepath.Dir(path), "modules", "bad.toml")
	require.NoError(t, os.Truncate(bad, 100_000_000))
	var ps Problems
	alloc := allocated(func() { ps = loadDisabled(t, path) })
	require.Equal(t, []string{bad + ": file is 100000000 bytes, over the cap of 1 MiB ([runtime] max_sidecar_size in collectors.toml); refused unread"}, problemStrings(ps))
	require.Less(t, alloc, uint64(1<<20), "the file was read: %d bytes allocated", alloc)
}

func TestManyUnknownKeys(t *testing.T) {
	// As in the issue: 40,000 unknown keys took a minute (30 s here), each problem checked
	// against every earlier one. Now they take a fraction of a second (BenchmarkLoadUnknownKeys).
	// The second shape, one unknown key in each of many collectors, once resolved the same key
	// once per collector; it is kept small here and measured at 40,000 by the benchmark.
	var flat, spread strings.Builder
	flat.WriteString("[[collector]]\nkey = \"x\"\nversion = \"1\"\n")
	for i := range 40_000 {
		flat.WriteString("k" + strconv.Itoa(i) + " = 1\n")
	}
	for i := range 4_000 {
		spread.WriteString("[[collector]]\nkey = \"c" + strconv.Itoa(i) + "\"\nversion = \"1\"\nbogus = 1\n")
	}
	for _, tt := range []struct {
		name        string
		text        string
		n, lastLine int
	}{{"one table", flat.String(), 40_000, 40_003}, {"many collectors", spread.String(), 4_000, 16_000}} {
		t.Run(tt.name, func(t *testing.T) {
			path := twoSidecars(t, "", tt.text)
			start := time.Now()
			ps := loadDisabled(t, path)
			elapsed := time.Since(start)
			require.Len(t, ps, tt.n)
			require.Equal(t, "unknown key", ps[tt.n-1].Message)
			require.Equal(t, tt.lastLine, ps[tt.n-1].Line)
			// Generous, for a loaded machine: the quadratic version took 30 s without the race
			// detector, about ten times that with it.
			bound := 10 * time.Second
			if raceEnabled {
				bound *= 6
			}
			require.Less(t, elapsed, bound)
		})
	}
}

func TestNestingLine(t *testing.T) {
	tests := []struct {
		name string
		text string
		want int
	}{
		{"flat", "a = 1\nb = [1, 2]\n", 0},
		{"at the limit", "x = " + strings.Repeat("[", 64) + strings.Repeat("]", 64), 0},
		{"over the limit", "x = " + strings.Repeat("[", 65) + strings.Repeat("]", 65), 1},
		{"brackets in basic strings", "x = \"" + strings.Repeat("[", 100) + "\"\n", 0},
		{"brackets in literal strings", "x = '" + strings.Repeat("{", 100) + "'\n", 0},
		{"brackets in multi-line strings", "x = \"\"\"\n" + strings.Repeat("[", 100) + "\n\"\"\"\ny = 1\n", 0},
		{"escaped quote", "x = \"\\\"" + strings.Repeat("[", 100) + "\"\n", 0},
		{"brackets in comments", "# " + strings.Repeat("[", 100) + "\n", 0},
		{"line counted through multi-line strings", "x = '''\n\n'''\ny = " + strings.Repeat("[", 65), 4},
		{"dotted keys", "a" + strings.Repeat(".b", 65) + " = 1", 1},
		{"dotted header", "[a" + strings.Repeat(".b", 64) + "]", 1},
		{"dots end with the key", strings.Repeat("a.b.c = 1.5\n", 100), 0},
		{"deep over many lines", strings.Repeat("x = [\n", 70), 65},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, nestingLine([]byte(tt.text), maxNesting))
		})
	}
}

func BenchmarkLoadUnknownKeys(b *testing.B) {
	var text strings.Builder
	for i := range 40_000 {
		text.WriteString("[[collector]]\nkey = \"c" + strconv.Itoa(i) + "\"\nversion = \"1\"\nbogus = 1\n")
	}
	dir := b.TempDir()
	for name, content := range map[string]string{
		"collectors.toml": "[runtime]\nmax_sidecar_size = \"4MiB\"\n" + configCollector, "modules/jobs.wasm": wasmBytes, "modules/bad.wasm": wasmBytes, "modules/bad.toml": text.String(),
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := Load(filepath.Join(dir, "collectors.toml")); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHugeRootFileIsNotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "collectors.toml")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	require.NoError(t, os.Truncate(path, 17<<20))
	var (
		reg *Registry
		err error
	)
	alloc := allocated(func() { reg, err = Load(path) })
	require.Nil(t, reg)
	require.EqualError(t, err, path+": file is 17 MiB, over the cap of 16 MiB (the root file's fixed cap); refused unread")
	require.Less(t, alloc, uint64(1<<20))
}
