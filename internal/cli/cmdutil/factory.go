package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Factory hands commands their dependencies, so tests can give buffers and a fixed clock.
type Factory struct {
	// Stdout carries results only; Stderr carries logs, progress and errors.
	Stdout, Stderr io.Writer
	// Stdin is where questions are answered (state reset); nil reads nothing.
	Stdin io.Reader
	// Status is Stderr for a one-line status between log lines (gather's progress); the
	// Logger writes through it. Nil when there is none.
	Status *StatusLine
	// LogLevel is the Logger's level, and LogLevelSet whether --log-level or --debug chose it.
	LogLevel    *slog.LevelVar
	LogLevelSet bool
	// ConfigPath is the registry file (--config).
	ConfigPath string
	// Logger writes to Stderr at the level of --log-level.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Version is the build's version string.
	Version string

	// quiet is set by Quiet: the registry's warnings (advice about the configuration, the same
	// every run) are left to validate rather than repeated by every scheduled run.
	quiet bool
}

// Registry loads the registry at ConfigPath. Problems in the root file are returned as an exit-2
// error that lists them all. A module whose sidecar has problems is disabled, not an error
// (registry.DisabledModule): each is logged as a warning, with its problems, and so is each of
// the registry's warnings (a module nothing declares, a content type left at its default).
func (f *Factory) Registry() (*registry.Registry, error) {
	reg, err := registry.Load(f.ConfigPath)
	if err != nil {
		return reg, &ExitError{Code: ExitBadInput, Err: err}
	}
	if f.Logger != nil {
		for _, d := range reg.Disabled {
			msg := "module disabled: its sidecar has problems (wasmcollector validate shows them)"
			if d.Problems[0].Field == "signature" { // its own problem, [trust] requiring signatures
				msg = "module disabled: its signature does not verify (wasmcollector validate shows why)"
			}
			f.Logger.Warn(msg, "module", d.Name, "sidecar", d.Sidecar, "problems", d.Problems.Error())
		}
		f.logWarnings(reg)
	}
	return reg, nil
}

// Host loads the registry as [Factory.Registry] does and returns the front door over it, logging
// to Logger and uploading as wasmcollector/Version. The caller closes it.
func (f *Factory) Host() (*wasmcollector.Host, error) {
	reg, err := f.Registry()
	if err != nil {
		return nil, err
	}
	return wasmcollector.New(reg, &wasmcollector.Options{Logger: f.Logger, UserAgent: "wasmcollector/" + f.Version, Now: f.Now}), nil
}

// OpenState opens reg's bookkeeping through the front door: a setting that cannot be used is
// bad input (exit 2), a store that cannot be opened a failure (exit 1).
func (f *Factory) OpenState(ctx context.Context, reg *registry.Registry) (wasmcollector.Bookkeeping, error) {
	store, err := wasmcollector.New(reg, &wasmcollector.Options{Logger: f.Logger, Now: f.Now}).State(ctx)
	var ce *wasmcollector.ConfigError
	switch {
	case errors.As(err, &ce):
		return nil, BadInput("%w", err)
	case err != nil:
		return nil, Failed(err)
	}
	return store, nil
}

// Quiet makes the Logger say only what went wrong, and each warning once: its level rises to
// warn unless --log-level or --debug chose one, and a repeated warning or error is dropped
// ([OnceHandler]), and the registry's warnings are not logged (validate shows them). For
// `gather --scheduled`. The returned function undoes it.
func (f *Factory) Quiet() (restore func()) {
	prevLogger, prevQuiet := f.Logger, f.quiet
	f.quiet = true
	var prevLevel slog.Level
	if f.LogLevel != nil {
		prevLevel = f.LogLevel.Level()
		if !f.LogLevelSet && prevLevel < slog.LevelWarn {
			f.LogLevel.Set(slog.LevelWarn)
		}
	}
	if f.Logger != nil {
		f.Logger = slog.New(NewOnceHandler(f.Logger.Handler()))
	}
	return func() {
		f.Logger, f.quiet = prevLogger, prevQuiet
		if f.LogLevel != nil {
			f.LogLevel.Set(prevLevel)
		}
	}
}

// Clock returns the current time in UTC.
func (f *Factory) Clock() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
}

// OutputFormat is the value of -o/--output.
type OutputFormat string

// Output formats every reporting command takes.
const (
	OutputText OutputFormat = "text"
	OutputJSON OutputFormat = "json"
)

// Set implements pflag.Value, rejecting unknown formats with the valid list.
func (o *OutputFormat) Set(s string) error {
	switch OutputFormat(s) {
	case OutputText, OutputJSON:
		*o = OutputFormat(s)
		return nil
	}
	return BadInput("--output %q: must be text or json", s)
}

func (o *OutputFormat) String() string {
	if *o == "" {
		return string(OutputText)
	}
	return string(*o)
}

// Type implements pflag.Value.
func (o *OutputFormat) Type() string { return "format" }

// WriteJSON writes v as one indented JSON document. Characters that do not print plainly on a
// terminal (see [Printable]) are written as \u escapes, which encoding/json leaves raw for
// DEL, C1 controls and bidirectional overrides: the document means the same and is safe to show.
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// escapeJSON rewrites the non-printing characters of b, a document from encoding/json, as \u
// escapes. Outside strings such a document holds only ASCII punctuation, letters, digits, spaces
// and newlines, all printing or layout, so every character changed is inside a string, where a
// \u escape means the character itself.
func escapeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r != '\n' && !printsPlainly(r) }) {
		return b
	}
	out := make([]byte, 0, len(b)+64)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == '\n' || printsPlainly(r) {
			out = append(out, b[:size]...)
		} else if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		b = b[size:]
	}
	return out
}

// TerminalWidth returns the width in columns of the terminal v is, or 0 when v is not a
// terminal or its size is unknown.
func TerminalWidth(v any) int {
	f, ok := v.(*os.File)
	if !ok {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// IsTerminal reports whether v, a reader or writer, is a terminal: for progress displays and
// questions.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// logWarnings logs the registry's warnings. A signature that does not verify is news, not
// advice: logged even when quiet. Modules nothing gathers are one line however many there are (a
// modules directory shared with other builds, as make demo's is, would otherwise open every
// command with a screenful); validate lists each.
func (f *Factory) logWarnings(reg *registry.Registry) {
	var idle []*registry.Problem
	for _, w := range reg.Warnings {
		switch {
		case w.Field == "signature" && w.Code != registry.CodeUnsigned: // logged even when quiet
		case f.quiet:
			continue
		case w.Code == registry.CodeNoSidecar:
			idle = append(idle, w)
			continue
		}
		f.Logger.Warn(w.Error(), "code", string(w.Code))
	}
	switch {
	case len(idle) == 1:
		f.Logger.Warn(idle[0].Error(), "code", string(registry.CodeNoSidecar))
	case len(idle) > 1:
		names := make([]string, len(idle))
		for i, w := range idle {
			names[i] = filepath.Base(w.File)
		}
		f.Logger.Warn(fmt.Sprintf("%d modules in %s have no sidecar and nothing names them, so nothing gathers them: %s (wasmcollector validate lists them)",
			len(idle), filepath.Dir(idle[0].File), strings.Join(names, ", ")), "code", string(registry.CodeNoSidecar))
	}
}
