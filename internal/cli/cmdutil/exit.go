package cmdutil

import (
	"errors"
	"fmt"
)

// Exit codes, one table for every command; shown in `wasmcollector --help` and the README.
const (
	ExitOK       = 0 // done
	ExitFailed   = 1 // the command ran and failed (a collector failed, validation found problems)
	ExitBadInput = 2 // bad flags, TOML or interval; nothing was written
	ExitPartial  = 3 // some collectors or uploads failed, or the bookkeeping could not be saved
	ExitLockHeld = 4 // another gather holds the lock
)

// ExitCodes is the exit-code table as help text.
const ExitCodes = `Exit codes:
  0  ok
  1  failed (a collector failed; validate found problems)
  2  bad input: flags, TOML, interval (nothing written)
  3  failed collectors or uploads, or bookkeeping not saved (shipping stopped)
  4  another gather holds the lock`

// ExitError carries an exit code with the error the CLI prints.
type ExitError struct {
	Code int
	Err  error
	// Usage marks a command line the CLI could not parse (a flag error): it points at --help.
	Usage bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// BadInput wraps err as exit code 2.
func BadInput(format string, args ...any) error {
	return &ExitError{Code: ExitBadInput, Err: fmt.Errorf(format, args...)}
}

// UsageError wraps a command-line error, such as a flag cobra could not parse, as exit code 2
// with the pointer to --help.
func UsageError(err error) error { return &ExitError{Code: ExitBadInput, Err: err, Usage: true} }

// IsUsage reports whether err is a command-line error made by [UsageError].
func IsUsage(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Usage
}

// Failed wraps err as exit code 1.
func Failed(err error) error { return &ExitError{Code: ExitFailed, Err: err} }

// SilentError ends a command with a code after it already printed what went wrong.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Code maps an error to its exit code: ExitError and SilentError carry theirs, anything else is 1.
func Code(err error) int {
	var ee *ExitError
	var se *SilentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.Code
	case errors.As(err, &ee):
		return ee.Code
	default:
		return ExitFailed
	}
}
