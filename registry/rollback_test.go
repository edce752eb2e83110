package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDowngrades: only a verified signature older than the newest accepted for its module (or
// without a time once one is recorded) is a downgrade; the same release re-signed in the same
// second, a newer one, an unrecorded module, unsigned and invalid signatures are not. Refused
// modules move to Disabled with their collectors, the registry given unchanged.
func TestDowngrades(t *testing.T) {
	t1 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	verified := func(at time.Time) *ModuleSignature {
		return &ModuleSignature{Status: SignatureVerified, KeyID: "0123456789ABCDEF", KeyName: "Acme", SignedAt: at}
	}
	mods := map[string]*ModuleSignature{
		"older.wasm":    verified(t1),
		"notime.wasm":   verified(time.Time{}),
		"same.wasm":     verified(t2),
		"newer.wasm":    verified(t2.Add(time.Hour)),
		"new.wasm":      verified(t1),
		"unsigned.wasm": {Status: SignatureUnsigned},
		"invalid.wasm":  {Status: SignatureInvalid},
		"nocheck.wasm":  nil,
	}
	r := &Registry{}
	for name, sig := range mods {
		m := &Module{Name: name, Path: "/m/" + name, Signature: sig}
		r.Modules = append(r.Modules, m)
		r.Collectors = append(r.Collectors, &Collector{Key: name + "_key", Module: m})
	}
	accepted := map[string]time.Time{}
	for name := range mods {
		if name != "new.wasm" {
			accepted[name] = t2
		}
	}
	got := r.Downgrades(accepted)
	require.Len(t, got, 2, "%v", got)
	p := got["older.wasm"]
	assert.Equal(t, CodeDowngrade, p.Code)
	assert.Equal(t, "/m/older.wasm: signature: it was signed by Acme (key 0123456789ABCDEF) at 2026-11-01T09:00:00Z, before 2026-11-20T09:00:00Z, the signing time of the newest signature accepted for older.wasm: refused as a possible downgrade to an older release; to run this version deliberately: wasmcollector trust accept older.wasm", p.Error())
	assert.Contains(t, got["notime.wasm"].Message, "its signature by Acme (key 0123456789ABCDEF) carries no signing time")

	w := r.WithoutModules(got)
	assert.Len(t, w.Modules, len(mods)-2)
	assert.Len(t, w.Collectors, len(mods)-2)
	require.Len(t, w.Disabled, 2)
	assert.Equal(t, "notime.wasm", w.Disabled[0].Name)
	assert.Equal(t, "older.wasm_key", w.Disabled[1].Collectors[0].Key)
	assert.Len(t, r.Modules, len(mods), "the registry given is unchanged")
}
