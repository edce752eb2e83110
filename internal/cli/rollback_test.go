package cli_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// TestValidateListRunShowDowngrade: validate, list and run consult the signing record read-only.
// Before any gather (no state directory) nothing is refused and nothing is created. After a gather
// ran release 2, release 1 put back is a validate problem with gather's code and message (text
// and JSON, exit 1), listed as refused with the reason, and refused by run, while the record is
// left as it was and the other module still runs. A damaged record is a validate problem and
// stops run, as it stops gathers.
func TestValidateListRunShowDowngrade(t *testing.T) {
	trust := "[gather]\nstate_dir = \"state\"\nout_dir = \"out\"\n[trust]\n[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \"out*\"\nkey = \"KEY\"\n"
	config, keyFile, pubFile := signedRegistry(t, trust)
	dir := filepath.Dir(config)
	stateDir := filepath.Join(dir, "state")
	mod := filepath.Join(dir, "modules", "outputs.wasm")
	sidecar := []byte("[[collector]]\nkey = \"big\"\nversion = \"1.0\"\nfunction = \"json_1000\"\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", "outputs.toml"), sidecar, 0o644))
	secret, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	key, err := signature.ParsePrivateKey(secret, "")
	require.NoError(t, err)
	v2, err := os.ReadFile(mod)
	require.NoError(t, err)
	v1 := append(append([]byte{}, v2...), 0x00, 0x03, 0x01, 'x', 0x00)
	t1 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	install := func(module []byte, at time.Time) {
		t.Helper()
		sig, err := signature.Sign(key, module, sidecar, "outputs.wasm", at)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(mod, module, 0o644))
		require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
	}
	const message = "outputs.wasm: signature: it was signed by Acme Inc. (key %s) at 2026-11-01T09:00:00Z, before 2026-11-20T09:00:00Z, the signing time of the newest signature accepted for outputs.wasm: refused as a possible downgrade to an older release; to run this version deliberately: wasmcollector trust accept outputs.wasm"
	runBig := func() (string, string, int) {
		return runCLI(t, "run", "-c", config, "big", "--until", "2026-12-01T00:00:00Z")
	}

	// Nothing accepted yet: release 1 is not a downgrade of anything, and no state dir appears.
	install(v1, t1)
	out, errs, code := runCLI(t, "validate", "-c", config)
	assert.Equal(t, 0, code, out+errs)
	assert.NotContains(t, out, "downgrade")
	out, errs, code = runCLI(t, "list", "-c", config)
	require.Equal(t, 0, code, errs)
	assert.NotContains(t, out, "refused")
	_, errs, code = runBig()
	assert.Equal(t, 0, code, errs)
	_, err = os.Stat(stateDir)
	require.ErrorIs(t, err, fs.ErrNotExist, "validate, list and run create no state directory")

	// A gather runs release 2 and records its signing time; release 1 goes back.
	install(v2, t2)
	_, errs, code = runCLI(t, "gather", "-c", config, "--dry-run", "--out", t.TempDir(), "--since", "2026-11-30T00:00:00Z", "--until", "2026-12-01T00:00:00Z")
	require.Equal(t, 0, code, errs)
	install(v1, t1)
	recFile := filepath.Join(stateDir, "signatures.json")
	before, err := os.ReadFile(recFile)
	require.NoError(t, err)
	beforeInfo, err := os.Stat(recFile)
	require.NoError(t, err)
	pub, err := signature.ReadPublicKey(pubFile)
	require.NoError(t, err)
	want := fmt.Sprintf(message, signature.KeyID(pub.ID()))

	out, errs, code = runCLI(t, "validate", "-c", config)
	assert.Equal(t, 1, code, out+errs)
	assert.Contains(t, out, filepath.Join(dir, "modules", want)+"\n")
	assert.Contains(t, out, "module outputs.wasm: disabled, its collectors do not run (problems above)\n")
	assert.Regexp(t, `(?m)^1 problem(, 1 warning)?$`, out)

	out, errs, code = runCLI(t, "validate", "-c", config, "-o", "json")
	assert.Equal(t, 1, code, errs)
	var report struct {
		Valid    bool
		Problems []struct{ File, Field, Message, Code string }
		Disabled []string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	assert.False(t, report.Valid)
	require.Len(t, report.Problems, 1, out)
	p := report.Problems[0]
	assert.Equal(t, "downgrade", p.Code)
	assert.Equal(t, mod, p.File)
	assert.Equal(t, "signature", p.Field)
	assert.Equal(t, filepath.Join(dir, "modules", want), p.File+": "+p.Field+": "+p.Message)
	assert.Equal(t, []string{"outputs.wasm"}, report.Disabled)

	out, errs, code = runCLI(t, "list", "-c", config)
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `(?m)^big \(refused\) +1\.0 `, out)
	assert.Regexp(t, `(?m)^config \(config\) +1\.0 `, out, "the other module is listed as usual")
	_, reason, _ := strings.Cut(want, "signature: ")
	assert.Regexp(t, `(?m)^outputs\.wasm +refused: `+regexp.QuoteMeta(reason)+`$`, out)
	out, errs, code = runCLI(t, "list", "-c", config, "-o", "json")
	require.Equal(t, 0, code, errs)
	var entries []struct {
		Key      string
		Disabled bool
		Refused  string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &entries), out)
	refused := map[string]string{}
	for _, e := range entries {
		if e.Disabled {
			refused[e.Key] = e.Refused
		}
	}
	assert.Equal(t, map[string]string{"big": reason}, refused)

	out, errs, code = runBig()
	assert.Equal(t, 1, code, out+errs)
	assert.Empty(t, out, "nothing of the refused module")
	assert.Contains(t, errs, `collector "big" does not run: its module outputs.wasm is refused (rollback protection): `+filepath.Join(dir, "modules", want))
	_, errs, code = runCLI(t, "run", "-c", config, "config")
	assert.Equal(t, 0, code, "the other module runs: %s", errs)

	after, err := os.ReadFile(recFile)
	require.NoError(t, err)
	afterInfo, err := os.Stat(recFile)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "validate, list and run never write the record")
	assert.Equal(t, beforeInfo.ModTime(), afterInfo.ModTime(), "validate, list and run never write the record")

	// Accepted deliberately: no longer reported.
	_, errs, code = runCLI(t, "trust", "accept", "-c", config, "outputs.wasm")
	require.Equal(t, 0, code, errs)
	out, errs, code = runCLI(t, "validate", "-c", config)
	assert.Equal(t, 0, code, out+errs)
	_, errs, code = runBig()
	assert.Equal(t, 0, code, errs)

	// A damaged record: a validate problem, and run stops as gather does.
	require.NoError(t, os.WriteFile(recFile, []byte("{"), 0o600))
	out, _, code = runCLI(t, "validate", "-c", config)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, config+": gather.state_dir: rollback protection: state: read "+recFile+": invalid JSON")
	out, errs, code = runCLI(t, "list", "-c", config)
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "rollback protection: the signing record cannot be read")
	assert.Contains(t, out, "big ")
	_, errs, code = runBig()
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "rollback protection: state: read "+recFile+": invalid JSON")
}
