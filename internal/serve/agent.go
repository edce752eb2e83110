// Package serve is `wasmcollector serve`: the long-running agent. It gathers on a schedule, one
// gather at a time under the same lock and bookkeeping as the CLI, keeps the recent gathers in
// memory with a preview of every tarball they made, and serves an operator's web page, Prometheus
// metrics and health checks over HTTP.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/worker"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/replay"
	"github.com/wasmcollector/wasmcollector/shipping"
	"github.com/wasmcollector/wasmcollector/state"
)

// Defaults of [Config].
const (
	DefaultHistory     = 50
	DefaultPreviewRows = 20
)

// Config configures an [Agent].
type Config struct {
	// Host runs the gathers until a reload replaces it; [Agent.Close] closes the current one.
	Host *wasmcollector.Host
	// Load builds a new host from the configuration, for [Agent.Reload]; nil disables reloads.
	Load func() (*wasmcollector.Host, error)
	// Interval is the time between the start of one scheduled gather and the next; 0 gathers
	// only when [Agent.GatherOnce] is called.
	Interval time.Duration
	// Schedule, when not nil, replaces Interval: it returns the next time to gather after the
	// given time (a cron expression's Next). The first gather waits for it too.
	Schedule func(time.Time) time.Time
	// Jitter delays each scheduled gather by a random duration in [0, Jitter), so that nodes
	// started together do not all gather at once.
	Jitter time.Duration
	// Timing, when not nil, decides the schedule from the registry the agent runs, when the
	// agent is made and after every reload, and replaces Interval, Schedule and Jitter: serve
	// applies its flags over the registry's [serve] table with it. An error fails [New], and
	// fails a reload (nothing changes).
	Timing func(*registry.Registry) (Timing, error)
	// OnReload, when not nil, is called with the registry swapped in after each reload that
	// loaded the configuration (all or part of it swapped in): serve moves its basic auth file
	// to a changed [serve] basic_auth_file with it.
	OnReload func(*registry.Registry)
	// Recording, when not nil, decides the record settings from the registry the agent runs,
	// when the agent is made and after every reload (serve applies its flags over the [serve]
	// record keys with it); nil takes the registry's [serve] record keys. An error fails [New],
	// and fails a reload (nothing changes). New settings apply from the next gather.
	Recording func(*registry.Registry) (registry.RecordSettings, error)
	// ModuleDir is the private directory for the copies of the modules the agent runs (see
	// [Agent.Reload]); "" makes a temporary one, which [Agent.Close] removes.
	ModuleDir string
	// OutDir is where tarballs are written; "" means the registry's [gather] out_dir.
	OutDir string
	// History is how many recent gathers the page keeps, default [DefaultHistory].
	History int
	// PreviewRows is how many rows of each CSV member the page shows, default
	// [DefaultPreviewRows].
	PreviewRows int
	// Logger receives the agent's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Timing is when scheduled gathers run.
type Timing struct {
	// Interval is the time from the start of one gather to the next; the first runs at once.
	// 0 (and no Cron) gathers only when [Agent.GatherOnce] is called, after the first.
	Interval time.Duration
	// Cron, when not "", replaces Interval: gathers run at the times of this expression (see
	// [registry.ParseCron]); the first waits for the first time.
	Cron string
	// Jitter delays each gather by a random duration in [0, Jitter).
	Jitter time.Duration
}

// String says the timing the way the log and the page do.
func (t Timing) String() string {
	s := "every " + t.Interval.String()
	switch {
	case t.Cron == customSchedule:
		s = "on a custom schedule"
	case t.Cron != "":
		s = "at the times of cron " + strconv.Quote(t.Cron)
	case t.Interval == 0:
		s = "on demand only"
	}
	if t.Jitter > 0 {
		s += ", each delayed by up to " + t.Jitter.String()
	}
	return s
}

// customSchedule stands in Timing.Cron for a [Config.Schedule], which has no expression.
const customSchedule = "(Config.Schedule)"

// timing is a Timing with its cron expression parsed.
type timing struct {
	Timing
	next func(time.Time) time.Time // nil without Cron
}

// Record is one gather the agent ran or skipped, as the page shows it.
type Record struct {
	ID      int
	Started time.Time
	Elapsed time.Duration
	Type    hostfuncs.CollectionType
	// Outcome is ok, partial, failed or skipped.
	Outcome string
	// Err is why the gather failed or was skipped.
	Err string
	// Result is what the gather did; nil when it stopped before running collectors.
	Result *gather.Result
	// Previews holds, by tarball name, the start of each tarball's members, read before the
	// tarball was shipped (or, in a dry-run, where it was kept).
	Previews map[string]*TarballPreview
	// Records are the gather's invocation records, nil when it was not recorded ([serve]
	// record_dir unset).
	Records *GatherRecords
}

// Agent runs scheduled gathers and keeps what the page shows. Its methods are safe for
// concurrent use.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	cur     atomic.Pointer[wasmcollector.Host] // swapped by Reload between gathers
	metrics *metrics
	store   *moduleStore // the copies of the modules cur runs

	reloadMu      sync.Mutex // one reload at a time
	reloadMetrics *reloadMetrics
	retimed       chan struct{} // a reload changed the timing: Run recomputes its next gather

	gatherMu sync.Mutex // one gather at a time in this process; the state lock covers others

	mu         sync.Mutex
	history    []*Record // oldest first, at most cfg.History
	nextID     int
	running    *Record   // the gather in progress, nil when none
	next       time.Time // when the next scheduled gather starts
	ready      bool
	stopping   bool
	lastReload *ReloadStatus
	timing     timing
	recording  registry.RecordSettings
}

// New returns an agent for cfg. The agent owns cfg.Host from then on: it runs a host of the
// same registry whose modules are private copies (see [Agent.Reload]), and closes cfg.Host.
func New(cfg Config) (*Agent, error) {
	if cfg.Host == nil {
		return nil, errors.New("serve: no host")
	}
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.PreviewRows <= 0 {
		cfg.PreviewRows = DefaultPreviewRows
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, retimed: make(chan struct{}, 1)}
	reg := cfg.Host.Registry()
	t, err := a.timingFor(reg)
	if err != nil {
		return nil, err
	}
	a.timing = t
	if a.recording, err = a.recordingFor(reg); err != nil {
		return nil, err
	}
	// Rollback protection: a module signed before the newest signature accepted for it is
	// disabled (gathers report its collectors failed); the rest's signing times are recorded.
	reg, refused, err := registry.CheckDowngrades(reg)
	if err != nil {
		return nil, fmt.Errorf("serve: rollback protection: %w", err)
	}
	for _, p := range refused {
		a.log.Error("module refused: signed before the newest signature accepted for it", "problem", p.Error())
	}
	if a.store, err = newModuleStore(cfg.ModuleDir); err != nil {
		return nil, err
	}
	for _, m := range reg.Modules {
		// A module that cannot be copied runs from its file, and fails as it would have.
		if err := a.store.pin(m); err != nil {
			a.log.Warn("module not copied; it runs from its file", "module", m.Name, "error", err)
		}
	}
	a.cur.Store(cfg.Host.WithRegistry(reg))
	if err := cfg.Host.Close(); err != nil {
		a.log.Warn("release the executor of the host given", "error", err)
	}
	a.metrics = newMetrics(a.workerStats)
	a.reloadMetrics = newReloadMetrics(a.metrics.reg, a.metrics.reloads)
	a.pruneRecords(a.recording, "") // the bounds may have shrunk since the last run; sets the gauges
	return a, nil
}

// timingFor returns the timing for reg: [Config.Timing]'s, else the fixed one of the config.
func (a *Agent) timingFor(reg *registry.Registry) (timing, error) {
	if a.cfg.Timing == nil {
		t := timing{Timing: Timing{Interval: a.cfg.Interval, Jitter: a.cfg.Jitter}, next: a.cfg.Schedule}
		if t.next != nil {
			t.Interval, t.Cron = 0, customSchedule
		}
		return t, t.check()
	}
	tt, err := a.cfg.Timing(reg)
	if err != nil {
		return timing{}, fmt.Errorf("serve: the schedule: %w", err)
	}
	t := timing{Timing: tt}
	if tt.Cron != "" {
		if t.next, err = registry.ParseCron(tt.Cron); err != nil {
			return timing{}, fmt.Errorf("serve: cron %q: %w", tt.Cron, err)
		}
		t.Interval = 0
	}
	return t, t.check()
}

func (t timing) check() error {
	if t.Interval < 0 || t.Jitter < 0 {
		return fmt.Errorf("serve: interval %s and jitter %s must not be negative", t.Interval, t.Jitter)
	}
	return nil
}

// setTiming makes t the timing of the next gathers, and wakes Run when it changed.
func (a *Agent) setTiming(t timing) {
	a.mu.Lock()
	changed := t.Timing != a.timing.Timing
	a.timing = t
	a.mu.Unlock()
	if changed {
		a.log.Info("schedule changed", "schedule", t.String())
		select {
		case a.retimed <- struct{}{}:
		default:
		}
	}
}

// Timing returns when the agent gathers now.
func (a *Agent) Timing() Timing {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.timing.Timing
}

func (a *Agent) workerStats() (worker.Stats, bool) {
	a.mu.Lock()
	ready := a.ready
	a.mu.Unlock()
	if !ready { // the executor is started by Start; asking earlier would start it here
		return worker.Stats{}, false
	}
	exec, err := a.host().Executor(context.Background())
	if err != nil {
		return worker.Stats{}, false
	}
	ws, ok := exec.(workerStats)
	if !ok {
		return worker.Stats{}, false
	}
	return ws.WorkerStats(), true
}

// host returns the host gathers run on now.
func (a *Agent) host() *wasmcollector.Host { return a.cur.Load() }

// Close releases the current host's executor and the copies of its modules, after a reload
// in progress (whose context should have ended) has returned.
func (a *Agent) Close() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return errors.Join(a.host().Close(), a.store.close())
}

// Start compiles the modules and starts the executor (the worker pool); the agent is ready
// once it succeeds.
func (a *Agent) Start(ctx context.Context) error {
	if _, err := a.host().Executor(ctx); err != nil {
		return fmt.Errorf("serve: start the executor: %w", err)
	}
	a.mu.Lock()
	a.ready = true
	a.mu.Unlock()
	return nil
}

// Run gathers now (unless the timing is a cron expression), then on the timing, until ctx
// ends. A reload that changes the timing moves the next gather at once. It returns when ctx
// ends, after the running gather, whose context ends with ctx, has returned.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer func() {
		a.mu.Lock()
		a.stopping = true
		a.mu.Unlock()
	}()
	var last time.Time // when the last scheduled gather started
	if a.currentTiming().next == nil {
		last = time.Now()
		a.scheduledGather(ctx)
	}
	for ctx.Err() == nil {
		t := a.currentTiming()
		var at time.Time
		switch {
		case t.next != nil:
			at = t.next(time.Now())
			if at.IsZero() {
				a.log.Warn("the schedule has no next time; no more scheduled gathers")
			}
		case t.Interval > 0:
			at = last.Add(t.Interval)
		}
		if !at.IsZero() && t.Jitter > 0 {
			at = at.Add(rand.N(t.Jitter))
		}
		a.mu.Lock()
		a.next = at
		a.mu.Unlock()
		var fire <-chan time.Time // nil, never ready, when there is no next time
		timer := time.NewTimer(max(time.Until(at), 0))
		if !at.IsZero() {
			a.log.Info("next gather", "at", at.Format(time.RFC3339), "in", time.Until(at).Round(time.Second))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-a.retimed: // recompute the next time with the new timing
			timer.Stop()
			continue
		case <-fire:
		}
		last = time.Now()
		a.scheduledGather(ctx)
	}
	return nil
}

func (a *Agent) currentTiming() timing {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.timing
}

func (a *Agent) scheduledGather(ctx context.Context) {
	if _, err := a.GatherOnce(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("gather round failed", "error", err)
	}
}

// GatherOnce runs one gather now, waiting for one in progress in this process to end first. A
// gather that another process holds the lock for is recorded as skipped and is not an error.
// The type is manual when [shipping] has a URL, else dry-run, as for `wasmcollector gather`.
func (a *Agent) GatherOnce(ctx context.Context) (*Record, error) {
	a.gatherMu.Lock()
	defer a.gatherMu.Unlock()
	reg := a.host().Registry()
	typ := wasmcollector.DryRun
	if reg.Shipping.URL != "" {
		typ = wasmcollector.Manual
	}
	a.mu.Lock()
	a.nextID++
	rec := &Record{ID: a.nextID, Started: a.cfg.Now(), Type: typ, Previews: map[string]*TarballPreview{}}
	a.running = rec
	a.mu.Unlock()

	opts := wasmcollector.GatherOptions{Type: typ, OutDir: a.cfg.OutDir}
	rs := a.currentRecording()
	var recorder *replay.Recorder
	if rs.Dir != "" {
		rec.Records, recorder = a.startRecording(rec.Started, rs)
		opts.Record = recorder
	}
	finish := func(res *gather.Result, err error) (*Record, error) {
		// Also when the gather stopped early: an empty directory is removed, the bounds
		// applied. Before rec is in the history, which the page reads.
		a.finishRecording(rec.Records, recorder, rs)
		return a.finish(rec, res, err)
	}
	var previewMu sync.Mutex
	if typ != wasmcollector.DryRun {
		sh, err := a.host().Shipper()
		if err != nil {
			return finish(nil, err)
		}
		if u, ok := sh.(*shipping.Uploader); ok { // every attempt counts, not only the last
			sh = u.WithOnAttempt(a.metrics.attempt)
		}
		opts.Shipper = &watchingShipper{Shipper: sh, onShip: func(t *packaging.Tarball) {
			p := readPreview(t.Path, a.cfg.PreviewRows)
			previewMu.Lock()
			rec.Previews[t.Name] = p
			previewMu.Unlock()
		}, onResult: a.metrics.upload}
	}
	start := time.Now()
	res, err := a.host().Gather(ctx, opts)
	rec.Elapsed = time.Since(start)
	if res != nil {
		previewMu.Lock()
		for _, t := range res.Tarballs {
			if rec.Previews[t.Name] == nil && t.Path != "" {
				rec.Previews[t.Name] = readPreview(t.Path, a.cfg.PreviewRows)
			}
		}
		previewMu.Unlock()
	}
	return finish(res, err)
}

// finish records rec and counts it.
func (a *Agent) finish(rec *Record, res *gather.Result, err error) (*Record, error) {
	rec.Result = res
	switch {
	case errors.Is(err, state.ErrLocked):
		rec.Outcome, rec.Err, err = "skipped", err.Error(), nil
		a.log.Info("another gather holds the lock; skipping this round", "reason", rec.Err)
	case errors.Is(err, gather.ErrTooSoon), errors.Is(err, gather.ErrNothingNew):
		rec.Outcome, rec.Err, err = "skipped", err.Error(), nil
	case err != nil:
		rec.Outcome, rec.Err = "failed", err.Error()
	case res.Failed():
		rec.Outcome = "partial"
	default:
		rec.Outcome = "ok"
	}
	a.metrics.gathers.WithLabelValues(rec.Outcome).Inc()
	if res != nil {
		a.metrics.observe(res)
		a.metrics.gatherDuration.Observe(rec.Elapsed.Seconds())
	}
	if rec.Outcome == "ok" {
		a.metrics.lastSuccess.Set(float64(rec.Started.Add(rec.Elapsed).Unix()))
	}
	a.updatePending()
	a.mu.Lock()
	a.running = nil
	a.history = append(a.history, rec)
	if len(a.history) > a.cfg.History {
		a.history = append(a.history[:0:0], a.history[len(a.history)-a.cfg.History:]...)
	}
	a.mu.Unlock()
	if err != nil {
		a.log.Warn("gather stopped", "id", rec.ID, "error", err, "elapsed", rec.Elapsed.Round(time.Millisecond))
	} else {
		a.log.Info("gather done", "id", rec.ID, "outcome", rec.Outcome, "elapsed", rec.Elapsed.Round(time.Millisecond))
	}
	return rec, err
}

// updatePending sets the pending gauge from the bookkeeping.
func (a *Agent) updatePending() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.host().State(ctx)
	if err != nil {
		return
	}
	defer st.Close()
	s, err := st.Load(ctx)
	if err != nil {
		return
	}
	a.metrics.pending.Set(float64(len(s.Pending)))
}

// History returns the recent gathers, newest first.
func (a *Agent) History() []*Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Record, 0, len(a.history))
	for i := len(a.history) - 1; i >= 0; i-- {
		out = append(out, a.history[i])
	}
	return out
}

// record returns the gather with this id, nil when it is no longer kept.
func (a *Agent) record(id int) *Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.history {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// watchingShipper previews each tarball before it leaves and counts uploads.
type watchingShipper struct {
	gather.Shipper
	onShip   func(*packaging.Tarball)
	onResult func(error)
}

func (w *watchingShipper) Ship(ctx context.Context, t *packaging.Tarball) error {
	w.onShip(t)
	err := w.Shipper.Ship(ctx, t)
	w.onResult(err)
	return err
}
