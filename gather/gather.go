package gather

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/state"
)

// Options configure one gather. Registry, Executor, OutDir and Store are required.
type Options struct {
	Registry *registry.Registry
	Executor Executor
	// Type is dry-run (default), manual or scheduled. Dry-run keeps the tarballs in OutDir and
	// persists nothing; manual and scheduled ship them and advance the bookkeeping.
	Type hostfuncs.CollectionType
	// Since and Until are the explicit window; zero means unset.
	Since, Until time.Time
	// Subset limits the gather to these keys; the config collector is always kept (D2).
	Subset []string
	// OutDir receives the tarballs. It is created if missing and never deleted (D6).
	OutDir string
	// Store holds the bookkeeping; Locker (optional) keeps two gathers apart.
	Store  state.Store
	Locker state.Locker
	// License gates the gather; nil means licensed. Shipper ships manual and scheduled gathers.
	License LicenseChecker
	Shipper Shipper
	// FailedKeep is how many tarballs the ingress did not take are kept in OutDir/failed, the
	// newest first; 0 keeps none. Their data is collected again by the next run either way.
	FailedKeep int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger gets clamps, failures and progress; default slog.Default().
	Logger *slog.Logger
	// Progress, when set, is called before each invocation.
	Progress func(Progress)
	// Settled, when set, is called with each invocation's outcome once the gather has judged
	// it (before its output is packed). An invocation the gather stopped before judging it
	// (interrupted, or run ahead for a collector that then stopped) is not settled.
	Settled func(Settled)
	// MinInterval skips the gather (ErrTooSoon) when the last gather, read under the lock, is
	// more recent than this: nodes on the same timer then gather once per interval. 0 = never.
	MinInterval time.Duration
}

// Progress says which invocation is about to run.
type Progress struct {
	Collector     string
	Slice         int // 1-based
	Slices        int
	Done, Total   int // invocations done and planned in the whole gather
	Since, Until  time.Time
	TarballsSoFar int
}

// Settled is how one invocation went, as the gather judged it.
type Settled struct {
	Collector    string
	Since, Until time.Time
	// Err is why the invocation failed: its own error, or one the gather found in its output
	// (rows outside the slice, no JSON document); nil when it succeeded.
	Err error
}

// ErrBadSubset is returned for a subset naming a key that is not registered (exit 2).
var ErrBadSubset = errors.New("gather: unknown key in subset")

// ErrTooSoon is returned when Options.MinInterval has not passed since the last gather; nothing
// ran. Use errors.Is.
var ErrTooSoon = errors.New("gather: the last gather is more recent than the minimum interval")

// ErrNothingNew is returned by a gather without an explicit window (no Since, no Until) when
// there is nothing new to collect: the last gather ended less than [MinWindow] ago and no
// collector lags behind it, or it ended within the same second, whose tarball names (one per
// second of the window's end) it took. Nothing ran and nothing was written. Use errors.Is.
var ErrNothingNew = errors.New("gather: nothing new")

// MinWindow is the shortest window a gather without an explicit window collects: the shortest
// slice a collector may declare. A second gather within seconds of the last one would otherwise
// ship a window of those seconds.
const MinWindow = time.Minute

// collectorRun is one registry collector's part in a gather.
type collectorRun struct {
	c        *registry.Collector
	slices   []*sliceRun
	fullSync bool
	// stopped is set in manual and scheduled gathers when a slice failed or did not ship: the
	// later slices are skipped, since the key cannot advance past the failure (D3) and shipping
	// them now would send them twice when the next run collects from there.
	stopped bool
}

// sliceRun is one invocation and what became of its output.
type sliceRun struct {
	run               *collectorRun
	slice             Slice
	seq, index        int  // its place among all the gather's invocations (0-based), and in its collector's (1-based)
	ok                bool // gathered without error
	skipped           bool // not run: an earlier slice of its collector failed
	parts, shipped    int  // members placed into tarballs, and how many of those shipped
	started, finished time.Time
	report            hostfuncs.Report
	err               error
}

// attempted reports whether the slice's invocation ran.
func (s *sliceRun) attempted() bool { return !s.started.IsZero() }

// delivered reports whether the slice's data all reached the ingress (or there was none).
func (s *sliceRun) delivered() bool { return s.ok && s.shipped == s.parts }

type gatherer struct {
	opts   Options
	reg    *registry.Registry
	log    *slog.Logger
	now    func() time.Time
	window Window
	stage  string
	packer *packaging.Packer
	result *Result
	staged int
	total  int
	runs   []*collectorRun
	base   state.State // the bookkeeping as loaded; every save is computed from it
	// pending is the current list of recorded tarballs (state.State.Pending); saveErr the first
	// failure to save the bookkeeping, which stops shipping.
	pending []state.Pending
	saveErr error
}

// Gather runs one gather. It returns a Result whenever it got as far as running collectors, even
// with an error; failures of single collectors or uploads are in the Result, not the error. The
// error is for what stopped the gather: ErrNotLicensed, ErrShippingNotConfigured, state.ErrLocked,
// ErrBadInterval, ErrBadSubset, an unreadable state, an unwritable output directory, and
// ErrStateNotSaved, which stops shipping at once.
func Gather(ctx context.Context, opts Options) (*Result, error) {
	g := &gatherer{opts: opts, reg: opts.Registry, log: opts.Logger, now: opts.Now}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if opts.Type == "" {
		g.opts.Type = hostfuncs.DryRun
	}
	return g.gather(ctx)
}

func (g *gatherer) gather(ctx context.Context) (*Result, error) {
	// Worker processes write staged parts by path, from a working directory of their own.
	out, err := filepath.Abs(g.opts.OutDir)
	if err != nil {
		return nil, fmt.Errorf("gather: output directory: %w", err)
	}
	g.opts.OutDir = out
	o := g.opts
	if o.License != nil {
		if err := o.License.CheckLicense(ctx); err != nil {
			return nil, err
		}
	}
	shipping := o.Type != hostfuncs.DryRun
	if shipping {
		if o.Shipper == nil {
			return nil, ErrShippingNotConfigured
		}
		if err := o.Shipper.Configured(); err != nil {
			return nil, err
		}
	}
	runs, err := g.plan()
	if err != nil {
		return nil, err
	}
	if o.Locker != nil {
		unlock, err := o.Locker.TryLock(ctx)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := unlock(); err != nil {
				g.log.Error("release the gather lock", "error", err)
			}
		}()
	}
	st, err := o.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	// Microseconds, as upstream's datetimes: the status file and the bookkeeping then agree.
	now := g.now().UTC().Truncate(time.Microsecond)
	if o.MinInterval > 0 && !st.LastGather.IsZero() && now.Sub(st.LastGather) < o.MinInterval {
		return nil, fmt.Errorf("%w: last gather %s, %s ago (minimum %s)", ErrTooSoon,
			st.LastGather.Format(time.RFC3339), now.Sub(st.LastGather).Round(time.Second), o.MinInterval)
	}
	g.window, err = ComputeWindow(now, o.Since, o.Until, st.LastGather, g.reg.Gather.MaxWindow)
	for _, c := range g.window.Clamps {
		g.log.Warn(c)
	}
	if err != nil {
		return nil, err
	}
	if err := g.nothingNew(runs, st, now); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("gather: output directory: %w", err)
	}
	g.removeStale()
	g.result = &Result{Type: o.Type, Isolation: o.Executor.Isolation(), Since: g.window.Since, Until: g.window.Until, Started: now}
	g.base = st
	if shipping {
		// What earlier runs recorded and did not get acknowledged goes first, byte for byte.
		g.pending = st.Pending
		delivered, err := g.resend(ctx)
		if err != nil {
			return g.result, err
		}
		if !delivered {
			g.log.Error("pending tarballs could not be re-sent; nothing new is collected until they are")
			g.result.Elapsed = g.now().Sub(now)
			return g.result, nil
		}
		st = g.base
	}
	g.slice(runs, st, now)
	if g.stage, err = os.MkdirTemp(o.OutDir, ".staging-"); err != nil {
		return nil, fmt.Errorf("gather: staging directory: %w", err)
	}
	defer os.RemoveAll(g.stage)

	g.recordDisabled()
	g.runs = runs
	if shipping {
		// Leave no empty pending/ behind: Remove fails, harmlessly, while a tarball waits there.
		defer os.Remove(filepath.Join(o.OutDir, PendingDir))
	}
	if err := g.collect(ctx, runs); err != nil {
		return g.result, err
	}
	if shipping {
		if err := g.save(ctx, g.bookkeeping(true)); err != nil {
			return g.result, err
		}
		g.result.StateSaved = true
	}
	g.result.Elapsed = g.now().Sub(now)
	g.result.HostPeakRSS = peakRSS()
	return g.result, nil
}

// plan picks the collectors: config first, then JSON, then CSV, in declaration order (D1), limited
// to the subset plus config (D2).
func (g *gatherer) plan() ([]*collectorRun, error) {
	want := map[string]bool{}
	for _, k := range g.opts.Subset {
		if len(g.reg.Collector(k)) == 0 && len(disabledCollectors(g.reg, k)) == 0 {
			return nil, fmt.Errorf("%w: %q (wasmcollector list shows the keys)", ErrBadSubset, k)
		}
		want[k] = true
	}
	var runs []*collectorRun
	for _, pass := range []func(*registry.Collector) bool{
		func(c *registry.Collector) bool { return c.Config },
		func(c *registry.Collector) bool { return !c.Config && c.Format == registry.FormatJSON },
		func(c *registry.Collector) bool { return !c.Config && c.Format == registry.FormatCSV },
	} {
		for _, c := range g.reg.Collectors {
			if pass(c) && (c.Config || len(want) == 0 || want[c.Key]) {
				runs = append(runs, &collectorRun{c: c})
			}
		}
	}
	return runs, nil
}

// slice works out each collector's slices (upstream 3.4 and 5): the config collector gets no
// window; the others start at the explicit since, or their entry or the last gather, never before
// the horizon; a due full sync covers the whole max window.
func (g *gatherer) slice(runs []*collectorRun, st state.State, now time.Time) {
	maxWindow := g.reg.Gather.MaxWindow
	for _, r := range runs {
		c := r.c
		if c.Config {
			r.slices = []*sliceRun{{run: r}}
			continue
		}
		start := g.window.Start(st.Entries[c.Key], maxWindow)
		if end := covered(st.Pending, c.Key); end.After(start) {
			start = end // held by pending tarballs: never collected twice
		}
		r.fullSync = fullSyncDue(c, st, now)
		if r.fullSync {
			start = g.window.Until.Add(-maxWindow)
		}
		for _, s := range Slices(c.Slicing, start, g.window.Until, r.fullSync) {
			r.slices = append(r.slices, &sliceRun{run: r, slice: s})
		}
		if len(r.slices) == 0 {
			g.log.Info("nothing to collect: the window is empty", "collector", c.Key,
				"since", start, "until", g.window.Until)
		}
	}
	for _, r := range runs {
		for i, s := range r.slices {
			s.seq, s.index = g.total, i+1
			g.total++
		}
	}
}

// fullSyncDue reports whether c's full sync is due (upstream 5.3): it is sliced, has a full-sync
// interval, and its last full sync is older than that or never happened.
func fullSyncDue(c *registry.Collector, st state.State, now time.Time) bool {
	days := c.FullSyncIntervalDays
	if days <= 0 || c.Slicing.Kind == registry.SliceNone {
		return false
	}
	last := st.Entries[c.Key+"_full"]
	return last.IsZero() || last.Before(now.AddDate(0, 0, -days))
}

// nothingNew returns ErrNothingNew, saying why, when a gather without an explicit window comes
// too soon after the last one: its window ends in the same second as the last gather's (the
// tarball names, which carry that second, would repeat), or it is shorter than MinWindow and no
// collector lags (an entry behind the last gather, a full sync due). Pending tarballs to re-send
// always make a gather worth running.
func (g *gatherer) nothingNew(runs []*collectorRun, st state.State, now time.Time) error {
	o := g.opts
	last := st.LastGather
	if !o.Since.IsZero() || !o.Until.IsZero() || last.IsZero() || len(st.Pending) > 0 {
		return nil
	}
	until := g.window.Until
	ago := until.Sub(last).Round(time.Second)
	if until.Truncate(time.Second).Equal(last.Truncate(time.Second)) {
		return fmt.Errorf("%w: the last gather ended at %s, within this second; its tarball names would repeat: run again later",
			ErrNothingNew, last.Format(time.RFC3339Nano))
	}
	if until.Sub(last) >= MinWindow {
		return nil
	}
	for _, r := range runs {
		if r.c.Config {
			continue
		}
		if fullSyncDue(r.c, st, now) || until.Sub(g.window.Start(st.Entries[r.c.Key], g.reg.Gather.MaxWindow)) >= MinWindow {
			return nil // this collector has more than a minute to catch up on
		}
	}
	return fmt.Errorf("%w since the last gather at %s (%s ago; a gather collects at least %s): nothing collected, nothing shipped",
		ErrNothingNew, last.Format(time.RFC3339), ago, MinWindow)
}

// collect runs every invocation and packs and ships as it goes.
func (g *gatherer) collect(ctx context.Context, runs []*collectorRun) error {
	var config *packaging.Config
	for _, r := range runs {
		if !r.c.Config {
			continue
		}
		s := r.slices[0]
		g.progress(s)
		s.started = g.now().UTC()
		if st := g.invoke(ctx, s, "config"); g.settle(&st) {
			config = &packaging.Config{Version: r.c.Version, Path: st.path}
		}
		g.record(r)
	}
	g.packer = packaging.NewPacker(packaging.Options{
		Dir: g.opts.OutDir, Base: g.reg.Gather.TarballBase, Until: g.window.Until,
		MaxDataSize: g.reg.Gather.MaxDataSize, Config: config,
		// Names stay unique among the pending tarballs: a re-send goes out under its own name.
		Reserved: g.reserved,
		// A dry run records nothing, so nothing depends on its tarballs surviving a power loss.
		NoSync: g.opts.Type == hostfuncs.DryRun,
	})
	if err := g.pipeline(ctx, runs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: what shipped so far is recorded, the rest is collected next time
	}
	tarballs, err := g.packer.Finish()
	if err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	return g.deliver(ctx, tarballs)
}

// request describes an invocation of s; the executor adds the data sources granted to it.
func (g *gatherer) request(s *sliceRun) hostfuncs.Request {
	req := Request(s.run.c, s.slice, g.opts.Type)
	req.Logger = g.log
	return req
}

// staged is what one invocation left in the staging directory, before it is placed.
type staged struct {
	s     *sliceRun
	path  string              // JSON: the document's file
	split *packaging.Splitter // CSV: the parts
	parts []packaging.Part
	err   error // the invocation failed; nothing is staged
}

// discard removes what an invocation staged that will not be placed.
func (st *staged) discard() {
	if st.path != "" {
		os.Remove(st.path)
	}
	for _, p := range st.parts {
		os.Remove(p.Path)
	}
}

// pipeline runs the slices of every non-config collector in declaration order, placing and
// delivering each one's output in that order. With an executor that runs invocations in
// parallel (worker processes), up to that many invocations run ahead of the one being placed:
// the guests work while this goroutine compresses and ships, on other cores. Nothing observable
// depends on it: staged names are given in order, outputs are placed in order, and a slice run
// ahead whose collector then stops (an earlier slice failed or did not ship) is discarded, as
// if it had been skipped.
func (g *gatherer) pipeline(ctx context.Context, runs []*collectorRun) error {
	type task struct {
		s       *sliceRun
		last    bool // the last slice of its collector: record the collector once it is placed
		r       *collectorRun
		done    chan staged // nil for a slice not run, or a collector without slices
		stopped bool        // not run: its collector had stopped
	}
	var tasks []*task
	for _, r := range runs {
		if r.c.Config {
			continue
		}
		if len(r.slices) == 0 {
			tasks = append(tasks, &task{r: r, last: true})
		}
		for i, s := range r.slices {
			tasks = append(tasks, &task{s: s, r: r, last: i == len(r.slices)-1})
		}
	}
	ahead := 1
	if p, ok := g.opts.Executor.(interface{ Parallelism() int }); ok {
		ahead = max(1, p.Parallelism())
	}
	next := 0
	dispatch := func() {
		t := tasks[next]
		next++
		if t.s == nil {
			return
		}
		if t.r.stopped {
			t.stopped = true
			return
		}
		if ctx.Err() != nil {
			return
		}
		t.done = make(chan staged, 1)
		g.staged++
		name := strconv.Itoa(g.staged) + "-" + t.r.c.Key
		g.progress(t.s)
		t.s.started = g.now().UTC()
		go func() { t.done <- g.invoke(ctx, t.s, name) }()
	}
	var err error
	for i, t := range tasks {
		for next < len(tasks) && next <= i+ahead-1 {
			dispatch()
		}
		if t.s == nil {
			g.record(t.r)
			continue
		}
		if t.done == nil || err != nil {
			if t.done != nil {
				st := <-t.done // stopped or interrupted: wait for it, keep nothing
				st.discard()
			}
			if t.stopped {
				t.s.skipped = true
			}
			if t.last && err == nil {
				g.record(t.r)
			}
			continue
		}
		st := <-t.done
		switch {
		case ctx.Err() != nil:
			st.discard()
			err = ctx.Err()
		case t.r.stopped:
			st.discard()
			t.s.skipped = true
		default:
			if perr := g.place(ctx, &st); perr != nil {
				err = perr
			}
		}
		if t.last && err == nil {
			g.record(t.r)
		}
	}
	if err == nil {
		err = ctx.Err() // interrupted: what shipped so far is recorded, the rest is collected next time
	}
	return err
}

// invoke runs one slice's invocation into the staging directory. It runs on its own goroutine:
// it touches only s and its own files.
func (g *gatherer) invoke(ctx context.Context, s *sliceRun, name string) staged {
	c := s.run.c
	st := staged{s: s}
	req := g.request(s)
	if c.Format == registry.FormatJSON {
		st.path = filepath.Join(g.stage, name+".json")
		f, err := os.OpenFile(st.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			st.path, st.err = "", fmt.Errorf("stage %s: %w", filepath.Base(st.path), err)
			s.finished = g.now().UTC()
			return st
		}
		req.Output = f
		out, err := g.opts.Executor.Run(ctx, c, req)
		s.finished = g.now().UTC()
		s.report = out.Report
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("stage %s: %w", filepath.Base(st.path), cerr)
		}
		if err == nil && out.Report.JSONDocuments == 0 {
			err = errors.New("emitted no JSON document")
		}
		if err != nil {
			os.Remove(st.path)
			st.path, st.err = "", err
		}
		return st
	}
	split := packaging.NewSplitter(g.stage, name+".csv", g.reg.Gather.MaxDataSize)
	// Each part is compressed into its tarball member as soon as it is finished, while the
	// collector goes on (packaging/member.go).
	split.CompressParts(packaging.MemberSpec{Name: c.Key + "." + string(c.Format), ModTime: g.window.Until})
	req.Output = split
	var guard *SliceGuard
	if c.TimeColumn != "" {
		guard = NewSliceGuard(split, c, s.slice, g.log)
		req.Output = guard
	}
	out, err := g.opts.Executor.Run(ctx, c, req)
	s.finished = g.now().UTC()
	s.report = out.Report
	if guard != nil {
		guard.Finish()
		if guard.Err() != nil {
			err = guard.Err() // the guard's reason, not how the output write failed
		}
	}
	if err == nil {
		st.parts, err = split.Close()
	} else {
		split.Abort() // a failed CSV slice ships nothing (upstream) and stops its key here (D3)
	}
	st.err = err
	return st
}

// place records how an invocation went, packs what it staged and delivers the tarballs that
// completes. The error is for what stops the gather (packing, the bookkeeping); a failed
// invocation is an outcome, recorded on its slice.
func (g *gatherer) place(ctx context.Context, st *staged) error {
	s, c := st.s, st.s.run.c
	ok := g.settle(st)
	if c.Format == registry.FormatJSON {
		coll := g.collection(s)
		if ok {
			info, err := os.Stat(st.path)
			if err != nil {
				return fmt.Errorf("gather: %w", err)
			}
			coll.Path, coll.Size, coll.Failed = st.path, info.Size(), false
		}
		// A failed JSON collection is placed too: it shows as "failed" in the status file (upstream).
		coll.Started, coll.Finished = s.started, s.finished
		s.parts = 1
		coll.Ref = &partRef{s: s, part: 1}
		tarballs, err := g.pack(coll)
		if err != nil {
			return err
		}
		return g.deliver(ctx, tarballs)
	}
	if !ok {
		return nil // a failed CSV slice places nothing
	}
	s.parts = len(st.parts)
	// Every part is placed before any is shipped, so that all of a slice's tarballs are recorded
	// as pending together: a slice is then either wholly recorded or not at all.
	var tarballs []*packaging.Tarball
	for i, p := range st.parts {
		coll := g.collection(s)
		coll.Path, coll.Size, coll.Failed, coll.Compressed = p.Path, p.Size, false, p.Compressed
		coll.Ref = &partRef{s: s, part: i + 1}
		tbs, err := g.pack(coll)
		tarballs = append(tarballs, tbs...)
		if err != nil {
			return err
		}
	}
	return g.deliver(ctx, tarballs)
}

// stop skips the rest of a collector's slices in a gather that ships (see collectorRun.stopped).
func (g *gatherer) stop(r *collectorRun) {
	if g.opts.Type != hostfuncs.DryRun && !r.stopped && len(r.slices) > 1 {
		r.stopped = true
		g.log.Warn("skipping the collector's later slices; the next run collects from the failed one", "collector", r.c.Key)
	}
}

func (g *gatherer) collection(s *sliceRun) packaging.Collection {
	c := s.run.c
	return packaging.Collection{
		Key: c.Key, Version: c.Version, Format: string(c.Format), Group: c.ShippingGroup,
		Since: s.slice.Since, Until: s.slice.Until, Started: s.started, Finished: s.finished,
		Failed: true, Sliced: c.Slicing.Kind != registry.SliceNone,
	}
}

func (g *gatherer) pack(coll packaging.Collection) ([]*packaging.Tarball, error) {
	tarballs, err := g.packer.Add(coll)
	if err != nil {
		return tarballs, fmt.Errorf("gather: %w", err)
	}
	return tarballs, nil
}

// settle records the outcome of an invocation on its slice, ok or failed with its cause, and
// reports whether it succeeded. A failure stops the collector's later slices (see stop).
func (g *gatherer) settle(st *staged) bool {
	s := st.s
	if g.opts.Settled != nil {
		g.opts.Settled(Settled{Collector: s.run.c.Key, Since: s.slice.Since, Until: s.slice.Until, Err: st.err})
	}
	if st.err == nil {
		s.ok = true
		return true
	}
	s.err = st.err
	g.stop(s.run)
	g.log.Error("collector failed", "collector", s.run.c.Key, "slice", sliceText(s.slice), "error", st.err)
	return false
}

// deliver keeps (dry-run) or ships each tarball and records its fate. In a gather that ships,
// all of tarballs are first recorded as pending, in one save, and only then sent one by one;
// after each acknowledgement the bookkeeping is saved at once, so a crash later in the gather
// re-sends nothing that arrived and loses nothing that did not. It returns an error only when
// the bookkeeping could not be saved ([ErrStateNotSaved]): shipping stops there.
func (g *gatherer) deliver(ctx context.Context, tarballs []*packaging.Tarball) error {
	if len(tarballs) == 0 {
		return nil
	}
	var send []*packaging.Tarball
	var results []*TarballResult
	for _, t := range tarballs {
		tr := &TarballResult{Name: t.Name, Path: t.Path, Group: t.Group, Size: t.Size, DataSize: t.DataSize, Fate: FateKept}
		for _, m := range t.Members {
			tr.Files = append(tr.Files, m.Name)
		}
		g.result.Tarballs = append(g.result.Tarballs, tr)
		if g.opts.Type == hostfuncs.DryRun {
			g.log.Debug("tarball written", "tarball", t.Path, "size", t.Size)
			continue
		}
		if g.saveErr != nil {
			tr.Fate, tr.Error = FateFailed, g.saveErr.Error()
			g.stopShipped(t)
			continue
		}
		p, err := g.recordPending(t)
		if err != nil {
			tr.Fate, tr.Error = FateFailed, fmt.Sprintf("record as pending: %v", err)
			tr.Path = g.keepFailed(t)
			g.stopShipped(t)
			g.log.Error("a tarball could not be recorded as pending; its window will be collected again", "tarball", t.Name, "error", err)
			continue
		}
		tr.Path = t.Path
		g.pending = append(g.pending, p)
		send, results = append(send, t), append(results, tr)
	}
	if len(send) == 0 {
		return g.saveErr
	}
	if err := g.save(ctx, g.bookkeeping(false)); err != nil {
		for i, tr := range results {
			tr.Fate, tr.Error = FateFailed, err.Error()
			g.stopShipped(send[i])
		}
		return err
	}
	for i, t := range send {
		_, err := g.ship(ctx, t, results[i])
		if err == nil && results[i].Fate != FatePending {
			continue
		}
		// The bookkeeping could not be saved, or the ingress did not answer: the rest of the
		// batch stays pending, unsent, for the next run.
		why := "not sent: an earlier tarball was not acknowledged"
		if err != nil {
			why = err.Error()
		}
		for j := i + 1; j < len(send); j++ {
			results[j].Fate, results[j].Error = FatePending, why
			g.stopShipped(send[j])
		}
		return err
	}
	return nil
}

// progress reports that s starts. Done counts the invocations before it in the gather's order,
// whether they ran or were skipped, so it is the same with or without invocations run ahead.
func (g *gatherer) progress(s *sliceRun) {
	g.log.Debug("collecting", "collector", s.run.c.Key, "slice", sliceText(s.slice))
	if g.opts.Progress == nil {
		return
	}
	g.opts.Progress(Progress{Collector: s.run.c.Key, Slice: s.index, Slices: len(s.run.slices), Done: s.seq,
		Total: g.total, Since: s.slice.Since, Until: s.slice.Until, TarballsSoFar: len(g.result.Tarballs)})
}

// removeStale removes what a killed gather left in the output directory: staging directories and
// half-written tarballs. It runs under the lock, so no other gather owns them.
func (g *gatherer) removeStale() {
	entries, err := os.ReadDir(g.opts.OutDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, ".staging-") || packaging.IsTemp(name) {
			g.log.Warn("removing what an interrupted gather left", "path", filepath.Join(g.opts.OutDir, name))
			os.RemoveAll(filepath.Join(g.opts.OutDir, name))
		}
	}
}

func sliceText(s Slice) string {
	if s.Until.IsZero() {
		return "none"
	}
	return "(" + s.Since.UTC().Format(time.RFC3339) + ", " + s.Until.UTC().Format(time.RFC3339) + "]"
}
