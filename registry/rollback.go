package registry

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wasmcollector/wasmcollector/state"
)

// Rollback protection for signed modules: a module whose signature verifies may still be an
// older release the vendor signed too (a known-buggy one), put back by whoever can write the
// modules directory. The host remembers, per module name, the signing time of the newest
// signature it has accepted (state.FileStore.SigningTimes, in [gather] state_dir) and refuses a
// module signed before it. Load stays stateless: gather and serve check before they run
// anything ([CheckDowngrades]); `wasmcollector trust accept NAME` accepts an older release
// deliberately ([AcceptSigning]).

// CodeDowngrade: a module's signature verifies but is older than the newest one accepted for
// the module's name: a possible rollback to an older release.
const CodeDowngrade Code = "downgrade"

// SigningStore returns the store holding the signing record: the file store of [gather]
// state_dir, else of the user's state directory, whatever [state] driver keeps the gathers'
// bookkeeping (the record is about this machine's modules directory, not shared state).
func (r *Registry) SigningStore() (*state.FileStore, error) {
	dir := r.Gather.StateDir
	if dir == "" {
		var err error
		if dir, err = state.DefaultDir(); err != nil {
			return nil, fmt.Errorf("signing record: %w (set [gather] state_dir)", err)
		}
	}
	return state.NewFileStore(dir), nil
}

// Downgrades returns, by module name, a [CodeDowngrade] problem for each module whose verified
// signature was made before accepted[name], or says no signing time while one is recorded (a
// plain `minisign -S` signature cannot show it is not older). Unsigned modules and signatures
// that do not verify are left to [trust] require_signatures, as [Load] left them.
func (r *Registry) Downgrades(accepted map[string]time.Time) map[string]*Problem {
	out := map[string]*Problem{}
	for _, m := range r.Modules {
		s := m.Signature
		last, ok := accepted[m.Name]
		if s == nil || s.Status != SignatureVerified || !ok {
			continue
		}
		how := ""
		switch {
		case s.SignedAt.IsZero():
			how = "its signature by " + s.Signer() + " carries no signing time"
		case s.SignedAt.Before(last):
			how = fmt.Sprintf("it was signed by %s at %s, before %s", s.Signer(), s.SignedAt.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
		default:
			continue
		}
		out[m.Name] = &Problem{Code: CodeDowngrade, File: m.Path, Field: "signature", Message: fmt.Sprintf(
			"%s, the signing time of the newest signature accepted for %s: refused as a possible downgrade to an older release; "+
				"to run this version deliberately: wasmcollector trust accept %s", how, m.Name, m.Name)}
	}
	return out
}

// WithoutModules returns a copy of r in which the modules named in refused are disabled: moved,
// with their collectors, from Modules and Collectors to Disabled with their problem, so that a
// gather records those collectors as failed and runs the rest. r is not changed.
func (r *Registry) WithoutModules(refused map[string]*Problem) *Registry {
	c := r.Clone()
	if len(refused) == 0 {
		return c
	}
	for _, name := range slices.Sorted(maps.Keys(refused)) {
		i := slices.IndexFunc(c.Modules, func(m *Module) bool { return m.Name == name })
		if i < 0 {
			continue
		}
		d := &DisabledModule{Name: name, Module: c.Modules[i], Problems: Problems{refused[name]}}
		c.Collectors = slices.DeleteFunc(c.Collectors, func(col *Collector) bool {
			if col.Module != nil && col.Module.Name == name {
				d.Collectors = append(d.Collectors, col)
				return true
			}
			return false
		})
		c.Modules = slices.Delete(c.Modules, i, i+1)
		c.Disabled = append(c.Disabled, d)
	}
	return c
}

// RecordSigningTimes raises the signing record to the signing time of each verified module of
// r that carries one: what gather and serve run is accepted from then on.
func RecordSigningTimes(r *Registry) error {
	times := map[string]time.Time{}
	for _, m := range r.Modules {
		if s := m.Signature; s != nil && s.Status == SignatureVerified && !s.SignedAt.IsZero() {
			times[m.Name] = s.SignedAt.UTC()
		}
	}
	if len(times) == 0 {
		return nil
	}
	st, err := r.SigningStore()
	if err != nil {
		return err
	}
	return st.UpdateSigningTimes(func(rec map[string]time.Time) error {
		for name, t := range times {
			if last, ok := rec[name]; !ok || t.After(last) {
				rec[name] = t
			}
		}
		return nil
	})
}

// PendingDowngrades returns, by module name, the [CodeDowngrade] problems a gather would refuse
// r's modules with (see [Registry.Downgrades]), reading the signing record and never writing it:
// for validate, list and run, which are not the bookkeeping. A record not written yet (no state
// directory, no signatures.json) has accepted nothing, so nothing is refused; one that cannot be
// read is an error, as in [CheckDowngrades]. Without [trust] there is nothing to check.
func PendingDowngrades(r *Registry) (map[string]*Problem, error) {
	if !r.Trust.Enabled {
		return nil, nil
	}
	st, err := r.SigningStore()
	if err != nil {
		return nil, err
	}
	accepted, err := st.SigningTimes()
	if err != nil {
		return nil, err
	}
	return r.Downgrades(accepted), nil
}

// CheckDowngrades refuses the modules of r signed before the newest signature accepted for them
// (see [Registry.Downgrades]) and records the signing times of the others: it returns the
// registry to run, those modules disabled, and their problems. A signing record that cannot be
// read is an error, not an empty record. Without [trust] there is nothing to check.
func CheckDowngrades(r *Registry) (*Registry, Problems, error) {
	if !r.Trust.Enabled {
		return r, nil, nil
	}
	refused, err := PendingDowngrades(r)
	if err != nil {
		return nil, nil, err
	}
	var ps Problems
	for _, name := range slices.Sorted(maps.Keys(refused)) {
		ps = append(ps, refused[name])
	}
	run := r
	if len(refused) > 0 {
		run = r.WithoutModules(refused)
	}
	if err := RecordSigningTimes(run); err != nil {
		return nil, nil, err
	}
	return run, ps, nil
}

// AcceptSigning makes the signature of module name, as r verified it, the newest accepted for
// it, even when it is older than the one recorded: the operator's deliberate downgrade. A
// signature that carries no signing time (plain minisign) removes the module's record instead,
// so that it runs; the next signature with a time starts it again. It returns the time it
// replaced (zero when none) and the one accepted (zero when removed).
func AcceptSigning(r *Registry, name string) (before, accepted time.Time, err error) {
	i := slices.IndexFunc(r.Modules, func(m *Module) bool { return m.Name == name })
	if i < 0 {
		return before, accepted, fmt.Errorf("no module %q in the configuration", name)
	}
	s := r.Modules[i].Signature
	switch {
	case s == nil:
		return before, accepted, fmt.Errorf("module %s: collectors.toml has no [trust] table, so signatures are not checked", name)
	case s.Status != SignatureVerified:
		return before, accepted, fmt.Errorf("module %s: its signature does not verify (%s): only a verified signature can be accepted", name, s.Signer())
	}
	st, err := r.SigningStore()
	if err != nil {
		return before, accepted, err
	}
	accepted = s.SignedAt.UTC()
	err = st.UpdateSigningTimes(func(rec map[string]time.Time) error {
		before = rec[name]
		if accepted.IsZero() {
			delete(rec, name)
		} else {
			rec[name] = accepted
		}
		return nil
	})
	return before, accepted, err
}
