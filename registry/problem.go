package registry

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong in collectors.toml or a sidecar.
type Problem struct {
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
