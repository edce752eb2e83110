package modulecheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Trust is what check verifies a module's signature against: the public keys given, and the
// operator's [trust] keys when a collectors.toml was found.
type Trust struct {
	// PublicKeys are minisign public keys (the "RWQ…" line, or a .pub file's contents) to verify
	// the signature with, whatever module they are for (check --pub).
	PublicKeys []string
	// Config is the collectors.toml whose [trust] Keys come from; "" when none was found.
	Config string
	// Keys are that file's [[trust.keys]], with their patterns; Name is the module's name as
	// that registry knows it (relative to its modules_dir), which the patterns match.
	Keys []registry.TrustedKey
	Name string
	// Problem says why a collectors.toml found could not be read; "" when it was, or none was
	// found.
	Problem string
}

// keys returns the keys given and the config's, as internal/signature takes them; a key that
// does not parse is an error naming it.
func (t *Trust) keys() (given, config []signature.TrustedKey, err error) {
	if t == nil {
		return nil, nil, nil
	}
	for i, text := range t.PublicKeys {
		pub, err := signature.ParsePublicKey(text)
		if err != nil {
			return nil, nil, fmt.Errorf("public key %d: %w", i+1, err)
		}
		given = append(given, signature.TrustedKey{Key: pub})
	}
	for _, k := range t.Keys {
		pub, err := signature.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, nil, fmt.Errorf("[[trust.keys]] %s: %w", k.Name, err)
		}
		config = append(config, signature.TrustedKey{Name: k.Name, Pattern: k.Pattern, Key: pub, Expires: k.Expires})
	}
	return given, config, nil
}

// SignatureReport is the signature part of a [Report].
type SignatureReport struct {
	// File is the signature file's path; Present whether it exists.
	File    string `json:"file"`
	Present bool   `json:"present"`
	// Verified is true when a key given or trusted verifies it over the module and sidecar
	// bytes; Problem says why not ("" when verified or when no key could check it).
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
	// KeyID, TrustedComment and SignedAt are what the file says.
	KeyID          string `json:"key_id,omitempty"`
	TrustedComment string `json:"trusted_comment,omitempty"`
	SignedAt       string `json:"signed_at,omitempty"`
	// Trust is the verdict of the operator's [trust], when a collectors.toml was found.
	Trust *TrustReport `json:"trust,omitempty"`
}

// TrustReport says whether a collectors.toml's [trust] accepts the module's signature.
type TrustReport struct {
	Config   string `json:"config"`
	Module   string `json:"module"`
	Accepted bool   `json:"accepted"`
	KeyName  string `json:"key_name,omitempty"`
	Pattern  string `json:"pattern,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// signature adds the signature items: whether NAME.wasm.minisig is beside the module, whether it
// verifies over the module and sidecar bytes (with a key given or trusted; without one, whether
// its claims about the name and the sidecar hold), and what [trust] says of it.
func (c *checker) signature() {
	sigPath := c.opts.Module + signature.Suffix
	sr := &SignatureReport{File: sigPath}
	c.rep.Signature = sr
	in := signature.Input{Name: c.name, Module: c.wasm, SidecarName: filepath.Base(signature.SidecarPath(c.opts.Module))}
	sidePath := c.opts.TOML
	if sidePath == "" {
		sidePath = signature.SidecarPath(c.opts.Module)
	}
	if side, err := os.ReadFile(sidePath); err == nil {
		in.Sidecar = side
	}
	sig, err := signature.ReadSignatureFile(sigPath)
	if err != nil {
		sr.Present, sr.Problem = true, err.Error()
		c.add("signature", StatusFail, "%s: %v", sigPath, err)
		return
	}
	if sig == nil {
		sr.Problem = "unsigned"
		c.add("signature", StatusWarn, "unsigned: no %s; an operator whose [trust] requires signatures refuses it (sign it: wasmcollector sign %s --key KEY)", filepath.Base(sigPath), c.opts.Module)
		return
	}
	sr.Present = true
	in.Signature = sig
	ins, err := signature.Inspect(in)
	if ins != nil {
		sr.KeyID, sr.TrustedComment = ins.KeyID, ins.TrustedComment
		if !ins.Claims.Time.IsZero() {
			sr.SignedAt = ins.Claims.Time.UTC().Format(time.RFC3339)
		}
	}
	if err != nil {
		sr.Problem = err.Error()
		c.add("signature", StatusFail, "%s does not verify: %v", filepath.Base(sigPath), err)
		c.trust(sr, in)
		return
	}
	what := fmt.Sprintf("by key %s, trusted comment %q", ins.KeyID, ins.TrustedComment)
	given, config, kerr := c.opts.Trust.keys()
	if kerr != nil {
		c.add("signature", StatusFail, "cannot verify %s: %v", filepath.Base(sigPath), kerr)
		return
	}
	// Whether the signature verifies is one question, whether [trust] accepts it for this
	// module another (the trust item): here every key counts, whatever its pattern or expiry.
	var keys []signature.TrustedKey
	for _, k := range append(given, config...) {
		k.Pattern, k.Expires = "", time.Time{}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		c.add("signature", StatusWarn, "%s %s: its name and sidecar claims hold, but no public key was given to verify it with (--pub, or a collectors.toml with [trust])", filepath.Base(sigPath), what)
		c.trust(sr, in)
		return
	}
	res, err := signature.Verify(in, keys, time.Now())
	var se *signature.Error
	switch {
	case err == nil:
		sr.Verified = true
		c.add("signature", StatusPass, "%s verifies over the module and sidecar bytes: signed by %s, trusted comment %q", filepath.Base(sigPath), res.Signer(), ins.TrustedComment)
	case errors.As(err, &se) && se.Kind == signature.UnknownKey:
		c.add("signature", StatusWarn, "%s %s: no key given or trusted has its ID, so it is not verified", filepath.Base(sigPath), what)
	default:
		sr.Problem = err.Error()
		c.add("signature", StatusFail, "%s does not verify: %v", filepath.Base(sigPath), err)
	}
	c.trust(sr, in)
}

// trust adds the item saying whether the operator's [trust] accepts the signature.
func (c *checker) trust(sr *SignatureReport, in signature.Input) {
	t := c.opts.Trust
	switch {
	case t == nil || (t.Config == "" && t.Problem == ""):
		return
	case t.Problem != "":
		c.add("trust", StatusWarn, "%s", t.Problem)
		return
	}
	tr := &TrustReport{Config: t.Config, Module: t.Name}
	sr.Trust = tr
	_, config, err := t.keys()
	if err != nil {
		tr.Problem = err.Error()
		c.add("trust", StatusFail, "%s: %v", t.Config, err)
		return
	}
	if len(config) == 0 {
		tr.Problem = "no [[trust.keys]]"
		c.add("trust", StatusWarn, "%s trusts no key ([trust] with [[trust.keys]]): an operator with it would not accept the module as signed", t.Config)
		return
	}
	in.Name = t.Name
	res, err := signature.Verify(in, config, time.Now())
	if err != nil {
		tr.Problem = err.Error()
		c.add("trust", StatusFail, "%s does not accept module %s: %v", t.Config, t.Name, err)
		return
	}
	tr.Accepted, tr.KeyName = true, res.KeyName
	for _, k := range config {
		if signature.KeyID(k.Key.ID()) == res.KeyID && k.Name == res.KeyName {
			tr.Pattern = k.Pattern
			break
		}
	}
	c.add("trust", StatusPass, "%s accepts module %s: signed by %s, trusted for pattern %q", t.Config, t.Name, res.Signer(), tr.Pattern)
}
