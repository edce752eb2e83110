package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/signature"
)

// testKey is a vendor's key pair, made in the test.
type testKey struct {
	pub  signature.PublicKey
	priv signature.PrivateKey
	file []byte // the .pub file
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	pub, pubFile, sec, err := signature.GenerateKey("")
	require.NoError(t, err)
	priv, err := signature.ParsePrivateKey(sec, "")
	require.NoError(t, err)
	return testKey{pub: pub, priv: priv, file: pubFile}
}

// signModule signs dir/modules/NAME.wasm with its sidecar, if any, as `wasmcollector sign` does.
func signModule(t *testing.T, dir, name string, k testKey) {
	t.Helper()
	mod := filepath.Join(dir, "modules", name)
	module, err := os.ReadFile(mod)
	require.NoError(t, err)
	sidecar, err := os.ReadFile(signature.SidecarPath(mod))
	if os.IsNotExist(err) {
		sidecar, err = nil, nil
	}
	require.NoError(t, err)
	sig, err := signature.Sign(k.priv, module, sidecar, name, time.Now())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mod+signature.Suffix, sig, 0o644))
}

const vendorSidecar = `
[[collector]]
key = "vendor_jobs"
version = "1.0"
`

// trustRegistry writes a registry whose config collector lives in jobs.wasm (root file) and a
// vendor's awx.wasm with its sidecar, both signed by acme; trust is the [trust] text.
func trustRegistry(t *testing.T, trust string, acme testKey) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":   trust + "\n" + configCollector,
		"modules/jobs.wasm": wasmBytes + "jobs",
		"modules/awx.wasm":  wasmBytes + "awx",
		"modules/awx.toml":  vendorSidecar,
	})
	signModule(t, dir, "awx.wasm", acme)
	signModule(t, dir, "jobs.wasm", acme)
	return dir
}

func trustTOML(require bool, keys ...string) string {
	return "[trust]\nrequire_signatures = " + map[bool]string{true: "true", false: "false"}[require] + "\n" + strings.Join(keys, "\n")
}

func keyTOML(name, pattern string, k testKey, extra string) string {
	return "[[trust.keys]]\nname = \"" + name + "\"\npattern = \"" + pattern + "\"\nkey = \"" + k.pub.String() + "\"\n" + extra + "\n"
}

// disabledFor loads dir and returns the problems of the disabled module name.
func disabledFor(t *testing.T, dir, name string) (*Registry, Problems) {
	t.Helper()
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err, "a module's signature never fails the whole registry")
	for _, d := range reg.Disabled {
		if d.Name == name {
			for _, m := range reg.Modules {
				require.NotEqual(t, name, m.Name, "a disabled module is not among the modules")
			}
			return reg, d.Problems
		}
	}
	t.Fatalf("module %s is not disabled; disabled: %v", name, reg.Disabled)
	return nil, nil
}

func TestSignedModulesLoad(t *testing.T) {
	acme := newTestKey(t)
	dir := trustRegistry(t, trustTOML(true, keyTOML("Acme Inc.", "*", acme, "expires = 2999-01-01")), acme)
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Empty(t, reg.Disabled)
	require.Empty(t, reg.Warnings)
	require.True(t, reg.Trust.Enabled)
	require.True(t, reg.Trust.RequireSignatures)
	require.Equal(t, []TrustedKey{{Name: "Acme Inc.", Pattern: "*", KeyID: signature.KeyID(acme.pub.ID()), PublicKey: acme.pub.String(),
		Expires: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}}, reg.Trust.Keys)
	for _, m := range reg.Modules {
		require.NotNil(t, m.Signature, m.Name)
		require.Equal(t, SignatureVerified, m.Signature.Status)
		require.Equal(t, "Acme Inc.", m.Signature.KeyName)
		require.Equal(t, "Acme Inc. (key "+signature.KeyID(acme.pub.ID())+")", m.Signature.Signer())
		require.WithinDuration(t, time.Now(), m.Signature.SignedAt, time.Minute)
		// The bytes verified are the bytes the runtime will accept.
		data, err := os.ReadFile(m.Path)
		require.NoError(t, err)
		require.Equal(t, sha256Hex(string(data)), m.SHA256)
	}
	// A clone keeps the signature, apart.
	c := reg.Clone()
	require.Equal(t, reg.Modules[0].Signature, c.Modules[0].Signature)
	require.NotSame(t, reg.Modules[0].Signature, c.Modules[0].Signature)
}

// TestSignatureRefusals: each way a signature fails disables its module alone, with a problem
// whose code and message say which way.
func TestSignatureRefusals(t *testing.T) {
	acme, other := newTestKey(t), newTestKey(t)
	acmeID := signature.KeyID(acme.pub.ID())
	tests := []struct {
		name   string
		trust  string
		change func(t *testing.T, dir string)
		code   Code
		want   []string
	}{
		{
			name:  "tampered module",
			trust: trustTOML(true, keyTOML("Acme Inc.", "*", acme, "")),
			change: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"modules/awx.wasm": wasmBytes + "evil"})
			},
			code: CodeBadSignature,
			want: []string{"modules/awx.wasm: signature: the module's bytes do not match its signature by key " + acmeID + " (Acme Inc.)", "modified after it was signed"},
		},
		{
			name:  "tampered sidecar",
			trust: trustTOML(true, keyTOML("Acme Inc.", "*", acme, "")),
			change: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"modules/awx.toml": strings.Replace(vendorSidecar, "1.0", "1.1", 1)})
			},
			code: CodeBadSignature,
			want: []string{"sidecar awx.toml was modified after signing: its sha256 is " + sha256Hex(strings.Replace(vendorSidecar, "1.0", "1.1", 1))},
		},
		{
			name:  "wrong key",
			trust: trustTOML(true, keyTOML("Acme Inc.", "jobs*", acme, ""), keyTOML("Other", "awx*", other, "")),
			code:  CodeUntrustedKey,
			want:  []string{"signed by key " + acmeID + " (Acme Inc.), which is trusted only for modules matching \"jobs*\", not \"awx.wasm\""},
		},
		{
			name:  "unknown key",
			trust: trustTOML(true, keyTOML("Acme Inc.", "jobs*", acme, ""), keyTOML("Other", "*", other, "")),
			change: func(t *testing.T, dir string) {
				signModule(t, dir, "awx.wasm", newTestKey(t))
			},
			code: CodeUntrustedKey,
			want: []string{"signed by unknown key", "trusted for this module: key " + signature.KeyID(other.pub.ID()) + " (Other)"},
		},
		{
			name:  "expired key",
			trust: trustTOML(true, keyTOML("Acme Inc.", "jobs*", acme, ""), keyTOML("Acme 2020", "awx*", acme, "expires = 2021-01-01")),
			code:  CodeExpiredKey,
			want:  []string{"signed by key " + acmeID + " (Acme 2020), which expired on 2021-01-01"},
		},
		{
			name:  "unsigned",
			trust: trustTOML(true, keyTOML("Acme Inc.", "*", acme, "")),
			change: func(t *testing.T, dir string) {
				require.NoError(t, os.Remove(filepath.Join(dir, "modules/awx.wasm.minisig")))
			},
			code: CodeUnsigned,
			want: []string{"modules/awx.wasm: signature: not signed: no awx.wasm.minisig beside it; refused: [trust] require_signatures is true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := trustRegistry(t, tt.trust, acme)
			if tt.change != nil {
				tt.change(t, dir)
			}
			reg, ps := disabledFor(t, dir, "awx.wasm")
			require.Len(t, ps, 1, ps.Error())
			require.Equal(t, tt.code, ps[0].Code)
			for _, w := range tt.want {
				require.Contains(t, ps[0].Error(), w)
			}
			require.Len(t, reg.Disabled, 1)
			d := reg.Disabled[0]
			require.Equal(t, filepath.Join(dir, "modules", "awx.toml"), filepath.Join(dir, strings.TrimPrefix(d.Sidecar, filepath.Join(dir)+"/")))
			require.Len(t, d.Collectors, 1)
			require.Equal(t, "vendor_jobs", d.Collectors[0].Key)
			require.NotNil(t, d.Module.Signature)
			require.NotEqual(t, SignatureVerified, d.Module.Signature.Status)
			// The other module, signed by acme for "jobs*" or "*", runs.
			require.Len(t, reg.Collectors, 1)
			require.Equal(t, "config", reg.Collectors[0].Key)
		})
	}
}

// TestUnrequiredSignaturesWarn: with require_signatures = false the same failures are
// warnings, and the modules run.
func TestUnrequiredSignaturesWarn(t *testing.T) {
	acme := newTestKey(t)
	dir := trustRegistry(t, trustTOML(false, keyTOML("Acme Inc.", "jobs*", acme, "")), acme)
	require.NoError(t, os.Remove(filepath.Join(dir, "modules/jobs.wasm.minisig")))
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Empty(t, reg.Disabled)
	require.Len(t, reg.Modules, 2)
	require.Len(t, reg.Warnings, 2, reg.Warnings.Error())
	require.Equal(t, CodeUnsigned, reg.Warnings[0].Code)
	require.Contains(t, reg.Warnings[0].Error(), "jobs.wasm: signature: not signed")
	require.Contains(t, reg.Warnings[0].Message, "require_signatures is false, so the module runs")
	require.Equal(t, CodeUntrustedKey, reg.Warnings[1].Code)
	byName := map[string]*Module{}
	for _, m := range reg.Modules {
		byName[m.Name] = m
	}
	require.Equal(t, "unsigned", byName["jobs.wasm"].Signature.Signer())
	require.Equal(t, "invalid signature (key "+signature.KeyID(acme.pub.ID())+")", byName["awx.wasm"].Signature.Signer())
	require.Empty(t, byName["awx.wasm"].SHA256, "an unverified module gets no sha256 from its signature")
}

// TestRootModuleBadSignatureDisablesIt: a module without a sidecar, named by the root file, is
// disabled too rather than failing the registry.
func TestRootModuleBadSignatureDisablesIt(t *testing.T) {
	acme := newTestKey(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":    trustTOML(true, keyTOML("Acme Inc.", "*", acme, "")) + configCollector + "\n[[collector]]\nkey = \"other\"\nversion = \"1\"\nmodule = \"other.wasm\"\n",
		"modules/jobs.wasm":  wasmBytes,
		"modules/other.wasm": wasmBytes + "other",
	})
	signModule(t, dir, "jobs.wasm", acme)
	_, ps := disabledFor(t, dir, "other.wasm")
	require.Equal(t, CodeUnsigned, ps[0].Code)

	// Signed without a sidecar, a sidecar dropped in later is refused.
	signModule(t, dir, "other.wasm", acme)
	writeFiles(t, dir, map[string]string{"modules/other.toml": vendorSidecar})
	reg, ps := disabledFor(t, dir, "other.wasm")
	require.Equal(t, CodeBadSignature, ps[0].Code)
	require.Contains(t, ps[0].Message, "sidecar other.toml was added after signing")
	require.Len(t, reg.Disabled[0].Collectors, 2) // the root file's and the sidecar's
}

// TestPinAndSignature: a pin keeps working beside a signature: both are checked.
func TestPinAndSignature(t *testing.T) {
	acme := newTestKey(t)
	dir := trustRegistry(t, trustTOML(true, keyTOML("Acme Inc.", "*", acme, ""))+"\n[modules.\"awx.wasm\"]\nsha256 = \""+sha256Hex(wasmBytes+"awx")+"\"\n", acme)
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Empty(t, reg.Disabled)
	// A module swapped for another signed one still fails its pin.
	writeFiles(t, dir, map[string]string{"modules/awx.wasm": wasmBytes + "awx v2"})
	signModule(t, dir, "awx.wasm", acme)
	_, err = Load(filepath.Join(dir, "collectors.toml"))
	ps := problems(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, CodeMismatch, ps[0].Code)
}

func TestNoTrustTableChecksNothing(t *testing.T) {
	acme := newTestKey(t)
	dir := trustRegistry(t, "", acme)
	writeFiles(t, dir, map[string]string{"modules/awx.wasm": wasmBytes + "tampered"})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Empty(t, reg.Warnings)
	require.False(t, reg.Trust.Enabled)
	for _, m := range reg.Modules {
		require.Nil(t, m.Signature)
		require.Equal(t, "not checked", m.Signature.Signer())
	}
}

func TestTrustTableProblems(t *testing.T) {
	acme := newTestKey(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"keys/acme.pub": string(acme.file), "keys/bad.pub": "nonsense\n"})
	tests := []struct {
		name, trust string
		want        []string
	}{
		{"key and key_file", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey = \"" + acme.pub.String() + "\"\nkey_file = \"keys/acme.pub\"\n",
			[]string{"collectors.toml:6: trust.keys[0].key_file: set key or key_file, not both"}},
		{"no key", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\n",
			[]string{"trust.keys[0].key: missing (required): the vendor's minisign public key"}},
		{"bad key", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey = \"RWQnope\"\n",
			[]string{"collectors.toml:5: trust.keys[0].key: not a minisign public key"}},
		{"bad key file", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey_file = \"keys/bad.pub\"\n",
			[]string{"trust.keys[0].key_file: public key ", "keys/bad.pub: not a minisign public key"}},
		{"missing key file", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey_file = \"keys/none.pub\"\n",
			[]string{"trust.keys[0].key_file: ", "no such file"}},
		{"missing name and pattern", "[[trust.keys]]\nkey = \"" + acme.pub.String() + "\"\n",
			[]string{"trust.keys[0].name: missing (required)", "trust.keys[0].pattern: missing (required)"}},
		{"bad pattern", "[[trust.keys]]\nname = \"a\"\npattern = \"[\"\nkey = \"" + acme.pub.String() + "\"\n",
			[]string{`trust.keys[0].pattern: invalid pattern "["`}},
		{"expires not a date", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey = \"" + acme.pub.String() + "\"\nexpires = \"soon\"\n",
			[]string{"trust.keys[0].expires: must be a date or a datetime such as 2027-06-01, not a string"}},
		{"expires a time of day", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey = \"" + acme.pub.String() + "\"\nexpires = 12:00:00\n",
			[]string{"not a time of day"}},
		{"required without keys", "require_signatures = true\n",
			[]string{"trust.require_signatures: require_signatures is true but no [[trust.keys]] is listed"}},
		{"keys not an array", "keys = 3\n", []string{"trust.keys: must be an array of tables ([[trust.keys]])"}},
		{"unknown key", "[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey = \"" + acme.pub.String() + "\"\nexpire = 2020-01-01\n",
			[]string{"trust.keys[0].expire: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFiles(t, dir, map[string]string{
				"collectors.toml":   "[trust]\n" + tt.trust + configCollector,
				"modules/jobs.wasm": wasmBytes,
			})
			_, err := Load(filepath.Join(dir, "collectors.toml"))
			ps := problems(t, err)
			for _, w := range tt.want {
				require.Contains(t, ps.Error(), w)
			}
		})
	}
	// key_file, relative to collectors.toml, works.
	writeFiles(t, dir, map[string]string{"collectors.toml": "[trust]\n[[trust.keys]]\nname = \"a\"\npattern = \"*\"\nkey_file = \"keys/acme.pub\"\nexpires = 2030-01-01T12:00:00+02:00\n" + configCollector})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, acme.pub.String(), reg.Trust.Keys[0].PublicKey)
	require.True(t, reg.Trust.Keys[0].Expires.Equal(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)))
	require.Len(t, reg.Warnings, 1) // jobs.wasm is unsigned
}

func TestTrustNotAllowedInSidecar(t *testing.T) {
	acme := newTestKey(t)
	dir := trustRegistry(t, "", acme)
	writeFiles(t, dir, map[string]string{"modules/awx.toml": vendorSidecar + "\n[trust]\nrequire_signatures = false\n"})
	_, ps := disabledFor(t, dir, "awx.wasm")
	require.Contains(t, ps.Error(), "[trust] is not allowed in a sidecar")
}

// BenchmarkLoadSigned measures what verifying a signature adds to Load, against pinning the
// same module by sha256 (which hashes it too), for a 16 MiB module with a sidecar.
func BenchmarkLoadSigned(b *testing.B) {
	pub, _, sec, err := signature.GenerateKey("")
	require.NoError(b, err)
	priv, err := signature.ParsePrivateKey(sec, "")
	require.NoError(b, err)
	module := make([]byte, 16<<20)
	copy(module, wasmBytes)
	dir := b.TempDir()
	for name, content := range map[string]string{"modules/awx.wasm": string(module), "modules/awx.toml": vendorSidecar, "modules/jobs.wasm": wasmBytes} {
		p := filepath.Join(dir, name)
		require.NoError(b, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(b, os.WriteFile(p, []byte(content), 0o644))
	}
	sig, err := signature.Sign(priv, module, []byte(vendorSidecar), "awx.wasm", time.Now())
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "modules/awx.wasm.minisig"), sig, 0o644))
	for _, bc := range []struct{ name, toml string }{
		{"pinned", "[modules.\"awx.wasm\"]\nsha256 = \"" + sha256Hex(string(module)) + "\"\n"},
		{"signed", "[trust]\n[[trust.keys]]\nname = \"a\"\npattern = \"awx*\"\nkey = \"" + pub.String() + "\"\n"},
	} {
		require.NoError(b, os.WriteFile(filepath.Join(dir, "collectors.toml"), []byte(bc.toml+configCollector), 0o644))
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(filepath.Join(dir, "collectors.toml")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
