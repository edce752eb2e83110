package signature

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

// vendor is a key pair made in the test, unencrypted (the encrypted path has its own test).
type vendor struct {
	pub    PublicKey
	priv   PrivateKey
	pubTxt []byte
	secTxt []byte
}

func newVendor(t *testing.T) vendor {
	t.Helper()
	pub, pubTxt, secTxt, err := GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(secTxt, "")
	if err != nil {
		t.Fatal(err)
	}
	return vendor{pub: pub, priv: priv, pubTxt: pubTxt, secTxt: secTxt}
}

func sign(t *testing.T, v vendor, module, sidecar []byte, name string) []byte {
	t.Helper()
	sig, err := Sign(v.priv, module, sidecar, name, now)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func wantKind(t *testing.T, err error, kind Kind, contains ...string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *signature.Error of kind %s", err, kind)
	}
	if se.Kind != kind {
		t.Fatalf("kind %s (%v), want %s", se.Kind, err, kind)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("message %q lacks %q", err, c)
		}
	}
}

func TestRoundTripAndEachRefusal(t *testing.T) {
	acme, other := newVendor(t), newVendor(t)
	module := []byte("\x00asm\x01\x00\x00\x00 pretend module bytes")
	sidecar := []byte("[[collector]]\nkey = \"jobs\"\nversion = \"1.0\"\n")
	sig := sign(t, acme, module, sidecar, "/tmp/dir/awx.wasm")
	keys := []TrustedKey{{Name: "Acme Inc.", Pattern: "awx*", Key: acme.pub}}
	in := Input{Name: "awx.wasm", Module: module, Sidecar: sidecar, Signature: sig}

	res, err := Verify(in, keys, now)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if res.KeyName != "Acme Inc." || res.KeyID != KeyID(acme.pub.ID()) || res.Claims.Module != "awx.wasm" ||
		res.Claims.SidecarSHA256 != sha256Hex(sidecar) || !res.Claims.Time.Equal(now) {
		t.Errorf("result %+v", res)
	}
	if got := res.Signer(); got != "Acme Inc. (key "+KeyID(acme.pub.ID())+")" {
		t.Errorf("signer %q", got)
	}

	t.Run("tampered module", func(t *testing.T) {
		bad := in
		bad.Module = append([]byte{}, module...)
		bad.Module[len(bad.Module)-1] ^= 1
		_, err := Verify(bad, keys, now)
		wantKind(t, err, ModuleMismatch, "modified after it was signed", "Acme Inc.")
	})
	t.Run("tampered sidecar", func(t *testing.T) {
		bad := in
		bad.Sidecar = []byte(strings.Replace(string(sidecar), "1.0", "6.6", 1))
		_, err := Verify(bad, keys, now)
		wantKind(t, err, SidecarMismatch, "sidecar awx.toml was modified after signing", sha256Hex(bad.Sidecar), sha256Hex(sidecar))
	})
	t.Run("sidecar removed", func(t *testing.T) {
		bad := in
		bad.Sidecar = nil
		_, err := Verify(bad, keys, now)
		wantKind(t, err, SidecarMismatch, "sidecar awx.toml is missing")
	})
	t.Run("sidecar added", func(t *testing.T) {
		bad := in
		bad.Signature = sign(t, acme, module, nil, "awx.wasm")
		_, err := Verify(bad, keys, now)
		wantKind(t, err, SidecarMismatch, "added after signing")
		bad.Sidecar = nil
		if _, err := Verify(bad, keys, now); err != nil {
			t.Errorf("a module signed without a sidecar, loaded without one: %v", err)
		}
	})
	t.Run("renamed module", func(t *testing.T) {
		bad := in
		bad.Name = "awx2.wasm"
		_, err := Verify(bad, keys, now)
		wantKind(t, err, NameMismatch, `for module "awx.wasm", not "awx2.wasm"`)
	})
	t.Run("wrong key", func(t *testing.T) {
		// Acme's key is trusted, for other modules only.
		wrong := []TrustedKey{{Name: "Acme Inc.", Pattern: "acme-*", Key: acme.pub}, {Name: "Other", Pattern: "awx*", Key: other.pub}}
		_, err := Verify(in, wrong, now)
		wantKind(t, err, WrongKey, `trusted only for modules matching "acme-*"`, `not "awx.wasm"`)
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := Verify(in, []TrustedKey{{Name: "Other", Pattern: "awx*", Key: other.pub}}, now)
		wantKind(t, err, UnknownKey, "signed by unknown key "+KeyID(acme.pub.ID()), "trusted for this module: key "+KeyID(other.pub.ID())+" (Other)")
		_, err = Verify(in, nil, now)
		wantKind(t, err, UnknownKey, "no key is trusted for this module")
	})
	t.Run("expired key", func(t *testing.T) {
		exp := []TrustedKey{{Name: "Acme Inc.", Pattern: "awx*", Key: acme.pub, Expires: now}}
		_, err := Verify(in, exp, now)
		wantKind(t, err, ExpiredKey, "expired on 2026-12-02")
		if _, err := Verify(in, exp, now.Add(-time.Second)); err != nil {
			t.Errorf("a second before expiry: %v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		bad := in
		bad.Signature = nil
		_, err := Verify(bad, keys, now)
		wantKind(t, err, Unsigned, "no awx.wasm.minisig beside it")
	})
	t.Run("garbage signature", func(t *testing.T) {
		for _, g := range []string{"", "garbage", "untrusted comment: x\nRWQ\ntrusted comment: y\nZZZ\n", strings.Repeat("A", 5000)} {
			bad := in
			bad.Signature = []byte(g)
			_, err := Verify(bad, keys, now)
			wantKind(t, err, Malformed, "not a minisign signature")
		}
	})
	t.Run("altered trusted comment", func(t *testing.T) {
		// Pointing the comment at another sidecar without re-signing fails the global signature.
		bad := in
		bad.Sidecar = []byte("evil = true\n")
		bad.Signature = []byte(strings.Replace(string(sig), sha256Hex(sidecar), sha256Hex(bad.Sidecar), 1))
		_, err := Verify(bad, keys, now)
		wantKind(t, err, Malformed, "trusted comment", "altered")
	})
}

func TestSignRefusesControlCharacters(t *testing.T) {
	v := newVendor(t)
	if _, err := Sign(v.priv, []byte("m"), nil, "a\nb.wasm", now); err == nil || !strings.Contains(err.Error(), "control characters") {
		t.Fatalf("err = %v", err)
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	v := newVendor(t)
	for _, text := range []string{string(v.pubTxt), v.pub.String(), "  " + v.pub.String() + "\n"} {
		k, err := ParsePublicKey(text)
		if err != nil || k.ID() != v.pub.ID() {
			t.Errorf("ParsePublicKey(%q) = %v, %v", text, k.ID(), err)
		}
	}
	for _, bad := range []string{"", "RWQ", "not base64 !", strings.Repeat("QUFB", 20)} {
		if _, err := ParsePublicKey(bad); err == nil || !strings.Contains(err.Error(), "not a minisign public key") {
			t.Errorf("ParsePublicKey(%q) err = %v", bad, err)
		}
	}
}

// cheapScrypt lowers the scrypt cost of keys made by the test: minisign's own (1 GiB) takes
// a minute per key here under the race detector. The cost is written into the key file, so the
// reading side is the same code either way.
func cheapScrypt(t *testing.T) {
	ops, mem := scryptOps, scryptMem
	scryptOps, scryptMem = 1<<15, 1<<20
	t.Cleanup(func() { scryptOps, scryptMem = ops, mem })
}

func TestEncryptedKey(t *testing.T) {
	cheapScrypt(t)
	pub, _, sec, err := GenerateKey("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(sec) {
		t.Fatal("a key made with a password is not encrypted")
	}
	if _, err := ParsePrivateKey(sec, ""); err == nil || !strings.Contains(err.Error(), "password-protected") {
		t.Errorf("no password: %v", err)
	}
	if _, err := ParsePrivateKey(sec, "wrong"); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: %v", err)
	}
	priv, err := ParsePrivateKey(sec, "correct horse")
	if err != nil || priv.ID() != pub.ID() {
		t.Fatalf("right password: %v", err)
	}
	if _, err := ParsePrivateKey([]byte("untrusted comment: x\nAAAA\n"), ""); err == nil || !strings.Contains(err.Error(), "not a minisign secret key") {
		t.Errorf("garbage key: %v", err)
	}
}

// TestEncryptedKeyRealCost makes one key at minisign's real cost, which GenerateKey uses, and
// decrypts it: slow (about 15 s a scrypt on a loaded machine, minutes under the race
// detector, which adds nothing to a single-goroutine KDF), so not under -race or -short.
func TestEncryptedKeyRealCost(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("scrypt at 1 GiB: skipped under -short and -race (TestEncryptedKey covers the code at a low cost)")
	}
	pub, _, sec, err := GenerateKey("pw")
	if err != nil {
		t.Fatal(err)
	}
	if priv, err := ParsePrivateKey(sec, "pw"); err != nil || priv.ID() != pub.ID() {
		t.Fatalf("decrypt: %v", err)
	}
}

// minisignBinary returns Debian's minisign, which `make deps` installs: required, so that the
// interop promise is always tested.
func minisignBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("minisign")
	if err != nil {
		t.Fatal("minisign is not installed: run `make deps` (apt-get install minisign); the interop test needs it")
	}
	return bin
}

func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestInteropMinisign: Debian's minisign verifies our signatures (of the module; the sidecar
// binding is in the trusted comment it prints), signs with our secret keys, and we verify its
// signatures.
func TestInteropMinisign(t *testing.T) {
	bin := minisignBinary(t)
	dir := t.TempDir()
	v := newVendor(t)
	module := []byte("\x00asm\x01\x00\x00\x00 module for minisign")
	sidecar := []byte("[[collector]]\nkey = \"k\"\n")
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("awx.wasm", module)
	write("awx.toml", sidecar)
	write("vendor.pub", v.pubTxt)
	write("vendor.key", v.secTxt)
	sig := sign(t, v, module, sidecar, "awx.wasm")
	write("awx.wasm.minisig", sig)

	t.Run("minisign verifies ours", func(t *testing.T) {
		out, err := run(t, dir, bin, "-Vm", "awx.wasm", "-p", "vendor.pub")
		if err != nil {
			t.Fatalf("minisign -Vm: %v\n%s", err, out)
		}
		if !strings.Contains(out, "sidecar-sha256="+sha256Hex(sidecar)) {
			t.Errorf("minisign did not print our trusted comment:\n%s", out)
		}
		write("tampered.wasm", append(append([]byte{}, module...), 'x'))
		write("tampered.wasm.minisig", sig)
		if out, err := run(t, dir, bin, "-Vm", "tampered.wasm", "-p", "vendor.pub"); err == nil {
			t.Errorf("minisign accepted a tampered module:\n%s", out)
		}
	})

	t.Run("minisign signs with our secret key", func(t *testing.T) {
		write("b.wasm", module)
		out, err := run(t, dir, bin, "-S", "-s", "vendor.key", "-m", "b.wasm")
		if err != nil {
			t.Fatalf("minisign -S with our key: %v\n%s", err, out)
		}
		f, err := ReadFiles(filepath.Join(dir, "b.wasm"), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.Input, []TrustedKey{{Key: v.pub}}, now); err != nil {
			t.Errorf("its signature: %v", err)
		}
	})

	t.Run("minisign signs with our encrypted secret key", func(t *testing.T) {
		cheapScrypt(t)
		pub, pubTxt, sec, err := GenerateKey("s3cret")
		if err != nil {
			t.Fatal(err)
		}
		write("enc.key", sec)
		write("enc.pub", pubTxt)
		write("e.wasm", module)
		cmd := exec.Command(bin, "-S", "-s", "enc.key", "-m", "e.wasm")
		cmd.Dir, cmd.Stdin = dir, strings.NewReader("s3cret\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("minisign -S with our encrypted key: %v\n%s", err, out)
		}
		f, err := ReadFiles(filepath.Join(dir, "e.wasm"), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.Input, []TrustedKey{{Key: pub}}, now); err != nil {
			t.Errorf("its signature: %v", err)
		}
	})

	t.Run("we verify minisign's", func(t *testing.T) {
		sub := filepath.Join(dir, "ms")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, sub, bin, "-G", "-W", "-p", "ms.pub", "-s", "ms.key"); err != nil {
			t.Fatalf("minisign -G: %v\n%s", err, out)
		}
		pub, err := ReadPublicKey(filepath.Join(sub, "ms.pub"))
		if err != nil {
			t.Fatal(err)
		}
		keys := []TrustedKey{{Name: "minisign", Pattern: "*.wasm", Key: pub}}
		for _, n := range []string{"c.wasm", "d.wasm"} {
			if err := os.WriteFile(filepath.Join(sub, n), module, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sub, "c.toml"), sidecar, 0o600); err != nil {
			t.Fatal(err)
		}
		// With the trusted comment wasmcollector writes, module and sidecar are covered.
		comment := TrustedComment("c.wasm", sha256Hex(sidecar), now)
		if out, err := run(t, sub, bin, "-S", "-s", "ms.key", "-m", "c.wasm", "-t", comment); err != nil {
			t.Fatalf("minisign -S -t: %v\n%s", err, out)
		}
		f, err := ReadFiles(filepath.Join(sub, "c.wasm"), "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Verify(f.Input, keys, now)
		if err != nil {
			t.Fatalf("minisign's signature with our comment: %v", err)
		}
		if res.Claims.SidecarSHA256 != sha256Hex(sidecar) || res.KeyID != KeyID(pub.ID()) {
			t.Errorf("result %+v", res)
		}
		f.Sidecar = []byte("swapped = 1\n")
		_, err = Verify(f.Input, keys, now)
		wantKind(t, err, SidecarMismatch, "modified after signing")

		// A plain `minisign -S` covers the module only: accepted without a sidecar, refused with one.
		if out, err := run(t, sub, bin, "-S", "-s", "ms.key", "-m", "d.wasm"); err != nil {
			t.Fatalf("minisign -S: %v\n%s", err, out)
		}
		f, err = ReadFiles(filepath.Join(sub, "d.wasm"), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.Input, keys, now); err != nil {
			t.Errorf("plain minisign signature, no sidecar: %v", err)
		}
		f.Sidecar = sidecar
		_, err = Verify(f.Input, keys, now)
		wantKind(t, err, SidecarMismatch, "covers the module only")
		f.Sidecar = nil
		f.Module = append(f.Module, 0)
		_, err = Verify(f.Input, keys, now)
		wantKind(t, err, ModuleMismatch)
	})
}

func TestReadSignatureFileCaps(t *testing.T) {
	dir := t.TempDir()
	if data, err := ReadSignatureFile(filepath.Join(dir, "absent.minisig")); data != nil || err != nil {
		t.Errorf("absent: %q, %v", data, err)
	}
	big := filepath.Join(dir, "big.minisig")
	if err := os.WriteFile(big, make([]byte, maxSignatureSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSignatureFile(big); err == nil || !strings.Contains(err.Error(), "larger than a signature") {
		t.Errorf("oversized: %v", err)
	}
	if _, err := ReadSignatureFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}
