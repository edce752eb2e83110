package signature

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
)

// TrustedKey is a public key an operator trusts to sign the modules whose names match Pattern.
type TrustedKey struct {
	// Name says whose key it is, for people ("Acme Inc.").
	Name string
	// Pattern matches the module names the key may sign, as path.Match does ("awx*",
	// "acme/*"); "" matches every module.
	Pattern string
	// Key is the public key.
	Key PublicKey
	// Expires, when not zero, is the instant from which the key is no longer trusted.
	Expires time.Time
}

// matches reports whether k may sign the module called name.
func (k *TrustedKey) matches(name string) bool {
	if k.Pattern == "" {
		return true
	}
	ok, _ := path.Match(k.Pattern, name)
	return ok
}

// label names k for messages: "key 0123456789ABCDEF (Acme Inc.)".
func (k *TrustedKey) label() string {
	if k.Name == "" {
		return "key " + KeyID(k.Key.ID())
	}
	return fmt.Sprintf("key %s (%s)", KeyID(k.Key.ID()), k.Name)
}

// Kind says why a module's signature was refused; act on it, never on the message.
type Kind string

// The kinds of [Error].
const (
	// Unsigned: there is no signature file.
	Unsigned Kind = "unsigned"
	// Malformed: the signature file cannot be read or is not a minisign signature, or its
	// trusted comment does not verify or cannot be parsed.
	Malformed Kind = "malformed"
	// ModuleMismatch: the module's bytes are not the ones signed (a tampered module).
	ModuleMismatch Kind = "module-mismatch"
	// SidecarMismatch: the sidecar is not the one signed with the module (tampered, added or
	// removed), or the signature does not cover a sidecar the module has.
	SidecarMismatch Kind = "sidecar-mismatch"
	// NameMismatch: the signature is for a module of another name.
	NameMismatch Kind = "name-mismatch"
	// UnknownKey: no trusted key has the signature's key ID.
	UnknownKey Kind = "unknown-key"
	// WrongKey: the signing key is trusted, but not for modules of this name.
	WrongKey Kind = "wrong-key"
	// ExpiredKey: the signing key is trusted for the module but has expired.
	ExpiredKey Kind = "expired-key"
)

// Error is a signature that does not verify.
type Error struct {
	// Kind says why.
	Kind Kind
	// KeyID is the signature's key ID (minisign's 16 hex digits), "" when unknown.
	KeyID string
	// Message says why, for people: lowercase, no final period, without the module's name.
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

func refuse(kind Kind, keyID string, format string, args ...any) *Error {
	return &Error{Kind: kind, KeyID: keyID, Message: fmt.Sprintf(format, args...)}
}

// Result is a verified signature.
type Result struct {
	// KeyID is the signing key's ID, 16 upper-case hex digits.
	KeyID string
	// KeyName is the trusted key's Name.
	KeyName string
	// Claims is what the trusted comment says.
	Claims Claims
	// TrustedComment is the signature's trusted comment, verbatim.
	TrustedComment string
}

// Signer names who signed for people: "Acme Inc. (key 0123456789ABCDEF)" or "key
// 0123456789ABCDEF".
func (r *Result) Signer() string {
	if r.KeyName == "" {
		return "key " + r.KeyID
	}
	return fmt.Sprintf("%s (key %s)", r.KeyName, r.KeyID)
}

// Input is what [Verify] checks: a module's bytes, its sidecar's and its signature's.
type Input struct {
	// Name is the module's name as the registry knows it ("awx.wasm", "acme/awx.wasm"): the
	// keys' patterns match it, and its base name must be the one signed.
	Name string
	// Module is the module's bytes.
	Module []byte
	// Sidecar is the sidecar's bytes, nil when the module has none.
	Sidecar []byte
	// SidecarName is the sidecar's file name, for messages.
	SidecarName string
	// Signature is the signature file's contents, nil when there is none.
	Signature []byte
}

// Verify checks a module's signature against the trusted keys at time now. The error is an
// *[Error] saying why it was refused.
func Verify(in Input, keys []TrustedKey, now time.Time) (*Result, error) {
	if in.Signature == nil {
		return nil, refuse(Unsigned, "", "not signed: no %s beside it", path.Base(in.Name)+Suffix)
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText(in.Signature); err != nil {
		return nil, refuse(Malformed, "", "%s is not a minisign signature: %s", path.Base(in.Name)+Suffix, strings.TrimPrefix(err.Error(), "minisign: "))
	}
	id := KeyID(sig.KeyID)
	key, err := pickKey(in.Name, id, sig.KeyID, keys, now)
	if err != nil {
		return nil, err
	}
	pub, err := rawKey(key.Key)
	if err != nil {
		return nil, refuse(Malformed, id, "trusted %s: %v", key.label(), err)
	}
	// minisign's verification (aead.dev/minisign's verify, step for step), in two steps to say
	// which part failed; not minisign.Verify as well, which would hash the module a second time.
	msg := in.Module
	if sig.Algorithm == minisign.HashEdDSA {
		h := blake2b.Sum512(in.Module)
		msg = h[:]
	}
	if !ed25519.Verify(pub, msg, sig.Signature[:]) {
		return nil, refuse(ModuleMismatch, id, "the module's bytes do not match its signature by %s: the module was modified after it was signed, or the signature is another module's", key.label())
	}
	if !ed25519.Verify(pub, append(sig.Signature[:], sig.TrustedComment...), sig.CommentSignature[:]) {
		return nil, refuse(Malformed, id, "the trusted comment of the signature by %s was altered after signing", key.label())
	}
	claims, ours, err := parseClaims(sig.TrustedComment)
	if err != nil {
		return nil, refuse(Malformed, id, "%v", err)
	}
	res := &Result{KeyID: id, KeyName: key.Name, Claims: claims, TrustedComment: sig.TrustedComment}
	if ours && claims.Module != path.Base(in.Name) {
		return nil, refuse(NameMismatch, id, "the signature by %s is for module %q, not %q", key.label(), claims.Module, path.Base(in.Name))
	}
	if err := checkSidecar(in, claims, ours, key.label(), id); err != nil {
		return nil, err
	}
	return res, nil
}

// pickKey returns the trusted key with the signature's ID that may sign the module, or the
// error saying why there is none.
func pickKey(name, id string, keyID uint64, keys []TrustedKey, now time.Time) (*TrustedKey, error) {
	var expired, other *TrustedKey
	for i := range keys {
		k := &keys[i]
		if k.Key.ID() != keyID {
			continue
		}
		switch {
		case !k.matches(name):
			other = k
		case !k.Expires.IsZero() && !now.Before(k.Expires):
			expired = k
		default:
			return k, nil
		}
	}
	switch {
	case expired != nil:
		return nil, refuse(ExpiredKey, id, "signed by %s, which expired on %s; the vendor must sign with a current key, or the operator extend its expires",
			expired.label(), expired.Expires.UTC().Format(time.DateOnly))
	case other != nil:
		var patterns []string
		for _, k := range keys {
			if k.Key.ID() == keyID && !slices.Contains(patterns, k.Pattern) {
				patterns = append(patterns, fmt.Sprintf("%q", k.Pattern))
			}
		}
		return nil, refuse(WrongKey, id, "signed by %s, which is trusted only for modules matching %s, not %q", other.label(), strings.Join(patterns, ", "), name)
	}
	var trusted []string
	for _, k := range keys {
		if k.matches(name) {
			trusted = append(trusted, k.label())
		}
	}
	msg := fmt.Sprintf("signed by unknown key %s, which no trusted key matches", id)
	if len(trusted) == 0 {
		msg += "; no key is trusted for this module"
	} else {
		msg += "; trusted for this module: " + strings.Join(trusted, ", ")
	}
	return nil, refuse(UnknownKey, id, "%s", msg)
}

// checkSidecar checks that the sidecar is the one signed.
func checkSidecar(in Input, c Claims, ours bool, label, id string) error {
	side := in.SidecarName
	if side == "" {
		side = SidecarPath(path.Base(in.Name))
	}
	switch {
	case !ours && in.Sidecar != nil:
		return refuse(SidecarMismatch, id, "the signature by %s covers the module only, not its sidecar %s (its trusted comment has no sidecar-sha256, as a plain `minisign -S` makes): sign with `wasmcollector sign`, or pass minisign -t the comment it writes",
			label, side)
	case !ours:
		return nil
	case c.SidecarSHA256 == "none" && in.Sidecar != nil:
		return refuse(SidecarMismatch, id, "sidecar %s was added after signing: the module was signed by %s without one", side, label)
	case c.SidecarSHA256 != "none" && in.Sidecar == nil:
		return refuse(SidecarMismatch, id, "sidecar %s is missing: the module was signed by %s with a sidecar of sha256 %s", side, label, c.SidecarSHA256)
	case c.SidecarSHA256 != "none":
		if sum := sha256Hex(in.Sidecar); sum != c.SidecarSHA256 {
			return refuse(SidecarMismatch, id, "sidecar %s was modified after signing: its sha256 is %s, %s signed %s", side, sum, label, c.SidecarSHA256)
		}
	}
	return nil
}

// rawKey returns the Ed25519 key inside a minisign public key.
func rawKey(k PublicKey) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(k.String())
	if err != nil || len(b) != 2+8+ed25519.PublicKeySize {
		return nil, errors.New("malformed public key")
	}
	return ed25519.PublicKey(b[10:]), nil
}

// Files is what [ReadFiles] read for [Verify].
type Files struct {
	Input
	// ModuleSHA256 and SidecarSHA256 are the lowercase hex sha256 of what was read
	// (SidecarSHA256 "" without a sidecar).
	ModuleSHA256, SidecarSHA256 string
}

// ReadFiles reads the module at modulePath, its sidecar NAME.toml and signature NAME.wasm.minisig
// beside it, each once, for [Verify]; name is the module's name as the registry knows it ("" for
// its base name). A missing sidecar or signature is nil, not an error.
func ReadFiles(modulePath, name string) (*Files, error) {
	if name == "" {
		name = filepath.Base(modulePath)
	}
	module, err := os.ReadFile(modulePath)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	f := &Files{Input: Input{Name: name, Module: module, SidecarName: filepath.Base(SidecarPath(modulePath))}, ModuleSHA256: sha256Hex(module)}
	sidecar, err := os.ReadFile(SidecarPath(modulePath))
	switch {
	case err == nil:
		f.Sidecar, f.SidecarSHA256 = sidecar, sha256Hex(sidecar)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	if f.Signature, err = ReadSignatureFile(modulePath + Suffix); err != nil {
		return nil, err
	}
	return f, nil
}

// ReadSignatureFile reads a signature file, capped at a size no real one reaches; a missing
// file is nil, not an error.
func ReadSignatureFile(name string) ([]byte, error) {
	data, err := readCapped(name, maxSignatureSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("signature: %w", err)
	}
	return data, nil
}

// Inspection is what a signature file says without a public key to check it with.
type Inspection struct {
	// KeyID is the signing key's ID, 16 upper-case hex digits.
	KeyID string
	// TrustedComment is the signature's trusted comment, verbatim, and Claims what it says.
	TrustedComment string
	Claims         Claims
}

// Inspect reads in.Signature without verifying it cryptographically: the key ID and trusted
// comment, and whether the comment's claims (module name, sidecar sha256) hold for in. A vendor
// checking a module before shipping sees a swapped sidecar this way even without the public key.
// The error is an *[Error]; the Inspection is set whenever the file parses.
func Inspect(in Input) (*Inspection, error) {
	if in.Signature == nil {
		return nil, refuse(Unsigned, "", "not signed: no %s beside it", path.Base(in.Name)+Suffix)
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText(in.Signature); err != nil {
		return nil, refuse(Malformed, "", "%s is not a minisign signature: %s", path.Base(in.Name)+Suffix, strings.TrimPrefix(err.Error(), "minisign: "))
	}
	id := KeyID(sig.KeyID)
	ins := &Inspection{KeyID: id, TrustedComment: sig.TrustedComment}
	claims, ours, err := parseClaims(sig.TrustedComment)
	if err != nil {
		return ins, refuse(Malformed, id, "%v", err)
	}
	ins.Claims = claims
	if ours && claims.Module != path.Base(in.Name) {
		return ins, refuse(NameMismatch, id, "the signature by key %s is for module %q, not %q", id, claims.Module, path.Base(in.Name))
	}
	if err := checkSidecar(in, claims, ours, "key "+id, id); err != nil {
		return ins, err
	}
	return ins, nil
}
