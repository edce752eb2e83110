package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/iocount"
)

// Version is the record format version this package writes. It reads it and every version from
// [MinVersion]; a record of another version is refused with [ErrVersion]. Version 2 added the
// guest's clock readings and random bytes ("sys" lines); a version 1 record has none, and its
// replay gives the guest the replaying host's clocks and randomness. Version 3 added the guest's
// log lines ("log" lines); a record of an earlier version has none, and its replay does not
// compare them.
const Version = 3

// MinVersion is the oldest record format version this package reads.
const MinVersion = 1

// Header is the first line of a record: the invocation as the host described it to the guest.
type Header struct {
	// Version is the format version, [Version].
	Version int `json:"version"`
	// Recorded is when the invocation started.
	Recorded time.Time `json:"recorded"`
	// Module is the module that ran.
	Module ModuleInfo `json:"module"`
	// Key is the collector key; Format its output format.
	Key    string           `json:"key"`
	Format hostfuncs.Format `json:"format"`
	// Since, Until and FullSync are the slice (slice_bounds).
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	FullSync bool      `json:"full_sync,omitempty"`
	// CollectionType is what collection_type returned.
	CollectionType hostfuncs.CollectionType `json:"collection_type"`
	// Params are the collector's parameters (param, params_json).
	Params map[string]Param `json:"params,omitempty"`
	// Limits are the output limits the invocation ran under.
	Limits hostfuncs.Limits `json:"limits"`
	// Env are the environment variables the module was granted, with their values unless
	// redacted.
	Env []EnvVar `json:"env,omitempty"`
	// DataSources are the names of the data sources granted to the collector.
	DataSources []string `json:"datasources,omitempty"`
	// Mounts are the guest paths of the module's mounts.
	Mounts []string `json:"mounts,omitempty"`
	// Timeout and StdioLimit are the invocation's bounds.
	Timeout    time.Duration `json:"timeout,omitempty"`
	StdioLimit int64         `json:"stdio_limit,omitempty"`
	// MaxBytes is the size cap the record was written under.
	MaxBytes int64 `json:"max_bytes"`
}

// ModuleInfo identifies the module of a recorded invocation.
type ModuleInfo struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Source is the module file the operator installed when Path is the host's private copy of
	// it (serve runs copies): replay falls back to it once the copy is gone.
	Source      string `json:"source,omitempty"`
	SHA256      string `json:"sha256"`
	Function    string `json:"function"`
	MemoryLimit uint64 `json:"memory_limit,omitempty"`
}

// EnvVar is one granted environment variable. Redacted ones have no value in the record.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"value,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

// Query is one data call of the guest (db_query, db_query_rows, db_stream_csv or
// db_stream_csv_transform) and the answer the data source gave.
type Query struct {
	N      int         `json:"q"`
	Call   string      `json:"call"` // "query" (rows) or "stream_csv"
	Source string      `json:"source"`
	SQL    string      `json:"sql"`
	Params QueryParams `json:"params"`
	// Columns and Rows are a "query" answer; CSV the writes of a "stream_csv" answer.
	Columns []hostfuncs.Column `json:"-"`
	Rows    [][]any            `json:"-"`
	CSV     [][]byte           `json:"-"`
	End     QueryEnd           `json:"-"`
	ended   bool
	// sawColumns: the columns line was read (kept in the spill, not in Columns, for a replay).
	sawColumns bool
	// key is the query's match key (queryKey), set when the record was read for a replay, whose
	// Query keeps only the first 200 characters of SQL and no Params; ext is where its answer
	// (the columns, then each row, or each CSV write) is in the spill.
	key string
	ext []extent
}

// QueryEnd is how a recorded query ended.
type QueryEnd struct {
	N        int    `json:"q"`
	Rows     int64  `json:"rows"`
	Error    string `json:"error,omitempty"`
	TooLarge bool   `json:"too_large,omitempty"`
	// Abandoned: the guest stopped reading before the end (a newer query, or its return); rows
	// after the recorded ones were never read.
	Abandoned bool `json:"abandoned,omitempty"`
}

// Result is the outcome of the recorded invocation: what its output was.
type Result struct {
	SHA256        string `json:"sha256"`
	Bytes         int64  `json:"bytes"`
	Rows          int64  `json:"rows"`
	JSONDocuments int    `json:"json_documents"`
	ReturnCode    int32  `json:"return_code,omitempty"`
	Error         string `json:"error,omitempty"`
	// Kind is how a failed invocation failed (one of the Kind constants, such as [KindTimeout]);
	// "" when it succeeded, or in a record written before kinds were recorded.
	Kind string `json:"kind,omitempty"`
	// Finalized says the process that recorded the invocation ended before it closed the record
	// (killed at a deadline or cap, or crashed), and the host wrote this line and the end line
	// from what that process had flushed. SHA256 is then "" unless the output's bytes were
	// recorded: what the guest wrote last may not have reached the file.
	Finalized bool `json:"finalized,omitempty"`
	// OutputRecorded says the output's bytes are in the record (out lines).
	OutputRecorded bool `json:"output_recorded"`
}

// End is the last line: whether the record is complete and how big it is.
type End struct {
	Complete bool `json:"complete"`
	// Reason says why an incomplete record stopped (the size cap).
	Reason string `json:"reason,omitempty"`
	// Bytes is the uncompressed size of the lines before this one; Lines their number.
	Bytes int64 `json:"bytes"`
	Lines int64 `json:"lines"`
}

// File is one file or directory the guest opened on a mount.
type File struct {
	Mount   string     `json:"mount"`
	Path    string     `json:"path"`
	Dir     bool       `json:"dir,omitempty"`
	Entries []DirEntry `json:"entries,omitempty"`
	Data    []byte     `json:"-"`
	// ext is where Data is in the spill of a record read for a replay (Data is nil then).
	ext []extent
}

// DirEntry is a directory entry of a recorded directory.
type DirEntry struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir,omitempty"`
}

// Record is a whole record, read back.
type Record struct {
	Header  Header
	Queries []*Query
	Files   []*File
	// Output is the recorded output, nil unless Result.OutputRecorded.
	Output []byte
	Result Result
	End    End
	// Size is the record file's size in bytes (compressed).
	Size int64
	// Sys is the guest's clock readings and random bytes; nil in a version 1 record.
	Sys *SysRecord
	// spill holds the answers, files and output of a record read for a replay (openRecord); nil
	// for ReadFile, which keeps them in Queries, Files and Output.
	spill *spill
	// outExt is where the recorded output is in the spill, when Result.OutputRecorded.
	outExt []extent
	// Logs are the guest's log lines (version 3 onward), in order; a record read for a replay
	// keeps only their digest, logs (nil before version 3).
	Logs []LogLine
	logs *logDigest
}

// Errors a reader returns, for errors.Is.
var (
	// ErrVersion: the record has a format version this host does not read.
	ErrVersion = errors.New("unsupported record version")
	// ErrCorrupt: the record is not a well-formed record (bad gzip, bad line, truncated).
	ErrCorrupt = errors.New("corrupt record")
	// ErrIncomplete: the record stopped at its size cap and cannot be replayed.
	ErrIncomplete = errors.New("incomplete record")
)

// Line bodies of the kinds that carry data. Each line is {"k": kind, …the body's fields}.
type (
	columnsLine struct {
		Q       int                `json:"q"`
		Columns []hostfuncs.Column `json:"columns"`
	}
	rowLine struct {
		Q int    `json:"q"`
		V []any  `json:"v"`
		T string `json:"t"`
	}
	// dataLine is a CSV write (with Q), an output write, or a file's contents (with File).
	dataLine struct {
		Q int `json:"q,omitempty"`
		*File
		S *string `json:"s,omitempty"` // the bytes, when they are UTF-8
		X *string `json:"x,omitempty"` // the bytes in base64, when they are not
	}
)

// Line kinds.
const (
	kindInvocation = "invocation"
	kindQuery      = "query"
	kindColumns    = "columns"
	kindRow        = "row"
	kindCSV        = "csv"
	kindEndQuery   = "end_query"
	kindFile       = "file"
	kindOut        = "out"
	kindResult     = "result"
	kindSys        = "sys"
	kindLog        = "log"
	kindEnd        = "end"
)

// newData puts b in a data line as text when it is UTF-8, else as base64: JSON strings cannot
// hold other bytes unchanged.
func newData(b []byte) *dataLine {
	l := &dataLine{}
	if utf8.Valid(b) {
		s := string(b)
		l.S = &s
		return l
	}
	x := base64.StdEncoding.EncodeToString(b)
	l.X = &x
	return l
}

func (l *dataLine) bytes() ([]byte, error) {
	switch {
	case l.S != nil:
		return []byte(*l.S), nil
	case l.X != nil:
		return base64.StdEncoding.DecodeString(*l.X)
	}
	return nil, nil
}

// encodeLine appends {"k":kind,…body…} and a newline to buf.
func encodeLine(buf *bytes.Buffer, kind string, body any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return err
	}
	raw := bytes.TrimSpace(b.Bytes())
	if len(raw) < 2 || raw[0] != '{' {
		return fmt.Errorf("line body of kind %s is not an object", kind)
	}
	buf.WriteString(`{"k":"` + kind + `"`)
	if len(raw) > 2 {
		buf.WriteByte(',')
	}
	buf.Write(raw[1:])
	buf.WriteByte('\n')
	return nil
}

// trailerReserve is room kept under the cap for the result and end lines.
const trailerReserve = 8 << 10

// flushEvery bounds the uncompressed bytes the compressor may hold (a sixteenth of the cap when
// that is less): the size of the file is then known within that much, so the cap holds.
const flushEvery = 256 << 10

// writer writes a record's lines to a gzip'd file, under a size cap. It is safe for concurrent
// use (a db_query_rows cursor runs its query on its own goroutine).
type writer struct {
	mu sync.Mutex
	// beforeFlush, when set (under mu), is called before each periodic flush, without mu: the
	// clock recorder writes its pending readings.
	beforeFlush func()
	done        chan struct{} // closed by close: stops the periodic flush
	ended       bool          // the end line is written: nothing follows
	f           *os.File
	cw          iocount.Writer
	gz          *gzip.Writer
	max         int64
	raw         int64 // uncompressed bytes written
	pending     int64 // uncompressed bytes since the last flush
	lines       int64
	full        bool
	reason      string
	err         error
	buf         bytes.Buffer
}

// create starts a record file at path, capped at max bytes (compressed).
func create(path string, max int64) (*writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create record: %w", err)
	}
	w := &writer{f: f, max: max, done: make(chan struct{})}
	w.cw.W = f
	w.gz, _ = gzip.NewWriterLevel(&w.cw, gzip.BestSpeed)
	go w.flushLoop()
	return w, nil
}

// flushInterval is how long a line may wait in the compressor: a recording process killed at
// its deadline (or crashing) leaves everything written more than this before on disk, decodable,
// for the host to finalise ([Finalize]). Flushing at every line instead would cost compression:
// each flush ends a deflate block.
const flushInterval = 100 * time.Millisecond

func (w *writer) flushLoop() {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.mu.Lock()
			hook := w.beforeFlush
			w.mu.Unlock()
			if hook != nil {
				hook()
			}
			w.mu.Lock()
			w.flushLocked()
			w.mu.Unlock()
		}
	}
}

// flushLocked pushes what the compressor holds to the file; w.mu is held.
func (w *writer) flushLocked() {
	if w.pending == 0 || w.err != nil || w.ended {
		return
	}
	if err := w.gz.Flush(); err != nil {
		w.err = fmt.Errorf("write record: %w", err)
		return
	}
	w.pending = 0
}

// flush pushes what the compressor holds to the file at once: after the header, and when an
// answer is complete, so that a process killed right after serving it leaves it on disk.
func (w *writer) flush() {
	w.mu.Lock()
	w.flushLocked()
	w.mu.Unlock()
}

// write appends one line; false once the record has stopped (cap reached or write error).
func (w *writer) write(kind string, body any) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full || w.err != nil {
		return false
	}
	w.buf.Reset()
	if err := encodeLine(&w.buf, kind, body); err != nil {
		w.err = fmt.Errorf("record line %d: %w", w.lines+1, err)
		return false
	}
	n := int64(w.buf.Len())
	if w.cw.N+w.pending+n+trailerReserve > w.max {
		w.stopLocked(fmt.Sprintf("the record reached its size cap of %d bytes after %d lines", w.max, w.lines))
		return false
	}
	return w.emit()
}

// stop ends the record early, for reason.
func (w *writer) stop(reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked(reason)
}

// stopLocked ends the record early and writes its end line (complete=false) at once, flushed: a
// process that then dies leaves a record that says it is incomplete, which the host's
// finalising keeps as it is. w.mu is held.
func (w *writer) stopLocked(reason string) {
	if w.full || w.err != nil {
		return
	}
	w.full, w.reason = true, reason
	w.writeEndLocked(false)
	w.flushLocked()
}

// writeEndLocked writes the end line; w.mu is held.
func (w *writer) writeEndLocked(complete bool) {
	end := &End{Complete: complete, Reason: w.reason, Bytes: w.raw, Lines: w.lines}
	w.buf.Reset()
	if err := encodeLine(&w.buf, kindEnd, end); err == nil && w.emit() {
		w.ended = true
	}
}

// stopped reports whether the record stopped early, and why.
func (w *writer) stopped() (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.full, w.reason
}

func (w *writer) emit() bool {
	if w.ended {
		return false
	}
	if _, err := w.gz.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write record: %w", err)
		return false
	}
	n := int64(w.buf.Len())
	w.raw += n
	w.pending += n
	w.lines++
	if w.pending >= min(flushEvery, max(w.max/16, 4<<10)) {
		if err := w.gz.Flush(); err != nil {
			w.err = fmt.Errorf("write record: %w", err)
			return false
		}
		w.pending = 0
	}
	return true
}

// close writes the result and end lines and closes the file. It returns the file's size and
// whether the record is complete.
func (w *writer) close(res *Result) (int64, bool, error) {
	close(w.done)
	w.mu.Lock()
	defer w.mu.Unlock()
	complete := !w.full && w.err == nil
	if w.err == nil && !w.ended {
		// The trailer goes in even past the cap: trailerReserve was kept for it.
		w.buf.Reset()
		if err := encodeLine(&w.buf, kindResult, res); err == nil {
			w.emit()
		}
		w.writeEndLocked(complete)
	}
	err := w.err
	if cerr := w.gz.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("write record: %w", cerr)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("write record: %w", cerr)
	}
	return w.cw.N, complete, err
}

// DefaultMaxLine caps one line of a record read back, and MaxRecordBytes the uncompressed size of
// a whole record: a hostile file cannot make the reader hold more.
const (
	DefaultMaxLine = 256 << 20
	MaxRecordBytes = 4 << 30
)

// ReadFile reads a whole record. A file that is not a complete, well-formed record of this
// version is refused with an error naming the file and what is wrong (errors.Is finds
// [ErrCorrupt], [ErrVersion] or [ErrIncomplete]).
func ReadFile(path string) (*Record, error) {
	return readFile(path, nil)
}

// openRecord reads the record at path for a replay: every rule is checked as ReadFile checks
// it, but the answers, mount files and output go to a spill file in dir (the system's temporary
// directory when ""), read back as the replay needs them, so that memory does not grow with the
// record. Close the record's spill when done.
func openRecord(path, dir string) (*Record, error) {
	sp, err := newSpill(dir)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	rec, err := readFile(path, sp)
	if err != nil {
		sp.close()
		return nil, err
	}
	return rec, nil
}

func readFile(path string, sp *spill) (*Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("record %s: %w: not a regular file", path, ErrCorrupt)
	}
	rec, err := read(f, sp)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	rec.Size = st.Size()
	return rec, nil
}

// decodeBody decodes a line's body (its k field is ignored), numbers as json.Number.
func decodeBody(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// read reads and checks a record. With sp, the bulk of it (rows, CSV writes, mount files, the
// output) goes to sp instead of the Record, which keeps only a small index per data call.
func read(r io.Reader, sp *spill) (*Record, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not gzip data: %v", ErrCorrupt, err)
	}
	gz.Multistream(false)
	br := bufio.NewReaderSize(io.LimitReader(gz, MaxRecordBytes+1), 64<<10)
	rec := &Record{spill: sp}
	queries := map[int]*Query{}
	var total int64
	var out bytes.Buffer
	var sawResult bool
	for n := int64(1); ; n++ {
		b, err := readLine(br, DefaultMaxLine)
		if err == io.EOF {
			if n == 1 {
				return nil, fmt.Errorf("%w: empty record", ErrCorrupt)
			}
			return nil, fmt.Errorf("%w: truncated after line %d (no end line)", ErrCorrupt, n-1)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrCorrupt, n, err)
		}
		total += int64(len(b))
		if total > MaxRecordBytes {
			return nil, fmt.Errorf("%w: over %d bytes uncompressed", ErrCorrupt, int64(MaxRecordBytes))
		}
		var k struct {
			K string `json:"k"`
		}
		if err := json.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrCorrupt, n, err)
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d (%s): %s", ErrCorrupt, n, k.K, fmt.Sprintf(format, args...))
		}
		if n == 1 {
			if k.K != kindInvocation {
				return nil, fmt.Errorf("%w: line 1 is %q, not the invocation header", ErrCorrupt, k.K)
			}
			if err := decodeBody(b, &rec.Header); err != nil {
				return nil, bad("%v", err)
			}
			if v := rec.Header.Version; v < MinVersion || v > Version {
				return nil, fmt.Errorf("%w: format version %d; this wasmcollector reads versions %d to %d", ErrVersion, v, MinVersion, Version)
			}
			if rec.Header.Version >= 2 {
				rec.Sys = &SysRecord{}
			}
			if rec.Header.Version >= 3 {
				rec.logs = newLogDigest()
			}
			continue
		}
		if sawResult && k.K != kindEnd {
			return nil, bad("line after the result")
		}
		query := func(q int) (*Query, error) {
			qq := queries[q]
			if qq == nil {
				return nil, bad("query %d was not announced", q)
			}
			if qq.ended {
				return nil, bad("query %d already ended", q)
			}
			return qq, nil
		}
		switch k.K {
		case kindQuery:
			q := &Query{}
			if err := decodeBody(b, q); err != nil {
				return nil, bad("%v", err)
			}
			if q.N <= 0 || queries[q.N] != nil {
				return nil, bad("missing or repeated query number %d", q.N)
			}
			if q.Call != callQuery && q.Call != callStreamCSV {
				return nil, bad("unknown call %q", q.Call)
			}
			if q.Params, err = q.Params.normalize(); err != nil {
				return nil, bad("%v", err)
			}
			if sp != nil {
				// A replay matches calls by key and names a recorded statement only in part.
				q.key = queryKey(q.Call, q.Source, q.SQL, q.Params)
				q.SQL, q.Params = oneLine(q.SQL), nil
			}
			queries[q.N] = q
			rec.Queries = append(rec.Queries, q)
		case kindColumns:
			var l columnsLine
			if err := decodeBody(b, &l); err != nil {
				return nil, bad("%v", err)
			}
			q, err := query(l.Q)
			if err != nil {
				return nil, err
			}
			if q.Call != callQuery || q.sawColumns {
				return nil, bad("columns out of place")
			}
			q.sawColumns = true
			if sp != nil {
				if err := sp.add(q.N, b); err != nil {
					return nil, err
				}
				break
			}
			q.Columns = l.Columns
			if q.Columns == nil {
				q.Columns = []hostfuncs.Column{}
			}
		case kindRow:
			var l rowLine
			if err := decodeBody(b, &l); err != nil {
				return nil, bad("%v", err)
			}
			q, err := query(l.Q)
			if err != nil {
				return nil, err
			}
			if !q.sawColumns {
				return nil, bad("row before columns")
			}
			vals, err := decodeValues(l.V, l.T)
			if err != nil {
				return nil, bad("%v", err)
			}
			if sp != nil {
				// Checked here, decoded again when served.
				if err := sp.add(q.N, b); err != nil {
					return nil, err
				}
				break
			}
			q.Rows = append(q.Rows, vals)
		case kindCSV, kindOut, kindFile:
			var l dataLine
			if err := decodeBody(b, &l); err != nil {
				return nil, bad("%v", err)
			}
			data, err := l.bytes()
			if err != nil {
				return nil, bad("%v", err)
			}
			switch k.K {
			case kindCSV:
				q, err := query(l.Q)
				if err != nil {
					return nil, err
				}
				if q.Call != callStreamCSV {
					return nil, bad("CSV in a query of call %q", q.Call)
				}
				if sp != nil {
					if err := sp.add(q.N, data); err != nil {
						return nil, err
					}
					break
				}
				q.CSV = append(q.CSV, data)
			case kindOut:
				if sp != nil {
					if err := sp.addBytes(spillOutput, data, false); err != nil {
						return nil, err
					}
					break
				}
				out.Write(data)
			case kindFile:
				if l.File == nil || l.File.Mount == "" {
					return nil, bad("no mount")
				}
				if sp != nil {
					if l.File.ext, err = sp.whole(data); err != nil {
						return nil, err
					}
				} else {
					l.File.Data = data
				}
				rec.Files = append(rec.Files, l.File)
			}
		case kindSys:
			if rec.Sys == nil {
				return nil, bad("clock readings in a version %d record", rec.Header.Version)
			}
			var l sysLine
			if err := decodeBody(b, &l); err != nil {
				return nil, bad("%v", err)
			}
			st := &rec.Sys.Call
			if l.Init {
				st = &rec.Sys.Init
			}
			if err := decodeSysLine(&l, st); err != nil {
				return nil, bad("%v", err)
			}
			if l.Stopped != "" && !l.Init && rec.Sys.Init.Stopped == "" {
				rec.Sys.Init.Stopped = l.Stopped // the bound stops both phases
			}
		case kindLog:
			if rec.logs == nil {
				return nil, bad("log lines in a version %d record", rec.Header.Version)
			}
			var l LogLine
			if err := decodeBody(b, &l); err != nil {
				return nil, bad("%v", err)
			}
			if l.Stream != streamLog && l.Stream != streamStdout && l.Stream != streamStderr {
				return nil, bad("unknown stream %q", l.Stream)
			}
			rec.logs.add(&l)
			if sp == nil {
				rec.Logs = append(rec.Logs, l)
			}
		case kindEndQuery:
			var e QueryEnd
			if err := decodeBody(b, &e); err != nil {
				return nil, bad("%v", err)
			}
			q, err := query(e.N)
			if err != nil {
				return nil, err
			}
			q.End, q.ended = e, true
			if sp != nil {
				if q.ext, err = sp.done(q.N); err != nil {
					return nil, err
				}
			}
		case kindResult:
			if err := decodeBody(b, &rec.Result); err != nil {
				return nil, bad("%v", err)
			}
			sawResult = true
			if sp != nil {
				if rec.outExt, err = sp.done(spillOutput); err != nil {
					return nil, err
				}
				break
			}
			if rec.Result.OutputRecorded {
				rec.Output = bytes.Clone(out.Bytes())
				if rec.Output == nil {
					rec.Output = []byte{}
				}
			}
		case kindEnd:
			if err := decodeBody(b, &rec.End); err != nil {
				return nil, bad("%v", err)
			}
			if !rec.End.Complete {
				return rec, fmt.Errorf("%w: %s", ErrIncomplete, rec.End.Reason)
			}
			if !sawResult {
				return nil, bad("no result line before the end")
			}
			if rec.End.Lines != n-1 {
				return nil, bad("the end line counts %d lines before it, the record has %d", rec.End.Lines, n-1)
			}
			if _, err := readLine(br, 1); err != io.EOF {
				return nil, bad("data after the end line")
			}
			for _, q := range rec.Queries {
				if !q.ended {
					return nil, fmt.Errorf("%w: query %d has no end line", ErrCorrupt, q.N)
				}
			}
			return rec, nil
		default:
			return nil, bad("unknown line kind")
		}
	}
}

// readLine reads one line of at most limit bytes, without its newline.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > limit+1 {
			return nil, fmt.Errorf("line longer than %d bytes", limit)
		}
		switch {
		case err == nil:
			return b[:len(b)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(b) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, errors.New("last line has no newline (truncated)")
		default:
			return nil, err
		}
	}
}
