package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/registry"
)

// TestReloadVerifiesSignatures: with [trust] requiring signatures, the page shows who signed
// each module; a module changed after signing is refused at reload, before the swap, and its
// previous, verified version keeps running; the vendor's newly signed release is swapped in.
func TestReloadVerifiesSignatures(t *testing.T) {
	f := newFixture(t, false, "")
	pub, key := newVendorKey(t)
	mod := filepath.Join(filepath.Dir(f.reg), "modules", "flaky.wasm")
	sign := func() {
		t.Helper()
		data, err := os.ReadFile(mod)
		require.NoError(t, err)
		sig, err := signature.Sign(key, data, nil, mod, until)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
	}
	sign()
	f.trust(t, "require_signatures = true\n", "flaky*", pub)

	now := func() time.Time { return until }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: now})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: quiet, Now: now})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.Start(context.Background()))
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	signer := "Acme Inc. (key " + signature.KeyID(pub.ID()) + ")"
	_, page := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "<th>Signed by</th>")
	assert.Contains(t, page, `<td class="sig verified">`+signer+`</td>`)

	// The vendor's module is replaced by bytes nobody signed (valid WebAssembly: a custom
	// section appended).
	orig, err := os.ReadFile(mod)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mod, append(append([]byte{}, orig...), 0x00, 0x03, 0x01, 'x', 0x00), 0o644))
	_ = a.Reload(context.Background()) // refused module by module: the error is on the page
	_, page = get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "its signature does not verify: ")
	assert.Contains(t, page, "signature: the module&#39;s bytes do not match its signature by key "+signature.KeyID(pub.ID())+" (Acme Inc.)")
	assert.Contains(t, page, "the previous version, sha256 <code>"+sha256Hex(orig)+"</code>")
	assert.Contains(t, page, `<td class="sig verified">`+signer+`</td>`, "the running module is still the verified one")

	// Gathers run the previous, verified bytes (the agent's copy), not the changed file.
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.NotNil(t, rec.Result)
	for _, c := range rec.Result.Collectors {
		assert.Equal(t, "ok", c.Status, "collector %s: %s", c.Key, c.Error)
	}
	for _, m := range a.host().Registry().Modules {
		assert.Equal(t, sha256Hex(orig), m.SHA256, "module %s", m.Name)
	}

	// The vendor signs the new release: the reload verifies it and swaps it in.
	sign()
	require.NoError(t, a.Reload(context.Background()))
	_, page = get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, `<td class="sig verified">`+signer+`</td>`)
	rec, err = a.GatherOnce(context.Background())
	require.NoError(t, err)
	for _, m := range a.host().Registry().Modules {
		assert.NotEqual(t, sha256Hex(orig), m.SHA256, "the new release runs")
	}
	for _, c := range rec.Result.Collectors {
		assert.Equal(t, "ok", c.Status, "collector %s: %s", c.Key, c.Error)
	}
}

// TestReloadWarnsUnrequiredSignatures: without require_signatures, a module changed after
// signing is swapped in at reload, and the warning is logged.
func TestReloadWarnsUnrequiredSignatures(t *testing.T) {
	f := newFixture(t, false, "")
	pub, key := newVendorKey(t)
	mod := filepath.Join(filepath.Dir(f.reg), "modules", "flaky.wasm")
	data, err := os.ReadFile(mod)
	require.NoError(t, err)
	sig, err := signature.Sign(key, data, nil, mod, until)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
	f.trust(t, "", "*", pub)

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	now := func() time.Time { return until }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: log, Now: now})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: quiet, Now: now})
	require.NoError(t, err)
	defer a.Close()
	assert.NotContains(t, logs.String(), "signature")

	require.NoError(t, os.WriteFile(mod, append(append([]byte{}, data...), 0x00, 0x03, 0x01, 'x', 0x00), 0o644))
	require.NoError(t, a.Reload(context.Background()))
	assert.Contains(t, logs.String(), "code=bad-signature")
	assert.Contains(t, logs.String(), "do not match its signature")
	assert.Equal(t, registry.SignatureInvalid, a.host().Registry().Modules[0].Signature.Status)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReloadRefusesDowngrade: rollback protection in serve. Release 2 runs; release 1, signed
// earlier by the same trusted key, put in its place is refused at reload with the downgrade
// message and release 2 keeps running; once the operator accepts it (trust accept), the next
// reload swaps it in. An agent started on release 1 after that does not run it either.
func TestReloadRefusesDowngrade(t *testing.T) {
	f := newFixture(t, false, "")
	pub, key := newVendorKey(t)
	mod := filepath.Join(filepath.Dir(f.reg), "modules", "flaky.wasm")
	v2, err := os.ReadFile(mod)
	require.NoError(t, err)
	v1 := append(append([]byte{}, v2...), 0x00, 0x03, 0x01, 'x', 0x00)
	install := func(module []byte, at time.Time) {
		t.Helper()
		sig, err := signature.Sign(key, module, nil, mod, at)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(mod, module, 0o644))
		require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
	}
	t1, t2 := until.Add(-30*24*time.Hour), until.Add(-24*time.Hour)
	install(v2, t2)
	f.trust(t, "require_signatures = true\n", "flaky*", pub)

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	now := func() time.Time { return until }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: now})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: log, Now: now})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.Start(context.Background()))
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()

	install(v1, t1)
	err = a.Reload(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "module flaky.wasm: it was signed by Acme Inc. (key "+signature.KeyID(pub.ID())+") at "+t1.UTC().Format(time.RFC3339)+", before "+t2.UTC().Format(time.RFC3339))
	assert.Contains(t, err.Error(), "refused as a possible downgrade to an older release; to run this version deliberately: wasmcollector trust accept flaky.wasm")
	assert.Contains(t, logs.String(), "module refused; its previous version keeps running")
	_, page := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "the previous version, sha256 <code>"+sha256Hex(v2)+"</code>")
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	for _, c := range rec.Result.Collectors {
		assert.Equal(t, "ok", c.Status, "collector %s: %s", c.Key, c.Error)
	}
	for _, m := range a.host().Registry().Modules {
		assert.Equal(t, sha256Hex(v2), m.SHA256, "release 2 keeps running")
	}

	// A new agent (serve restarted) on release 1 does not run it: its collectors are failed.
	host2, err := load()
	require.NoError(t, err)
	b, err := New(Config{Host: host2, Load: load, Logger: log, Now: now, ModuleDir: t.TempDir()})
	require.NoError(t, err)
	assert.Empty(t, b.host().Registry().Modules)
	require.Len(t, b.host().Registry().Disabled, 1)
	assert.Equal(t, registry.CodeDowngrade, b.host().Registry().Disabled[0].Problems[0].Code)
	// Its page shows the module's signer and signing time, and why it does not run.
	srvB := httptest.NewServer(b.Handler(nil))
	_, page = get(t, srvB.Client(), srvB.URL+"/")
	srvB.Close()
	signer := "Acme Inc. (key " + signature.KeyID(pub.ID()) + ")"
	assert.Contains(t, page, `<tr id="module-flaky.wasm"><td>flaky.wasm</td><td class="sum"><code>`+sha256Hex(v1)+`</code></td><td class="sig verified">`+signer+`</td><td class="signed-at">`+t1.UTC().Format(time.RFC3339)+`</td>`)
	assert.Contains(t, page, `<span class="failed">refused as a downgrade</span>: <span class="reason">it was signed by `+signer+` at `+t1.UTC().Format(time.RFC3339)+`, before `+t2.UTC().Format(time.RFC3339))
	// Its reloads refuse it as well, and keep it disabled (its collectors reported, not dropped).
	require.ErrorContains(t, b.Reload(context.Background()), "refused as a possible downgrade")
	assert.Empty(t, b.host().Registry().Modules)
	require.Len(t, b.host().Registry().Disabled, 1)
	assert.Equal(t, registry.CodeDowngrade, b.host().Registry().Disabled[0].Problems[0].Code)
	require.NoError(t, b.Close())

	// The operator accepts release 1: the next reload swaps it in.
	reg, err := registry.Load(f.reg)
	require.NoError(t, err)
	before, accepted, err := registry.AcceptSigning(reg, "flaky.wasm")
	require.NoError(t, err)
	assert.True(t, before.Equal(t2) && accepted.Equal(t1), "%v %v", before, accepted)
	require.NoError(t, a.Reload(context.Background()))
	for _, m := range a.host().Registry().Modules {
		assert.Equal(t, sha256Hex(v1), m.SHA256, "release 1 runs, accepted")
	}
}

// newVendorKey makes a vendor's signing key pair, unencrypted.
func newVendorKey(t *testing.T) (signature.PublicKey, signature.PrivateKey) {
	t.Helper()
	pub, _, sec, err := signature.GenerateKey("")
	require.NoError(t, err)
	key, err := signature.ParsePrivateKey(sec, "")
	require.NoError(t, err)
	return pub, key
}

// trust puts a [trust] table at the top of f's collectors.toml: settings (TOML lines such as
// "require_signatures = true\n"), and pub trusted as Acme Inc. for the modules matching pattern.
func (f *fixture) trust(t *testing.T, settings, pattern string, pub signature.PublicKey) {
	t.Helper()
	text, err := os.ReadFile(f.reg)
	require.NoError(t, err)
	table := "[trust]\n" + settings + "[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \"" + pattern + "\"\nkey = \"" + pub.String() + "\"\n"
	require.NoError(t, os.WriteFile(f.reg, append([]byte(table), text...), 0o644))
}
