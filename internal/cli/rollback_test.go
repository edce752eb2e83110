package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/signature"
)

// TestGatherRefusesDowngrade: rollback protection. The vendor signs release 1, then release 2
// later; a gather runs release 2; release 1 (signed too, and verifying) put back in its place is
// refused with its own code, naming both signing times and the way to accept it, and nothing of
// it is shipped, while the unsigned module (signatures not required) runs as before. `trust
// accept` is the deliberate way back.
func TestGatherRefusesDowngrade(t *testing.T) {
	trust := "[gather]\nstate_dir = \"state\"\nout_dir = \"out\"\n[trust]\n[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \"out*\"\nkey = \"KEY\"\n"
	config, keyFile := func() (string, string) { c, k, _ := signedRegistry(t, trust); return c, k }()
	dir := filepath.Dir(config)
	// Another collector of the unsigned module, so that each gather makes a tarball.
	text, err := os.ReadFile(config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(config, append(text, "\n[[collector]]\nkey = \"other\"\nversion = \"1.0\"\nmodule = \"pointers.wasm\"\nfunction = \"ok\"\n"...), 0o644))
	mods := filepath.Join(dir, "modules")
	mod, side := filepath.Join(mods, "outputs.wasm"), filepath.Join(mods, "outputs.toml")
	sidecar := []byte("[[collector]]\nkey = \"big\"\nversion = \"1.0\"\nfunction = \"json_1000\"\n")
	require.NoError(t, os.WriteFile(side, sidecar, 0o644))
	secret, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	key, err := signature.ParsePrivateKey(secret, "")
	require.NoError(t, err)
	v2, err := os.ReadFile(mod)
	require.NoError(t, err)
	v1 := append(append([]byte{}, v2...), 0x00, 0x03, 0x01, 'x', 0x00) // other bytes, still valid WebAssembly
	t1 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	install := func(module []byte, at time.Time) {
		t.Helper()
		sig, err := signature.Sign(key, module, sidecar, "outputs.wasm", at)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(mod, module, 0o644))
		require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
	}
	type result struct {
		Collectors []struct{ Key, Status, Error string }
	}
	var outDir string // each gather's tarballs, to see what it would have shipped
	gather := func(until string) (result, string, int) {
		t.Helper()
		outDir = t.TempDir()
		out, errs, code := runCLI(t, "gather", "-c", config, "--dry-run", "-o", "json", "--out", outDir, "--since", "2026-11-30T00:00:00Z", "--until", until)
		var r result
		require.NoError(t, json.Unmarshal([]byte(out), &r), out+errs)
		return r, errs, code
	}
	status := func(r result) map[string]string {
		m := map[string]string{}
		for _, c := range r.Collectors {
			m[c.Key] = c.Status + " " + c.Error
		}
		return m
	}

	install(v2, t2)
	r, errs, code := gather("2026-12-01T00:00:00Z")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, map[string]string{"config": "ok ", "other": "ok ", "big": "ok "}, status(r))
	assert.Contains(t, tarballText(t, outDir), "./big.json")
	rec, err := os.ReadFile(filepath.Join(dir, "state", "signatures.json"))
	require.NoError(t, err)
	assert.Contains(t, string(rec), `"outputs.wasm": "2026-11-20T09:00:00Z"`)
	assert.NotContains(t, string(rec), "pointers.wasm", "an unsigned module has no signing time")

	// Release 1 back in place: it verifies, but is older than what ran.
	install(v1, t1)
	_, errs, code = runCLI(t, "verify", "-c", config, mod)
	require.Equal(t, 0, code, "release 1's signature is good: only the record tells it is older: %s", errs)
	r, errs, code = gather("2026-12-01T01:00:00Z")
	assert.Equal(t, 3, code, errs)
	st := status(r)
	assert.Equal(t, "ok ", st["config"], "the other modules are unaffected")
	assert.Equal(t, "ok ", st["other"], "the other modules are unaffected")
	shipped := tarballText(t, outDir)
	assert.Contains(t, shipped, "./other.json")
	assert.NotContains(t, shipped, "big.json", "nothing of the refused module")
	assert.Regexp(t, `^failed module outputs.wasm is disabled: .*outputs.wasm: signature: it was signed by Acme Inc. \(key [0-9A-F]{16}\) at 2026-11-01T09:00:00Z, before 2026-11-20T09:00:00Z, the signing time of the newest signature accepted for outputs.wasm: refused as a possible downgrade to an older release; to run this version deliberately: wasmcollector trust accept outputs.wasm`, st["big"])
	rec, err = os.ReadFile(filepath.Join(dir, "state", "signatures.json"))
	require.NoError(t, err)
	assert.Contains(t, string(rec), `"outputs.wasm": "2026-11-20T09:00:00Z"`, "a refused module does not lower the record")

	// The deliberate way back.
	out, errs, code := runCLI(t, "trust", "accept", "-c", config, "outputs.wasm")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "outputs.wasm: accepted the signature made at 2026-11-01T09:00:00Z (the newest accepted was 2026-11-20T09:00:00Z)\n", out)
	r, errs, code = gather("2026-12-01T02:00:00Z")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, map[string]string{"config": "ok ", "other": "ok ", "big": "ok "}, status(r))

	_, errs, code = runCLI(t, "trust", "accept", "-c", config, "pointers.wasm")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "module pointers.wasm: its signature does not verify (unsigned): only a verified signature can be accepted")

	// A damaged record stops the gather rather than switching the protection off.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state", "signatures.json"), []byte("{"), 0o600))
	_, errs, code = runCLI(t, "gather", "-c", config, "--dry-run", "--since", "2026-11-30T00:00:00Z", "--until", "2026-12-01T03:00:00Z")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "rollback protection: state: read "+filepath.Join(dir, "state", "signatures.json")+": invalid JSON")
}
