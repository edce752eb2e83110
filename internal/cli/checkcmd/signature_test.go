package checkcmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// TestCheckShowsSignature: check reports the signature beside the module (verified over the
// module and sidecar bytes with --pub, key ID, trusted comment, signing time), what a
// collectors.toml's [trust] says of it, and a sidecar changed after signing as failing.
func TestCheckShowsSignature(t *testing.T) {
	sidecar := "[[collector]]\nkey = \"config\"\nversion = \"1.0\"\nconfig = true\nfunction = \"ok\"\n"
	path := module(t, testguests.WAT(t, "pointers"), "p", sidecar)
	dir := filepath.Dir(path)
	pub, pubFile, sec, err := signature.GenerateKey("")
	require.NoError(t, err)
	key, err := signature.ParsePrivateKey(sec, "")
	require.NoError(t, err)
	pubPath := filepath.Join(dir, "acme.pub")
	require.NoError(t, os.WriteFile(pubPath, pubFile, 0o644))
	id := signature.KeyID(pub.ID())

	rep, _ := checkSig(t, path)
	assert.Equal(t, "warn", itemOf(rep, "signature").Status)
	assert.Contains(t, itemOf(rep, "signature").Detail, "unsigned: no p.wasm.minisig")

	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	sig, err := signature.Sign(key, wasm, []byte(sidecar), "p.wasm", at)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+signature.Suffix, sig, 0o644))

	rep, code := checkSig(t, path, "--pub", pubPath)
	require.Equal(t, 0, code, "%+v", rep)
	it := itemOf(rep, "signature")
	assert.Equal(t, "pass", it.Status, it.Detail)
	assert.Contains(t, it.Detail, "p.wasm.minisig verifies over the module and sidecar bytes: signed by key "+id+", trusted comment ")
	assert.Contains(t, it.Detail, "wasmcollector-signature v1 sidecar-sha256=")
	require.NotNil(t, rep.Signature)
	assert.True(t, rep.Signature.Verified)
	assert.Equal(t, id, rep.Signature.KeyID)
	assert.Equal(t, "2026-11-20T09:00:00Z", rep.Signature.SignedAt)
	assert.Contains(t, rep.Signature.TrustedComment, "module=p.wasm")

	// A collectors.toml with [trust]: accepted for the pattern that covers it, refused otherwise.
	config := filepath.Join(dir, "collectors.toml")
	writeTrust := func(pattern string) {
		require.NoError(t, os.WriteFile(config, []byte("[runtime]\nmodules_dir = \".\"\n[trust]\n[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \""+pattern+"\"\nkey = \""+pub.String()+"\"\n"), 0o644))
	}
	writeTrust("p*")
	rep, code = checkSig(t, path, "-c", config)
	require.Equal(t, 0, code, "%+v", rep)
	assert.Equal(t, "pass", itemOf(rep, "signature").Status)
	assert.Equal(t, "pass", itemOf(rep, "trust").Status, itemOf(rep, "trust").Detail)
	assert.Contains(t, itemOf(rep, "trust").Detail, "accepts module p.wasm: signed by Acme Inc. (key "+id+"), trusted for pattern \"p*\"")
	require.NotNil(t, rep.Signature.Trust)
	assert.True(t, rep.Signature.Trust.Accepted)
	assert.Equal(t, "p*", rep.Signature.Trust.Pattern)
	writeTrust("acme/*")
	rep, code = checkSig(t, path, "-c", config)
	assert.Equal(t, 1, code)
	assert.Equal(t, "pass", itemOf(rep, "signature").Status, "it verifies")
	assert.Equal(t, "fail", itemOf(rep, "trust").Status)
	assert.Contains(t, itemOf(rep, "trust").Detail, `which is trusted only for modules matching "acme/*", not "p.wasm"`)

	// Text output.
	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	out, _, _ := runCLI(t, "check", path, "--pub", pubPath, "--cache-dir", cache, "--compile-timeout", "5m")
	assert.Regexp(t, `(?m)^PASS\s+signature\s+p.wasm.minisig verifies`, out)

	// The sidecar changed after signing fails, with the key and without one.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.toml"), []byte(sidecar+"description = \"x\"\n"), 0o644))
	for _, args := range [][]string{{"--pub", pubPath}, nil} {
		rep, code = checkSig(t, path, args...)
		assert.Equal(t, 1, code)
		it = itemOf(rep, "signature")
		assert.Equal(t, "fail", it.Status, "%v", args)
		assert.Contains(t, it.Detail, "sidecar p.toml was modified after signing")
		assert.False(t, rep.Signature.Verified)
	}
}

type sigReport struct {
	Checks    []item `json:"checks"`
	Signature *struct {
		Verified       bool   `json:"verified"`
		KeyID          string `json:"key_id"`
		TrustedComment string `json:"trusted_comment"`
		SignedAt       string `json:"signed_at"`
		Trust          *struct {
			Accepted bool   `json:"accepted"`
			Pattern  string `json:"pattern"`
		} `json:"trust"`
	} `json:"signature"`
}

func itemOf(rep sigReport, name string) item {
	for _, it := range rep.Checks {
		if it.Name == name {
			return it
		}
	}
	return item{Detail: "no item " + name}
}

func checkSig(t *testing.T, path string, args ...string) (sigReport, int) {
	t.Helper()
	cache := filepath.Join(testguests.CacheDir(t), "wazero")
	out, errs, code := runCLI(t, append([]string{"check", path, "-o", "json", "--cache-dir", cache, "--compile-timeout", "5m"}, args...)...)
	var rep sigReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "stdout: %s\nstderr: %s", out, errs)
	return rep, code
}
