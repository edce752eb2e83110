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
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// ErrNotRecorded marks a data call a replay could not answer: the statement, its parameters or
// the number of calls differ from the recording.
var ErrNotRecorded = errors.New("query not recorded")

// player serves a record's answers to the replayed invocation's data calls.
type player struct {
	sp      *spill // the answers
	mu      sync.Mutex
	pending map[string][]*Query // by call, source, SQL and parameters; in recorded order
	counts  map[string]int      // how many of each were recorded
	served  map[string]int
	missed  []string // the calls that were not recorded, as messages
}

// queryKey is what a replayed call must match: its sha256, so that a record's index does not
// keep whole statements.
func queryKey(call, source, sql string, p QueryParams) string {
	h := sha256.Sum256([]byte(call + "\x00" + source + "\x00" + sql + "\x00" + p.key()))
	return string(h[:])
}

func newPlayer(rec *Record) *player {
	p := &player{sp: rec.spill, pending: map[string][]*Query{}, counts: map[string]int{}, served: map[string]int{}}
	for _, q := range rec.Queries {
		k := q.key
		if k == "" {
			k = queryKey(q.Call, q.Source, q.SQL, q.Params)
		}
		p.pending[k] = append(p.pending[k], q)
		p.counts[k]++
	}
	return p
}

// take returns the next recorded answer to a call, or an error naming the call.
func (p *player) take(call, source, sql string, params map[string]any) (*Query, error) {
	qp, err := encodeQueryParams(params)
	if err != nil {
		return nil, p.miss(fmt.Errorf("%w: data source %q: %v", ErrNotRecorded, source, err))
	}
	k := queryKey(call, source, sql, qp)
	p.mu.Lock()
	defer p.mu.Unlock()
	if qs := p.pending[k]; len(qs) > 0 {
		p.pending[k] = qs[1:]
		p.served[k]++
		return qs[0], nil
	}
	what := "this statement with these parameters was never run"
	if n := p.counts[k]; n > 0 {
		what = fmt.Sprintf("it was recorded %d time(s) and this is call %d", n, n+1)
	}
	verb := "query"
	if call == callStreamCSV {
		verb = "stream_csv"
	}
	err = fmt.Errorf("%w: %s on data source %q: %s (parameters %s): %s", ErrNotRecorded, verb, source,
		oneLine(sql), qp, what)
	p.missed = append(p.missed, err.Error())
	return nil, err
}

func (p *player) miss(err error) error {
	p.mu.Lock()
	p.missed = append(p.missed, err.Error())
	p.mu.Unlock()
	return err
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// replayingSource is a data source that answers from a record.
type replayingSource struct {
	p    *player
	name string
}

func (s *replayingSource) Query(ctx context.Context, sql string, params map[string]any, columns func([]hostfuncs.Column) error, row func([]any) error) error {
	q, err := s.p.take(callQuery, s.name, sql, params)
	if err != nil {
		return err
	}
	// The columns, then the rows, read from the spill as they are served.
	it := s.p.sp.items(q.ext)
	if q.sawColumns {
		b, err := it.next()
		if err != nil {
			return s.spillError(q, err)
		}
		var l columnsLine
		if err := decodeBody(b, &l); err != nil {
			return s.spillError(q, err)
		}
		if l.Columns == nil {
			l.Columns = []hostfuncs.Column{}
		}
		if err := columns(l.Columns); err != nil {
			return err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := it.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.spillError(q, err)
		}
		var l rowLine
		if err := decodeBody(b, &l); err != nil {
			return s.spillError(q, err)
		}
		vals, err := decodeValues(l.V, l.T)
		if err != nil {
			return s.spillError(q, err)
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	return s.endError(q)
}

// spillError is an answer that could not be read back from the spill (the disk failed it: the
// record was checked when it was read).
func (s *replayingSource) spillError(q *Query, err error) error {
	return fmt.Errorf("replay: query %d on data source %q: reading its recorded answer back: %w", q.N, s.name, err)
}

func (s *replayingSource) StreamCSV(ctx context.Context, sql string, params map[string]any, w io.Writer) (int64, error) {
	q, err := s.p.take(callStreamCSV, s.name, sql, params)
	if err != nil {
		return 0, err
	}
	var n int64
	it := s.p.sp.items(q.ext)
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		b, err := it.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, s.spillError(q, err)
		}
		if _, err := w.Write(b); err != nil {
			return n, err
		}
		if i > 0 {
			n++
		}
	}
	if err := s.endError(q); err != nil {
		return n, err
	}
	return q.End.Rows, nil
}

// endError is how a recorded query ended, as an error.
func (s *replayingSource) endError(q *Query) error {
	switch {
	case q.End.Error == "":
		return nil
	case q.End.Abandoned:
		return s.p.miss(fmt.Errorf("%w: query %d on data source %q (%s) was read only in part by the recorded guest (%d rows); this one reads further",
			ErrNotRecorded, q.N, s.name, oneLine(q.SQL), q.End.Rows))
	case q.End.TooLarge:
		return fmt.Errorf("%w: %s (as recorded)", hostfuncs.ErrResultTooLarge, q.End.Error)
	}
	return fmt.Errorf("%s (as recorded)", q.End.Error)
}

// maxReplayTimeout bounds a replayed invocation whose options give no timeout of their own.
const maxReplayTimeout = time.Hour

// ReplayOptions say how to replay.
type ReplayOptions struct {
	// Module is the module to run; default the recorded module's path, which must still hold the
	// recorded module (its sha256 is checked).
	Module string
	// Engine runs the module; default a new engine with CacheDir, CompileTimeout and Logger.
	Engine *runtime.Engine
	// CacheDir is the compilation cache of a new engine; default the user's cache directory.
	CacheDir string
	// CompileTimeout bounds compiling for a new engine; 0 takes the runtime's default.
	CompileTimeout time.Duration
	// Timeout bounds the invocation; default the recorded one, at most an hour.
	Timeout time.Duration
	// Logger gets the guest's log lines; default a discarding logger.
	Logger *slog.Logger
	// MaxDiffLines caps the changes listed in the diff; default 100. Counts are always whole.
	MaxDiffLines int
	// SpillDir is where a replay keeps the record's answers and both outputs while it runs (a
	// temporary file, removed after); default the system's temporary directory.
	SpillDir string
}

// Outcome is what a replay found.
type Outcome struct {
	// File is the record replayed.
	File string `json:"file"`
	// Key and Function name the collector; Since and Until its slice.
	Key      string    `json:"key"`
	Function string    `json:"function"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	// RecordedModule is the recorded module's sha256, Module the replayed one's.
	RecordedModule string `json:"recorded_module_sha256"`
	Module         string `json:"module_sha256"`
	// Identical: the same outcome (SameOutcome), the same output bytes (when the record knows
	// them), and every data call answered. A replay that reproduces a recorded failure, such as
	// a timeout, is identical.
	Identical bool `json:"identical"`
	// SameOutcome: both succeeded, or both failed the same way (the same kind; a record without
	// kinds compares only success or failure).
	SameOutcome bool `json:"same_outcome"`
	// RecordedKind and Kind are how the invocations failed ([Result.Kind]), "" for success.
	RecordedKind string `json:"recorded_kind,omitempty"`
	Kind         string `json:"kind,omitempty"`
	// RecordedFinalized: the recording process ended before closing the record and the host
	// finalised it ([Result.Finalized]).
	RecordedFinalized bool `json:"recorded_finalized,omitempty"`
	// RecordedSHA256 and SHA256 are the outputs' hashes; RecordedBytes and Bytes their sizes.
	// RecordedSHA256 is "" when the record does not know its output (a finalised record without
	// the output's bytes): the output is not compared then.
	RecordedSHA256 string `json:"recorded_sha256"`
	SHA256         string `json:"sha256"`
	RecordedBytes  int64  `json:"recorded_bytes"`
	Bytes          int64  `json:"bytes"`
	// RecordedError and Error are the invocations' errors, "" if none.
	RecordedError string `json:"recorded_error,omitempty"`
	Error         string `json:"error,omitempty"`
	// NotRecorded lists the data calls the record could not answer.
	NotRecorded []string `json:"not_recorded,omitempty"`
	// Redacted lists the environment variables whose values were not recorded (the guest saw
	// them empty).
	Redacted []string `json:"redacted_env,omitempty"`
	// Diff is how the output differs; nil when identical, or when the record has no output bytes
	// (DiffUnavailable then says so).
	Diff            *Diff  `json:"diff,omitempty"`
	DiffUnavailable string `json:"diff_unavailable,omitempty"`
	// Sys says how the guest's clocks and randomness were served: from the record, past it
	// (Sys.BeyondRecord), or, for a version 1 record, the replaying host's own. Reading past
	// the record does not make a replay differ; its output may.
	Sys SysOutcome `json:"sys"`
	// Logs says whether the guest logged the same lines as recorded (informational: it does
	// not make a replay different).
	Logs LogsOutcome `json:"logs"`
}

// Replay runs the invocation recorded in file again, with the record's answers in place of the
// data sources, environment and mounts, and compares the output with the recorded one. A record
// that cannot be replayed (corrupt, incomplete, of another version) or a module that cannot be
// loaded is an error; a replay that differs is not (Outcome.Identical says). To replay many
// records, a [Replayer] loads each module once.
func Replay(ctx context.Context, file string, opts ReplayOptions) (*Outcome, error) {
	r, err := NewReplayer(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Replay(ctx, file)
}

// Replayer replays records one at a time, keeping each module it loaded (and its initialised
// snapshot) for the next records of the same module.
type Replayer struct {
	opts    ReplayOptions
	eng     *runtime.Engine
	ownEng  bool
	mu      sync.Mutex
	mods    map[string]*replayModule
	checked map[string]bool // module key + function: the export was checked
	empty   string          // an empty directory standing in for mounts' host directories
}

// replayModule is a loaded module whose environment is that of the record being replayed.
type replayModule struct {
	mod *runtime.Module
	env map[string]string
}

// NewReplayer returns a replayer; Close it when done.
func NewReplayer(ctx context.Context, opts ReplayOptions) (*Replayer, error) {
	r := &Replayer{opts: opts, eng: opts.Engine, mods: map[string]*replayModule{}, checked: map[string]bool{}}
	if r.eng == nil {
		cfg := runtime.NewConfig()
		if opts.CacheDir != "" {
			cfg = cfg.WithCacheDir(opts.CacheDir)
		}
		if opts.CompileTimeout > 0 {
			cfg = cfg.WithCompileTimeout(opts.CompileTimeout)
		}
		if opts.Logger != nil {
			cfg = cfg.WithLogger(opts.Logger)
		}
		eng, err := runtime.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r.eng, r.ownEng = eng, true
	}
	return r, nil
}

// Close releases the engine the replayer made and its temporary directory.
func (r *Replayer) Close() error {
	var err error
	if r.ownEng {
		err = r.eng.Close(context.Background())
	}
	if r.empty != "" {
		os.RemoveAll(r.empty)
	}
	return err
}

// module loads (once) the module a record runs.
func (r *Replayer) module(ctx context.Context, file string, hdr *Header, sys *SysRecord) (*replayModule, error) {
	modPath, pin := r.opts.Module, ""
	if modPath == "" {
		if hdr.Module.Path == "" {
			return nil, fmt.Errorf("record %s: it names no module file; give one with --module", file)
		}
		modPath, pin = hdr.Module.Path, hdr.Module.SHA256 // the recorded module, or nothing
		if _, err := os.Stat(modPath); err != nil && hdr.Module.Source != "" {
			// serve ran a private copy, gone with it: the operator's file, if it is still the
			// same bytes (the pin says so at load), is the module.
			modPath = hdr.Module.Source
		}
	}
	names := make([]string, 0, len(hdr.Env))
	envKey := make([]string, 0, len(hdr.Env))
	for _, e := range hdr.Env {
		names = append(names, e.Name)
		envKey = append(envKey, e.Name+"="+e.Value)
	}
	// The values are part of the key: a guest may read its environment once, when it starts,
	// and a loaded module keeps its initialised state. So are the clock readings and random
	// bytes its initialisation read: a Go guest seeds its hashes and math/rand from them.
	key := strings.Join([]string{modPath, pin, fmt.Sprint(hdr.Module.MemoryLimit), strings.Join(hdr.Mounts, "\x00"), strings.Join(envKey, "\x00"), sys.initKey()}, "\x01")
	spec := runtime.ModuleSpec{Name: hdr.Module.Name, Path: modPath, SHA256: pin, MemoryLimit: hdr.Module.MemoryLimit, Env: names}
	if len(hdr.Mounts) > 0 {
		// The runtime opens each mount's host directory; the record's files take its place.
		if r.empty == "" {
			dir, err := os.MkdirTemp("", "wasmcollector-replay-")
			if err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
			r.empty = dir
		}
		for _, m := range hdr.Mounts {
			spec.Mounts = append(spec.Mounts, runtime.Mount{Host: r.empty, Guest: m})
		}
	}
	if !r.checked[key+"\x01"+hdr.Module.Function] {
		// The export is checked once per function; the module itself is loaded once.
		check := spec
		check.Functions = []string{hdr.Module.Function}
		if _, err := r.eng.Load(ctx, check); err != nil {
			return nil, fmt.Errorf("replay %s: %w", file, err)
		}
		r.checked[key+"\x01"+hdr.Module.Function] = true
	}
	if m := r.mods[key]; m != nil {
		return m, nil
	}
	m := &replayModule{}
	spec.LookupEnv = func(name string) (string, bool) { v, ok := m.env[name]; return v, ok }
	mod, err := r.eng.Load(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", file, err)
	}
	m.mod = mod
	r.mods[key] = m
	return m, nil
}

// Replay replays one record; see [Replay].
func (r *Replayer) Replay(ctx context.Context, file string) (*Outcome, error) {
	rec, err := openRecord(file, r.opts.SpillDir)
	if err != nil {
		return nil, err
	}
	defer rec.spill.close()
	r.mu.Lock()
	defer r.mu.Unlock()
	hdr := rec.Header
	m, err := r.module(ctx, file, &hdr, rec.Sys)
	if err != nil {
		return nil, err
	}
	out := &Outcome{File: file, Key: hdr.Key, Function: hdr.Module.Function, Since: hdr.Since, Until: hdr.Until,
		RecordedModule: hdr.Module.SHA256, Module: m.mod.SHA256(), RecordedSHA256: rec.Result.SHA256,
		RecordedBytes: rec.Result.Bytes, RecordedError: rec.Result.Error, RecordedKind: rec.Result.Kind,
		RecordedFinalized: rec.Result.Finalized}
	m.env = map[string]string{}
	for _, e := range hdr.Env {
		m.env[e.Name] = e.Value
		if e.Redacted {
			out.Redacted = append(out.Redacted, e.Name)
		}
	}
	mounts := mountFS(rec)
	keep := rec.Result.OutputRecorded

	p := newPlayer(rec)
	sources := map[string]hostfuncs.DataSource{}
	for _, name := range hdr.DataSources {
		sources[name] = &replayingSource{p: p, name: name}
	}
	log := r.opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logs := newLogDigest()
	log = newLogTap(log, logs.add)
	got := &hashWriter{h: sha256.New()}
	if keep {
		got.keep = &spillWriter{s: rec.spill}
	}
	inv := hostfuncs.NewInvocation(hostfuncs.Request{
		Key: hdr.Key, Format: hdr.Format, Since: hdr.Since, Until: hdr.Until, FullSync: hdr.FullSync,
		CollectionType: hdr.CollectionType, Params: tomlparam.Decode(hdr.Params), Limits: hdr.Limits,
		Output: got, Logger: log, DataSources: sources,
	})
	timeout := r.opts.Timeout
	if timeout <= 0 {
		// The recorded bound, but a record from elsewhere cannot hold the replay for longer
		// than maxReplayTimeout.
		timeout = min(hdr.Timeout, maxReplayTimeout)
	}
	call := runtime.Call{Function: hdr.Module.Function, Invocation: inv, Timeout: timeout,
		StdioLimit: hdr.StdioLimit, MountFS: func(guest string, _ fs.FS) fs.FS { return mounts[guest] }}
	var sys *sysPlayer
	if rec.Sys != nil {
		sys = newSysPlayer(rec)
		call.Sys = sys
	}
	res, invErr := m.mod.Invoke(ctx, call)
	if sys != nil {
		out.Sys = sys.outcome()
	}
	for _, l := range stdioLines(res.Stdout.Text, res.Stderr.Text) {
		logs.add(l)
	}
	if rec.logs != nil {
		want, wantN := rec.logs.sum()
		got, gotN := logs.sum()
		out.Logs = LogsOutcome{Recorded: true, Match: got == want, RecordedLines: wantN, Lines: gotN}
	}
	if invErr != nil {
		out.Error, out.Kind = invErr.Error(), ErrorKind(invErr)
	}
	out.SHA256, out.Bytes = hex.EncodeToString(got.h.Sum(nil)), got.n
	out.NotRecorded = p.missed
	out.SameOutcome = (out.Error == "") == (out.RecordedError == "") && (out.RecordedKind == "" || out.Kind == out.RecordedKind)
	outputKnown := out.RecordedSHA256 != ""
	out.Identical = out.SameOutcome && (!outputKnown || out.SHA256 == out.RecordedSHA256) && len(out.NotRecorded) == 0
	switch {
	case !outputKnown:
		out.DiffUnavailable = "the record does not know the output: the recording process ended before closing it, and the output's bytes were not recorded (--record-output)"
	case out.SHA256 != out.RecordedSHA256:
		if !keep {
			out.DiffUnavailable = "the record has the output's sha256 but not its bytes (record with --record-output to see a diff)"
		} else {
			max := r.opts.MaxDiffLines
			if max <= 0 {
				max = 100
			}
			if out.Diff, err = compareSpilled(hdr.Format, rec.spill, rec.outExt, got.keep.ext, max); err != nil {
				return nil, fmt.Errorf("replay %s: %w", file, err)
			}
		}
	}
	return out, nil
}

// diffInMemory is the largest output a diff reads whole, on each side: larger outputs are
// compared by streaming them ([CompareStream]). A variable for tests.
var diffInMemory int64 = 16 << 20

// compareSpilled diffs the recorded output and the replayed one, both in the spill: only once
// their sha256 differ, and in memory only when both are small.
func compareSpilled(format hostfuncs.Format, sp *spill, before, after []extent, max int) (*Diff, error) {
	if extentsLen(before) <= diffInMemory && extentsLen(after) <= diffInMemory {
		a, err := sp.readAll(before)
		if err != nil {
			return nil, err
		}
		b, err := sp.readAll(after)
		if err != nil {
			return nil, err
		}
		return Compare(format, a, b, max), nil
	}
	return CompareStream(format, sp.reader(before), sp.reader(after), max)
}

func extentsLen(ext []extent) int64 {
	var n int64
	for _, e := range ext {
		n += e.n
	}
	return n
}

// hashWriter hashes the replayed output and keeps it, in the spill, when there is a recorded
// one to compare with.
type hashWriter struct {
	h    hash.Hash
	n    int64
	keep *spillWriter
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	if w.keep != nil {
		if _, err := w.keep.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// mountFS builds, per mount, a read-only file system of the recorded files and directories. A
// file a recorded directory lists but the guest never opened is listed, and fails to open.
func mountFS(rec *Record) map[string]fs.FS {
	maps := map[string]fstest.MapFS{}
	unread := map[string]map[string]bool{}
	for _, m := range rec.Header.Mounts {
		maps[m] = fstest.MapFS{}
		unread[m] = map[string]bool{}
	}
	for _, f := range rec.Files {
		m := maps[f.Mount]
		if m == nil {
			continue
		}
		if f.Dir {
			if f.Path != "." {
				m[f.Path] = &fstest.MapFile{Mode: fs.ModeDir | 0o555}
			}
			for _, e := range f.Entries {
				p := path.Join(f.Path, e.Name)
				if _, ok := m[p]; ok {
					continue
				}
				if e.Dir {
					m[p] = &fstest.MapFile{Mode: fs.ModeDir | 0o555}
				} else {
					m[p] = &fstest.MapFile{Mode: 0o444}
					unread[f.Mount][p] = true
				}
			}
			continue
		}
		m[f.Path] = &fstest.MapFile{Data: f.Data, Mode: 0o444, Sys: f.ext}
		delete(unread[f.Mount], f.Path)
	}
	out := map[string]fs.FS{}
	for name, m := range maps {
		out[name] = &replayFS{m: m, unread: unread[name], mount: name, sp: rec.spill}
	}
	return out
}

type replayFS struct {
	m      fstest.MapFS
	unread map[string]bool
	mount  string
	sp     *spill // where the files' bytes are (MapFile.Sys their extents), nil when in Data
}

func (f *replayFS) Open(name string) (fs.File, error) {
	if f.unread[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: file %s on mount %s was listed but not read in the recording", fs.ErrNotExist, name, f.mount)}
	}
	if mf := f.m[name]; f.sp != nil && mf != nil && !mf.Mode.IsDir() {
		// A file's bytes are read from the spill while the guest has it open.
		ext, _ := mf.Sys.([]extent)
		data, err := f.sp.readAll(ext)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return fstest.MapFS{name: &fstest.MapFile{Data: data, Mode: mf.Mode}}.Open(name)
	}
	return f.m.Open(name)
}
