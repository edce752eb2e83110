// Package signature signs and verifies modules: a vendor signs NAME.wasm and its sidecar
// NAME.toml together, an operator's registry verifies the pair before anything runs it.
//
// The format is minisign's (https://jedisct1.github.io/minisign/), through aead.dev/minisign: a
// detached NAME.wasm.minisig beside the module, an Ed25519 signature of the module's bytes
// (prehashed with BLAKE2b-512, minisign's default) whose trusted comment, covered by minisign's
// global signature, carries the sha256 of the sidecar:
//
//	trusted comment: wasmcollector-signature v1 sidecar-sha256=<hex|none> timestamp=<unix> module=<NAME.wasm>
//
// so `minisign -Vm NAME.wasm -p vendor.pub` verifies it with the stock tool, and a swapped
// sidecar fails [Verify] while the module's signature still holds. A vendor with minisign alone
// signs the same way with -t (see [TrustedComment]). A signature with another trusted comment
// (plain `minisign -S`) covers the module only, and is accepted only for a module without a
// sidecar. RATIONALE.md says why minisign and why the comment.
package signature

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"
)

// Suffix is appended to a module's path to name its detached signature, as minisign does.
const Suffix = ".minisig"

// commentPrefix starts the trusted comment of a signature this package makes.
const commentPrefix = "wasmcollector-signature v1 "

// maxSignatureSize caps a signature file before it is read: a real one is about 400 bytes plus
// its comments.
const maxSignatureSize = 16 << 10

// PublicKey is a minisign public key.
type PublicKey = minisign.PublicKey

// PrivateKey is a minisign secret key, decrypted.
type PrivateKey = minisign.PrivateKey

// KeyID formats a key ID as minisign prints it: 16 upper-case hex digits.
func KeyID(id uint64) string { return fmt.Sprintf("%016X", id) }

// ParsePublicKey parses a public key: the base64 line minisign prints ("RWQ…"), or the whole
// .pub file, its untrusted comment line included.
func ParsePublicKey(text string) (PublicKey, error) {
	var k PublicKey
	text = strings.TrimSpace(text)
	if lines := strings.Split(text, "\n"); len(lines) == 2 && strings.HasPrefix(lines[0], "untrusted comment:") {
		text = strings.TrimSpace(lines[1])
	}
	if err := k.UnmarshalText([]byte(text)); err != nil {
		return k, fmt.Errorf("not a minisign public key: %s", strings.TrimPrefix(err.Error(), "minisign: "))
	}
	return k, nil
}

// ReadPublicKey reads a minisign .pub file.
func ReadPublicKey(path string) (PublicKey, error) {
	data, err := readCapped(path, maxSignatureSize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(string(data))
	if err != nil {
		return k, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// GenerateKey makes a key pair and returns the public key file's and the secret key file's
// contents, in minisign's formats. An empty password leaves the secret key unencrypted (as
// `minisign -G -W`); otherwise it is encrypted with scrypt as minisign does.
func GenerateKey(password string) (pub PublicKey, pubFile, secretFile []byte, err error) {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		return pub, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if password == "" {
		secretFile, err = priv.MarshalText()
	} else {
		secretFile, err = encryptKey(password, priv, scryptOps, scryptMem)
	}
	if err != nil {
		return pub, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	pubFile = []byte("untrusted comment: minisign public key " + KeyID(pub.ID()) + "\n" + pub.String() + "\n")
	return pub, pubFile, append(secretFile, '\n'), nil
}

// The scrypt cost of an encrypted secret key: libsodium's "sensitive" limits, which `minisign -G`
// uses too (and aead.dev/minisign's EncryptKey, fixed). Variables so that tests can make keys
// cheaply; the cost is written into the key file, which readers take from there.
var scryptOps, scryptMem uint64 = 1 << 25, 1 << 30

// encryptKey writes priv as minisign's encrypted secret key file, with the scrypt cost given:
// the layout of minisign's seckey (and aead.dev/minisign's EncryptKey, which fixes the cost):
// sig alg "Ed", kdf "Sc", hash "B2", salt, ops, mem, then (key ID || key || BLAKE2b-256 of
// "Ed" || key ID || key) XORed with the scrypt key stream.
func encryptKey(password string, priv PrivateKey, ops, mem uint64) ([]byte, error) {
	plain, err := priv.MarshalText() // unencrypted layout: key ID at 54, key at 62
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(bytes.SplitN(plain, []byte("\n"), 2)[1])))
	if err != nil || len(raw) != 158 {
		return nil, errors.New("unexpected secret key layout")
	}
	var salt [32]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint16(raw[2:], 0x6353) // "Sc": scrypt
	copy(raw[6:38], salt[:])
	binary.LittleEndian.PutUint64(raw[38:], ops)
	binary.LittleEndian.PutUint64(raw[46:], mem)
	var msg [74]byte
	copy(msg[:2], raw[:2]) // "Ed"
	copy(msg[2:], raw[54:126])
	sum := blake2b.Sum256(msg[:])
	copy(raw[126:], sum[:])
	n, r, p := scryptParams(ops, mem)
	stream, err := scrypt.Key([]byte(password), salt[:], n, r, p, 104)
	if err != nil {
		return nil, err
	}
	for i, k := range stream {
		raw[54+i] ^= k
	}
	return []byte("untrusted comment: minisign encrypted secret key\n" + base64.StdEncoding.EncodeToString(raw)), nil
}

// scryptParams converts libsodium's ops and mem limits to scrypt's N, r and p exactly as
// aead.dev/minisign does when it decrypts (the test checks minisign agrees).
func scryptParams(ops, mem uint64) (n, r, p int) {
	const (
		minOps = 1 << 15
		maxRP  = 0x3fffffff
	)
	if ops < minOps {
		ops = minOps
	}
	r = 8
	if ops < mem/32 {
		p = 1
		for i := 1; i < 63; i++ {
			if n = 1 << i; uint64(n) > ops/(8*uint64(r)) {
				break
			}
		}
		return n, r, p
	}
	for i := 1; i < 63; i++ {
		if n = 1 << i; uint64(n) > mem/(256*uint64(r)) {
			break
		}
	}
	if rp := (ops / 4) / uint64(n); rp < maxRP {
		p = int(rp) / r
	} else {
		p = maxRP / r
	}
	return n, r, p
}

// IsEncrypted reports whether a secret key file's contents are password-protected.
func IsEncrypted(secretFile []byte) bool { return minisign.IsEncrypted(secretFile) }

// ParsePrivateKey reads a secret key file's contents, decrypting them with password when
// encrypted.
func ParsePrivateKey(secretFile []byte, password string) (PrivateKey, error) {
	var k PrivateKey
	if minisign.IsEncrypted(secretFile) {
		if password == "" {
			return k, errors.New("the secret key is password-protected and no password was given")
		}
		k, err := minisign.DecryptKey(password, secretFile)
		if err != nil {
			return k, errors.New("cannot decrypt the secret key: wrong password, or not a minisign secret key")
		}
		return k, nil
	}
	if err := k.UnmarshalText(bytes.TrimSpace(secretFile)); err != nil {
		return k, fmt.Errorf("not a minisign secret key: %s", strings.TrimPrefix(err.Error(), "minisign: "))
	}
	return k, nil
}

// SidecarPath returns the sidecar a module's signature covers: NAME.toml beside NAME.wasm.
func SidecarPath(module string) string {
	return strings.TrimSuffix(module, ".wasm") + ".toml"
}

// Claims is what a signature's trusted comment says, beyond the module's bytes.
type Claims struct {
	// Module is the module's base name when signed, "" when the comment does not say.
	Module string
	// SidecarSHA256 is the lowercase hex sha256 of the sidecar signed with the module, "none"
	// when it had none, "" when the comment does not say (a plain minisign signature).
	SidecarSHA256 string
	// Time is when it was signed, by the signer's clock; zero when the comment does not say.
	Time time.Time
}

// TrustedComment returns the trusted comment that binds a module named name (its base name)
// to the sidecar of sha256 sidecarSum ("" for none), signed at t. A vendor signing with minisign
// alone passes it with -t.
func TrustedComment(name, sidecarSum string, t time.Time) string {
	if sidecarSum == "" {
		sidecarSum = "none"
	}
	return fmt.Sprintf("%ssidecar-sha256=%s timestamp=%d module=%s", commentPrefix, sidecarSum, t.Unix(), name)
}

var commentPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(commentPrefix) + `sidecar-sha256=([0-9a-f]{64}|none) timestamp=(-?[0-9]{1,19}) module=(.+)$`)

// parseClaims reads a trusted comment; ok is false when it is not one of ours.
func parseClaims(comment string) (Claims, bool, error) {
	if !strings.HasPrefix(comment, commentPrefix) {
		return Claims{}, false, nil
	}
	m := commentPattern.FindStringSubmatch(comment)
	if m == nil {
		return Claims{}, true, fmt.Errorf("malformed trusted comment %q", comment)
	}
	ts, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return Claims{}, true, fmt.Errorf("malformed timestamp in trusted comment %q", comment)
	}
	return Claims{Module: m[3], SidecarSHA256: m[1], Time: time.Unix(ts, 0).UTC()}, true, nil
}

// Sign signs the module named name (its base name is what the trusted comment records) with
// key, covering sidecar (the sidecar's bytes, nil when the module has none), and returns the
// signature file's contents: a prehashed minisign signature, minisign's default.
func Sign(key PrivateKey, module, sidecar []byte, name string, now time.Time) ([]byte, error) {
	name = filepath.Base(name)
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("module name %q has control characters, which a trusted comment cannot hold", name)
	}
	sum := ""
	if sidecar != nil {
		sum = sha256Hex(sidecar)
	}
	r := minisign.NewReader(bytes.NewReader(module))
	if _, err := io.Copy(io.Discard, r); err != nil { // reading through r hashes the module
		return nil, fmt.Errorf("sign: %w", err)
	}
	untrusted := "signature from wasmcollector secret key " + KeyID(key.ID())
	return r.SignWithComments(key, TrustedComment(name, sum, now), untrusted), nil
}

// sha256Hex returns the lowercase hex sha256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readCapped reads a regular file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes, larger than a signature or key can be", path, limit)
	}
	return data, nil
}
