package registry

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the registry file at path, discovers the sidecars in its modules directory, applies
// defaults and validates everything, including that each module file exists inside the modules
// directory and matches its sha256 pin.
//
// A sidecar is a vendor's file: a problem in one (including a request collectors.toml does not
// grant, see [Requests]) disables its module rather than the registry. Such a module and its
// collectors are moved to Registry.Disabled with their problems, and the rest of the registry
// loads; the error is nil if the root file has no problem.
//
// Otherwise the error is a [Problems] holding every problem found, the sidecars' included, and
// the registry is the one Load could build: values that failed validation are left at their
// defaults (or nil, for a collector's Module), so it is fit for listing, not for running. The
// registry is nil only when the root file cannot be read or is not valid TOML.
//
// Files are capped before they are parsed: a sidecar by [runtime] max_sidecar_size (default
// 1 MiB), the root file at 16 MiB, and both to 64 levels of nesting.
//
// Problems name files by path as given (relative paths stay relative), so that
// `wasmcollector validate` output matches what the user typed.
func Load(path string) (*Registry, error) {
	l := newLoader()
	reg := l.load(path)
	if len(l.problems) == 0 {
		return reg, nil
	}
	l.sortProblems()
	if reg == nil || l.disable() {
		return reg, l.problems
	}
	return reg, nil
}

// disable moves each module whose sidecar has problems, with its collectors, from the registry
// to Registry.Disabled. It reports whether a problem remains that is the operator's: one in the
// root file, which fails the whole load. "No config collector" is not one of those when a
// disabled sidecar may be where the config collector was declared.
func (l *loader) disable() bool {
	reg := l.reg
	byModule := map[string]*DisabledModule{}
	fatal := false
	for _, p := range l.problems {
		name, ok := l.sidecarMods[p.File]
		if !ok {
			fatal = fatal || p != l.noConfig
			continue
		}
		d := byModule[name]
		if d == nil {
			d = &DisabledModule{Name: name, Sidecar: p.File}
			byModule[name] = d
			reg.Disabled = append(reg.Disabled, d)
		}
		d.Problems = append(d.Problems, p)
	}
	if l.noConfig != nil && len(reg.Disabled) == 0 {
		fatal = true
	}
	if len(byModule) == 0 {
		return fatal
	}
	for _, d := range reg.Disabled {
		if st := l.states[d.Name]; st != nil {
			d.Module = st.mod
		}
	}
	reg.Modules = slices.DeleteFunc(reg.Modules, func(m *Module) bool { return byModule[m.Name] != nil })
	reg.Collectors = slices.DeleteFunc(reg.Collectors, func(c *Collector) bool {
		if c.Module == nil || byModule[c.Module.Name] == nil {
			return false
		}
		d := byModule[c.Module.Name]
		d.Collectors = append(d.Collectors, c)
		return true
	})
	return fatal
}

// source is one decoded TOML file.
type source struct {
	display string // path shown in problems
	abs     string
	sidecar bool
	unknown []unknownKey // keys the schema does not have, in the order the walk met them
	loc     *locator
}

// entry is a collector with where it was declared.
type entry struct {
	c   *Collector
	src *source
	p   path // collector[i]
}

// loader holds the state of one Load call.
type loader struct {
	reg         *Registry
	root        *source
	modulesShow string   // modules_dir as problems show it
	modulesOK   bool     // the modules directory exists, so module files can be checked
	files       []string // display paths in the order files were considered, for sorting problems
	entries     []entry
	states      map[string]*moduleState // by module name
	order       []*moduleState          // referenced modules, by first reference
	rootCfgs    []*moduleCfg            // [modules."NAME"] of the root file, by line
	grants      []grant                 // every `datasources` list, checked at the end
	problems    Problems
	warnings    Problems                   // Registry.Warnings
	fields      map[string]map[string]bool // file → fields problems name, for covered
	sidecarMods map[string]string          // sidecar display path → its module's name
	timeoutSet  map[*Collector]bool        // collectors that set their own timeout
	noConfig    *Problem                   // "no config collector", if reported
	alone       bool                       // LoadSidecar: a sidecar without a root file
	grantAll    bool                       // LoadSidecar: grant whatever the sidecar requests
}

// newLoader returns the state of one load.
func newLoader() *loader {
	return &loader{states: map[string]*moduleState{}, fields: map[string]map[string]bool{}, sidecarMods: map[string]string{}, timeoutSet: map[*Collector]bool{}}
}

// add records a problem about the value at p in src.
func (l *loader) add(src *source, p path, code Code, format string, args ...any) {
	if code == CodeNotGranted && l.grantAll {
		return // LoadSidecar was asked to grant every request
	}
	field := p.String()
	l.problems = append(l.problems, &Problem{
		Code:    code,
		File:    src.display,
		Line:    src.loc.line(p),
		Field:   field,
		Message: fmt.Sprintf(format, args...),
	})
	if l.fields[src.display] == nil {
		l.fields[src.display] = map[string]bool{}
	}
	l.fields[src.display][field] = true
}

func (l *loader) load(name string) *Registry {
	abs, err := filepath.Abs(name)
	if err != nil {
		l.problems = append(l.problems, &Problem{Code: CodeUnreadable, File: name, Message: err.Error()})
		return nil
	}
	var f rootFile
	root := l.read(name, abs, false, &f)
	if root == nil {
		return nil
	}
	l.root = root
	l.reg = &Registry{File: abs}
	l.reg.Runtime = l.runtime(root, &f.Runtime)
	l.reg.Limits = l.limits(root, path{}.key("limits"), &f.Limits, defaultLimits())
	l.reg.Gather = l.gather(root, &f.Gather)
	l.reg.License = l.license(root, &f.License)
	l.reg.Shipping = l.shipping(root, &f.Shipping)
	l.reg.DataSources = l.dataSources(root, &f.DataSources)
	l.reg.State = l.stateSettings(root, &f.State)
	l.reg.Serve = l.serve(root, &f.Serve)
	l.rootModules(root, &f.Modules)
	l.collectors(root, &f.Collector, "")
	l.unknownKeys(root)
	l.sidecars()
	l.finishModules()
	l.checkRequests()
	l.finishGrants()
	l.checkConfig()
	l.checkDuplicates()
	l.reg.Warnings = append(l.reg.Warnings, l.warnings...) // after the root file's own
	return l.reg
}

// read decodes one TOML file into v. It returns nil, after recording the problem, when the file
// cannot be read or is not valid TOML.
func (l *loader) read(display, abs string, sidecar bool, v any) *source {
	l.files = append(l.files, display)
	limit, capName := int64(maxRootSize), "the root file's fixed cap"
	if sidecar {
		limit, capName = l.reg.Runtime.MaxSidecarSize, "[runtime] max_sidecar_size in collectors.toml"
	}
	data, err := readCapped(abs, limit)
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge):
		l.problems = append(l.problems, &Problem{Code: CodeTooLarge, File: display, Message: fmt.Sprintf("%v (%s); refused unread", err, capName)})
		return nil
	case err != nil:
		l.problems = append(l.problems, &Problem{Code: CodeUnreadable, File: display, Message: "cannot read file: " + unwrapPath(err).Error()})
		return nil
	}
	if line := nestingLine(data, maxNesting); line > 0 {
		l.problems = append(l.problems, &Problem{Code: CodeTooLarge, File: display, Line: line, Message: fmt.Sprintf(
			"nests deeper than %d levels (arrays, inline tables, table headers and dotted keys together); refused before parsing", maxNesting)})
		return nil
	}
	// Parsed once, into the generic form; the walk fills the schema from it (decode.go).
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		p := &Problem{Code: CodeSyntax, File: display, Message: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line = pe.Position.Line
			p.Message = "invalid TOML: " + lowerMessage(pe.Message)
		}
		l.problems = append(l.problems, p)
		return nil
	}
	var d decoder
	d.table(doc, reflect.ValueOf(v).Elem(), nil)
	return &source{display: display, abs: abs, sidecar: sidecar, unknown: d.unknown, loc: newLocator(data)}
}

// lowerMessage makes a decoder message fit our error style: lowercase start, no final period.
func lowerMessage(m string) string {
	m = strings.TrimSuffix(m, ".")
	if len(m) > 1 && m[0] >= 'A' && m[0] <= 'Z' && m[1] >= 'a' && m[1] <= 'z' {
		m = strings.ToLower(m[:1]) + m[1:]
	}
	return m
}

// collectors decodes the [[collector]] entries of src. For a sidecar, module is the name of its
// module, the default of each entry's `module`.
func (l *loader) collectors(src *source, x *tables[collectorTable], module string) {
	if x.bad {
		l.add(src, path{}.key("collector"), CodeWrongType, "must be an array of tables ([[collector]])")
		return
	}
	for i, e := range x.elems {
		p := path{}.key("collector").index(i)
		if !e.ok(l, src, p, "a table") {
			continue
		}
		if c := l.collector(src, p, &e.t, module); c != nil {
			l.reg.Collectors = append(l.reg.Collectors, c)
			l.entries = append(l.entries, entry{c: c, src: src, p: p})
		}
	}
}

// sidecars finds NAME.toml files beside NAME.wasm in the modules directory and loads their
// collectors, in file name order. A NAME.toml without a NAME.wasm is not a sidecar, nor is the
// root file, whatever its name: modules_dir may be the root file's own directory, which holds
// other TOML files (a Cargo.toml, a tool's config.toml). Such a file is left alone, with a
// warning only when it looks like a sidecar. A NAME.wasm that neither a sidecar nor the root file
// declares gets a warning too: nothing gathers it.
func (l *loader) sidecars() {
	if !l.modulesOK {
		return
	}
	dir := l.reg.Runtime.ModulesDir
	ents, err := os.ReadDir(dir)
	if err != nil {
		l.add(l.root, path{}.key("runtime").key("modules_dir"), CodeUnreadable, "cannot read modules directory %s: %v", l.modulesShow, err)
		return
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	rootInfo, _ := os.Stat(l.root.abs)
	for _, e := range ents { // sorted by name
		name := e.Name()
		if !strings.HasSuffix(name, ".toml") {
			continue
		}
		abs := filepath.Join(dir, name)
		info, err := os.Stat(abs)
		if err != nil || !info.Mode().IsRegular() || rootInfo != nil && os.SameFile(info, rootInfo) {
			continue
		}
		display := filepath.Join(l.modulesShow, name)
		module := strings.TrimSuffix(name, ".toml") + ".wasm"
		if !names[module] {
			l.loneTOML(display, abs, module)
			continue
		}
		l.sidecarMods[display] = module
		l.state(module).hasSide = true
		l.sidecar(display, abs, module)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".wasm") {
			continue
		}
		if st := l.states[name]; st != nil && (st.hasSide || st.mod != nil) {
			continue // a sidecar or the root file declares it
		}
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || !info.Mode().IsRegular() {
			continue
		}
		side := strings.TrimSuffix(name, ".wasm") + ".toml"
		msg := fmt.Sprintf("module %s has no sidecar %s beside it and no collector in the root file names it: nothing gathers it "+
			"(a vendor's module comes with its sidecar; remove the file if it is not needed)", name, side)
		if info, err := os.Stat(filepath.Join(dir, side)); err == nil && rootInfo != nil && os.SameFile(info, rootInfo) {
			msg = fmt.Sprintf("module %s: %s beside it is the root file, never a sidecar, and no collector in it names the module: "+
				"nothing gathers it (rename the module and its sidecar, or name it in the root file)", name, side)
		}
		l.warnings = append(l.warnings, &Problem{Code: CodeNoSidecar, File: filepath.Join(l.modulesShow, name), Message: msg})
	}
	slices.SortStableFunc(l.warnings, func(a, b *Problem) int { return strings.Compare(a.File, b.File) })
}

// loneTOML warns about a NAME.toml without its NAME.wasm when it looks like a sidecar: a file
// with [[collector]] entries and nothing but a sidecar's tables. Any other TOML file (or a file
// that is not TOML) is someone else's and is left alone, unread past the sidecar size cap.
func (l *loader) loneTOML(display, abs, module string) {
	data, err := readCapped(abs, l.reg.Runtime.MaxSidecarSize)
	if err != nil || nestingLine(data, maxNesting) > 0 {
		return
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil || doc["collector"] == nil {
		return
	}
	for k := range doc {
		if k != "collector" && k != "module" {
			return
		}
	}
	l.warnings = append(l.warnings, &Problem{Code: CodeNotFound, File: display, Message: fmt.Sprintf(
		"declares collectors but has no %s beside it: not read as a sidecar, its collectors do not run", module)})
}

// sidecar reads the sidecar at abs (display as problems show it) of module and loads its
// [module] table and its collectors. It returns nil when the file could not be read or parsed.
func (l *loader) sidecar(display, abs, module string) *source {
	var f sidecarFile
	src := l.read(display, abs, true, &f)
	if src == nil {
		return nil
	}
	st := l.state(module)
	st.sidecar = abs
	if p := (path{}.key("module")); f.Module.ok(l, src, p, "a table") && f.Module.set {
		st.side = l.moduleCfg(src, p, module, &f.Module.t)
	}
	l.collectors(src, &f.Collector, module)
	l.unknownKeys(src)
	return src
}

// unknownKeys reports the keys of src no schema field claims, and keys that match one only
// when case is ignored, unless a problem already names the key or a value enclosing it.
func (l *loader) unknownKeys(src *source) {
	// In the order they are written, as the walk met them by name.
	for i := range src.unknown {
		src.unknown[i].off, _ = src.loc.offset(src.unknown[i].p)
	}
	slices.SortStableFunc(src.unknown, func(a, b unknownKey) int { return cmp.Compare(a.off, b.off) })
	for _, u := range src.unknown {
		if l.covered(src, u.p) {
			continue
		}
		switch {
		case src.sidecar && len(u.p) == 1 && rootOnly[u.key]:
			l.add(src, u.p, CodeNotAllowed, "[%s] is not allowed in a sidecar; set it in the root file", u.key)
		case u.wrongCase:
			l.add(src, u.p, CodeUnknownKey, "unknown key (keys are case-sensitive; did you mean %q?)", strings.ToLower(u.key))
		default:
			l.add(src, u.p, CodeUnknownKey, "unknown key")
		}
	}
}

// rootOnly lists the tables only the root file may have.
var rootOnly = map[string]bool{"runtime": true, "limits": true, "modules": true, "gather": true, "license": true, "shipping": true, "datasources": true, "state": true, "serve": true}

// covered reports whether a problem already names field p of src or a value enclosing it, so
// that `limits = 5` or an unknown [table] is not reported once more for each key inside. It
// looks up each prefix of p in an index of the problems' fields: linear in the length of p, not
// in the number of problems (40,000 unknown keys once took a minute).
func (l *loader) covered(src *source, p path) bool {
	fields := l.fields[src.display]
	if len(fields) == 0 {
		return false
	}
	var b strings.Builder
	for i, seg := range p {
		if i > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
		if fields[b.String()] {
			return true
		}
	}
	return false
}

// sortProblems orders problems by file (root first, then sidecars by name) and line, problems
// without a line last in their file; ties keep the order they were found in.
func (l *loader) sortProblems() {
	rank := map[string]int{}
	for i, f := range l.files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	fileRank := func(p *Problem) int { return rank[p.File] }
	line := func(p *Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	slices.SortStableFunc(l.problems, func(a, b *Problem) int {
		if ra, rb := fileRank(a), fileRank(b); ra != rb {
			return cmp.Compare(ra, rb)
		}
		return cmp.Compare(line(a), line(b))
	})
}

// sortedKeys returns the keys of m ordered by the line defining each under p, then by name.
func sortedKeys[V any](m map[string]V, src *source, p path) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if la, lb := src.loc.line(p.key(a)), src.loc.line(p.key(b)); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return keys
}
