package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// signedRegistry is a registry over two WAT guests, outputs.wasm with a vendor's sidecar, and a
// key pair made by keygen in the test; trust is collectors.toml's [trust] table, where KEY is
// replaced by the public key.
func signedRegistry(t *testing.T, trust string) (config, keyFile, pubFile string) {
	t.Helper()
	config = testguests.Registry(t, map[string]string{
		"pointers.wasm": testguests.WAT(t, "pointers"),
		"outputs.wasm":  testguests.WAT(t, "outputs"),
	}, `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "pointers.wasm"
function = "ok"
`)
	dir := filepath.Dir(config)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", "outputs.toml"), []byte("[[collector]]\nkey = \"bad_json\"\nversion = \"1.0\"\nfunction = \"invalid_json\"\n"), 0o644))
	keyFile, pubFile = filepath.Join(dir, "acme.key"), filepath.Join(dir, "acme.pub")
	out, errs, code := runCLI(t, "keygen", "--unencrypted", "--key", keyFile, "--pub", pubFile)
	require.Equal(t, 0, code, errs)
	m := regexp.MustCompile(`key = "(RW[^"]+)"`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	text, err := os.ReadFile(config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(config, append([]byte(strings.ReplaceAll(trust, "KEY", m[1])+"\n"), text...), 0o644))
	return config, keyFile, pubFile
}

func TestKeygenSignVerify(t *testing.T) {
	config, key, pub := signedRegistry(t, "")
	mods := filepath.Join(filepath.Dir(config), "modules")
	outputs := filepath.Join(mods, "outputs.wasm")

	info, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the secret key is private")
	_, errs, code := runCLI(t, "keygen", "--unencrypted", "--key", key, "--pub", pub)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "exists; --force replaces it")
	_, errs, code = runCLI(t, "keygen", "--key", filepath.Join(t.TempDir(), "k"), "--pub", filepath.Join(t.TempDir(), "p"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "needs a password and there is no terminal to ask on: give --password-env or --password-file")

	// Where the password comes from, when there is no terminal: each way that gives none says so.
	t.Setenv("H16_EMPTY_PASSWORD", "")
	tmp := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--password-env", "H16_EMPTY_PASSWORD"}, "--password-env: environment variable H16_EMPTY_PASSWORD is unset or empty"},
		{[]string{"--password-file", filepath.Join(tmp, "none")}, "--password-file: open "},
		{[]string{"--password-env", "X", "--password-file", "Y"}, "give --password-env or --password-file, not both"},
	} {
		_, errs, code = runCLI(t, append([]string{"keygen", "--key", filepath.Join(tmp, "k"), "--pub", filepath.Join(tmp, "p")}, tc.args...)...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errs, tc.want)
	}
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "empty"), []byte("\n"), 0o600))
	_, errs, code = runCLI(t, "keygen", "--key", filepath.Join(tmp, "k"), "--pub", filepath.Join(tmp, "p"), "--password-file", filepath.Join(tmp, "empty"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "holds no password on its first line")
	_, errs, code = runCLI(t, "sign", outputs, "--key", pub)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "not a minisign secret key")

	out, errs, code := runCLI(t, "sign", outputs, "--key", key)
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `^signed outputs.wasm and sidecar outputs.toml with key [0-9A-F]{16}: .*outputs.wasm.minisig\n$`, out)
	_, errs, code = runCLI(t, "sign", outputs)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--key is required")

	out, errs, code = runCLI(t, "verify", outputs, "--pub", pub)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "good signature by "+pub+" (key ")
	assert.Contains(t, out, "and sidecar outputs.toml (sha256 ")

	// A sidecar changed after signing fails, saying so.
	side := filepath.Join(mods, "outputs.toml")
	orig, err := os.ReadFile(side)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(side, append(orig, []byte("description = \"changed\"\n")...), 0o644))
	_, errs, code = runCLI(t, "verify", outputs, "--pub", pub)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "sidecar outputs.toml was modified after signing")
	require.NoError(t, os.WriteFile(side, orig, 0o644))

	// Another key fails as unknown.
	other := filepath.Join(t.TempDir(), "other.pub")
	_, errs, code = runCLI(t, "keygen", "--unencrypted", "--key", filepath.Join(t.TempDir(), "other.key"), "--pub", other)
	require.Equal(t, 0, code, errs)
	_, errs, code = runCLI(t, "verify", outputs, "--pub", other)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "signed by unknown key")

	// Without --pub, the registry's [trust] keys, for the module's name there.
	_, errs, code = runCLI(t, "verify", "-c", config, outputs)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "trusts no key")
}

func TestValidateAndListShowSigners(t *testing.T) {
	trust := "[trust]\nrequire_signatures = true\n[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \"*\"\nkey = \"KEY\"\n"
	config, key, _ := signedRegistry(t, trust)
	mods := filepath.Join(filepath.Dir(config), "modules")
	for _, m := range []string{"pointers.wasm", "outputs.wasm"} {
		_, errs, code := runCLI(t, "sign", filepath.Join(mods, m), "--key", key)
		require.Equal(t, 0, code, errs)
	}
	out, errs, code := runCLI(t, "validate", "-c", config)
	require.Equal(t, 0, code, out+errs)
	assert.Regexp(t, `module pointers.wasm: signed by Acme Inc. \(key [0-9A-F]{16}\)`, out)
	assert.Regexp(t, `module outputs.wasm: signed by Acme Inc. \(key [0-9A-F]{16}\)`, out)

	out, errs, code = runCLI(t, "list", "-c", config)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "SIGNED BY")
	assert.Regexp(t, `bad_json .*Acme Inc. \(key [0-9A-F]{16}\)`, out)

	out, errs, code = runCLI(t, "verify", "-c", config, filepath.Join(mods, "outputs.wasm"))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "good signature by Acme Inc.")

	// A tampered module (still valid WebAssembly: a custom section appended) is disabled:
	// validate lists the problem and the module as disabled.
	data, err := os.ReadFile(filepath.Join(mods, "outputs.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mods, "outputs.wasm"), append(data, 0x00, 0x03, 0x01, 'x', 0x00), 0o644))
	out, _, code = runCLI(t, "validate", "-c", config)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "outputs.wasm: signature: the module's bytes do not match its signature by key ")
	assert.Contains(t, out, "module outputs.wasm: disabled, its collectors do not run")
	assert.Regexp(t, `module outputs.wasm: invalid signature \(key [0-9A-F]{16}\)`, out)

	out, errs, code = runCLI(t, "list", "-c", config, "-o", "json")
	require.Equal(t, 0, code)
	assert.Contains(t, errs, "module disabled: its signature does not verify")
	var entries []struct {
		Key, Signature string
		SignedBy       string `json:"signed_by"`
		Disabled       bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	require.Len(t, entries, 2)
	assert.Equal(t, "verified", entries[0].Signature)
	assert.Contains(t, entries[0].SignedBy, "Acme Inc. (key ")
	assert.Equal(t, "bad_json", entries[1].Key)
	assert.True(t, entries[1].Disabled)
	assert.Equal(t, "invalid", entries[1].Signature)

	// Not required: the same module runs, with a warning in validate's output and the log.
	text, err := os.ReadFile(config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(config, []byte(strings.Replace(string(text), "require_signatures = true", "require_signatures = false", 1)), 0o644))
	out, errs, code = runCLI(t, "validate", "-c", config, "-o", "json")
	require.Equal(t, 0, code, out+errs)
	var report struct {
		Valid    bool
		Warnings []struct{ File, Field, Message string }
		Disabled []string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	assert.True(t, report.Valid)
	assert.Empty(t, report.Disabled)
	require.Len(t, report.Warnings, 1)
	assert.Contains(t, report.Warnings[0].Message, "do not match its signature")
	_, errs, code = runCLI(t, "list", "-c", config)
	require.Equal(t, 0, code)
	assert.Contains(t, errs, "do not match its signature")
	// A scheduled gather, quiet about the registry's advice, still logs it.
	_, errs, _ = runCLI(t, "gather", "--scheduled", "-c", config)
	assert.Contains(t, errs, "do not match its signature")
}
