package registry

import (
	"errors"
	"fmt"
	"os"
	slashpath "path"
	"path/filepath"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/signature"
)

// Signed modules: [trust] lists the keys that may sign which modules; Load verifies each
// module's detached signature (NAME.wasm.minisig, covering the module and its sidecar; see
// internal/signature) before anything runs it, and refuses (disables) a module whose signature
// does not verify when require_signatures is true, else warns.

// TrustSettings is the [trust] table: who may sign which modules.
type TrustSettings struct {
	// Enabled is true when collectors.toml has a [trust] table: then every module's signature
	// is checked, and Module.Signature says what was found. Without it nothing is checked.
	Enabled bool
	// RequireSignatures refuses (disables) a module that is unsigned or whose signature does
	// not verify; otherwise such a module runs, with a warning. TOML `require_signatures`;
	// default false.
	RequireSignatures bool
	// Keys are the [[trust.keys]], in declaration order.
	Keys []TrustedKey
}

// TrustedKey is one [[trust.keys]]: a minisign public key and the modules it may sign.
type TrustedKey struct {
	// Name says whose key it is ("Acme Inc."); shown as the signer. TOML `name`, required.
	Name string
	// Pattern matches the names of the modules the key may sign, as path.Match does ("awx*",
	// "acme/*", "*"). TOML `pattern`, required.
	Pattern string
	// KeyID is the key's ID, as minisign prints it (16 hex digits).
	KeyID string
	// PublicKey is the key, in minisign's base64 form ("RWQ…"): TOML `key`, or the key of the
	// .pub file `key_file` names (relative to collectors.toml).
	PublicKey string
	// Expires, when not zero, is when the key stops being trusted: from then on, modules it
	// signed are refused. TOML `expires`, a date (UTC midnight) or datetime.
	Expires time.Time
}

// Values of ModuleSignature.Status.
const (
	// SignatureVerified: signed by a trusted key, module and sidecar as signed.
	SignatureVerified = "verified"
	// SignatureUnsigned: no NAME.wasm.minisig beside the module.
	SignatureUnsigned = "unsigned"
	// SignatureInvalid: a signature that does not verify (tampered module or sidecar, an
	// unknown, untrusted or expired key, a malformed file).
	SignatureInvalid = "invalid"
)

// ModuleSignature is what [Load] found of a module's signature.
type ModuleSignature struct {
	// Status is SignatureVerified, SignatureUnsigned or SignatureInvalid.
	Status string
	// KeyID is the signing key's ID ("" when unsigned or unreadable); KeyName the trusted key's
	// name, set when verified.
	KeyID, KeyName string
	// SignedAt is when it was signed, by the signer's clock (zero when the signature does not
	// say or did not verify).
	SignedAt time.Time
	// Problem says why the signature was refused; "" when verified.
	Problem string
}

// Signer says who signed, for people: "Acme Inc. (key 0123456789ABCDEF)" when verified,
// "unsigned", or "invalid (key …)".
func (s *ModuleSignature) Signer() string {
	switch {
	case s == nil:
		return "not checked"
	case s.Status == SignatureVerified:
		return fmt.Sprintf("%s (key %s)", s.KeyName, s.KeyID)
	case s.Status == SignatureInvalid && s.KeyID != "":
		return fmt.Sprintf("invalid signature (key %s)", s.KeyID)
	case s.Status == SignatureInvalid:
		return "invalid signature"
	}
	return s.Status
}

// trust decodes [trust]; the keys it can use go to l.keys.
func (l *loader) trust(src *source, x *table[trustTable]) TrustSettings {
	var ts TrustSettings
	p := path{}.key("trust")
	if !x.ok(l, src, p, "a table") || !x.set {
		return ts
	}
	ts.Enabled = true
	t := &x.t
	if b, ok := get(l, src, p.key("require_signatures"), t.RequireSignatures); ok {
		ts.RequireSignatures = b
	}
	kp := p.key("keys")
	if t.Keys.bad {
		l.add(src, kp, CodeWrongType, "must be an array of tables ([[trust.keys]])")
		return ts
	}
	base := filepath.Dir(src.abs)
	for i, e := range t.Keys.elems {
		ep := kp.index(i)
		if !e.ok(l, src, ep, "a table") {
			continue
		}
		if k, ok := l.trustedKey(src, ep, &e.t, base); ok {
			ts.Keys = append(ts.Keys, k)
		}
	}
	if ts.RequireSignatures && len(t.Keys.elems) == 0 {
		l.add(src, p.key("require_signatures"), CodeMissing, "require_signatures is true but no [[trust.keys]] is listed: every module would be refused")
	}
	return ts
}

// trustedKey validates one [[trust.keys]].
func (l *loader) trustedKey(src *source, p path, t *trustKeyTable, base string) (TrustedKey, bool) {
	var k TrustedKey
	name, okName := l.required(src, p.key("name"), t.Name)
	pattern, okPattern := l.required(src, p.key("pattern"), t.Pattern)
	if okPattern {
		if _, err := slashpath.Match(pattern, ""); err != nil {
			l.add(src, p.key("pattern"), CodeInvalid, "invalid pattern %q: %v (use path.Match syntax: \"awx*\", \"acme/*\", \"*\")", pattern, err)
			okPattern = false
		}
	}
	var pub signature.PublicKey
	okKey := false
	text, hasText := get(l, src, p.key("key"), t.Key)
	file, hasFile := get(l, src, p.key("key_file"), t.KeyFile)
	switch {
	case hasText && hasFile:
		l.add(src, p.key("key_file"), CodeInvalid, "set key or key_file, not both")
	case hasText:
		var err error
		if pub, err = signature.ParsePublicKey(text); err != nil {
			l.add(src, p.key("key"), CodeInvalid, "%v", err)
		} else {
			okKey = true
		}
	case hasFile:
		abs := file
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(base, file)
		}
		var err error
		if pub, err = signature.ReadPublicKey(abs); err != nil {
			code := CodeInvalid
			if errors.Is(err, os.ErrNotExist) {
				code = CodeNotFound
			}
			l.add(src, p.key("key_file"), code, "%v", unwrapPath(err))
		} else {
			okKey = true
		}
	case t.Key.code == "" && t.KeyFile.code == "":
		l.add(src, p.key("key"), CodeMissing, `missing (required): the vendor's minisign public key ("RWQ…"), or key_file naming its .pub file`)
	}
	if expires, ok := get(l, src, p.key("expires"), t.Expires); ok {
		k.Expires = expires
	}
	if !okName || !okPattern || !okKey {
		return k, false
	}
	k.Name, k.Pattern, k.KeyID, k.PublicKey = name, pattern, signature.KeyID(pub.ID()), pub.String()
	l.keys = append(l.keys, signature.TrustedKey{Name: name, Pattern: pattern, Key: pub, Expires: k.Expires})
	return k, true
}

// Codes of signature problems; which one says why, the message says it to people.
const (
	// CodeUnsigned: a module has no signature, with [trust] in collectors.toml.
	CodeUnsigned Code = "unsigned"
	// CodeBadSignature: a module's signature does not verify: the module or its sidecar was
	// changed after signing, or the signature file is malformed or another module's.
	CodeBadSignature Code = "bad-signature"
	// CodeUntrustedKey: a module is signed by a key [trust.keys] does not list, or lists for
	// other modules only.
	CodeUntrustedKey Code = "untrusted-key"
	// CodeExpiredKey: a module is signed by a trusted key that has expired.
	CodeExpiredKey Code = "expired-key"
)

// verifySignature checks the signature of st's module, whose file (real, its path after
// symlinks) passed checkFile. When the file verifies and is not pinned, its sha256 becomes the
// module's SHA256, so that the runtime runs exactly the bytes verified here.
func (l *loader) verifySignature(st *moduleState, real string) {
	m := st.mod
	show := filepath.Join(l.modulesShow, filepath.FromSlash(m.Name))
	module, err := os.ReadFile(real)
	if err != nil {
		l.add(st.ref.src, st.ref.p, CodeUnreadable, "module file %s: %v", show, unwrapPath(err))
		return
	}
	sig, err := signature.ReadSignatureFile(m.Path + signature.Suffix)
	if err != nil {
		l.signatureProblem(st, show, CodeBadSignature, "", unwrapPath(err).Error())
		return
	}
	in := signature.Input{Name: m.Name, Module: module, Signature: sig, SidecarName: slashpath.Base(signature.SidecarPath(m.Name))}
	if st.sideSrc != nil {
		in.Sidecar = st.sideSrc.data // the bytes the loader parsed, not a second read
	}
	res, err := signature.Verify(in, l.keys, time.Now())
	var se *signature.Error
	switch {
	case err == nil:
		m.Signature = &ModuleSignature{Status: SignatureVerified, KeyID: res.KeyID, KeyName: res.KeyName, SignedAt: res.Claims.Time}
		if m.SHA256 == "" {
			m.SHA256 = bytesSHA256(module)
		}
	case errors.As(err, &se):
		code := map[signature.Kind]Code{
			signature.Unsigned: CodeUnsigned, signature.UnknownKey: CodeUntrustedKey,
			signature.WrongKey: CodeUntrustedKey, signature.ExpiredKey: CodeExpiredKey,
		}[se.Kind]
		if code == "" {
			code = CodeBadSignature
		}
		l.signatureProblem(st, show, code, se.KeyID, se.Message)
	default:
		l.signatureProblem(st, show, CodeBadSignature, "", err.Error())
	}
}

// signatureProblem records why a module's signature was refused: a problem that disables the
// module when signatures are required, a warning otherwise.
func (l *loader) signatureProblem(st *moduleState, show string, code Code, keyID, msg string) {
	status := SignatureInvalid
	if code == CodeUnsigned {
		status = SignatureUnsigned
	}
	st.mod.Signature = &ModuleSignature{Status: status, KeyID: keyID, Problem: msg}
	p := &Problem{Code: code, File: show, Field: "signature", Message: msg}
	if !l.reg.Trust.RequireSignatures {
		p.Message += " (warning: [trust] require_signatures is false, so the module runs)"
		l.reg.Warnings = append(l.reg.Warnings, p)
		return
	}
	p.Message += "; refused: [trust] require_signatures is true"
	l.files = append(l.files, show)
	l.problems = append(l.problems, p)
	l.moduleProblems[p] = st.mod.Name
}
