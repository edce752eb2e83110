package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/shipping"
)

// wasmBytes stands in for a module file; the registry never looks inside one.
const wasmBytes = "\x00asm\x01\x00\x00\x00"

// configCollector is appended to most test registries so that they have their config collector
// (a missing one is a problem of its own). It comes last, so line numbers in a test's TOML
// count from 1.
const configCollector = `
[[collector]]
key = "config"
version = "1"
config = true
module = "jobs.wasm"
`

// writeFiles writes files (path relative to dir → content) under dir, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// problems extracts the Problems from an error returned by Load.
func problems(t *testing.T, err error) Problems {
	t.Helper()
	require.Error(t, err)
	var ps Problems
	require.ErrorAs(t, err, &ps)
	return ps
}

// loadProblems returns every problem Load found: the error's, which include the sidecars', or
// when the root file had none, those of the disabled modules, in the same order.
func loadProblems(t *testing.T, reg *Registry, err error) Problems {
	t.Helper()
	if err != nil {
		return problems(t, err)
	}
	require.NotNil(t, reg)
	var ps Problems
	for _, d := range reg.Disabled {
		ps = append(ps, d.Problems...)
	}
	require.NotEmpty(t, ps, "Load found no problem")
	return ps
}

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	alpha := wasmBytes + "alpha"
	jobs := wasmBytes + "jobs"
	writeFiles(t, dir, map[string]string{
		"collectors.toml": `
[runtime]
modules_dir = "mods"
cache_dir = "cache"
memory_limit = "128MiB"
timeout = "30s"

[limits]
max_json_bytes = 1048576
max_log_bytes = "1KiB"

[modules."jobs.wasm"]
sha256 = "` + strings.ToUpper(sha256Hex(jobs)) + `"
memory_limit = "256MiB"

[modules."beta.wasm"]
memory_limit = "16MiB"

[[collector]]
key = "config"
version = "1.0"
description = "installation details"
config = true
module = "jobs.wasm"

[[collector]]
key = "events"
version = "2.1"
format = "csv"
slicing = "4h"
full_sync_interval_days = 30
shipping_group = "bulk"
module = "./jobs.wasm"
function = "emit_events"
timeout = "10s"
[collector.params]
rate = 120
ratio = 0.5
enabled = true
name = "x"
tables = ["a", "b"]
since = 2025-03-01T00:00:00Z
[collector.params.nested]
depth = 2
[collector.limits]
max_output_bytes = "2GiB"

[[collector]]
key = "events"
version = "2.1"
format = "csv"
slicing = "daily"
module = "beta.wasm"
`,
		"mods/jobs.wasm":  jobs,
		"mods/beta.wasm":  wasmBytes,
		"mods/alpha.wasm": alpha,
		// Sidecars load sorted by file name: alpha before beta.
		"mods/beta.toml": `
[module]
memory_limit = "8MiB"

[[collector]]
key = "beta"
version = "1"
`,
		"mods/alpha.toml": `
[module]
sha256 = "` + sha256Hex(alpha) + `"
memory_limit = "32MiB"

[[collector]]
key = "alpha_one"
version = "1"

[[collector]]
key = "alpha_two"
version = "1"
module = "alpha.wasm"
format = "csv"
`,
		"mods/README.md":       "not a sidecar",
		"mods/sub/deep.toml":   "not a sidecar: discovery is not recursive",
		"mods/sub/unused.wasm": wasmBytes,
	})

	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)

	mods := filepath.Join(dir, "mods")
	require.Equal(t, filepath.Join(dir, "collectors.toml"), reg.File)
	require.Equal(t, Runtime{
		ModulesDir:     mods,
		CacheDir:       filepath.Join(dir, "cache"),
		MemoryLimit:    128 << 20,
		Timeout:        30 * time.Second,
		MaxSidecarSize: 1 << 20,
		Isolation:      IsolationProcess, CompileTimeout: 30 * time.Second, CacheMaxSize: 1 << 30,
	}, reg.Runtime)
	base := Limits{
		MaxJSONBytes:   1 << 20,
		MaxBatchBytes:  16 << 20,
		MaxOutputBytes: 1 << 30,
		MaxLogBytes:    1 << 10,
		MaxStdioBytes:  64 << 10,
	}
	require.Equal(t, base, reg.Limits)

	// Modules in order of first reference: root collectors, then sidecars by name.
	// A sidecar may lower its memory limit below the operator's (beta: 8 of 16 MiB; alpha: 32 of
	// the runtime's 128 MiB), never raise it.
	require.Equal(t, []*Module{
		{Name: "jobs.wasm", Path: filepath.Join(mods, "jobs.wasm"), SHA256: sha256Hex(jobs), MemoryLimit: 256 << 20, Timeout: 30 * time.Second},
		{Name: "beta.wasm", Path: filepath.Join(mods, "beta.wasm"), MemoryLimit: 8 << 20, Timeout: 30 * time.Second, Sidecar: filepath.Join(mods, "beta.toml"),
			Requested: Requests{MemoryLimit: 8 << 20}},
		{Name: "alpha.wasm", Path: filepath.Join(mods, "alpha.wasm"), SHA256: sha256Hex(alpha), MemoryLimit: 32 << 20, Timeout: 30 * time.Second, Sidecar: filepath.Join(mods, "alpha.toml"),
			Requested: Requests{MemoryLimit: 32 << 20}},
	}, reg.Modules)

	type summary struct {
		Key, File, Function string
		Line                int
		Module              string
	}
	var got []summary
	for _, c := range reg.Collectors {
		got = append(got, summary{c.Key, filepath.Base(c.Source.File), c.Function, c.Source.Line, c.Module.Name})
	}
	require.Equal(t, []summary{
		{"config", "collectors.toml", "config", 19, "jobs.wasm"},
		{"events", "collectors.toml", "emit_events", 26, "jobs.wasm"},
		{"events", "collectors.toml", "events", 48, "beta.wasm"},
		{"alpha_one", "alpha.toml", "alpha_one", 6, "alpha.wasm"},
		{"alpha_two", "alpha.toml", "alpha_two", 10, "alpha.wasm"},
		{"beta", "beta.toml", "beta", 5, "beta.wasm"},
	}, got)
	require.Equal(t, filepath.Join(mods, "alpha.toml"), reg.Collectors[3].Source.File)

	cfg := reg.ConfigCollector()
	require.Same(t, reg.Collectors[0], cfg)
	require.Equal(t, "installation details", cfg.Description)
	require.Equal(t, FormatJSON, cfg.Format)
	require.Equal(t, "default", cfg.ShippingGroup)
	require.Equal(t, 30*time.Second, cfg.Timeout)
	require.Equal(t, base, cfg.Limits)
	require.NotNil(t, cfg.Params)
	require.Empty(t, cfg.Params)

	events := reg.Collector("events")
	require.Len(t, events, 2)
	ev := events[0]
	require.Same(t, reg.Modules[0], ev.Module)
	require.Equal(t, "2.1", ev.Version)
	require.Equal(t, FormatCSV, ev.Format)
	require.Equal(t, Slicing{Kind: SliceFixed, Interval: 4 * time.Hour, text: "4h"}, ev.Slicing)
	require.Equal(t, 30, ev.FullSyncIntervalDays)
	require.Equal(t, "bulk", ev.ShippingGroup)
	require.Equal(t, 10*time.Second, ev.Timeout)
	require.Equal(t, map[string]any{
		"rate":    int64(120),
		"ratio":   0.5,
		"enabled": true,
		"name":    "x",
		"tables":  []any{"a", "b"},
		"since":   time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		"nested":  map[string]any{"depth": int64(2)},
	}, ev.Params)
	merged := base
	merged.MaxOutputBytes = 2 << 30
	require.Equal(t, merged, ev.Limits)
	require.Equal(t, "daily", events[1].Slicing.String())

	require.Equal(t, "alpha.wasm", reg.Collector("alpha_one")[0].Module.Name)
	require.Equal(t, FormatCSV, reg.Collector("alpha_two")[0].Format)
	require.Nil(t, reg.Collector("nope"))
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":   configCollector,
		"modules/jobs.wasm": wasmBytes,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, Runtime{
		ModulesDir:     filepath.Join(dir, "modules"),
		MemoryLimit:    64 << 20,
		Timeout:        60 * time.Second,
		MaxSidecarSize: 1 << 20,
		Isolation:      IsolationProcess, CompileTimeout: 30 * time.Second, CacheMaxSize: 1 << 30,
	}, reg.Runtime)
	require.Equal(t, Limits{
		MaxJSONBytes:   16 << 20,
		MaxBatchBytes:  16 << 20,
		MaxOutputBytes: 1 << 30,
		MaxLogBytes:    64 << 10,
		MaxStdioBytes:  64 << 10,
	}, reg.Limits)
	require.Equal(t, GatherSettings{
		MaxDataSize: 200 << 20,
		MaxWindow:   28 * 24 * time.Hour,
		TarballBase: "analytics",
		OutDir:      filepath.Join(dir, "out"),
	}, reg.Gather)
	require.Equal(t, LicenseSettings{}, reg.License)
	require.Equal(t, unsetShipping(), reg.Shipping)
	require.Len(t, reg.Modules, 1)
	require.Equal(t, uint64(64<<20), reg.Modules[0].MemoryLimit)
	require.Empty(t, reg.Modules[0].SHA256)
	c := reg.ConfigCollector()
	require.Equal(t, Collector{
		Key:           "config",
		Version:       "1",
		Format:        FormatJSON,
		Config:        true,
		ShippingGroup: "default",
		Module:        reg.Modules[0],
		Function:      "config",
		Params:        map[string]any{},
		Limits:        reg.Limits,
		Timeout:       60 * time.Second,
		Source:        Position{File: filepath.Join(dir, "collectors.toml"), Line: 2, Field: "collector[0]"},
		// No `function`: the key names the export.
		FunctionSource: Position{File: filepath.Join(dir, "collectors.toml"), Line: 3, Field: "collector[0].key"},
	}, *c)
}

// TestLoadSettings: the root-only [gather], [license] and [shipping] tables, each key set,
// against the defaults TestLoadDefaults checks.
func TestLoadSettings(t *testing.T) {
	defaults := func(dir string) (GatherSettings, LicenseSettings, ShippingSettings) {
		return GatherSettings{
			MaxDataSize: 200 << 20,
			MaxWindow:   28 * 24 * time.Hour,
			TarballBase: "analytics",
			OutDir:      filepath.Join(dir, "out"),
		}, LicenseSettings{}, unsetShipping()
	}
	tests := []struct {
		name  string
		toml  string
		check func(t *testing.T, dir string, g *GatherSettings, l *LicenseSettings, s *ShippingSettings)
	}{
		{
			name: "empty tables keep the defaults",
			toml: "[gather]\n[license]\n[shipping]\n",
		},
		{
			name: "every gather key",
			toml: `[gather]
max_data_size = "1KiB"
max_window = "672h"
tarball_base = "acme.analytics_v2-x"
out_dir = "../tarballs"
state_dir = "var/state"
`,
			check: func(t *testing.T, dir string, g *GatherSettings, _ *LicenseSettings, _ *ShippingSettings) {
				g.MaxDataSize = 1 << 10
				g.MaxWindow = 28 * 24 * time.Hour
				g.TarballBase = "acme.analytics_v2-x"
				g.OutDir = filepath.Join(filepath.Dir(dir), "tarballs")
				g.StateDir = filepath.Join(dir, "var", "state")
			},
		},
		{
			name: "days, bytes, absolute directories",
			toml: `[gather]
max_data_size = 100000000
max_window = "3650d"
out_dir = "/srv/out/"
state_dir = "/var/lib/wasmcollector"
`,
			check: func(t *testing.T, _ string, g *GatherSettings, _ *LicenseSettings, _ *ShippingSettings) {
				g.MaxDataSize = 100_000_000
				g.MaxWindow = 3650 * 24 * time.Hour
				g.OutDir = "/srv/out"
				g.StateDir = "/var/lib/wasmcollector"
			},
		},
		{
			name: "explicit empty state_dir means the default",
			toml: "[gather]\nstate_dir = \"\"\nmax_window = \"1m\"\n",
			check: func(t *testing.T, _ string, g *GatherSettings, _ *LicenseSettings, _ *ShippingSettings) {
				g.MaxWindow = time.Minute
			},
		},
		{
			name: "license required",
			toml: "[license]\nrequired = true\nfile = \"license.txt\"\n",
			check: func(t *testing.T, dir string, _ *GatherSettings, l *LicenseSettings, _ *ShippingSettings) {
				*l = LicenseSettings{Required: true, File: filepath.Join(dir, "license.txt")}
			},
		},
		{
			name: "license file without required",
			toml: "[license]\nfile = \"/etc/acme/license\"\n",
			check: func(t *testing.T, _ string, _ *GatherSettings, l *LicenseSettings, _ *ShippingSettings) {
				*l = LicenseSettings{File: "/etc/acme/license"}
			},
		},
		{
			name: "shipping url",
			toml: "[shipping]\nurl = \"https://ingress.example.com/api/ingress/v1/upload\"\nauth = \"none\"\n",
			check: func(t *testing.T, _ string, _ *GatherSettings, _ *LicenseSettings, s *ShippingSettings) {
				s.URL = "https://ingress.example.com/api/ingress/v1/upload"
				s.Auth = "none"
			},
		},
		{
			name: "plain http url",
			toml: "[shipping]\nurl = \"http://127.0.0.1:8080/upload\"\nauth = \"x-rh-identity\"\n",
			check: func(t *testing.T, _ string, _ *GatherSettings, _ *LicenseSettings, s *ShippingSettings) {
				s.URL = "http://127.0.0.1:8080/upload"
				s.Auth = "x-rh-identity"
			},
		},
		{
			name: "every shipping key",
			toml: `[shipping]
url = "https://ingress.example.com/upload"
content_type = "application/vnd.acme.analytics+tgz"
auth = "mutual-tls"
username = "acme"
username_env = "ACME_USER"
password_env = "ACME_PASSWORD"
identity_file = "identity.json"
client_cert = "pki/cert.pem"
client_key = "/etc/pki/key.pem"
ca_bundle = "pki/ca.pem"
insecure_skip_verify = true
connect_timeout = "5s"
timeout = "2m"
max_attempts = 3
retry_backoff = "10ms"
failed_keep = 0
[shipping.headers]
X-Product = "acme 4.6"
`,
			check: func(t *testing.T, dir string, _ *GatherSettings, _ *LicenseSettings, s *ShippingSettings) {
				*s = ShippingSettings{
					URL: "https://ingress.example.com/upload", ContentType: "application/vnd.acme.analytics+tgz",
					Auth: "mutual-tls", Username: "acme", UsernameEnv: "ACME_USER", PasswordEnv: "ACME_PASSWORD",
					IdentityFile: filepath.Join(dir, "identity.json"), ClientCert: filepath.Join(dir, "pki", "cert.pem"),
					ClientKey: "/etc/pki/key.pem", CABundle: filepath.Join(dir, "pki", "ca.pem"), InsecureSkipVerify: true,
					ConnectTimeout: 5 * time.Second, Timeout: 2 * time.Minute, MaxAttempts: 3, FailedKeep: 0, RetryBackoff: 10 * time.Millisecond,
					Headers: map[string]string{"X-Product": "acme 4.6"},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"collectors.toml":   tt.toml + configCollector,
				"modules/jobs.wasm": wasmBytes,
			})
			reg, err := Load(filepath.Join(dir, "collectors.toml"))
			require.NoError(t, err)
			g, l, s := defaults(dir)
			if tt.check != nil {
				tt.check(t, dir, &g, &l, &s)
			}
			require.Equal(t, g, reg.Gather)
			require.Equal(t, l, reg.License)
			require.Equal(t, s, reg.Shipping)
		})
	}
}

// TestContentTypeWarning: [shipping] with a url and no content_type loads, with a warning that
// the default is taken only by an ingress configured for it; set, or without a url, no warning.
func TestContentTypeWarning(t *testing.T) {
	tests := []struct {
		name, shipping string
		warn           bool
	}{
		{"url without content_type", "[shipping]\nurl = \"https://console.example/api/ingress/v1/upload\"\nauth = \"none\"\n", true},
		{"url and content_type", "[shipping]\nurl = \"https://console.example/api/ingress/v1/upload\"\nauth = \"none\"\ncontent_type = \"application/vnd.redhat.tower.tower_payload+tgz\"\n", false},
		{"content_type set to the default", "[shipping]\nurl = \"https://console.example/u\"\nauth = \"none\"\ncontent_type = \"application/vnd.redhat.wasmcollector.analytics+tgz\"\n", false},
		{"no url", "[shipping]\nauth = \"none\"\n", false},
		{"no shipping", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"collectors.toml": tt.shipping + configCollector, "modules/jobs.wasm": wasmBytes})
			reg, err := Load(filepath.Join(dir, "collectors.toml"))
			require.NoError(t, err, "a warning is not a problem")
			if !tt.warn {
				require.Empty(t, reg.Warnings)
				return
			}
			require.Len(t, reg.Warnings, 1)
			w := reg.Warnings[0]
			require.Equal(t, CodeMissing, w.Code)
			require.Equal(t, "shipping.content_type", w.Field)
			require.Equal(t, 1, w.Line, "the [shipping] table's line")
			require.Contains(t, w.Message, "set content_type to the type the ingress routes for this product")
			require.Contains(t, w.Message, shipping.DefaultContentType)
			require.Contains(t, w.Message, "application/vnd.redhat.tower.tower_payload+tgz")
			require.Equal(t, shipping.DefaultContentType, reg.Shipping.ContentType, "the default still applies")
		})
	}
}

// TestLoadRootInsideModulesDir: a root file that sits in modules_dir is not mistaken for a
// sidecar.
func TestLoadRootInsideModulesDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml": "[runtime]\nmodules_dir = \".\"\n" + configCollector,
		"jobs.wasm":       wasmBytes,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Len(t, reg.Collectors, 1)
}

// TestLoadRelativePath: problems show paths relative the way Load was called.
func TestLoadRelativePath(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"etc/collectors.toml": `[runtime]
modules_dir = "build/modules"

[[collector]]
key = "x"
version = "1"
module = "x.wasm"
` + configCollector,
		"etc/build/modules/jobs.wasm": wasmBytes,
		"etc/build/modules/y.wasm":    wasmBytes,
		"etc/build/modules/y.toml":    "[[collector]]\nkey = \"y\"\nversion = 1\n",
	})
	t.Chdir(dir)
	reg, err := Load("etc/collectors.toml")
	require.Equal(t, filepath.Join(dir, "etc", "collectors.toml"), reg.File)
	require.Equal(t, filepath.Join(dir, "etc", "build", "modules"), reg.Runtime.ModulesDir)
	require.EqualError(t, err, strings.Join([]string{
		"etc/collectors.toml:7: collector[0].module: module file etc/build/modules/x.wasm does not exist",
		"etc/build/modules/y.toml:3: collector[0].version: must be a string, not an integer",
	}, "\n"))
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad.toml": "[[collector]]\nkey = \"a\nversion = \"1\"\n"})

	tests := []struct {
		name string
		path string
		want string
	}{
		{"missing file", filepath.Join(dir, "nope.toml"), filepath.Join(dir, "nope.toml") + ": cannot read file: no such file or directory"},
		{"syntax error", filepath.Join(dir, "bad.toml"), filepath.Join(dir, "bad.toml") + ":2: invalid TOML: strings cannot contain newlines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := Load(tt.path)
			require.Nil(t, reg)
			ps := problems(t, err)
			require.Len(t, ps, 1)
			require.EqualError(t, ps[0], tt.want)
		})
	}
}

// want is one expected problem: file relative to the test's directory (slash-separated), line,
// field, and a substring of the message.
type want struct {
	file  string
	line  int
	field string
	msg   string
}

func TestLoadProblems(t *testing.T) {
	const root = "collectors.toml"
	tests := []struct {
		name  string
		files map[string]string // written after modules/jobs.wasm; collectors.toml gets configCollector appended unless noConfig
		setup func(t *testing.T, dir string)
		// noConfig leaves configCollector out of collectors.toml.
		noConfig bool
		want     []want
	}{
		{
			name:  "syntax error",
			files: map[string]string{root: "[runtime]\ntimeout = \"60s\"\nmemory_limit = = 1\n"},
			want:  []want{{root, 3, "", "invalid TOML: expected value"}},
		},
		{
			name: "syntax error in sidecar",
			files: map[string]string{
				root:              "",
				"modules/b.wasm":  wasmBytes,
				"modules/b.toml":  "[[collector]]\nkey = \"b\"\nversion = \"1\"\nversion = \"2\"\n",
				"modules/c.wasm":  wasmBytes,
				"modules/c.toml":  "[[collector]]\nkey = \"c\"\nversion = 3\n",
				"modules/jobs.md": "ignored",
			},
			want: []want{
				{"modules/b.toml", 4, "", "invalid TOML: key 'collector.version' has already been defined"},
				{"modules/c.toml", 3, "collector[0].version", "must be a string, not an integer"},
			},
		},
		{
			name:  "unknown top-level key",
			files: map[string]string{root: "bogus = 1\n"},
			want:  []want{{root, 1, "bogus", "unknown key"}},
		},
		{
			name:  "unknown table reported once",
			files: map[string]string{root: "[extras]\na = 1\nb = 2\n"},
			want:  []want{{root, 1, "extras", "unknown key"}},
		},
		{
			name:  "unknown key in runtime",
			files: map[string]string{root: "[runtime]\ntimeout = \"1s\"\nspeed = \"fast\"\n"},
			want:  []want{{root, 3, "runtime.speed", "unknown key"}},
		},
		{
			name:  "unknown key in limits",
			files: map[string]string{root: "[limits]\nmax_cpu = 5\n"},
			want:  []want{{root, 2, "limits.max_cpu", "unknown key"}},
		},
		{
			name:  "unknown key in module settings",
			files: map[string]string{root: "[modules.\"jobs.wasm\"]\nsha = \"x\"\n"},
			want:  []want{{root, 2, `modules."jobs.wasm".sha`, "unknown key"}},
		},
		{
			name: "unknown key in second collector",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
module = "jobs.wasm"

[[collector]]
key = "b"
version = "1"
colour = "red"
module = "jobs.wasm"
`},
			want: []want{{root, 9, "collector[1].colour", "unknown key"}},
		},
		{
			name: "unknown key in collector limits",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
module = "jobs.wasm"
[collector.params]
anything = "goes"
[collector.params.deep]
x = 1
[collector.limits]
max_cpu = 5
`},
			want: []want{{root, 10, "collector[0].limits.max_cpu", "unknown key"}},
		},
		{
			name: "keys are case-sensitive",
			files: map[string]string{root: `[[collector]]
key = "a"
Version = "1"
module = "jobs.wasm"
`},
			want: []want{{root, 3, "collector[0].Version", `keys are case-sensitive; did you mean "version"?`}},
		},
		{
			name: "wrong types reported together",
			files: map[string]string{root: `[runtime]
timeout = 60
modules_dir = 5

[limits]
max_json_bytes = 1.5

[[collector]]
key = "a"
version = 1
config = "yes"
format = ["csv"]
slicing = "4h"
full_sync_interval_days = "30"
module = "jobs.wasm"
params = 5
limits = 5
`},
			want: []want{
				{root, 2, "runtime.timeout", "must be a string, not an integer"},
				{root, 3, "runtime.modules_dir", "must be a string, not an integer"},
				{root, 6, "limits.max_json_bytes", `must be a size such as "64MiB" or an integer number of bytes, not a float`},
				{root, 10, "collector[0].version", "must be a string, not an integer"},
				{root, 11, "collector[0].config", "must be true or false, not a string"},
				{root, 12, "collector[0].format", "must be a string, not an array"},
				{root, 14, "collector[0].full_sync_interval_days", "must be an integer, not a string"},
				{root, 16, "collector[0].params", "must be a table"},
				{root, 17, "collector[0].limits", "must be a table"},
			},
		},
		{
			name: "unknown keys in gather, license and shipping",
			files: map[string]string{root: `[gather]
max_window = "1d"
window = "2d"

[license]
key = "abc"

[shipping]
url = "https://x.example"
auth = "none"
token = "secret"
`},
			want: []want{
				{root, 3, "gather.window", "unknown key"},
				{root, 6, "license.key", "unknown key"},
				{root, 11, "shipping.token", "unknown key"},
			},
		},
		{
			name: "shipping: a secret in the TOML, bad auth, header and attempts",
			files: map[string]string{root: `[shipping]
url = "https://x.example"
auth = "kerberos"
password = "hunter2"
max_attempts = 0
[shipping.headers]
"Bad Header" = "x"
`},
			want: []want{
				{root, 3, "shipping.auth", `invalid auth "kerberos": must be "user-pass", "x-rh-identity", "mutual-tls" or "none"`},
				{root, 4, "shipping.password", "secrets never sit in the TOML: name the environment variable (password_env) or the file (password_file) that holds it"},
				{root, 5, "shipping.max_attempts", "max_attempts 0 must be from 1 to 100"},
				{root, 7, "shipping.headers.\"Bad Header\"", `invalid header "Bad Header"`},
			},
		},
		{
			name:  "shipping: user-pass without credentials",
			files: map[string]string{root: "[shipping]\nurl = \"https://x.example\"\n"},
			want: []want{
				{root, 1, "shipping.username", "user-pass needs a username (username or username_env)"},
				{root, 1, "shipping.password_env", "user-pass needs exactly one of password_env and password_file"},
			},
		},
		{
			name:  "shipping: mutual-tls without a key",
			files: map[string]string{root: "[shipping]\nurl = \"https://x.example\"\nauth = \"mutual-tls\"\nclient_cert = \"c.pem\"\n"},
			want: []want{
				{root, 1, "shipping.client_key", "mutual-tls needs client_key"},
			},
		},
		{
			name:  "gather keys are case-sensitive",
			files: map[string]string{root: "[gather]\nMax_Window = \"1d\"\n"},
			want:  []want{{root, 2, "gather.Max_Window", `did you mean "max_window"?`}},
		},
		{
			name:  "gather, license and shipping of the wrong shape",
			files: map[string]string{root: "gather = 5\nlicense = \"x\"\nshipping = [1]\n"},
			want: []want{
				{root, 1, "gather", "must be a table"},
				{root, 2, "license", "must be a table"},
				{root, 3, "shipping", "must be a table"},
			},
		},
		{
			name: "gather, license and shipping of the wrong types",
			files: map[string]string{root: `[gather]
max_data_size = 1.5
max_window = 28
tarball_base = 1
out_dir = false
state_dir = 0

[license]
required = "yes"
file = 5

[shipping]
url = ["https://x"]
`},
			want: []want{
				{root, 2, "gather.max_data_size", `must be a size such as "64MiB" or an integer number of bytes, not a float`},
				{root, 3, "gather.max_window", "must be a string, not an integer"},
				{root, 4, "gather.tarball_base", "must be a string, not an integer"},
				{root, 5, "gather.out_dir", "must be a string, not a boolean"},
				{root, 6, "gather.state_dir", "must be a string, not an integer"},
				{root, 9, "license.required", "must be true or false, not a string"},
				{root, 10, "license.file", "must be a string, not an integer"},
				{root, 13, "shipping.url", "must be a string, not an array"},
			},
		},
		{
			name:  "max_data_size below 1 KiB",
			files: map[string]string{root: "[gather]\nmax_data_size = \"1000B\"\n"},
			want:  []want{{root, 2, "gather.max_data_size", "max_data_size 1000 bytes is too small: must be at least 1 KiB"}},
		},
		{
			name:  "max_data_size not a size",
			files: map[string]string{root: "[gather]\nmax_data_size = \"200M\"\n"},
			want:  []want{{root, 2, "gather.max_data_size", `invalid size "200M": unknown unit "M"`}},
		},
		{
			name:  "max_data_size zero",
			files: map[string]string{root: "[gather]\nmax_data_size = 0\n"},
			want:  []want{{root, 2, "gather.max_data_size", "max_data_size 0 bytes is too small: must be at least 1 KiB"}},
		},
		{
			name:  "max_window not a duration",
			files: map[string]string{root: "[gather]\nmax_window = \"4 weeks\"\n"},
			want:  []want{{root, 2, "gather.max_window", `invalid duration "4 weeks": use a Go duration such as "672h" or whole days such as "28d"`}},
		},
		{
			name:  "max_window zero",
			files: map[string]string{root: "[gather]\nmax_window = \"0d\"\n"},
			want:  []want{{root, 2, "gather.max_window", `max_window "0d" must be more than 0`}},
		},
		{
			name:  "max_window negative",
			files: map[string]string{root: "[gather]\nmax_window = \"-1h\"\n"},
			want:  []want{{root, 2, "gather.max_window", `max_window "-1h" must be more than 0`}},
		},
		{
			name:  "max_window too long in days",
			files: map[string]string{root: "[gather]\nmax_window = \"3651d\"\n"},
			want:  []want{{root, 2, "gather.max_window", `max_window "3651d" must be at most 3650d`}},
		},
		{
			name:  "max_window too long in hours",
			files: map[string]string{root: "[gather]\nmax_window = \"87601h\"\n"},
			want:  []want{{root, 2, "gather.max_window", `max_window "87601h" must be at most 3650d`}},
		},
		{
			name: "bad tarball_base",
			files: map[string]string{root: `[gather]
tarball_base = "a/b"
[license]
[shipping]
[[collector]]
key = "x"
version = "1"
module = "jobs.wasm"
`},
			want: []want{{root, 2, "gather.tarball_base", `invalid tarball_base "a/b": use 1 to 64 letters, digits, "_", "." or "-"`}},
		},
		{
			name:  "empty tarball_base",
			files: map[string]string{root: "[gather]\ntarball_base = \"\"\n"},
			want:  []want{{root, 2, "gather.tarball_base", `invalid tarball_base ""`}},
		},
		{
			name:  "long tarball_base",
			files: map[string]string{root: "[gather]\ntarball_base = \"" + strings.Repeat("a", 65) + "\"\n"},
			want:  []want{{root, 2, "gather.tarball_base", "use 1 to 64 letters"}},
		},
		{
			name:  "empty out_dir",
			files: map[string]string{root: "[gather]\nout_dir = \"\"\n"},
			want:  []want{{root, 2, "gather.out_dir", `must not be empty (the default is "out")`}},
		},
		{
			name:  "license required without file",
			files: map[string]string{root: "[license]\nrequired = true\n"},
			want:  []want{{root, 1, "license.file", "required when license.required = true: the license file a gather checks"}},
		},
		{
			name:  "license required with empty file",
			files: map[string]string{root: "[license]\nrequired = true\nfile = \"\"\n"},
			want:  []want{{root, 3, "license.file", "required when license.required = true"}},
		},
		{
			name: "bad shipping urls",
			files: map[string]string{root: `[shipping]
url = "ftp://ingress.example.com/upload"
`},
			want: []want{{root, 2, "shipping.url", `invalid url "ftp://ingress.example.com/upload": must start with http:// or https://`}},
		},
		{
			name:  "shipping url without scheme",
			files: map[string]string{root: "[shipping]\nurl = \"ingress.example.com/upload\"\n"},
			want:  []want{{root, 2, "shipping.url", "must start with http:// or https://"}},
		},
		{
			name:  "shipping url without host",
			files: map[string]string{root: "[shipping]\nurl = \"https:///upload\"\n"},
			want:  []want{{root, 2, "shipping.url", `invalid url "https:///upload": no host`}},
		},
		{
			name:  "shipping url unparsable",
			files: map[string]string{root: "[shipping]\nurl = \"https://exa mple.com/\"\n"},
			want:  []want{{root, 2, "shipping.url", `invalid url "https://exa mple.com/": invalid character " " in host name`}},
		},
		{
			name:  "table of the wrong shape",
			files: map[string]string{root: "runtime = 5\nmodules = \"x\"\n"},
			want: []want{
				{root, 1, "runtime", "must be a table"},
				{root, 2, "modules", `must be a table of module settings, such as [modules."jobs.wasm"]`},
			},
		},
		{
			name:     "collector not an array of tables",
			files:    map[string]string{root: "[collector]\nkey = \"a\"\n"},
			noConfig: true,
			want: []want{
				{root, 1, "collector", "must be an array of tables ([[collector]])"},
				{root, 0, "collector", "no config collector"},
			},
		},
		{
			name:  "missing key, version and module",
			files: map[string]string{root: "[[collector]]\ndescription = \"nothing else\"\n"},
			want: []want{
				{root, 1, "collector[0].key", "missing (required)"},
				{root, 1, "collector[0].version", "missing (required)"},
				{root, 1, "collector[0].module", "missing (required)"},
			},
		},
		{
			name:  "empty version",
			files: map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"\"\nmodule = \"jobs.wasm\"\n"},
			want:  []want{{root, 3, "collector[0].version", "must not be empty"}},
		},
		{
			name: "bad key syntax",
			files: map[string]string{root: `[[collector]]
key = "-a"
version = "1"
module = "jobs.wasm"
[[collector]]
key = "a b/c"
version = "1"
module = "jobs.wasm"
[[collector]]
key = "a..b"
version = "1"
module = "jobs.wasm"
[[collector]]
key = "` + strings.Repeat("k", 129) + `"
version = "1"
module = "jobs.wasm"
`},
			want: []want{
				{root, 2, "collector[0].key", `invalid key "-a"`},
				{root, 6, "collector[1].key", `invalid key "a b/c"`},
				{root, 10, "collector[2].key", `invalid key "a..b": must not contain ".."`},
				{root, 14, "collector[3].key", "use 1 to 128 letters"},
			},
		},
		{
			name: "duplicate key",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
module = "jobs.wasm"

[[collector]]
key = "a"
version = "2"
module = "jobs.wasm"
`},
			want: []want{{root, 7, "collector[1].key", `duplicate key "a", first declared at ` + "{dir}/collectors.toml:1"}},
		},
		{
			name: "duplicate key with one entry unsliced",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
slicing = "daily"
module = "jobs.wasm"

[[collector]]
key = "a"
version = "2"
module = "jobs.wasm"

[[collector]]
key = "a"
version = "2"
slicing = "1h"
module = "jobs.wasm"
`},
			want: []want{
				{root, 8, "collector[1].key", "a key may repeat only if every collector with it is sliced"},
				{root, 13, "collector[2].key", "first declared at {dir}/collectors.toml:1"},
			},
		},
		{
			name: "duplicate key across root and sidecar",
			files: map[string]string{
				root:             "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"jobs.wasm\"\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "\n[[collector]]\nkey = \"a\"\nversion = \"1\"\n",
			},
			want: []want{{"modules/b.toml", 3, "collector[0].key", `key "a" is also declared by module jobs.wasm at {dir}/collectors.toml:1; collectors of two modules must not share a key (both would write ./a.json)`}},
		},
		{
			name:  "second config collector",
			files: map[string]string{root: "[[collector]]\nkey = \"cfg2\"\nversion = \"1\"\nconfig = true\nmodule = \"jobs.wasm\"\n"},
			want:  []want{{root, 10, "collector[1].config", `a second config collector; the first is "cfg2" at {dir}/collectors.toml:1`}},
		},
		{
			name:     "no config collector",
			files:    map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"jobs.wasm\"\n"},
			noConfig: true,
			want:     []want{{root, 0, "collector", "no config collector: exactly one collector must set config = true"}},
		},
		{
			name: "config collector as csv and sliced",
			files: map[string]string{root: `[[collector]]
key = "cfg"
version = "1"
config = true
format = "csv"
slicing = "daily"
module = "jobs.wasm"
`},
			noConfig: true,
			want: []want{
				{root, 5, "collector[0].format", `the config collector must use format "json"`},
				{root, 6, "collector[0].slicing", "the config collector must not be sliced"},
			},
		},
		{
			name:  "bad format",
			files: map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"1\"\nformat = \"xml\"\nmodule = \"jobs.wasm\"\n"},
			want:  []want{{root, 4, "collector[0].format", `invalid format "xml": must be "json" or "csv"`}},
		},
		{
			name: "bad slicing",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
slicing = "weekly"
module = "jobs.wasm"
[[collector]]
key = "b"
version = "1"
slicing = "30s"
module = "jobs.wasm"
[[collector]]
key = "c"
version = "1"
slicing = "700h"
module = "jobs.wasm"
`},
			want: []want{
				{root, 4, "collector[0].slicing", `invalid slicing "weekly": use "none", "daily" or a duration such as "4h"`},
				{root, 9, "collector[1].slicing", `invalid slicing "30s": a slice must be at least 1m0s`},
				{root, 14, "collector[2].slicing", `invalid slicing "700h": a slice must be at most 672h0m0s (28 days)`},
			},
		},
		{
			name: "bad durations",
			files: map[string]string{root: `[runtime]
timeout = "6o s"

[[collector]]
key = "a"
version = "1"
module = "jobs.wasm"
timeout = "0s"

[[collector]]
key = "b"
version = "1"
module = "jobs.wasm"
timeout = "25h"
`},
			want: []want{
				{root, 2, "runtime.timeout", `invalid duration "6o s"`},
				{root, 8, "collector[0].timeout", `timeout "0s" must be more than 0`},
				{root, 14, "collector[1].timeout", `timeout "25h" must be at most 24h0m0s`},
			},
		},
		{
			name: "bad sizes",
			files: map[string]string{root: `[limits]
max_json_bytes = "12XB"
max_batch_bytes = 0
max_output_bytes = "1.5GiB"
max_log_bytes = -1
max_stdio_bytes = ""
`},
			want: []want{
				{root, 2, "limits.max_json_bytes", `invalid size "12XB": unknown unit "XB" (valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)`},
				{root, 3, "limits.max_batch_bytes", "must be more than 0 bytes"},
				{root, 4, "limits.max_output_bytes", `invalid size "1.5GiB": fractions are not supported`},
				{root, 5, "limits.max_log_bytes", "invalid size -1: must not be negative"},
				{root, 6, "limits.max_stdio_bytes", `invalid size ""`},
			},
		},
		{
			name: "bad memory limits",
			files: map[string]string{root: `[runtime]
memory_limit = "1500KB"

[modules."jobs.wasm"]
memory_limit = "512KiB"

[modules."other.wasm"]
memory_limit = "8GiB"

[[collector]]
key = "a"
version = "1"
module = "other.wasm"
`,
				"modules/other.wasm": wasmBytes,
			},
			want: []want{
				{root, 2, "runtime.memory_limit", "memory_limit 1500000 bytes is not a multiple of 64 KiB (the wasm page size)"},
				{root, 5, `modules."jobs.wasm".memory_limit`, "memory_limit 512 KiB is out of range: must be from 1 MiB to 4 GiB"},
				{root, 8, `modules."other.wasm".memory_limit`, "memory_limit 8 GiB is out of range"},
			},
		},
		{
			name: "bad full_sync_interval_days",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
slicing = "daily"
full_sync_interval_days = 0
module = "jobs.wasm"

[[collector]]
key = "b"
version = "1"
full_sync_interval_days = 30
module = "jobs.wasm"
`},
			want: []want{
				{root, 5, "collector[0].full_sync_interval_days", "must be a number of days from 1 to 36500, not 0"},
				{root, 11, "collector[1].full_sync_interval_days", `only allowed on a sliced collector (slicing is "none")`},
			},
		},
		{
			name:  "bad shipping_group",
			files: map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"1\"\nshipping_group = \"a b\"\nmodule = \"jobs.wasm\"\n"},
			want:  []want{{root, 4, "collector[0].shipping_group", `invalid shipping_group "a b"`}},
		},
		{
			name:  "empty function",
			files: map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"jobs.wasm\"\nfunction = \"\"\n"},
			want:  []want{{root, 5, "collector[0].function", "must not be empty"}},
		},
		{
			name:  "module file missing",
			files: map[string]string{root: "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"x.wasm\"\n"},
			want:  []want{{root, 4, "collector[0].module", "module file {dir}/modules/x.wasm does not exist"}},
		},
		{
			name:  "modules_dir missing",
			files: map[string]string{root: "[runtime]\nmodules_dir = \"nowhere\"\n"},
			want:  []want{{root, 2, "runtime.modules_dir", "modules directory {dir}/nowhere does not exist"}},
		},
		{
			name: "module path absolute or escaping",
			files: map[string]string{root: `[[collector]]
key = "a"
version = "1"
module = "/etc/x.wasm"

[[collector]]
key = "b"
version = "1"
module = "sub/../../x.wasm"
`},
			want: []want{
				{root, 4, "collector[0].module", `module "/etc/x.wasm" must be a path relative to modules_dir`},
				{root, 9, "collector[1].module", `module "sub/../../x.wasm" escapes modules_dir`},
			},
		},
		{
			name: "module symlink escapes modules_dir",
			files: map[string]string{
				root: `[[collector]]
key = "a"
version = "1"
module = "evil.wasm"

[[collector]]
key = "b"
version = "1"
module = "sub/evil.wasm"
`,
				"outside/evil.wasm": wasmBytes,
			},
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink(filepath.Join("..", "outside", "evil.wasm"), filepath.Join(dir, "modules", "evil.wasm")))
				require.NoError(t, os.Symlink(filepath.Join("..", "outside"), filepath.Join(dir, "modules", "sub")))
			},
			want: []want{
				{root, 4, "collector[0].module", "module file {dir}/modules/evil.wasm resolves to {real}/outside/evil.wasm, outside modules_dir {dir}/modules"},
				{root, 9, "collector[1].module", "module file {dir}/modules/sub/evil.wasm resolves to {real}/outside/evil.wasm, outside modules_dir"},
			},
		},
		{
			name: "module not a regular file",
			files: map[string]string{
				root:                        "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"dir.wasm\"\n",
				"modules/dir.wasm/keep.txt": "",
			},
			want: []want{{root, 4, "collector[0].module", "module file {dir}/modules/dir.wasm is not a regular file"}},
		},
		{
			name:  "sha256 not 64 hex digits",
			files: map[string]string{root: "[modules.\"jobs.wasm\"]\nsha256 = \"abc\"\n"},
			want:  []want{{root, 2, `modules."jobs.wasm".sha256`, `invalid sha256 "abc": want 64 hex digits`}},
		},
		{
			name:  "sha256 mismatch",
			files: map[string]string{root: "[modules.\"jobs.wasm\"]\nsha256 = \"" + strings.Repeat("0", 64) + "\"\n"},
			want: []want{{root, 2, `modules."jobs.wasm".sha256`,
				"sha256 mismatch: pinned " + strings.Repeat("0", 64) + ", file has " + sha256Hex(wasmBytes)}},
		},
		{
			name: "sha256 mismatch in sidecar",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\nsha256 = \"" + strings.Repeat("a", 64) + "\"\n[[collector]]\nkey = \"b\"\nversion = \"1\"\n",
			},
			want: []want{{"modules/b.toml", 2, "module.sha256", "sha256 mismatch: pinned " + strings.Repeat("a", 64)}},
		},
		{
			name: "sha256 differs between root and sidecar",
			files: map[string]string{
				root:             "[modules.\"b.wasm\"]\nsha256 = \"" + sha256Hex(wasmBytes) + "\"\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\nsha256 = \"" + strings.Repeat("b", 64) + "\"\n[[collector]]\nkey = \"b\"\nversion = \"1\"\n",
			},
			// The vendor's pin disagrees with the operator's: the sidecar is wrong, its module disabled.
			want: []want{{"modules/b.toml", 2, "module.sha256", "sha256 " + strings.Repeat("b", 64) + " differs from " + sha256Hex(wasmBytes) + " pinned in {dir}/collectors.toml:2"}},
		},
		{
			name:  "module settings no collector uses",
			files: map[string]string{root: "[modules.\"jobs.wasm\"]\nmemory_limit = \"2MiB\"\n\n[modules.\"job.wasm\"]\nsha256 = \"" + sha256Hex(wasmBytes) + "\"\n"},
			want:  []want{{root, 4, `modules."job.wasm"`, `no collector uses module "job.wasm"`}},
		},
		{
			name: "sidecar with root-only tables",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[runtime]\ntimeout = \"1s\"\n\n[limits]\nmax_json_bytes = 1\n\n[modules.\"b.wasm\"]\nsha256 = \"\"\n",
			},
			want: []want{
				{"modules/b.toml", 1, "runtime", "[runtime] is not allowed in a sidecar; set it in the root file"},
				{"modules/b.toml", 4, "limits", "[limits] is not allowed in a sidecar"},
				{"modules/b.toml", 7, "modules", "[modules] is not allowed in a sidecar"},
			},
		},
		{
			name: "sidecar with gather, license and shipping",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[gather]\nmax_window = \"1d\"\n\n[license]\nrequired = false\n\n[shipping]\nurl = \"https://x\"\n",
			},
			want: []want{
				{"modules/b.toml", 1, "gather", "[gather] is not allowed in a sidecar; set it in the root file"},
				{"modules/b.toml", 4, "license", "[license] is not allowed in a sidecar"},
				{"modules/b.toml", 7, "shipping", "[shipping] is not allowed in a sidecar"},
			},
		},
		{
			name: "sidecar collector naming another module",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[[collector]]\nkey = \"b\"\nversion = \"1\"\nmodule = \"jobs.wasm\"\n",
			},
			want: []want{{"modules/b.toml", 4, "collector[0].module", `module "jobs.wasm" does not match this sidecar's module "b.wasm"; omit it or write "b.wasm"`}},
		},
		{
			// The attack of issue 11 item 1, as written: a vendor's file grants itself a host
			// directory, a secret and memory. Each request is refused with the lines to add.
			name: "sidecar requests what collectors.toml does not grant",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\nmounts = {\"/host\" = \"/\"}\nenv = [\"SECRET_TOKEN\"]\nmemory_limit = \"4GiB\"\n[[collector]]\nkey = \"b\"\nversion = \"1\"\n",
			},
			want: []want{
				{"modules/b.toml", 2, `module.mounts."/host"`, "the module requests mount \"/host\" = \"/\", which collectors.toml does not grant; to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  mounts = { \"/host\" = \"/\" }"},
				{"modules/b.toml", 3, "module.env", "the module requests environment variable \"SECRET_TOKEN\", which collectors.toml does not grant; to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  env = [\"SECRET_TOKEN\"]"},
				{"modules/b.toml", 4, "module.memory_limit", "the module requests memory_limit 4 GiB, above the 64 MiB collectors.toml allows it; lower it, or to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  memory_limit = \"4 GiB\""},
			},
		},
		{
			name: "sidecar requests more than collectors.toml grants",
			files: map[string]string{
				root:             "[modules.\"b.wasm\"]\nenv = [\"TZ\"]\nmounts = { \"/etc/b\" = \"modules\" }\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\nenv = [\"TZ\", \"HOME\"]\nmounts = { \"/etc/b\" = \".\", \"/etc/c\" = \".\" }\n[[collector]]\nkey = \"b\"\nversion = \"1\"\n",
			},
			want: []want{
				{"modules/b.toml", 2, "module.env", "environment variable \"HOME\", which collectors.toml does not grant; to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  env = [\"TZ\", \"HOME\"]"},
				{"modules/b.toml", 3, `module.mounts."/etc/c"`, "mount \"/etc/c\" = \"{dir}/modules\", which collectors.toml does not grant; to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  mounts = { \"/etc/b\" = \"{dir}/modules\", \"/etc/c\" = \"{dir}/modules\" }"},
			},
		},
		{
			name: "sidecar collectors request a data source not granted to the module",
			files: map[string]string{
				root:             "[datasources.awx]\ndriver = \"sqlite\"\npath = \"awx.db\"\n[datasources.other]\ndriver = \"sqlite\"\npath = \"o.db\"\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\ndatasources = [\"other\"]\n[[collector]]\nkey = \"b\"\nversion = \"1\"\ndatasources = [\"awx\"]\n",
			},
			want: []want{
				{"modules/b.toml", 2, "module.datasources", "the module requests data source \"other\", which collectors.toml does not grant module \"b.wasm\"; to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  datasources = [\"other\", \"awx\"]"},
				{"modules/b.toml", 6, "collector[0].datasources", "the collector requests data source \"awx\", which collectors.toml does not grant module \"b.wasm\""},
			},
		},
		{
			name: "sidecar limits may only lower the operator's",
			files: map[string]string{
				root:             "[runtime]\ntimeout = \"30s\"\n[modules.\"b.wasm\"]\ntimeout = \"1m\"\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[module]\ntimeout = \"2m\"\n[[collector]]\nkey = \"b\"\nversion = \"1\"\ntimeout = \"90m\"\n[collector.limits]\nmax_output_bytes = \"2GiB\"\nmax_log_bytes = \"1KiB\"\n",
			},
			want: []want{
				{"modules/b.toml", 2, "module.timeout", "the module requests timeout 2m, above the 1m collectors.toml allows it; lower it, or to grant it, add to collectors.toml:\n  [modules.\"b.wasm\"]\n  timeout = \"2m\""},
				{"modules/b.toml", 6, "collector[0].timeout", "the collector requests timeout 1h30m, above the 1m collectors.toml allows module \"b.wasm\""},
				{"modules/b.toml", 8, "collector[0].limits.max_output_bytes", "the collector requests max_output_bytes 2 GiB, above the 1 GiB collectors.toml allows; lower it, or to allow it set in collectors.toml:\n  [limits]\n  max_output_bytes = \"2 GiB\""},
			},
		},
		{
			name:  "max_sidecar_size out of range",
			files: map[string]string{root: "[runtime]\nmax_sidecar_size = \"1GiB\"\n"},
			want:  []want{{root, 2, "runtime.max_sidecar_size", "max_sidecar_size 1 GiB is out of range: must be from 1 KiB to 64 MiB"}},
		},
		{
			name: "sidecar over max_sidecar_size",
			files: map[string]string{
				root:             "[runtime]\nmax_sidecar_size = \"1KiB\"\n",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[[collector]]\nkey = \"b\"\nversion = \"1\"\ndescription = \"" + strings.Repeat("x", 1024) + "\"\n",
			},
			want: []want{{"modules/b.toml", 0, "", "file is 1079 bytes, over the cap of 1 KiB ([runtime] max_sidecar_size in collectors.toml); refused unread"}},
		},
		{
			name: "sidecar nested too deep",
			files: map[string]string{
				root:             "",
				"modules/b.wasm": wasmBytes,
				"modules/b.toml": "[[collector]]\nkey = \"b\"\nversion = \"1\"\n[collector.params]\nx = " + strings.Repeat("[", 65) + strings.Repeat("]", 65) + "\n",
			},
			want: []want{{"modules/b.toml", 5, "", "nests deeper than 64 levels (arrays, inline tables, table headers and dotted keys together); refused before parsing"}},
		},
		{
			name:  "root file nested too deep (no registry, as for a syntax error)",
			files: map[string]string{root: "a.b.c = 1\nx = " + strings.Repeat("{a=", 70) + "1" + strings.Repeat("}", 70) + "\n"},
			want:  []want{{root, 2, "", "nests deeper than 64 levels"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			real, err := filepath.EvalSymlinks(dir)
			require.NoError(t, err)
			files := map[string]string{"modules/jobs.wasm": wasmBytes}
			for k, v := range tt.files {
				files[k] = v
			}
			if !tt.noConfig {
				files[root] += configCollector
			}
			writeFiles(t, dir, files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}

			reg, err := Load(filepath.Join(dir, root))
			ps := loadProblems(t, reg, err)
			expand := strings.NewReplacer("{dir}", dir, "{real}", real).Replace
			require.Len(t, ps, len(tt.want), "problems:\n%v", err)
			for i, w := range tt.want {
				p := ps[i]
				file := filepath.Join(dir, filepath.FromSlash(w.file))
				require.Equal(t, file, p.File, "problem %d: %v", i, p)
				require.Equal(t, w.line, p.Line, "problem %d: %v", i, p)
				require.Equal(t, w.field, p.Field, "problem %d: %v", i, p)
				require.Contains(t, p.Message, expand(w.msg), "problem %d", i)
				require.NotEmpty(t, p.Code, "problem %d has no code: %v", i, p)

				// The one-line form names file, line and field.
				prefix := file
				if w.line > 0 {
					prefix += fmt.Sprintf(":%d", w.line)
				}
				if w.field != "" {
					prefix += ": " + w.field
				}
				require.True(t, strings.HasPrefix(p.Error(), prefix+": "), "%q lacks prefix %q", p.Error(), prefix)
				require.NotRegexp(t, `(^[A-Z]|\.$)`, p.Message, "style: lowercase, no final period")
			}
			if !strings.Contains(tt.name, "syntax error") || strings.Contains(tt.name, "sidecar") {
				require.NotNil(t, reg, "a parsable root file yields a registry")
			}
			if err != nil {
				var first *Problem
				require.True(t, errors.As(err, &first))
				require.Same(t, ps[0], first)
			}
		})
	}
}

// TestProblemCodes: callers act on a problem's code, not its message.
func TestProblemCodes(t *testing.T) {
	tests := []struct {
		name string
		root string
		want Code
	}{
		{"syntax", "a = = 1\n", CodeSyntax},
		{"unknown key", "bogus = 1\n", CodeUnknownKey},
		{"wrong type", "[runtime]\ntimeout = 5\n", CodeWrongType},
		{"invalid", "[runtime]\ntimeout = \"-1s\"\n", CodeInvalid},
		{"secret", "[shipping]\npassword = \"x\"\n", CodeSecret},
		{"undeclared", "[modules.\"jobs.wasm\"]\ndatasources = [\"nope\"]\n", CodeUndeclared},
		{"not found", "[[collector]]\nkey = \"a\"\nversion = \"1\"\nmodule = \"gone.wasm\"\n", CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"modules/jobs.wasm": wasmBytes, "collectors.toml": tt.root + configCollector})
			_, err := Load(filepath.Join(dir, "collectors.toml"))
			ps := problems(t, err)
			require.Len(t, ps, 1, "%v", err)
			require.Equal(t, tt.want, ps[0].Code, "%v", ps[0])
		})
	}
	t.Run("no config", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"modules/jobs.wasm": wasmBytes, "collectors.toml": ""})
		_, err := Load(filepath.Join(dir, "collectors.toml"))
		ps := problems(t, err)
		require.Len(t, ps, 1, "%v", err)
		require.Equal(t, CodeNoConfig, ps[0].Code)
	})
}

func TestProblemsError(t *testing.T) {
	ps := Problems{
		{File: "c.toml", Line: 3, Field: "collector[0].format", Message: `invalid format "xml"`},
		{File: "c.toml", Field: "collector", Message: "no config collector"},
		{File: "m/x.toml", Message: "sidecar x.toml has no x.wasm beside it"},
	}
	require.Equal(t, `c.toml:3: collector[0].format: invalid format "xml"
c.toml: collector: no config collector
m/x.toml: sidecar x.toml has no x.wasm beside it`, ps.Error())
	require.Len(t, ps.Unwrap(), 3)
}

// unsetShipping is [shipping] with nothing set.
func unsetShipping() ShippingSettings {
	return ShippingSettings{
		ContentType: "application/vnd.redhat.wasmcollector.analytics+tgz", Auth: "user-pass",
		ConnectTimeout: 31 * time.Second, Timeout: 5 * time.Minute, MaxAttempts: 5, FailedKeep: 20,
		RetryBackoff: time.Second, Headers: map[string]string{},
	}
}
