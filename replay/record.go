package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// The calls a recorded query answers.
const (
	callQuery     = "query"      // db_query, db_query_rows, db_stream_csv_transform: typed rows
	callStreamCSV = "stream_csv" // db_stream_csv: the data source's CSV
)

// Options say how invocations are recorded.
type Options struct {
	// Secrets records the values of the module's environment variables; by default only their
	// names are recorded.
	Secrets bool
	// Output records the output's bytes, not only its sha256, so that a replay can show a diff.
	Output bool
	// MaxBytes caps one record file (compressed); 0 means [DefaultMaxBytes]. For a gather it is
	// the cap of the whole recording.
	MaxBytes int64
	// FailuresOnly keeps only the records of invocations that failed: a gather's [Recorder]
	// removes the record of each invocation the gather settles as a success
	// ([Recorder.Settle]), and gives its room back to the cap.
	FailuresOnly bool
}

// DefaultMaxBytes is the default cap of a recording: 256 MiB.
const DefaultMaxBytes = 256 << 20

// minRecordBytes is the least room an invocation is recorded with: below it, the header and
// trailer alone would not fit.
const minRecordBytes = 32 << 10

// Spec says where and how one invocation is recorded; it crosses to a worker process as JSON.
type Spec struct {
	Path     string `json:"path"`
	MaxBytes int64  `json:"max_bytes"`
	Secrets  bool   `json:"secrets,omitempty"`
	Output   bool   `json:"output,omitempty"`
}

// Info is what recording one invocation produced.
type Info struct {
	// Path is the record file; Bytes its size.
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	// Complete is false when the record stopped at its size cap (Reason says so).
	Complete bool   `json:"complete"`
	Reason   string `json:"reason,omitempty"`
}

// Invocation records one invocation. Wrap the data sources with [Invocation.Source], the output
// with [Invocation.Output] and the mounts with [Invocation.MountFS], run the invocation, then
// [Invocation.Close].
type Invocation struct {
	w    *writer
	spec Spec
	mu   sync.Mutex // guards next: queries may start on the cursor's goroutine
	next int
	out  *outputRecorder
	sys  *sysRecorder
}

// Start begins the record of one invocation at spec.Path with hdr as its header (Version and
// MaxBytes are filled in). Environment values in hdr are removed unless spec.Secrets.
func Start(spec Spec, hdr Header) (*Invocation, error) {
	if spec.MaxBytes <= 0 {
		spec.MaxBytes = DefaultMaxBytes
	}
	hdr.Version, hdr.MaxBytes = Version, spec.MaxBytes
	env := make([]EnvVar, len(hdr.Env))
	for i, e := range hdr.Env {
		if !spec.Secrets {
			e = EnvVar{Name: e.Name, Redacted: true}
		}
		env[i] = e
	}
	sort.Slice(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	hdr.Env = env
	w, err := create(spec.Path, spec.MaxBytes)
	if err != nil {
		return nil, err
	}
	if !w.write(kindInvocation, &hdr) {
		_, _, err := w.close(&Result{})
		os.Remove(spec.Path) // a record without its header is of no use
		if err == nil {
			err = fmt.Errorf("record %s: the header alone is over the size cap of %d bytes", spec.Path, spec.MaxBytes)
		}
		return nil, err
	}
	w.flush() // a process that dies at once still leaves a record the host can finalise
	r := &Invocation{w: w, spec: spec, sys: newSysRecorder(w, spec.MaxBytes)}
	w.mu.Lock()
	w.beforeFlush = r.sys.emit
	w.mu.Unlock()
	return r, nil
}

// Sys is the guest's clocks and randomness, recorded: pass it as the runtime.Call's Sys.
func (r *Invocation) Sys() runtime.Sys { return r.sys }

// flush writes the pending clock readings, then pushes the record to the file: an answer is
// whole, and must be on disk, with what the guest read before it, before the guest gets it.
func (r *Invocation) flush() {
	r.sys.emit()
	r.w.flush()
}

// Sources wraps every granted data source.
func (r *Invocation) Sources(srcs map[string]hostfuncs.DataSource) map[string]hostfuncs.DataSource {
	if srcs == nil {
		return nil
	}
	out := make(map[string]hostfuncs.DataSource, len(srcs))
	for name, s := range srcs {
		out[name] = &recordingSource{r: r, name: name, src: s}
	}
	return out
}

// Output wraps the invocation's output: what passes is hashed and, with Spec.Output, recorded.
// The wrapper keeps each Write's bounds.
func (r *Invocation) Output(w io.Writer) io.Writer {
	r.out = &outputRecorder{r: r, w: w, h: sha256.New()}
	return r.out
}

// Close writes the outcome (the report of the invocation and its error, if any) and closes the
// record.
func (r *Invocation) Close(rep hostfuncs.Report, code int32, invErr error) (Info, error) {
	res := &Result{Bytes: rep.Bytes, Rows: rep.Rows, JSONDocuments: rep.JSONDocuments, ReturnCode: code, OutputRecorded: r.spec.Output}
	if r.out != nil {
		res.SHA256 = hex.EncodeToString(r.out.h.Sum(nil))
		if r.out.dropped {
			res.OutputRecorded = false
		}
	} else {
		res.SHA256 = hex.EncodeToString(sha256.New().Sum(nil))
	}
	if invErr != nil {
		res.Error, res.Kind = invErr.Error(), ErrorKind(invErr)
	}
	r.sys.emit()
	size, complete, err := r.w.close(res)
	_, reason := r.w.stopped()
	return Info{Path: r.spec.Path, Bytes: size, Complete: complete, Reason: reason}, err
}

func (r *Invocation) query(call, source, sql string, params map[string]any) (int, bool) {
	p, err := encodeQueryParams(params)
	if err != nil {
		// A value no data source takes: the source refuses it too; recorded without it.
		p = QueryParams{{"?", "s", err.Error()}}
	}
	r.mu.Lock()
	r.next++
	n := r.next
	r.mu.Unlock()
	return n, r.w.write(kindQuery, &Query{N: n, Call: call, Source: source, SQL: sql, Params: p})
}

// recordingSource answers as its source does and records the answer.
type recordingSource struct {
	r    *Invocation
	name string
	src  hostfuncs.DataSource
}

// errAbandoned tells the end of a query the guest stopped reading from the source's own failures.
var errAbandoned = errors.New("abandoned")

func (s *recordingSource) Query(ctx context.Context, sql string, params map[string]any, columns func([]hostfuncs.Column) error, row func([]any) error) error {
	q, ok := s.r.query(callQuery, s.name, sql, params)
	var rows int64
	var stopped error // an error of the host's callback, not of the source
	err := s.src.Query(ctx, sql, params, func(cols []hostfuncs.Column) error {
		if ok {
			ok = s.r.w.write(kindColumns, &columnsLine{Q: q, Columns: cols})
		}
		if err := columns(cols); err != nil {
			stopped = err
			return err
		}
		return nil
	}, func(vals []any) error {
		if ok {
			v, t, err := encodeValues(vals)
			if err != nil {
				// Recording must not change what the guest gets: the record stops instead.
				s.r.w.stop(fmt.Sprintf("query %d: a value the record cannot hold: %v", q, err))
				ok = false
			} else {
				ok = s.r.w.write(kindRow, &rowLine{Q: q, V: v, T: t})
			}
		}
		if err := row(vals); err != nil {
			stopped = err
			return err
		}
		rows++
		return nil
	})
	end := &QueryEnd{N: q, Rows: rows}
	if err != nil {
		// A callback's error is the host's own decision (the guest moved on, or the result grew
		// over the host's cap): a replay makes it again from the same rows.
		end.Error, end.Abandoned = err.Error(), stopped != nil
		end.TooLarge = stopped == nil && errors.Is(err, hostfuncs.ErrResultTooLarge)
	}
	s.r.w.write(kindEndQuery, end)
	s.r.flush() // the answer is whole: on disk before the guest gets it
	return err
}

func (s *recordingSource) StreamCSV(ctx context.Context, sql string, params map[string]any, w io.Writer) (int64, error) {
	q, ok := s.r.query(callStreamCSV, s.name, sql, params)
	tw := &csvTee{r: s.r, q: q, ok: ok, w: w}
	n, err := s.src.StreamCSV(ctx, sql, params, tw)
	end := &QueryEnd{N: q, Rows: n}
	if err != nil {
		end.Error, end.TooLarge = err.Error(), errors.Is(err, hostfuncs.ErrResultTooLarge)
		end.Abandoned = tw.err != nil // the host's writer stopped the stream
	}
	s.r.w.write(kindEndQuery, end)
	s.r.flush()
	return n, err
}

// csvTee records each CSV write of a stream, then passes it on.
type csvTee struct {
	r   *Invocation
	q   int
	ok  bool
	w   io.Writer
	err error
}

func (t *csvTee) Write(p []byte) (int, error) {
	if t.ok {
		l := newData(p)
		l.Q = t.q
		t.ok = t.r.w.write(kindCSV, l)
	}
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// outputRecorder hashes, and maybe records, what the guest emits.
type outputRecorder struct {
	r       *Invocation
	w       io.Writer
	h       hash.Hash
	dropped bool // recording the bytes stopped at the cap
}

func (o *outputRecorder) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.h.Write(p[:n])
	if o.r.spec.Output && !o.dropped && n > 0 {
		if !o.r.w.write(kindOut, newData(p[:n])) {
			o.dropped = true
		}
	}
	return n, err
}

// MountFS wraps the file system of the mount at guest path mount: every file the guest opens is
// recorded whole, every directory with its entries.
func (r *Invocation) MountFS(mount string, fsys fs.FS) fs.FS {
	return &recordingFS{r: r, mount: mount, fsys: fsys, seen: map[string]bool{}}
}

type recordingFS struct {
	r     *Invocation
	mount string
	fsys  fs.FS
	mu    sync.Mutex
	seen  map[string]bool
}

func (f *recordingFS) Open(name string) (fs.File, error) {
	file, err := f.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	first := !f.seen[name]
	f.seen[name] = true
	f.mu.Unlock()
	if first {
		f.record(name)
	}
	return file, nil
}

// record writes the file or directory at name to the record, read separately from the guest's
// handle so that its reads are not disturbed.
func (f *recordingFS) record(name string) {
	st, err := fs.Stat(f.fsys, name)
	if err != nil {
		return
	}
	rel := path.Clean(name)
	switch {
	case st.IsDir():
		ents, err := fs.ReadDir(f.fsys, name)
		if err != nil {
			return
		}
		l := &dataLine{File: &File{Mount: f.mount, Path: rel, Dir: true, Entries: []DirEntry{}}}
		for _, e := range ents {
			l.File.Entries = append(l.File.Entries, DirEntry{Name: e.Name(), Dir: e.IsDir()})
		}
		f.r.w.write(kindFile, l)
		f.r.flush()
	case st.Mode().IsRegular():
		if st.Size() > f.r.spec.MaxBytes {
			f.r.w.stop(fmt.Sprintf("file %s on mount %s (%d bytes) is over the record's size cap of %d bytes", rel, f.mount, st.Size(), f.r.spec.MaxBytes))
			return
		}
		data, err := fs.ReadFile(f.fsys, name)
		if err != nil {
			return
		}
		l := newData(data)
		l.File = &File{Mount: f.mount, Path: rel}
		f.r.w.write(kindFile, l)
		f.r.flush()
	}
}

// NewHeader is the record header of an invocation of req (its data sources are those granted)
// of the module mod, with the granted environment variables env and the guest paths of its
// mounts.
func NewHeader(req hostfuncs.Request, mod ModuleInfo, env map[string]string, mounts []string, timeout time.Duration, stdio int64) Header {
	params, _ := tomlparam.Encode(req.Params) // a parameter that cannot be encoded fails the job first
	h := Header{Recorded: time.Now().UTC(), Module: mod, Key: req.Key, Format: req.Format,
		Since: req.Since, Until: req.Until, FullSync: req.FullSync, CollectionType: req.CollectionType,
		Params: params, Limits: req.Limits, Mounts: mounts, Timeout: timeout, StdioLimit: stdio}
	for name := range req.DataSources {
		h.DataSources = append(h.DataSources, name)
	}
	sort.Strings(h.DataSources)
	for name, v := range env {
		h.Env = append(h.Env, EnvVar{Name: name, Value: v})
	}
	return h
}
