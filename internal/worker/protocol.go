package worker

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/replay"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// ProtocolVersion is the version of the framed protocol between the host and its workers. A worker
// announces it in its handshake line; the host refuses a worker that speaks another. Version 2:
// a module error carries its kind (ErrorInfo.ModuleKind).
const ProtocolVersion = 2

// handshake is the first line a worker writes, before any frame (go-plugin's magic-cookie idea:
// a binary started by mistake, or an older one, is refused instead of misread).
var handshake = fmt.Sprintf("wasmcollector-worker %d\n", ProtocolVersion)

// Frame types. Every frame is a 4-byte big-endian length (of type and payload), a type byte and
// the payload. Control payloads are JSON; output payloads are raw writes.
const (
	frameJob    byte = 'J' // host → worker: a Job
	frameLoaded byte = 'L' // worker → host: the module is compiled and checked; the run deadline starts
	frameLog    byte = 'G' // worker → host: one log record
	frameOutput byte = 'O' // worker → host: writes to a streamed output, each uvarint(len) + bytes
	frameResult byte = 'R' // worker → host: the Result; the worker is free again
)

const (
	// maxFrame caps one frame either way: a JSON document is at most 16 MiB (max_json_bytes) and is
	// written in one piece, so a frame must hold it with its length prefix.
	maxFrame = 16<<20 + 1<<10
	// maxControlFrame caps control frames (results, log records) from a worker.
	maxControlFrame = 1 << 20
)

// Job is one invocation, described completely so that a fresh process can run it: nothing is
// shared with the host but the files the job names.
type Job struct {
	// Module is the module to load: path, pin, memory limit, the exports it must have, mounts and
	// the names of granted environment variables.
	Module ModuleSpec `json:"module"`
	// CompileOnly loads and checks the module and runs nothing.
	CompileOnly bool `json:"compile_only,omitempty"`
	// Function is the collector export to call.
	Function string `json:"function,omitempty"`
	// Timeout bounds the invocation from the moment the module is loaded; CompileTimeout bounds
	// loading. The host enforces both by killing the worker.
	Timeout        time.Duration `json:"timeout"`
	CompileTimeout time.Duration `json:"compile_timeout"`
	// StdioLimit caps the guest's stdout and stderr kept.
	StdioLimit int64 `json:"stdio_limit,omitempty"`
	// Request is the invocation's request without its host-only parts (writer, logger, data
	// sources).
	Request Request `json:"request"`
	// DataSources are the data sources granted to the collector, secrets resolved; the worker
	// opens them itself.
	DataSources []datasource.Config `json:"datasources,omitempty"`
	// Output says where the output goes.
	Output Output `json:"output"`
	// Engine is the engine configuration of the worker.
	Engine Engine `json:"engine"`
	// Record, when set, has the worker record the invocation into this file: the host answers
	// the guest here, so this is where its answers can be recorded.
	Record *replay.Spec `json:"record,omitempty"`
}

// ModuleSpec is runtime.ModuleSpec in a form that crosses a process boundary.
type ModuleSpec struct {
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	Source      string            `json:"source,omitempty"` // registry.Module.Source, for records
	SHA256      string            `json:"sha256,omitempty"`
	MemoryLimit uint64            `json:"memory_limit"`
	Functions   []string          `json:"functions,omitempty"`
	Mounts      []runtime.Mount   `json:"mounts,omitempty"`
	Env         map[string]string `json:"env,omitempty"` // granted variables with their values
}

// Engine is the worker's engine configuration.
type Engine struct {
	CacheDir string `json:"cache_dir,omitempty"`
	NoCache  bool   `json:"no_cache,omitempty"`
}

// Request is hostfuncs.Request without its writer, logger and data sources.
type Request struct {
	Key            string                     `json:"key"`
	Format         hostfuncs.Format           `json:"format"`
	Since          time.Time                  `json:"since,omitzero"`
	Until          time.Time                  `json:"until,omitzero"`
	FullSync       bool                       `json:"full_sync,omitempty"`
	CollectionType hostfuncs.CollectionType   `json:"collection_type"`
	Params         map[string]tomlparam.Value `json:"params,omitempty"`
	Limits         hostfuncs.Limits           `json:"limits"`
}

// Output kinds.
const (
	// OutputStream sends every write back to the host, which writes it to the caller's writer.
	OutputStream = "stream"
	// OutputSplit has the worker write the CSV output itself into size-capped part files (a
	// packaging.Splitter in Dir named Name), which the host then adopts: rows never pass through
	// the host.
	OutputSplit = "split"
)

// Output says where an invocation's output goes.
type Output struct {
	Kind     string `json:"kind"`
	Dir      string `json:"dir,omitempty"`
	Name     string `json:"name,omitempty"`
	MaxBytes int64  `json:"max_bytes,omitempty"`
	// Compress, for OutputSplit, has the worker compress each part into its tarball member in
	// the background while the collector runs.
	Compress *packaging.MemberSpec `json:"compress,omitempty"`
}

// Result is what a worker reports for a Job.
type Result struct {
	Elapsed    time.Duration    `json:"elapsed"`
	ReturnCode int32            `json:"return_code"`
	Stdout     runtime.Captured `json:"stdout"`
	Stderr     runtime.Captured `json:"stderr"`
	Report     Report           `json:"report"`
	// Parts are the files an OutputSplit job wrote, in order.
	Parts []packaging.Part `json:"parts,omitempty"`
	// SHA256 is the module's sha256 once it loaded.
	SHA256 string `json:"sha256,omitempty"`
	// Record is what recording the invocation produced (Job.Record); RecordError why it
	// failed.
	Record      *replay.Info `json:"record,omitempty"`
	RecordError string       `json:"record_error,omitempty"`
	// Error is why the job failed; nil when it succeeded.
	Error *ErrorInfo `json:"error,omitempty"`
}

// Report is hostfuncs.Report with its error as data.
type Report struct {
	Rows          int64                   `json:"rows"`
	Bytes         int64                   `json:"bytes"`
	JSONDocuments int                     `json:"json_documents"`
	LogDropped    int                     `json:"log_dropped"`
	FailMessage   string                  `json:"fail_message,omitempty"`
	Refused       *hostfuncs.RefusedError `json:"refused,omitempty"`
}

// Error classes in ErrorInfo.
const (
	classModule     = "module"     // *runtime.ModuleError
	classInvocation = "invocation" // *runtime.InvocationError
	classHost       = "host"       // the worker could not serve the job (data source, output)
)

// ErrorInfo carries a failure across the process boundary.
type ErrorInfo struct {
	Class    string            `json:"class"`
	Kind     runtime.ErrorKind `json:"kind,omitempty"` // for class invocation
	Module   string            `json:"module,omitempty"`
	Function string            `json:"function,omitempty"`
	Message  string            `json:"message"`
	Stderr   string            `json:"stderr,omitempty"`
	// Signal names the signal that ended a worker the host did not kill itself ("killed"), ""
	// otherwise. Set by the host; a worker never sends it.
	Signal string `json:"-"`
	// ModuleKind is the *runtime.ModuleError's kind, for class module (required there).
	ModuleKind runtime.ModuleErrorKind `json:"module_kind,omitempty"`
	// Functions are the *runtime.ModuleError's functions at fault, for module kind export.
	Functions []*runtime.FunctionError `json:"functions,omitempty"`
}

// Err rebuilds the error a worker reported for module (the host's name for it) and function: a
// *runtime.ModuleError with its kind (matching runtime.ErrCompileTimeout for a compile timeout), a
// *runtime.InvocationError with its kind, or a plain error.
func (e *ErrorInfo) Err(module, function string) error {
	switch e.Class {
	case classModule:
		err := errors.New(e.Message)
		if e.ModuleKind == runtime.ModuleCompileTimeout {
			err = fmt.Errorf("%w: %s", runtime.ErrCompileTimeout, e.Message)
		}
		return &runtime.ModuleError{Module: module, Kind: e.ModuleKind, Err: err, Functions: e.Functions}
	case classInvocation:
		return &runtime.InvocationError{Module: module, Function: function, Kind: e.Kind,
			Err: errors.New(e.Message), Stderr: e.Stderr}
	default:
		return errors.New(e.Message)
	}
}

// logRecord is one slog record from the worker.
type logRecord struct {
	Level slog.Level `json:"level"`
	Msg   string     `json:"msg"`
	Attrs []string   `json:"attrs,omitempty"` // key, value, key, value…
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var head [5]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(payload)+1))
	head[4] = typ
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// writeJSON writes one frame with a JSON payload.
func writeJSON(w io.Writer, typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, typ, b)
}

// errFrameTooLarge marks a frame over the reader's cap.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one frame of at most limit bytes into buf (grown as needed) and returns its type
// and payload, which stays valid until the next call with the same buf.
func readFrame(r *bufio.Reader, buf *[]byte, limit int) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(head[:4]))
	if n < 1 || n-1 > limit {
		return 0, nil, fmt.Errorf("%w: %d bytes (limit %d)", errFrameTooLarge, n-1, limit)
	}
	n--
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	p := (*buf)[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("frame of %d bytes: %w", n, err)
	}
	return head[4], p, nil
}
