package registry

import (
	"strconv"
	"strings"
)

// Code says what kind of problem a [Problem] is, so that callers act on it without matching its
// message, which is for people and may change.
type Code string

// The codes of problems.
const (
	// CodeSyntax: the file is not valid TOML.
	CodeSyntax Code = "syntax"
	// CodeUnreadable: a file or directory cannot be read.
	CodeUnreadable Code = "unreadable"
	// CodeTooLarge: a file is over its size cap, or nests too deep, and was refused unparsed.
	CodeTooLarge Code = "too-large"
	// CodeUnknownKey: a key the schema does not have (or has in lower case only).
	CodeUnknownKey Code = "unknown-key"
	// CodeWrongType: a value of the wrong TOML type, such as a string where a table belongs.
	CodeWrongType Code = "wrong-type"
	// CodeInvalid: a value of the right type that is not allowed (out of range, bad syntax).
	CodeInvalid Code = "invalid"
	// CodeMissing: a required key, or one another setting needs, is absent.
	CodeMissing Code = "missing"
	// CodeNotAllowed: a key or table that is valid elsewhere but not here (a root-only table in
	// a sidecar, a sqlite setting on a postgres data source, …).
	CodeNotAllowed Code = "not-allowed"
	// CodeNotGranted: a sidecar requests something collectors.toml does not grant its module.
	CodeNotGranted Code = "not-granted"
	// CodeSecret: a secret written in the TOML, where only the place holding it may be named.
	CodeSecret Code = "secret"
	// CodeUndeclared: a reference to a data source that is not declared.
	CodeUndeclared Code = "undeclared"
	// CodeDuplicate: a collector key, config collector, module table or list entry repeated.
	CodeDuplicate Code = "duplicate"
	// CodeMismatch: a module file differs from its sha256 pin, or two pins differ.
	CodeMismatch Code = "mismatch"
	// CodeNotFound: a module file, sidecar module, modules directory or mount host directory
	// does not exist.
	CodeNotFound Code = "not-found"
	// CodeUnused: module settings no collector uses.
	CodeUnused Code = "unused"
	// CodeNoConfig: no collector sets config = true.
	CodeNoConfig Code = "no-config"
	// CodeKeyConflict: collectors of two modules declare the same key; their outputs would be
	// one tarball member.
	CodeKeyConflict Code = "key-conflict"
	// CodeNoSidecar (a warning, in Registry.Warnings): a module file in modules_dir that neither
	// a sidecar nor the root file declares.
	CodeNoSidecar Code = "no-sidecar"
	// CodeNotExported: a collector's function is not exported by its module, or not with type
	// () -> i32. Found when the module is checked (`wasmcollector validate`), not by [Load].
	CodeNotExported Code = "not-exported"
	// CodeModule: a module that cannot be used as a whole (does not compile, does not fit ABI
	// v1, is built for the wrong target). Found when the module is checked, not by [Load].
	CodeModule Code = "module"
)

// Problem is one thing wrong in collectors.toml or a sidecar (or, in Registry.Warnings, one
// thing worth a warning).
type Problem struct {
	// Code says what kind of problem it is; match on it, never on Message.
	Code Code
	// File is the file's path as given to [Load] (sidecars: joined with modules_dir).
	File string
	// Line is the 1-based line the problem is on; 0 when unknown or when the problem is not on
	// one line (such as "no config collector").
	Line int
	// Field names the value in TOML terms, array indexes 0-based: "runtime.timeout",
	// "collector[2].format", `modules."a.wasm".sha256`, "module.sha256" (sidecars). It is ""
	// for problems with the file as a whole, such as a syntax error.
	Field string
	// Message says what is wrong: lowercase, no final period.
	Message string
}

// Error returns "<file>:<line>: <field>: <message>", leaving out the line when it is 0 and the
// field when it is "".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	if p.Field != "" {
		b.WriteString(": ")
		b.WriteString(p.Field)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem [Load] found, root file first, then sidecars by name, each by line.
// It is the error Load returns; get it with
//
//	var ps registry.Problems
//	if errors.As(err, &ps) { ... }
//
// Unwrap exposes each *[Problem], so errors.As also finds the first of them.
type Problems []*Problem

// Error returns one problem per line, in order.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems as errors, like the result of errors.Join.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}
