package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// moduleStore holds a private copy of every module version the agent runs, named by its
// sha256. The workers open modules by path: without the copy, a module file overwritten in the
// modules directory would change what the running host executes before any check, and a
// refused new version would leave no old version to keep running.
type moduleStore struct {
	dir   string
	owned bool // made by the store, removed by close
}

// newModuleStore uses dir, created if needed, or a new temporary directory when dir is "".
func newModuleStore(dir string) (*moduleStore, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "wasmcollector-modules-")
		if err != nil {
			return nil, fmt.Errorf("serve: a directory for the running modules: %w", err)
		}
		return &moduleStore{dir: d, owned: true}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("serve: a directory for the running modules: %w", err)
	}
	return &moduleStore{dir: dir}, nil
}

// pin copies m's file into the store and points m at the copy, pinned to the copy's sha256 so
// that the runtime checks it again on every load. A module the operator pinned must still match
// its pin: the file may have changed since the registry was loaded.
func (s *moduleStore) pin(m *registry.Module) error {
	if filepath.Dir(m.Path) == s.dir {
		return nil // pinned already: a version the agent runs
	}
	// Non-blocking, then checked to be a regular file: a FIFO put in place of a module must
	// not hang the reload.
	src, err := os.OpenFile(m.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("read the module: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("read the module: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", m.Path)
	}
	tmp, err := os.CreateTemp(s.dir, ".copy-*")
	if err != nil {
		return fmt.Errorf("copy the module: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(src, runtime.MaxModuleBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy the module: %w", err)
	}
	if n > runtime.MaxModuleBytes {
		return fmt.Errorf("%s is over the %d MiB module size limit", m.Path, runtime.MaxModuleBytes>>20)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if m.SHA256 != "" && !strings.EqualFold(m.SHA256, sum) {
		return fmt.Errorf("sha256 mismatch: pinned %s, the file has %s now", m.SHA256, sum)
	}
	dst := filepath.Join(s.dir, sum+".wasm")
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("copy the module: %w", err)
	}
	if m.Source == "" {
		m.Source = m.Path
	}
	m.Path, m.SHA256 = dst, sum
	return nil
}

// prune removes the copies no module of regs runs.
func (s *moduleStore) prune(regs ...*registry.Registry) error {
	keep := map[string]bool{}
	for _, reg := range regs {
		for _, m := range reg.Modules {
			keep[m.Path] = true
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(s.dir, e.Name())
		if strings.HasSuffix(e.Name(), ".wasm") && !keep[p] {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// close removes the store's directory when the store made it.
func (s *moduleStore) close() error {
	if !s.owned {
		return nil
	}
	return os.RemoveAll(s.dir)
}

// fingerprint says what a check of m depends on: its bytes, its limits and grants, and the
// functions its collectors call. A module whose fingerprint did not change needs no new check.
func fingerprint(reg *registry.Registry, m *registry.Module) string {
	var fns []string
	for _, c := range reg.Collectors {
		if c.Module != nil && c.Module.Name == m.Name {
			fns = append(fns, c.Function)
		}
	}
	slices.Sort(fns)
	return fmt.Sprintf("%s|%d|%v|%v|%v", m.SHA256, m.MemoryLimit, m.Mounts, m.Env, slices.Compact(fns))
}

// ModuleReload is what a reload did with one module it refused.
type ModuleReload struct {
	// Module is the module's name.
	Module string
	// Err is why the new version was refused.
	Err string
	// Kept is true when the previous version keeps running, false when the module had none
	// and is not gathered.
	Kept bool
	// SHA256 is the sha256 of the version that keeps running, "" when none does.
	SHA256 string
	// Dropped lists the previous version's collectors that were not kept because another
	// module now declares their key (or the config collector).
	Dropped []string
}

// substitute puts back into next, for each module refused, the version cur runs with its
// collectors, or, for a module cur did not run, leaves it out. refused is keyed by module name.
func substitute(next, cur *registry.Registry, refused map[string]error, order []string) []ModuleReload {
	var out []ModuleReload
	for _, name := range order {
		err := refused[name]
		r := ModuleReload{Module: name, Err: err.Error()}
		var old *registry.Module
		for _, m := range cur.Modules {
			if m.Name == name {
				old = m
			}
		}
		mine := func(c *registry.Collector) bool { return c.Module != nil && c.Module.Name == name }
		next.Collectors = slices.DeleteFunc(next.Collectors, mine)
		i := slices.IndexFunc(next.Modules, func(m *registry.Module) bool { return m.Name == name })
		if old == nil {
			// Not added. One disabled by its sidecar stays in Disabled: gathers record its
			// collectors as failed, as they do at start.
			if i >= 0 {
				next.Modules = slices.Delete(next.Modules, i, i+1)
			}
			out = append(out, r)
			continue
		}
		next.Disabled = slices.DeleteFunc(next.Disabled, func(d *registry.DisabledModule) bool { return d.Name == name })
		if i >= 0 {
			next.Modules[i] = old
		} else {
			next.Modules = append(next.Modules, old)
		}
		r.Kept, r.SHA256 = true, old.SHA256
		hasConfig := next.ConfigCollector() != nil
		taken := map[string]bool{}
		for _, c := range next.Collectors {
			taken[c.Key] = true
		}
		for _, c := range cur.Collectors {
			if !mine(c) {
				continue
			}
			if taken[c.Key] || (c.Config && hasConfig) {
				r.Dropped = append(r.Dropped, c.Key)
				continue
			}
			next.Collectors = append(next.Collectors, c)
		}
		out = append(out, r)
	}
	return out
}
