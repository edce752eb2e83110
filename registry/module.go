package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	slashpath "path"
	"path/filepath"
	"strings"
	"time"
)

// moduleState gathers what the registry says about one module file.
type moduleState struct {
	mod     *Module // nil until a collector references the module
	ref     where   // the first collector's `module`, where problems with the file are reported
	root    *moduleCfg
	side    *moduleCfg
	sidecar string  // absolute path of the sidecar, if any
	sideSrc *source // the sidecar as read, nil when it could not be read or parsed
	hasSide bool    // a sidecar file exists for the module, even one that could not be read
}

// moduleCfg is one validated [modules."NAME"] or sidecar [module] table.
type moduleCfg struct {
	src    *source
	p      path
	name   string
	sha    string // lowercase, "" when unset or invalid
	mem    uint64
	memSet bool
	tmo    time.Duration // 0 when unset or invalid
	used   bool
	ds     []string // nil when unset
	mounts []Mount  // nil when unset
	env    []string // nil when unset
}

// where is a value in a source.
type where struct {
	src *source
	p   path
}

// state returns the moduleState of the module name, creating it on first use.
func (l *loader) state(name string) *moduleState {
	st := l.states[name]
	if st == nil {
		st = &moduleState{}
		l.states[name] = st
	}
	return st
}

// rootModules decodes [modules."NAME"] tables of the root file.
func (l *loader) rootModules(src *source, x *table[map[string]*table[moduleTable]]) {
	p := path{}.key("modules")
	if !x.ok(l, src, p, `a table of module settings, such as [modules."jobs.wasm"]`) {
		return
	}
	tables := x.t
	for _, key := range sortedKeys(tables, src, p) {
		mp := p.key(key)
		name, msg := cleanModuleName(key)
		if msg != "" {
			l.add(src, mp, CodeInvalid, "%s", msg)
			continue
		}
		if !tables[key].ok(l, src, mp, "a table") {
			continue
		}
		t := &tables[key].t
		st := l.state(name)
		if st.root != nil {
			l.add(src, mp, CodeDuplicate, "module %q is already configured at line %d", name, st.root.src.loc.line(st.root.p))
			continue
		}
		st.root = l.moduleCfg(src, mp, name, t)
		l.rootCfgs = append(l.rootCfgs, st.root)
	}
}

// moduleCfg validates one module table at p.
func (l *loader) moduleCfg(src *source, p path, name string, t *moduleTable) *moduleCfg {
	cfg := &moduleCfg{src: src, p: p, name: name}
	if s, ok := get(l, src, p.key("sha256"), t.SHA256); ok {
		if sha256Pattern.MatchString(s) {
			cfg.sha = strings.ToLower(s)
		} else {
			l.add(src, p.key("sha256"), CodeInvalid, "invalid sha256 %q: want 64 hex digits", s)
		}
	}
	cfg.mem, cfg.memSet = l.memoryLimit(src, p.key("memory_limit"), t.MemoryLimit)
	cfg.tmo, _ = l.dur(src, p.key("timeout"), t.Timeout)
	if names, ok := l.names(src, p.key("datasources"), t.DataSources); ok {
		cfg.ds = names
		l.grants = append(l.grants, grant{src: src, p: p.key("datasources"), names: names})
	}
	cfg.mounts = l.mounts(src, p.key("mounts"), &t.Mounts)
	if names, ok := l.names(src, p.key("env"), t.Env); ok {
		for _, n := range names {
			if !envNamePattern.MatchString(n) {
				l.add(src, p.key("env"), CodeInvalid, "invalid environment variable name %q", n)
			}
		}
		cfg.env = names
	}
	return cfg
}

// cleanModuleName returns the cleaned, slash-separated form of a module name relative to
// modules_dir, or a message saying why it is not one.
func cleanModuleName(s string) (string, string) {
	switch {
	case s == "":
		return "", "module name must not be empty"
	case filepath.IsAbs(s) || slashpath.IsAbs(filepath.ToSlash(s)) || filepath.VolumeName(s) != "":
		return "", fmt.Sprintf("module %q must be a path relative to modules_dir", s)
	}
	c := slashpath.Clean(filepath.ToSlash(s))
	switch {
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", fmt.Sprintf("module %q escapes modules_dir", s)
	case c == ".":
		return "", fmt.Sprintf("module %q does not name a file", s)
	}
	return c, ""
}

// moduleRef resolves a collector's `module` (v) to its Module, recording the reference. In a
// sidecar, sidecar is the sidecar's module: the default, and the only value allowed.
func (l *loader) moduleRef(src *source, p path, v value[string], sidecar string) *Module {
	mp := p.key("module")
	name := sidecar
	if sidecar == "" {
		s, ok := l.required(src, mp, v)
		if !ok {
			return nil
		}
		var msg string
		if name, msg = cleanModuleName(s); msg != "" {
			l.add(src, mp, CodeInvalid, "%s", msg)
			return nil
		}
	} else if s, ok := get(l, src, mp, v); ok {
		if n, _ := cleanModuleName(s); n != sidecar {
			l.add(src, mp, CodeInvalid, "module %q does not match this sidecar's module %q; omit it or write %q", s, sidecar, sidecar)
		}
	}
	st := l.state(name)
	if st.mod == nil {
		st.mod = &Module{
			Name: name,
			Path: filepath.Join(l.reg.Runtime.ModulesDir, filepath.FromSlash(name)),
		}
		st.ref = where{src: src, p: mp}
		l.order = append(l.order, st)
		l.reg.Modules = append(l.reg.Modules, st.mod)
	}
	return st.mod
}

// finishModules merges each referenced module's settings, applies defaults and checks its file;
// then reports module settings no collector uses.
func (l *loader) finishModules() {
	realDir := ""
	if l.modulesOK {
		var err error
		if realDir, err = filepath.EvalSymlinks(l.reg.Runtime.ModulesDir); err != nil {
			l.add(l.root, path{}.key("runtime").key("modules_dir"), CodeUnreadable, "modules directory %s: %v", l.modulesShow, unwrapPath(err))
			l.modulesOK = false
		}
	}
	for _, st := range l.order {
		m := st.mod
		m.Sidecar = st.sidecar
		var pin *moduleCfg
		for _, cfg := range []*moduleCfg{st.side, st.root} { // root wins
			if cfg != nil {
				cfg.used = true
				if cfg.sha != "" {
					pin = cfg
				}
			}
		}
		// Only the operator's file grants; the sidecar's [module] is checked against it in
		// checkRequests.
		m.MemoryLimit, m.Timeout = l.reg.Runtime.MemoryLimit, l.reg.Runtime.Timeout
		if r := st.root; r != nil {
			if r.memSet {
				m.MemoryLimit = r.mem
			}
			if r.tmo > 0 {
				m.Timeout = r.tmo
			}
			m.DataSources, m.Mounts, m.Env = r.ds, r.mounts, r.env
		}
		if r, s := st.root, st.side; r != nil && s != nil && r.sha != "" && s.sha != "" && r.sha != s.sha {
			l.add(s.src, s.p.key("sha256"), CodeMismatch, "sha256 %s differs from %s pinned in %s:%d", s.sha, r.sha, r.src.display, r.src.loc.line(r.p.key("sha256")))
		}
		if pin != nil {
			m.SHA256 = pin.sha
		}
		if l.modulesOK {
			if real, ok := l.checkFile(st, realDir, pin); ok && l.reg.Trust.Enabled && !(st.hasSide && st.sideSrc == nil) {
				// (A sidecar that could not be read disables its module already.)
				l.verifySignature(st, real)
			}
		}
	}
	for _, cfg := range l.rootCfgs {
		if !cfg.used && !l.state(cfg.name).hasSide { // a sidecar that did not load is reported itself
			l.add(cfg.src, cfg.p, CodeUnused, "no collector uses module %q", cfg.name)
		}
	}
}

// checkFile checks that a module's file is a regular file inside the modules directory (after
// resolving symlinks) and matches its pin, and returns its path after symlinks when it does.
// Problems go on the first collector referencing it, a mismatch on the pin.
func (l *loader) checkFile(st *moduleState, realDir string, pin *moduleCfg) (string, bool) {
	m, ref := st.mod, st.ref
	show := filepath.Join(l.modulesShow, filepath.FromSlash(m.Name))
	real, err := filepath.EvalSymlinks(m.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.add(ref.src, ref.p, CodeNotFound, "module file %s does not exist", show)
		return "", false
	case err != nil:
		l.add(ref.src, ref.p, CodeUnreadable, "module file %s: %v", show, unwrapPath(err))
		return "", false
	}
	if l.alone {
		// LoadSidecar: the module file is wherever the caller says, not inside a modules_dir.
	} else if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		l.add(ref.src, ref.p, CodeInvalid, "module file %s resolves to %s, outside modules_dir %s", show, real, l.modulesShow)
		return "", false
	}
	info, err := os.Stat(real)
	if err != nil {
		l.add(ref.src, ref.p, CodeUnreadable, "module file %s: %v", show, unwrapPath(err))
		return "", false
	}
	if !info.Mode().IsRegular() {
		l.add(ref.src, ref.p, CodeInvalid, "module file %s is not a regular file", show)
		return "", false
	}
	if pin == nil {
		return real, true
	}
	sum, err := fileSHA256(real)
	if err != nil {
		l.add(ref.src, ref.p, CodeUnreadable, "module file %s: %v", show, unwrapPath(err))
		return "", false
	}
	if sum != pin.sha {
		l.add(pin.src, pin.p.key("sha256"), CodeMismatch, "sha256 mismatch: pinned %s, file has %s", pin.sha, sum)
		return "", false
	}
	return real, true
}

// fileSHA256 returns the lowercase hex sha256 of the file's contents.
func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// bytesSHA256 returns the lowercase hex sha256 of b.
func bytesSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// unwrapPath drops the *fs.PathError wrapper, whose path the message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
