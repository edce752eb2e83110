package registry

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzLoad loads a random root file beside a random sidecar (modules/x.toml, next to
// modules/x.wasm). Load must never panic or hang, whatever the bytes; its result must hold
// together; and no module that loads may have been given less than its sidecar asked for without
// a grant, i.e. every request of an enabled module is covered by what collectors.toml grants.
func FuzzLoad(f *testing.F) {
	sample, err := os.ReadFile("sample.toml")
	if err != nil {
		f.Fatal(err)
	}
	demo, _ := os.ReadFile(filepath.Join("..", "collectors.toml"))
	awx, _ := os.ReadFile(filepath.Join("..", "examples", "awx", "awx.toml"))
	demoRoot := strings.Replace(string(demo), `modules_dir = "build/modules"`, `modules_dir = "modules"`, 1) +
		"\n[modules.\"x.wasm\"]\ndatasources = [\"awx\"]\n"
	for _, seed := range [][2]string{
		{string(sample), ""},
		{demoRoot, string(awx)},
		{demoRoot, "[module]\nmounts = {\"/host\" = \"/\"}\nenv = [\"SECRET_TOKEN\"]\nmemory_limit = \"4GiB\"\n" + string(awx)},
		{"[modules.\"x.wasm\"]\nenv = [\"TZ\"]\n" + configCollector, "[module]\nenv = [\"TZ\"]\ntimeout = \"1s\"\n[[collector]]\nkey = \"k\"\nversion = \"1\"\n[collector.limits]\nmax_log_bytes = \"1KiB\"\n"},
		{configCollector, "x = " + strings.Repeat("[", 70) + strings.Repeat("]", 70)},
		{configCollector, "x = " + strings.Repeat("{a=", 70) + "1" + strings.Repeat("}", 70)},
		{configCollector, "a" + strings.Repeat(".a", 70) + " = 1"},
		{configCollector, "[[collector]]\nkey = \"k\"\nversion = \"1\"\n" + strings.Repeat("bogus = 1\n", 3) + "[collector.params]\ns = '''[[['''\n"},
		{"[runtime]\nmax_sidecar_size = \"1KiB\"\n" + configCollector, "[[collector]]\nkey = \"k\"\nversion = \"1\"\ndescription = \"" + strings.Repeat("d", 1100) + "\"\n"},
		{"", "[[collector]]\nkey = \"config\"\nversion = \"1\"\nconfig = true\n"},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, root, sidecar []byte) {
		if len(root)+len(sidecar) > 64<<10 {
			t.Skip("larger inputs test the decoder's speed, not the registry's rules")
		}
		dir := t.TempDir()
		for name, data := range map[string][]byte{"collectors.toml": root, "modules/jobs.wasm": []byte(wasmBytes), "modules/x.wasm": []byte(wasmBytes), "modules/x.toml": sidecar} {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// The sidecar alone, as check reads it: the same rules, and what is not granted is a
		// problem unless GrantRequests.
		side := filepath.Join(dir, "modules", "x.toml")
		for _, grant := range []bool{false, true} {
			sc, ps := LoadSidecar(side, SidecarOptions{GrantRequests: grant})
			for _, p := range ps {
				if p.File != side || p.Message == "" || p.Code == "" {
					t.Fatalf("LoadSidecar: problem without the sidecar's path, a message or a code: %#v", p)
				}
				if grant && p.Code == CodeNotGranted {
					t.Fatalf("LoadSidecar granted everything, yet: %v", p)
				}
			}
			if sc == nil && len(ps) == 0 {
				t.Fatal("LoadSidecar: no sidecar and no problem")
			}
			if sc != nil && sc.Module != nil && !grant && len(ps) == 0 {
				if r := sc.Module.Requested; len(r.Mounts)+len(r.Env)+len(r.DataSources) > 0 {
					t.Fatalf("LoadSidecar: requests %+v granted without GrantRequests", r)
				}
			}
		}

		reg, err := Load(filepath.Join(dir, "collectors.toml"))
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("Load's error is not Problems: %v", err)
			}
			for _, p := range ps {
				if p.File == "" || p.Message == "" || p.Code == "" {
					t.Fatalf("problem without file, message or code: %#v", p)
				}
			}
			return
		}
		if reg == nil {
			t.Fatal("no error and no registry")
		}
		disabled := map[string]bool{}
		for _, d := range reg.Disabled {
			if len(d.Problems) == 0 {
				t.Fatalf("module %s disabled without a problem", d.Name)
			}
			disabled[d.Name] = true
		}
		for _, c := range reg.Collectors {
			if c.Module == nil {
				t.Fatalf("collector %q without a module in a registry that loaded", c.Key)
			}
			if disabled[c.Module.Name] {
				t.Fatalf("collector %q of disabled module %s would run", c.Key, c.Module.Name)
			}
		}
		for _, m := range reg.Modules {
			if disabled[m.Name] {
				t.Fatalf("disabled module %s is still in Modules", m.Name)
			}
			r := m.Requested
			for _, mt := range r.Mounts {
				if !slices.Contains(m.Mounts, mt) {
					t.Fatalf("module %s got mount request %v without a grant (%v)", m.Name, mt, m.Mounts)
				}
			}
			for _, n := range r.Env {
				if !slices.Contains(m.Env, n) {
					t.Fatalf("module %s got env request %q without a grant (%v)", m.Name, n, m.Env)
				}
			}
			for _, n := range r.DataSources {
				if !slices.Contains(m.DataSources, n) {
					t.Fatalf("module %s got data source request %q without a grant (%v)", m.Name, n, m.DataSources)
				}
			}
			if r.MemoryLimit > 0 && m.MemoryLimit != r.MemoryLimit {
				t.Fatalf("module %s: memory request %d, limit %d", m.Name, r.MemoryLimit, m.MemoryLimit)
			}
		}
	})
}
