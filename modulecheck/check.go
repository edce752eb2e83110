// Package modulecheck answers whether a module and its sidecar are fit to ship, item by item, the
// way a vendor's CI asks before a release: read, size, compile, ABI, memory, sidecar, grants,
// exports, startup, and a run of each collector on an empty and a sample slice.
//
// Every verdict comes from the code a product runs: the module is compiled and checked by the
// runtime (runtime.Engine.Load), the sidecar is read by the registry (registry.LoadSidecar), and
// each collector is invoked in the real sandbox under the default limits. modulecheck only sorts
// the answers into items. `wasmcollector check` prints its report; wasmcollector.Check is the
// front door's way to it.
package modulecheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Thresholds of the checks.
const (
	maxModuleBytes     = runtime.MaxModuleBytes
	warnModuleBytes    = 8 << 20
	defaultMemoryLimit = runtime.DefaultMemoryLimit // [runtime] memory_limit by default
	warnStartup        = 50 * time.Millisecond
	anyMemory          = 1 << 32 // a limit no declaration is over, to check the ABI apart from memory
)

// Statuses of a check item. Text output shows them upper case, JSON lower case.
const (
	StatusPass = "pass" // fine
	StatusWarn = "warn" // fine to ship, but worth a look
	StatusFail = "fail" // not fit to ship
	StatusSkip = "skip" // not checked, because an earlier item failed or there is nothing to check
)

// Options say what to check and how.
type Options struct {
	// Module is the .wasm file.
	Module string
	// TOML is its sidecar; default NAME.toml beside NAME.wasm.
	TOML string
	// Timeout is the deadline of each collector run (the collector's own timeout when shorter).
	// Default 10s.
	Timeout time.Duration
	// CacheDir is the compilation cache directory; default the runtime's.
	CacheDir string
	// CompileTimeout bounds the module's compilation; default runtime.DefaultCompileTimeout,
	// as [runtime] compile_timeout.
	CompileTimeout time.Duration
	// Fixtures maps a data source name to a SQLite database file: collectors reading that
	// source run against it. TimestampFormat is how its timestamp columns are written.
	Fixtures        map[string]string
	TimestampFormat string
	// Until ends the sample slice; default now, to the second.
	Until time.Time
	// Logger receives the runtime's and the guests' logs; default slog.Default().
	Logger *slog.Logger
	// Trust is what the signature is verified against; nil checks only what the signature file
	// says (its key ID, trusted comment, and the sidecar and name it claims).
	Trust *Trust
}

// DefaultTimeout is the deadline of each collector run when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Item is one item of the report.
type Item struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Report is the document `check -o json` prints.
type Report struct {
	Module string `json:"module"`
	SHA256 string `json:"sha256"`
	Passed bool   `json:"passed"`
	Checks []Item `json:"checks"`
	// Signature is what check found of the module's signature (NAME.wasm.minisig).
	Signature *SignatureReport `json:"signature"`
}

// checker gathers the items of one check.
type checker struct {
	opts   *Options
	log    *slog.Logger
	now    time.Time
	rep    *Report
	wasm   []byte
	name   string              // NAME.wasm
	info   *runtime.ModuleInfo // what the module declares; nil when it did not compile
	eng    *runtime.Engine
	sc     *sidecar
	compOK bool
	abiOK  bool
	memOK  bool
	startT time.Duration // quickest successful empty-slice run; 0 when none
}

func (c *checker) add(name, status, format string, args ...any) {
	c.rep.Checks = append(c.rep.Checks, Item{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
}

// Check runs every item on the module and its sidecar and returns the report; Report.Passed is
// false when an item failed. The error is for what keeps it from checking (the runtime, a
// temporary directory); everything about the module is an item.
func Check(ctx context.Context, opts Options) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c := &checker{opts: &opts, log: opts.Logger, now: opts.Until, rep: &Report{Module: opts.Module, Checks: []Item{}}}
	if c.now.IsZero() {
		c.now = time.Now().UTC().Truncate(time.Second)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.name = filepath.Base(opts.Module)
	if !strings.HasSuffix(c.name, ".wasm") {
		c.name += ".wasm"
	}
	defer func() {
		c.rep.Passed = true
		for _, it := range c.rep.Checks {
			if it.Status == StatusFail {
				c.rep.Passed = false
			}
		}
	}()
	if !c.read() {
		return c.rep, nil
	}

	cfg := runtime.NewConfig().WithLogger(c.log).WithTimeout(opts.Timeout)
	if opts.CompileTimeout > 0 {
		cfg = cfg.WithCompileTimeout(opts.CompileTimeout)
	}
	if opts.CacheDir != "" {
		cfg = cfg.WithCacheDir(opts.CacheDir)
	}
	eng, err := runtime.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer eng.Close(ctx)
	c.eng = eng

	// The sidecar first: it may set the memory limit. Its item is reported after memory.
	sidecarItem, err := c.loadSidecar()
	if err != nil {
		return nil, err
	}
	c.compileAndABI(ctx)
	c.memory(ctx)
	c.rep.Checks = append(c.rep.Checks, sidecarItem)
	c.signature()
	c.grants()
	mod := c.exports(ctx)
	c.runs(ctx, mod)
	return c.rep, nil
}

// read checks the file and its size, and reads it.
func (c *checker) read() bool {
	path := c.opts.Module
	st, err := os.Stat(path)
	switch {
	case err != nil:
		c.add("read", StatusFail, "cannot read %s: %v", path, unwrapPath(err))
		return false
	case !st.Mode().IsRegular():
		c.add("read", StatusFail, "%s is not a regular file", path)
		return false
	case st.Size() > maxModuleBytes:
		c.add("read", StatusFail, "%s is %s, over the %d MiB module size limit", path, bytesize.Approx(st.Size()), maxModuleBytes>>20)
		return false
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		c.add("read", StatusFail, "cannot read %s: %v", path, unwrapPath(err))
		return false
	}
	if len(wasm) > maxModuleBytes { // it grew since the stat
		c.add("read", StatusFail, "%s is over the %d MiB module size limit", path, maxModuleBytes>>20)
		return false
	}
	c.wasm = wasm
	sum := sha256.Sum256(wasm)
	c.rep.SHA256 = hex.EncodeToString(sum[:])
	c.add("read", StatusPass, "%s", path)
	size := fmt.Sprintf("%d bytes", len(wasm))
	if len(wasm) >= 1<<10 {
		size += " (" + bytesize.Approx(int64(len(wasm))) + ")"
	}
	if len(wasm) > warnModuleBytes {
		c.add("size", StatusWarn, "%s, over %d MiB: strip debug information (Go: -ldflags='-s -w'; wasm-strip)", size, warnModuleBytes>>20)
	} else {
		c.add("size", StatusPass, "%s", size)
	}
	return true
}

// moduleErr returns the message of a Load error without the "module NAME: " prefix, its lines
// joined.
func moduleErr(err error) string {
	var me *runtime.ModuleError
	if errors.As(err, &me) {
		err = me.Err
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func (c *checker) compileAndABI(ctx context.Context) {
	start := time.Now()
	_, err := c.eng.Load(ctx, runtime.ModuleSpec{Name: c.name, Wasm: c.wasm, MemoryLimit: anyMemory})
	elapsed := time.Since(start).Round(time.Millisecond)
	var me *runtime.ModuleError
	if errors.As(err, &me) && me.Kind.CompileFailed() {
		c.add("compile", StatusFail, "%s", moduleErr(err))
		c.add("abi", StatusSkip, "not checked: the module does not compile")
		return
	}
	// Details only, from the compilation Load just made; the runtime judges.
	c.info, _ = c.eng.Inspect(ctx, c.name, c.wasm)
	c.compOK = true
	c.add("compile", StatusPass, "valid WebAssembly, compiled in %s", elapsed)
	if err != nil {
		c.add("abi", StatusFail, "%s", moduleErr(err))
		return
	}
	c.abiOK = true
	c.add("abi", StatusPass, "%s", c.abiDetail())
}

// abiDetail names the ABI and what the module imports.
func (c *checker) abiDetail() string {
	if c.info == nil {
		return "ABI v1"
	}
	mods, counts := c.info.ImportModules()
	var parts []string
	usesHost := false
	for _, m := range mods {
		if m == abi.ModuleName {
			usesHost = true
		}
		parts = append(parts, fmt.Sprintf("%d from %s", counts[m], m))
	}
	if len(parts) == 0 {
		return "ABI v1 (imports nothing)"
	}
	head := "ABI v1"
	if !usesHost {
		head = "ABI v1 (uses no " + abi.ModuleName + " function)"
	}
	return head + ": imports " + strings.Join(parts, ", ")
}

// memoryLimit is the limit the module runs under: the sidecar's memory_limit, else the default.
func (c *checker) memoryLimit() (uint64, string) {
	if c.sc != nil && c.sc.module != nil && c.sc.module.MemoryLimit != 0 && c.sc.module.MemoryLimit != defaultMemoryLimit {
		return c.sc.module.MemoryLimit, "the sidecar's memory_limit"
	}
	return defaultMemoryLimit, "the default limit"
}

func (c *checker) memory(ctx context.Context) {
	limit, which := c.memoryLimit()
	declared := ""
	var mem *runtime.MemoryInfo
	if c.info != nil {
		mem = c.info.Memory
	}
	if mem != nil {
		declared = fmt.Sprintf("declares %d %s (%s) at least", mem.Min, plural(int(mem.Min), "page", "pages"), bytesize.Exact(int64(mem.Min)*64<<10))
		if mem.HasMax {
			declared += fmt.Sprintf(", %d at most", mem.Max)
		}
	}
	if !c.abiOK {
		// The runtime checks memory after the ABI; judge from the declaration alone.
		switch {
		case !c.compOK || declared == "":
			c.add("memory", StatusSkip, "not checked: the module did not load")
		case uint64(mem.Min)*64<<10 > limit:
			c.add("memory", StatusFail, "%s, over %s of %s", declared, which, bytesize.Exact(int64(limit)))
		default:
			c.add("memory", StatusPass, "%s, within %s of %s", declared, which, bytesize.Exact(int64(limit)))
		}
		return
	}
	if _, err := c.eng.Load(ctx, runtime.ModuleSpec{Name: c.name, Wasm: c.wasm, MemoryLimit: limit}); err != nil {
		c.add("memory", StatusFail, "%s (%s)", moduleErr(err), which)
		return
	}
	c.memOK = true
	if declared == "" {
		declared = "fits"
	}
	c.add("memory", StatusPass, "%s, within %s of %s", declared, which, bytesize.Exact(int64(limit)))
}

// loadSidecar loads the sidecar and returns its item.
func (c *checker) loadSidecar() (Item, error) {
	path := c.opts.TOML
	if path == "" {
		path = strings.TrimSuffix(c.opts.Module, ".wasm") + ".toml"
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return Item{Name: "sidecar", Status: StatusWarn, Detail: fmt.Sprintf(
				"no sidecar %s: nothing declares the module's collectors (a product's collectors.toml must; or write one, see registry/sample.toml)", path)}, nil
		}
	}
	sc := loadSidecar(path, c.opts.Module, c.name)
	c.sc = sc
	if len(sc.problems) > 0 {
		return Item{Name: "sidecar", Status: StatusFail, Detail: strings.Join(sc.problems, "; ")}, nil
	}
	var list []string
	for _, col := range sc.collectors() {
		what := string(col.Format)
		switch {
		case col.Config:
			what += ", config"
		case col.Slicing.Kind != registry.SliceNone:
			what += ", " + col.Slicing.String()
		}
		list = append(list, fmt.Sprintf("%s (%s)", col.Key, what))
	}
	detail := fmt.Sprintf("%s: %d %s: %s", path, len(list), plural(len(list), "collector", "collectors"), strings.Join(list, ", "))
	status := StatusPass
	if sc.noConfig {
		status, detail = StatusWarn, detail+"; no config collector (a product's registry provides one)"
	}
	for _, w := range sc.mountWarn {
		status, detail = StatusWarn, detail+"; "+w+" (on this machine; collectors run without the mount)"
	}
	return Item{Name: "sidecar", Status: status, Detail: detail}, nil
}

// grants says, loudly, what check granted the sidecar: the sidecar only asks, and in a product
// only the operator's collectors.toml grants.
func (c *checker) grants() {
	if c.sc == nil || c.sc.granted == "" {
		return
	}
	c.log.Warn("check granted what the sidecar requests; a product's operator must grant these explicitly in collectors.toml", "grant", c.sc.granted)
	c.add("grants", StatusWarn, "WARNING: check granted the sidecar's requests to run the module; a product's operator must grant them explicitly, in collectors.toml:\n%s",
		strings.TrimRight(c.sc.granted, "\n"))
}

// exports checks each collector's function and loads the module as the registry describes it.
// It returns the module ready to run, or nil.
func (c *checker) exports(ctx context.Context) *runtime.Module {
	cols := c.sidecarCollectors()
	switch {
	case !c.abiOK:
		c.add("exports", StatusSkip, "not checked: the module did not load")
		return nil
	case cols == nil:
		c.add("exports", StatusSkip, "not checked: no valid sidecar declares collectors")
		return nil
	}
	var fns, problems []string
	seen := map[string]bool{}
	for _, col := range cols {
		if seen[col.Function] {
			continue
		}
		seen[col.Function] = true
		fns = append(fns, col.Function)
		spec := runtime.ModuleSpec{Name: c.name, Wasm: c.wasm, MemoryLimit: anyMemory, Functions: []string{col.Function}}
		if _, err := c.eng.Load(ctx, spec); err != nil {
			problems = append(problems, moduleErr(err))
		}
	}
	if len(problems) > 0 {
		c.add("exports", StatusFail, "%s", strings.Join(problems, "; "))
		return nil
	}
	c.add("exports", StatusPass, "%s: () -> i32", strings.Join(fns, ", "))
	if !c.memOK {
		return nil
	}
	spec := executor.ModuleSpec(c.sc.reg, c.sc.module)
	spec.Path, spec.Wasm = "", c.wasm
	mod, err := c.eng.Load(ctx, spec)
	if err != nil {
		c.add("load", StatusFail, "%s", moduleErr(err))
		return nil
	}
	return mod
}

// sidecarCollectors returns the collectors of a sidecar that loaded without problems, else nil.
func (c *checker) sidecarCollectors() []*registry.Collector {
	if c.sc == nil || len(c.sc.problems) > 0 {
		return nil
	}
	return c.sc.collectors()
}

// run is one planned invocation.
type run struct {
	col          *registry.Collector
	name         string
	since, until time.Time
	empty        bool // counts for startup
}

// fixtureSources opens the --fixture databases as the data sources they stand for: SQLite,
// read-only, with --timestamp-format.
func (c *checker) runs(ctx context.Context, mod *runtime.Module) {
	cols := c.sidecarCollectors()
	if mod == nil {
		if len(cols) > 0 {
			c.add("startup", StatusSkip, "not measured: the module did not load")
			c.add("run", StatusSkip, "collectors not run: the module did not load")
		} else {
			c.add("startup", StatusSkip, "not measured: no collector to run")
		}
		return
	}
	// Collectors run as a gather runs them: through the executor, in a worker process.
	reg := *c.sc.reg
	reg.Runtime.CacheDir = c.opts.CacheDir
	// --fixture files are the data sources the collectors read, as SQLite.
	reg.DataSources = maps.Clone(reg.DataSources)
	if reg.DataSources == nil {
		reg.DataSources = map[string]*registry.DataSource{}
	}
	for name, file := range c.opts.Fixtures {
		reg.DataSources[name] = &registry.DataSource{Name: name, Driver: "sqlite", Path: file, TimestampFormat: c.opts.TimestampFormat}
	}
	exec, closeExec, err := executor.New(ctx, &reg, c.log)
	if err != nil {
		c.add("run", StatusFail, "cannot start the executor: %v", err)
		return
	}
	defer closeExec()
	// The module as the loader checked it.
	m := c.sc.module
	startAt := len(c.rep.Checks)
	c.add("startup", StatusSkip, "not measured: no collector ran")
	for _, col := range cols {
		if len(col.DataSources) > 0 {
			var missing []string
			for _, name := range col.DataSources {
				if c.opts.Fixtures[name] == "" {
					missing = append(missing, name)
				}
			}
			if len(missing) > 0 {
				c.add("run "+col.Key, StatusWarn, "needs data source %s; check runs without databases unless given --fixture %s=FILE",
					strings.Join(col.DataSources, ", "), missing[0])
				continue
			}
		}
		for _, r := range c.plan(col) {
			c.invoke(ctx, exec, m, r)
		}
	}
	switch st := &c.rep.Checks[startAt]; {
	case c.startT == 0:
	case c.startT > warnStartup:
		*st = Item{Name: "startup", Status: StatusWarn, Detail: fmt.Sprintf(
			"%s for a fresh instance and an empty slice, over %s: move work out of initialisation (package-level variables, init)", c.startT.Round(time.Millisecond), warnStartup)}
	default:
		*st = Item{Name: "startup", Status: StatusPass, Detail: fmt.Sprintf(
			"%s for a fresh instance and an empty slice", c.startT.Round(100*time.Microsecond))}
	}
}

// plan returns the runs of a collector: the config collector once without a slice, as a gather
// runs it; every other collector for an empty slice and a sample slice ending now.
func (c *checker) plan(col *registry.Collector) []run {
	if col.Config {
		return []run{{col: col, name: "run " + col.Key + " (no slice)", empty: true}}
	}
	width := time.Hour
	switch col.Slicing.Kind {
	case registry.SliceDaily:
		width = 24 * time.Hour
	case registry.SliceFixed:
		width = min(width, col.Slicing.Interval)
	}
	return []run{
		{col: col, name: "run " + col.Key + " (empty slice)", since: c.now, until: c.now, empty: true},
		{col: col, name: "run " + col.Key + " (sample slice)", since: c.now.Add(-width), until: c.now},
	}
}

func (c *checker) invoke(ctx context.Context, exec gather.Executor, m *registry.Module, r run) {
	col := *r.col
	col.Module = m
	if col.Timeout <= 0 || c.opts.Timeout < col.Timeout {
		col.Timeout = c.opts.Timeout
	}
	out := &sink{json: col.Format == registry.FormatJSON}
	var output io.Writer = out
	var guard *gather.SliceGuard
	if col.TimeColumn != "" && !r.until.IsZero() {
		guard = gather.NewSliceGuard(out, &col, gather.Slice{Since: r.since, Until: r.until}, c.log)
		output = guard
	}
	req := gather.Request(&col, gather.Slice{Since: r.since, Until: r.until}, hostfuncs.DryRun)
	req.Output, req.Logger = output, c.log
	res, err := exec.Run(ctx, &col, req)
	took := res.Elapsed.Round(100 * time.Microsecond)
	if guard != nil && guard.Err() != nil {
		c.add(r.name, StatusFail, "%v", guard.Err())
		return
	}
	if err != nil {
		var ie *runtime.InvocationError
		if errors.As(err, &ie) {
			msg := string(ie.Kind) + ": " + ie.Err.Error()
			if ie.Stderr != "" && !strings.Contains(msg, ie.Stderr) {
				msg += " (guest stderr: " + ie.Stderr + ")"
			}
			c.add(r.name, StatusFail, "%s", msg)
			return
		}
		c.add(r.name, StatusFail, "%v", err)
		return
	}
	if problem := out.problem(col.Format, res.Report); problem != "" {
		c.add(r.name, StatusFail, "%s", problem)
		return
	}
	if r.empty && (c.startT == 0 || res.Elapsed < c.startT) {
		c.startT = max(res.Elapsed, time.Nanosecond)
	}
	window := "no slice"
	if !r.until.IsZero() {
		window = "(" + r.since.Format(time.RFC3339) + ", " + r.until.Format(time.RFC3339) + "]"
	}
	if col.Format == registry.FormatJSON {
		c.add(r.name, StatusPass, "1 document, %s in %s, %s", bytesize.Approx(res.Report.Bytes), took, window)
		return
	}
	if guard != nil && guard.Outside() > 0 {
		c.add(r.name, StatusWarn, "%d %s outside the slice %s (time_guard = \"warn\" keeps them)", guard.Outside(),
			plural(int(guard.Outside()), "row", "rows"), window)
		return
	}
	c.add(r.name, StatusPass, "%d %s, %d columns, %s in %s, %s", res.Report.Rows, plural(int(res.Report.Rows), "row", "rows"),
		out.columns, bytesize.Approx(res.Report.Bytes), took, window)
}

// sink takes a collector's output: it keeps the JSON document, and reads the CSV header (the
// host's first write) and counts the rest.
type sink struct {
	json    bool
	writes  int
	header  []byte
	doc     bytes.Buffer
	columns int
}

func (s *sink) Write(p []byte) (int, error) {
	if s.writes == 0 {
		s.header = append([]byte(nil), p...)
	}
	s.writes++
	if s.json {
		s.doc.Write(p)
	}
	return len(p), nil
}

// problem returns what is wrong with output the host accepted, "" when nothing is. The host
// validates every emit; this catches a collector that emitted nothing.
func (s *sink) problem(format registry.Format, rep hostfuncs.Report) string {
	if format == registry.FormatJSON {
		switch {
		case rep.JSONDocuments == 0:
			return "emitted no JSON document (a JSON collector must call emit_json once)"
		case !json.Valid(s.doc.Bytes()):
			return "the JSON document does not parse"
		}
		return ""
	}
	if s.writes == 0 || len(s.header) == 0 {
		return "emitted no CSV header (set the header even when there are no rows)"
	}
	cols, err := csv.NewReader(bytes.NewReader(s.header)).Read()
	if err != nil {
		return fmt.Sprintf("the CSV header does not parse: %v", err)
	}
	s.columns = len(cols)
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
