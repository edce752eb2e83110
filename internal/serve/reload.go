package serve

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrNoReload is returned by [Agent.Reload] when the agent has no [Config.Load].
var ErrNoReload = errors.New("serve: reload is not configured")

// Reload loads the configuration again and checks every module of the new registry (ABI,
// exports, memory) through its executor, in the background of the running schedule. Only when
// all pass does it swap the new host in, between gathers, and close the old one; otherwise the
// old host keeps running and the error names what failed. A module removed from the
// configuration stops being gathered once the new host is in.
func (a *Agent) Reload(ctx context.Context) error {
	if a.cfg.Load == nil {
		return ErrNoReload
	}
	err := a.reload(ctx)
	result := "ok"
	if err != nil {
		result = "failed"
		a.log.Error("reload refused; the previous modules keep running", "error", err)
	} else {
		a.log.Info("reloaded", "collectors", len(a.host().Registry().Collectors))
	}
	a.metrics.reloads.WithLabelValues(result).Inc()
	a.mu.Lock()
	a.lastReload = &reloadStatus{At: a.cfg.Now(), Result: result}
	if err != nil {
		a.lastReload.Err = err.Error()
	}
	a.mu.Unlock()
	return err
}

func (a *Agent) reload(ctx context.Context) error {
	h, err := a.cfg.Load()
	if err != nil {
		return fmt.Errorf("load the configuration: %w", err)
	}
	exec, err := h.Executor(ctx)
	if err != nil {
		h.Close()
		return fmt.Errorf("start the executor: %w", err)
	}
	var errs []error
	reg := h.Registry()
	for _, d := range reg.Disabled {
		errs = append(errs, fmt.Errorf("module %s: disabled by its sidecar: %v", d.Name, d.Problems))
	}
	for _, m := range reg.Modules {
		if err := exec.Check(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", m.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		h.Close()
		return err
	}
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
	return nil
}

// reloadStatus is the last reload's outcome, for the page.
type reloadStatus struct {
	At          time.Time
	Result, Err string
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
