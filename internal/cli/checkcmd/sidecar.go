package checkcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/wasmcollector/wasmcollector/registry"
)

// sidecar is a module's sidecar as a product would load it.
//
// How it is loaded: check builds a throwaway registry in a temporary directory, the module and
// its sidecar copied into modules/ as NAME.wasm and NAME.toml, beside a root collectors.toml that
// declares no collector and nothing but modules_dir (plus a placeholder for each data source the
// sidecar requests, since those are the product's to declare). registry.Load then reads the sidecar
// exactly as a product's registry reads it: every rule, default and pin check applies.
//
// A sidecar only requests mounts, environment variables, data sources and limits; a product's
// collectors.toml grants them. check runs the vendor's own module, so it grants what the sidecar
// requests: it loads once to read the requests (registry.Module.Requested), writes the grant
// (registry.Requests.GrantTOML) into the throwaway collectors.toml and loads again, and reports
// loudly that it did so (sidecar.granted), since an operator must grant these explicitly.
//
// The registry requires exactly one config collector; a sidecar without one gets the one problem
// "no config collector" from the root file, which check drops and reports as a warning instead
// (a product's registry provides the config collector).
//
// Mounts (`[module] mounts`) name host directories of the product's machine, which check's machine
// may lack: a missing host directory is a warning, and the collectors run without that mount. A
// relative host directory is resolved against the user's sidecar, as the registry would resolve it
// there, through a symbolic link in the temporary directory. Nothing else is dropped or added.
type sidecar struct {
	reg       *registry.Registry    // the throwaway registry, nil when it could not be built
	module    *registry.Module      // the module in reg
	problems  []string              // the registry's problems, verbatim but for the file names
	noConfig  bool                  // the sidecar declares no config collector
	mountWarn []string              // mounts whose host directory is missing here
	granted   string                // the collectors.toml lines check added to grant the sidecar's requests, "" if none
	disabled  []*registry.Collector // the collectors, when the registry disabled the module for a warning only
	dir       string                // the temporary directory; remove it when done
	tmpMods   string                // dir/modules
	origDir   string                // the directory of the user's sidecar
}

var dataSourceName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// loadSidecar loads sidecarPath for the module moduleName (NAME.wasm) with the module's bytes.
// The error is for what keeps check from trying (the temporary directory); problems in the sidecar
// are in sidecar.problems.
func loadSidecar(sidecarPath, moduleName string, wasm []byte) (*sidecar, error) {
	sc := &sidecar{}
	if info, err := os.Stat(sidecarPath); err == nil && info.Mode().IsRegular() && info.Size() > registry.DefaultMaxSidecarSize {
		sc.problems = []string{fmt.Sprintf("%s: file is %d bytes, over the %d-byte cap a product's registry applies by default ([runtime] max_sidecar_size); refused unread",
			sidecarPath, info.Size(), registry.DefaultMaxSidecarSize)}
		return sc, nil
	}
	text, err := os.ReadFile(sidecarPath)
	if err != nil {
		sc.problems = []string{fmt.Sprintf("%s: cannot read file: %v", sidecarPath, unwrapPath(err))}
		return sc, nil
	}
	abs, err := filepath.Abs(sidecarPath)
	if err != nil {
		return nil, err
	}
	sc.origDir = filepath.Dir(abs)
	sc.dir, err = os.MkdirTemp("", "wasmcollector-check-")
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	sc.tmpMods = filepath.Join(sc.dir, "modules")
	base := strings.TrimSuffix(moduleName, ".wasm")
	// The helpers below decode the sidecar before the registry does; a hostile one (huge, deeply
	// nested) must not reach the decoder. registry.Load refuses it and says why.
	decodable := registry.Precheck(text, 0) == nil
	var root strings.Builder
	fmt.Fprintf(&root, "# written by wasmcollector check: the module's sidecar alone\n[runtime]\nmodules_dir = \"modules\"\n")
	for _, name := range requestedSources(string(text), decodable) {
		fmt.Fprintf(&root, "[datasources.%s]\ndriver = \"sqlite\"\npath = \"placeholder.db\"\n", tomlString(name))
	}
	rootPath := filepath.Join(sc.dir, "collectors.toml")
	err = errors.Join(
		os.Mkdir(sc.tmpMods, 0o700),
		sc.linkMounts(string(text), decodable),
		os.WriteFile(filepath.Join(sc.tmpMods, base+".wasm"), wasm, 0o600),
		os.WriteFile(filepath.Join(sc.tmpMods, base+".toml"), text, 0o600),
		os.WriteFile(rootPath, []byte(root.String()), 0o600),
	)
	if err != nil {
		sc.close()
		return nil, fmt.Errorf("check: %w", err)
	}

	reg, err := registry.Load(rootPath)
	if reg != nil {
		if grant := requested(reg, base+".wasm").GrantTOML(base + ".wasm"); grant != "" {
			sc.granted = grant
			root.WriteString("# granted by wasmcollector check: what the sidecar requests\n" + grant)
			if err := os.WriteFile(rootPath, []byte(root.String()), 0o600); err != nil {
				sc.close()
				return nil, fmt.Errorf("check: %w", err)
			}
			reg, err = registry.Load(rootPath)
		}
	}
	var problems registry.Problems
	if err != nil && !errors.As(err, &problems) {
		sc.problems = append(sc.problems, err.Error())
	}
	if err == nil && reg != nil {
		for _, d := range reg.Disabled {
			problems = append(problems, d.Problems...)
		}
	}
	tmpSidecar := filepath.Join(sc.tmpMods, base+".toml")
	for _, p := range problems {
		if p.File == rootPath && p.Field == "collector" && strings.HasPrefix(p.Message, "no config collector") {
			sc.noConfig = true
			continue
		}
		q := *p
		switch q.File {
		case tmpSidecar:
			q.File = sidecarPath
		case rootPath:
			q.File = "(check's registry)"
		}
		q.Message = strings.ReplaceAll(q.Message, tmpSidecar, sidecarPath)
		q.Message = strings.ReplaceAll(q.Message, sc.tmpMods, sc.origDir)
		if q.File == sidecarPath && strings.HasPrefix(q.Field, "module.mounts.") && strings.Contains(q.Message, "does not exist or is not a directory") {
			sc.mountWarn = append(sc.mountWarn, q.Error())
			continue
		}
		sc.problems = append(sc.problems, q.Error())
	}
	if reg == nil {
		return sc, nil
	}
	sc.reg = reg
	for _, m := range reg.Modules {
		if m.Name == base+".wasm" {
			sc.module = m
		}
	}
	if sc.module == nil && len(sc.problems) == 0 {
		// Disabled for what check reports as warnings only (a mount missing here): run it anyway.
		for _, d := range reg.Disabled {
			if d.Name == base+".wasm" && d.Module != nil {
				sc.module, sc.disabled = d.Module, d.Collectors
			}
		}
	}
	// Show the grant with the user's directories, not the temporary copy's.
	sc.granted = strings.ReplaceAll(sc.granted, sc.tmpMods, sc.origDir)
	if sc.module == nil && len(sc.problems) == 0 {
		sc.problems = append(sc.problems, fmt.Sprintf("%s: declares no collector", sidecarPath))
	}
	return sc, nil
}

// requested returns what the sidecar of module asks for, whether the module loaded or was
// disabled for asking.
func requested(reg *registry.Registry, module string) registry.Requests {
	for _, m := range reg.Modules {
		if m.Name == module {
			return m.Requested
		}
	}
	for _, d := range reg.Disabled {
		if d.Name == module && d.Module != nil {
			return d.Module.Requested
		}
	}
	return registry.Requests{}
}

// linkMounts makes each relative host directory of the sidecar's mounts resolve, from the
// temporary modules directory, to the same directory beside the user's sidecar: a symbolic link
// at the relative path. Paths that would leave the temporary directory are left alone.
func (sc *sidecar) linkMounts(text string, decodable bool) error {
	if !decodable {
		return nil
	}
	var doc struct {
		Module struct {
			Mounts map[string]any `toml:"mounts"`
		} `toml:"module"`
	}
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil // the registry reports it
	}
	for _, v := range doc.Module.Mounts {
		host, ok := v.(string)
		if !ok || host == "" || filepath.IsAbs(host) {
			continue
		}
		link := filepath.Join(sc.tmpMods, host)
		target := filepath.Join(sc.origDir, host)
		rel, err := filepath.Rel(sc.dir, link)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || link == sc.tmpMods {
			continue
		}
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
			return err
		}
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

// hostDir maps a mount's host directory back to the user's: the registry resolved relative
// mounts against the temporary copy of the sidecar.
func (sc *sidecar) hostDir(host string) string {
	if rel, err := filepath.Rel(sc.tmpMods, host); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.Join(sc.origDir, rel)
	}
	return host
}

// collectors returns the sidecar's collectors, in declaration order.
func (sc *sidecar) collectors() []*registry.Collector {
	if sc.reg == nil || sc.module == nil {
		return nil
	}
	if sc.disabled != nil {
		return sc.disabled
	}
	var out []*registry.Collector
	for _, c := range sc.reg.Collectors {
		if c.Module == sc.module {
			out = append(out, c)
		}
	}
	return out
}

func (sc *sidecar) close() {
	if sc != nil && sc.dir != "" {
		os.RemoveAll(sc.dir)
	}
}

// requestedSources returns the data source names a sidecar requests (its [module] and its
// collectors' `datasources`), sorted, leaving out what is not a valid name (the registry reports
// those). A sidecar that does not parse grants nothing here; the registry reports why.
func requestedSources(text string, decodable bool) []string {
	if !decodable {
		return nil
	}
	var doc struct {
		Module struct {
			DataSources any `toml:"datasources"`
		} `toml:"module"`
		Collector []struct {
			DataSources any `toml:"datasources"`
		} `toml:"collector"`
	}
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil
	}
	var names []string
	add := func(v any) {
		list, _ := v.([]any)
		for _, x := range list {
			if s, ok := x.(string); ok && dataSourceName.MatchString(s) && !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	add(doc.Module.DataSources)
	for _, c := range doc.Collector {
		add(c.DataSources)
	}
	slices.Sort(names)
	return names
}

// tomlString quotes s as a TOML literal string when it can, else a basic string.
func tomlString(s string) string {
	if !strings.ContainsAny(s, "'\n\r") {
		return "'" + s + "'"
	}
	return fmt.Sprintf("%q", s)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
