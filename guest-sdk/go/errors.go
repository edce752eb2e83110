package collector

import (
	"errors"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// ErrNoHost is returned by every function that needs the host when the package was built for
// anything but GOOS=wasip1 (go vet, unit tests on the build machine). Inside a wasmcollector host it
// never occurs.
var ErrNoHost = errors.New("collector: not running inside a wasmcollector host")

// Status is the i32 status an ABI v1 host function returns; see "Status codes" in hostfuncs/ABI.md.
// Its String method gives the ABI name, such as "too_large".
type Status = abi.Status

// Statuses a host function can return. A [StatusError] carries one of them.
const (
	StatusOK             = abi.OK             // done
	StatusInvalid        = abi.Invalid        // malformed input: bad JSON, not UTF-8, wrong field count
	StatusTooLarge       = abi.TooLarge       // one item is over its cap (JSON document, batch)
	StatusOverBudget     = abi.OverBudget     // the invocation's output budget is spent
	StatusWrongFormat    = abi.WrongFormat    // a JSON function from a CSV collector, or the reverse
	StatusWrongState     = abi.WrongState     // out of order: rows before the header, a second document
	StatusNotFound       = abi.NotFound       // no such parameter
	StatusBufferTooSmall = abi.BufferTooSmall // the answer did not fit (the SDK retries for you)
	StatusDenied         = abi.Denied         // the collector lacks the capability
	StatusQueryFailed    = abi.QueryFailed    // a data-source query failed; the error says why
)

// statusNoHost is what the !wasip1 stand-ins return; the wrappers turn it into ErrNoHost. No host
// ever returns it.
const statusNoHost = ^uint32(0)

// StatusError reports that a host function refused a call. For the output functions (emit_json,
// csv_header, csv_rows) nothing of that call was written and the host has already recorded the
// invocation as failed, whatever the collector returns; see "Refused output fails the invocation"
// in hostfuncs/ABI.md. Use [errors.As] to inspect it.
type StatusError struct {
	// Func is the ABI function that refused, such as "csv_rows".
	Func string
	// Status is what it returned; never StatusOK.
	Status Status
	// Reason is the host's explanation, for data calls (from last_error); "" otherwise.
	Reason string
}

// Error returns a message such as "wasmcollector: csv_rows: over_budget", followed by the host's
// reason for data calls ("wasmcollector: db_query: query_failed: …").
func (e *StatusError) Error() string {
	msg := "wasmcollector: " + e.Func + ": " + e.Status.String()
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// statusErr turns a host function's status into nil, ErrNoHost or a *StatusError.
func statusErr(fn string, st uint32) error {
	switch {
	case st == uint32(abi.OK):
		return nil
	case st == statusNoHost:
		return ErrNoHost
	default:
		return &StatusError{Func: fn, Status: Status(st)}
	}
}
