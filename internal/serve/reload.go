package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/registry"
)

// ErrNoReload is returned by [Agent.Reload] when the agent has no [Config.Load].
var ErrNoReload = errors.New("serve: reload is not configured")

// Reload loads the configuration again and swaps the result in between gathers, module by
// module. Each new or changed module (its bytes, limits, grants or the functions its collectors
// call) is compiled and checked through the new executor in the background of the running
// schedule; one that fails (or whose sidecar now has problems) is refused, reported in the log,
// on the page and in wasmcollector_module_reload_failures_total{module}, and its previous
// version keeps running with its previous collectors; a new module that fails is not added.
// The other changes are swapped in. A module removed from the configuration stops being
// gathered. A configuration that does not load at all (a problem in collectors.toml) changes
// nothing. A new schedule ([Config.Timing]) applies at once; new record settings
// ([Config.Recording]) from the next gather.
//
// The error is nil when everything was swapped in; otherwise it says what was refused, and
// whether anything was swapped in at all ([ReloadStatus.Result]).
func (a *Agent) Reload(ctx context.Context) error {
	if a.cfg.Load == nil {
		return ErrNoReload
	}
	a.reloadMu.Lock() // the watcher and SIGHUP may ask at once
	defer a.reloadMu.Unlock()
	st := &ReloadStatus{At: a.cfg.Now(), Result: "ok"}
	err := a.reload(ctx, st)
	if err != nil {
		st.Result, st.Err = "failed", err.Error()
		a.log.Error("reload refused; everything keeps running as it was", "error", err)
	} else {
		for _, m := range st.Modules {
			st.Result = "partial"
			a.reloadMetrics.moduleFailures.WithLabelValues(m.Module).Inc()
			if m.Kept {
				a.log.Error("module refused; its previous version keeps running", "module", m.Module, "sha256", m.SHA256, "error", m.Err)
			} else {
				a.log.Error("new module refused; it is not gathered", "module", m.Module, "error", m.Err)
			}
			if len(m.Dropped) > 0 {
				a.log.Warn("collectors of the previous version left out: their key is declared elsewhere now", "module", m.Module, "collectors", m.Dropped)
			}
		}
		a.reloadMetrics.refused.Reset()
		for _, m := range st.Modules {
			a.reloadMetrics.refused.WithLabelValues(m.Module).Set(1)
		}
		for _, n := range st.Notes {
			a.log.Warn(n)
		}
	}
	// Counted before "reloaded" is logged: whoever waits for that line may read /metrics at once.
	a.metrics.reloads.WithLabelValues(st.Result).Inc()
	a.mu.Lock()
	a.lastReload = st
	a.mu.Unlock()
	if err == nil && a.cfg.OnReload != nil {
		a.cfg.OnReload(a.host().Registry())
	}
	if err == nil {
		a.log.Info("reloaded", "result", st.Result, "collectors", len(a.host().Registry().Collectors), "refused", len(st.Modules))
	}
	if err != nil {
		return err
	}
	if len(st.Modules) > 0 {
		var errs []error
		for _, m := range st.Modules {
			errs = append(errs, fmt.Errorf("module %s: %s", m.Module, m.Err))
		}
		return fmt.Errorf("serve: reload refused %d of the modules: %w", len(st.Modules), errors.Join(errs...))
	}
	return nil
}

func (a *Agent) reload(ctx context.Context, st *ReloadStatus) error {
	loaded, err := a.cfg.Load()
	if err != nil {
		return fmt.Errorf("load the configuration: %w", err)
	}
	next := loaded.Registry()
	loaded.Close() // only its registry is used; the host that runs it is built from the current one
	base := a.host()
	cur := base.Registry()
	timing, err := a.timingFor(next)
	if err != nil {
		return err
	}
	recording, err := a.recordingFor(next)
	if err != nil {
		return err
	}

	// Copy each module version, then check those that changed, in a host of the new registry.
	refused := map[string]error{}
	var order, changed []string
	refuse := func(name string, err error) {
		if _, ok := refused[name]; !ok {
			order = append(order, name)
		}
		refused[name] = err
	}
	running := map[string]string{}
	for _, m := range cur.Modules {
		running[m.Name] = fingerprint(cur, m)
	}
	for _, m := range next.Modules {
		if err := a.store.pin(m); err != nil {
			refuse(m.Name, err)
			continue
		}
		if fp, ok := running[m.Name]; !ok || fp != fingerprint(next, m) {
			changed = append(changed, m.Name)
		}
	}
	// Rollback protection: a module signed before the newest signature accepted for it is
	// refused like one that fails its check, and its previous version keeps running.
	downgrades, err := registry.PendingDowngrades(next)
	if err != nil {
		return fmt.Errorf("rollback protection: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(downgrades)) {
		refuse(name, errors.New(downgrades[name].Message))
	}
	for _, d := range next.Disabled {
		if d.Problems[0].Field == "signature" { // disabled for its own signature ([trust])
			refuse(d.Name, fmt.Errorf("its signature does not verify: %w", d.Problems))
			continue
		}
		refuse(d.Name, fmt.Errorf("its sidecar %s has problems: %w", d.Sidecar, d.Problems))
	}
	var h *wasmcollector.Host
	if len(changed) > 0 {
		cand := base.WithRegistry(next)
		exec, err := cand.Executor(ctx)
		if err != nil {
			cand.Close()
			return fmt.Errorf("start the executor: %w", err)
		}
		for _, name := range changed {
			if _, ok := refused[name]; ok {
				continue
			}
			i := slices.IndexFunc(next.Modules, func(m *registry.Module) bool { return m.Name == name })
			if err := exec.Check(ctx, next.Modules[i]); err != nil {
				if ctx.Err() != nil {
					cand.Close()
					return fmt.Errorf("not swapped in: %w", ctx.Err())
				}
				refuse(name, err)
			}
		}
		if len(refused) == 0 {
			h = cand // checked as it is: run it
		} else {
			cand.Close()
		}
	}
	if len(refused) > 0 {
		// A downgraded module with no previous version is disabled, as at start: gathers
		// report its collectors failed rather than leave them out unseen.
		fresh := map[string]*registry.Problem{}
		for name, p := range downgrades {
			if _, ok := running[name]; !ok {
				fresh[name] = p
			}
		}
		if len(fresh) > 0 {
			next = next.WithoutModules(fresh)
		}
		st.Modules = substitute(next, cur, refused, order)
	}
	if h == nil {
		h = base.WithRegistry(next)
		if _, err := h.Executor(ctx); err != nil {
			h.Close()
			return fmt.Errorf("start the executor: %w", err)
		}
	}
	st.Notes = restartNotes(cur, next)

	a.gatherMu.Lock()                 // swap between gathers
	if err := ctx.Err(); err != nil { // stopping: the agent closes the host it has
		a.gatherMu.Unlock()
		h.Close()
		return fmt.Errorf("not swapped in: %w", err)
	}
	old := a.cur.Swap(h)
	a.gatherMu.Unlock()
	if err := old.Close(); err != nil {
		a.log.Warn("release the previous executor", "error", err)
	}
	if err := a.store.prune(h.Registry()); err != nil {
		a.log.Warn("remove the copies of modules no longer run", "error", err)
	}
	if err := registry.RecordSigningTimes(h.Registry()); err != nil {
		a.log.Warn("rollback protection: record the signing times of the modules swapped in", "error", err)
	}
	a.setTiming(timing)
	a.setRecording(recording)
	return nil
}

// restartNotes says which changed [serve] settings take effect only when serve restarts.
func restartNotes(cur, next *registry.Registry) []string {
	var notes []string
	note := func(key string, was, is any) {
		if was != is {
			notes = append(notes, fmt.Sprintf("[serve] %s changed from %v to %v: it takes effect when serve restarts (unless a flag sets it)", key, was, is))
		}
	}
	note("listen", strconv.Quote(cur.Serve.Listen), strconv.Quote(next.Serve.Listen))
	note("watch", cur.Serve.Watch, next.Serve.Watch)
	if cur.Runtime.ModulesDir != next.Runtime.ModulesDir {
		notes = append(notes, fmt.Sprintf("[runtime] modules_dir changed from %q to %q: the new modules are loaded, but the watcher watches the new directory only once serve restarts (SIGHUP reloads meanwhile)",
			cur.Runtime.ModulesDir, next.Runtime.ModulesDir))
	}
	return notes
}

// ReloadStatus is the last reload's outcome, for the page.
type ReloadStatus struct {
	At time.Time
	// Result is ok (everything swapped in), partial (some modules refused, the rest swapped
	// in) or failed (nothing changed).
	Result string
	// Err is why nothing changed, when Result is failed.
	Err string
	// Modules are the modules refused, when Result is partial.
	Modules []ModuleReload
	// Notes are changed settings that need a restart.
	Notes []string
}

// reloadMetrics count what reloads refused, module by module.
type reloadMetrics struct {
	moduleFailures *prometheus.CounterVec
	refused        *prometheus.GaugeVec
}

func newReloadMetrics(reg *prometheus.Registry, reloads *prometheus.CounterVec) *reloadMetrics {
	m := &reloadMetrics{
		moduleFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcollector_module_reload_failures_total",
			Help: "New or changed module versions a reload refused (failed their check, or their sidecar has problems), by module.",
		}, []string{"module"}),
		refused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wasmcollector_module_refused",
			Help: "1 for each module whose version on disk the last reload refused: its previous version runs, or none if it had none.",
		}, []string{"module"}),
	}
	reg.MustRegister(m.moduleFailures, m.refused)
	reloads.WithLabelValues("partial")
	return m
}

// reloadDebounce is how long the watcher waits after the last change before reloading: copying
// a module and its sidecar makes several events.
const reloadDebounce = 500 * time.Millisecond

// Watch reloads when collectors.toml (configPath) or a file in the modules directory changes,
// debounced, until ctx ends. Editors that replace a file by renaming are covered: the watch is
// on the directories.
func (a *Agent) Watch(ctx context.Context, configPath string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("serve: watch: %w", err)
	}
	defer w.Close()
	configPath, err = filepath.Abs(configPath)
	if err != nil {
		return fmt.Errorf("serve: watch: %w", err)
	}
	modDir := a.host().Registry().Runtime.ModulesDir
	for _, dir := range []string{filepath.Dir(configPath), modDir} {
		if dir == "" {
			continue
		}
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("serve: watch %s: %w", dir, err)
		}
	}
	relevant := func(name string) bool {
		if name == configPath {
			return true
		}
		if filepath.Dir(name) != filepath.Clean(modDir) {
			return false
		}
		return strings.HasSuffix(name, ".wasm") || strings.HasSuffix(name, ".toml")
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if relevant(ev.Name) {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			a.log.Warn("watching the configuration", "error", err)
		case <-timer.C:
			a.log.Info("configuration changed; reloading")
			_ = a.Reload(ctx)
		}
	}
}
