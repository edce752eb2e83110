package hostfuncs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Format is the kind of output a collector produces.
type Format string

// Output formats.
const (
	FormatJSON Format = "json"
	FormatCSV  Format = "csv"
)

// CollectionType says why the host runs a collector; guests read it with collection_type.
type CollectionType string

// Collection types, with upstream's spelling.
const (
	DryRun    CollectionType = "dry-run"
	Manual    CollectionType = "manual"
	Scheduled CollectionType = "scheduled"
)

func (c CollectionType) code() uint32 {
	switch c {
	case Manual:
		return abi.CollectionManual
	case Scheduled:
		return abi.CollectionScheduled
	default:
		return abi.CollectionDryRun
	}
}

// Limits caps what one invocation may hand over. A zero field means the default.
type Limits struct {
	// MaxJSONBytes caps one JSON document. Default 16 MiB.
	MaxJSONBytes int64
	// MaxBatchBytes caps the encoded argument of one csv_header or csv_rows call. Default 16 MiB.
	MaxBatchBytes int64
	// MaxOutputBytes caps the bytes written to the output (JSON, or CSV header and rows) by the
	// whole invocation. Default 1 GiB.
	MaxOutputBytes int64
	// MaxLogBytes caps the log message bytes of the whole invocation. Default 64 KiB.
	MaxLogBytes int64
}

// The limits ABI.md documents, the defaults of collectors.toml's [limits] table.
const (
	// DefaultMaxJSONBytes caps one JSON document: 16 MiB.
	DefaultMaxJSONBytes = 16 << 20
	// DefaultMaxBatchBytes caps one batch of CSV rows: 16 MiB.
	DefaultMaxBatchBytes = 16 << 20
	// DefaultMaxOutputBytes caps everything one invocation emits: 1 GiB.
	DefaultMaxOutputBytes = 1 << 30
	// DefaultMaxLogBytes caps the log message bytes of one invocation: 64 KiB.
	DefaultMaxLogBytes = 64 << 10
)

// DefaultLimits returns the limits ABI.md documents.
func DefaultLimits() Limits {
	return Limits{MaxJSONBytes: DefaultMaxJSONBytes, MaxBatchBytes: DefaultMaxBatchBytes, MaxOutputBytes: DefaultMaxOutputBytes, MaxLogBytes: DefaultMaxLogBytes}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxJSONBytes <= 0 {
		l.MaxJSONBytes = d.MaxJSONBytes
	}
	if l.MaxBatchBytes <= 0 {
		l.MaxBatchBytes = d.MaxBatchBytes
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	if l.MaxLogBytes <= 0 {
		l.MaxLogBytes = d.MaxLogBytes
	}
	return l
}

// maxMessageBytes caps one log line, one failure message and one parameter name.
const maxMessageBytes = 4 << 10

// Request describes one invocation: which collector, which slice, and where its output goes.
type Request struct {
	// Key is the collector key, used in logs and errors.
	Key string
	// Format selects the functions the guest may call: emit_json for JSON, csv_* for CSV.
	Format Format
	// Since and Until bound the slice; the zero time means unset.
	Since, Until time.Time
	// FullSync tells the guest the host wants its whole full-sync range.
	FullSync bool
	// CollectionType is what collection_type reports. Default DryRun.
	CollectionType CollectionType
	// Params are the collector's TOML parameters, as decoded by the TOML library.
	Params map[string]any
	// Limits caps the output; zero fields take the defaults.
	Limits Limits
	// Output receives what the guest emits. For JSON, the validated document in one Write. For
	// CSV, the header line in the first Write and exactly one encoded row in every later Write,
	// so a splitter can cut files between rows. Required.
	Output io.Writer
	// Logger receives guest log lines. Default slog.Default().
	Logger *slog.Logger
	// DataSources are the data sources granted to the collector, by name; the guest can use no
	// other (it gets status denied).
	DataSources map[string]DataSource
}

// Report counts what an invocation handed over. It is valid once the guest has returned.
type Report struct {
	// Rows is the number of CSV data rows written (the header is not counted).
	Rows int64
	// Bytes is the number of bytes written to the output, header included.
	Bytes int64
	// JSONDocuments is 1 once a JSON document was accepted.
	JSONDocuments int
	// LogDropped counts log messages dropped over the log budget.
	LogDropped int
	// FailMessage is the last message the guest passed to fail, "" if none.
	FailMessage string
	// Refused is the first refused emit (a *RefusedError), nil if none. A refused emit fails the
	// invocation: see ABI.md "Refused output fails the invocation".
	Refused error
}

// Invocation is the state of one running invocation. It is created per (collector, slice), used by
// one guest instance at a time (wazero calls host functions on the guest's goroutine), and not
// reused.
type Invocation struct {
	req    Request
	limits Limits
	log    *slog.Logger

	headerCols int // 0 until csv_header succeeded
	batches    int64
	report     Report
	logBytes   int64
	failed     bool
	code       int32
	rowBuf     []byte      // scratch: the encoded header
	headerLine []byte      // the header as written, for streams that repeat it
	dbResult   []byte      // the last db_query result, until db_result copies it
	rows       *rowsCursor // the last db_query_rows result, until read to its end
	lastError  string      // why the last data call failed
	batchBuf   []byte      // scratch: one encoded batch
	rowEnds    []int       // scratch: where each row of batchBuf ends
	fields     []field     // scratch: one decoded row
	params     *paramTable
}

// NewInvocation returns the state for one invocation of req.
func NewInvocation(req Request) *Invocation {
	l := req.Logger
	if l == nil {
		l = slog.Default()
	}
	if req.CollectionType == "" {
		req.CollectionType = DryRun
	}
	return &Invocation{req: req, limits: req.Limits.withDefaults(), log: l.With("collector", req.Key, "source", "guest")}
}

// Request returns the request the invocation was made from.
func (inv *Invocation) Request() Request { return inv.req }

// Report returns the counts so far.
func (inv *Invocation) Report() Report { return inv.report }

// Err returns why the invocation must count as failed from the host's side, even if the guest
// returned 0: a refused emit, or a call to fail. It returns nil otherwise.
func (inv *Invocation) Err() error {
	if inv.report.Refused != nil {
		return inv.report.Refused
	}
	if inv.failed {
		return &GuestFailure{Message: inv.report.FailMessage, Code: inv.code}
	}
	return nil
}

// GuestFailure is a failure the guest reported itself, with fail or a non-zero return code.
type GuestFailure struct {
	Message string // from fail, "" if the guest gave none
	Code    int32  // the export's return code, 0 if the failure came from fail alone
}

func (e *GuestFailure) Error() string {
	switch {
	case e.Message != "" && e.Code != 0:
		return fmt.Sprintf("collector failed (code %d): %s", e.Code, e.Message)
	case e.Message != "":
		return "collector failed: " + e.Message
	default:
		return fmt.Sprintf("collector returned %d", e.Code)
	}
}

// RefusedError is an emit the host refused; it fails the invocation when the guest returns.
type RefusedError struct {
	Func   string     // ABI function name
	Status abi.Status // what the guest was told
	Reason string     // why, e.g. "row 3 has 7 fields, header has 6"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %s (status %s)", e.Func, e.Reason, e.Status)
}

// TrapError ends an invocation whose guest passed a pointer outside its memory. It reaches the
// caller wrapped in the error wazero returns; use errors.As.
type TrapError struct {
	Func   string // ABI function name
	Reason string // e.g. "ptr 4294967280 + len 100 is outside memory of 1114112 bytes"
}

func (e *TrapError) Error() string { return e.Func + ": " + e.Reason }

// OutputError ends an invocation whose output could not be written (disk full, closed pipe). It is
// the host's failure, not the guest's.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return "write output: " + e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// refuse records a refused emit and returns the status to hand to the guest.
func (inv *Invocation) refuse(fn string, st abi.Status, format string, args ...any) uint32 {
	if inv.report.Refused == nil {
		inv.report.Refused = &RefusedError{Func: fn, Status: st, Reason: fmt.Sprintf(format, args...)}
	}
	return uint32(st)
}

func (inv *Invocation) write(p []byte) {
	if _, err := inv.req.Output.Write(p); err != nil {
		panic(&OutputError{Err: err})
	}
	inv.report.Bytes += int64(len(p))
}

// SetReturnCode records the export's return code; a non-zero code marks the invocation failed.
func (inv *Invocation) SetReturnCode(code int32) {
	inv.code = code
	if code != 0 {
		inv.failed = true
	}
}

type invocationKey struct{}

// WithInvocation returns a context carrying inv; pass it to wazero's InstantiateModule and
// Function.Call so the host functions act on inv.
func WithInvocation(ctx context.Context, inv *Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

func invocationFrom(ctx context.Context) *Invocation {
	inv, _ := ctx.Value(invocationKey{}).(*Invocation)
	if inv == nil {
		// A setup bug on the host side, not guest misbehaviour.
		panic(errors.New("hostfuncs: no invocation in context (use hostfuncs.WithInvocation)"))
	}
	return inv
}
