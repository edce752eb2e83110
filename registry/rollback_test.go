package registry

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/state"
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

// TestPendingDowngrades: the read-only check of validate, list and run. No state directory yet:
// nothing accepted, nothing refused, and nothing created. With a record, the older module is
// refused and the record is left byte for byte as it was; a damaged record is an error, never
// an empty record; without [trust] the record is not even read.
func TestPendingDowngrades(t *testing.T) {
	t1 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "state")
	m := &Module{Name: "awx.wasm", Path: "/m/awx.wasm", Signature: &ModuleSignature{Status: SignatureVerified, KeyID: "0123456789ABCDEF", KeyName: "Acme", SignedAt: t1}}
	r := &Registry{Modules: []*Module{m}}
	r.Gather.StateDir = dir
	r.Trust.Enabled = true

	got, err := PendingDowngrades(r)
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, fs.ErrNotExist, "a read-only check creates no state directory")

	require.NoError(t, state.NewFileStore(dir).UpdateSigningTimes(func(rec map[string]time.Time) error {
		rec["awx.wasm"] = t2
		return nil
	}))
	file := filepath.Join(dir, "signatures.json")
	before, err := os.ReadFile(file)
	require.NoError(t, err)
	got, err = PendingDowngrades(r)
	require.NoError(t, err)
	require.Contains(t, got, "awx.wasm")
	assert.Equal(t, CodeDowngrade, got["awx.wasm"].Code)
	assert.Contains(t, got["awx.wasm"].Message, "to run this version deliberately: wasmcollector trust accept awx.wasm")
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the record is not written")

	r.Trust.Enabled = false
	got, err = PendingDowngrades(r)
	require.NoError(t, err)
	assert.Empty(t, got, "without [trust] nothing is checked")

	r.Trust.Enabled = true
	require.NoError(t, os.WriteFile(file, []byte(`{"version": 1, "modules": {"awx.wasm": "yesterday"}}`), 0o600))
	_, err = PendingDowngrades(r)
	require.ErrorContains(t, err, "state: read "+file+": modules[\"awx.wasm\"]")
}
