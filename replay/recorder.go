package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Recorder records the invocations of a gather into a directory, one file per invocation, or the
// one invocation of a run into a file, all under one size cap. Pass it to the executors with
// [WithRecorder]; read what it did with [Recorder.Summary]. It is safe for concurrent use.
type Recorder struct {
	dir, file string
	opts      Options

	mu       sync.Mutex
	parallel int
	inFlight int
	used     int64
	reserved int64
	seq      int
	sum      Summary
	// entries are the records begun, by invocation, for Settle.
	entries map[entryKey][]*entry
}

// entryKey names an invocation of a gather: its collector key and its slice's start.
type entryKey struct {
	key   string
	since int64 // UnixNano, 0 for a zero time
}

// entry is one record begun: where, and what Done and Settle said of it.
type entry struct {
	path     string
	bytes    int64
	done     bool
	complete bool
	failed   bool // the recording itself failed (Done's error)
	discard  bool // settled ok before Done: remove it at Done
}

// Summary is what a recording produced.
type Summary struct {
	// Path is the directory (gather) or file (run) recorded into.
	Path string `json:"path"`
	// Records counts the record files written, Bytes their total size, MaxBytes the cap.
	Records  int   `json:"records"`
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"max_bytes"`
	// Incomplete counts records that stopped at the cap; Skipped invocations that were not
	// recorded at all because the cap was reached.
	Incomplete int `json:"incomplete,omitempty"`
	Skipped    int `json:"skipped,omitempty"`
	// Errors are records that could not be written, each with its reason.
	Errors []string `json:"errors,omitempty"`
	// Discarded counts the records removed because their invocation succeeded (with
	// [Options.FailuresOnly]); Records and Bytes count only those kept.
	Discarded int `json:"discarded,omitempty"`
}

// CapReached says whether the cap cut the recording short.
func (s Summary) CapReached() bool { return s.Incomplete > 0 || s.Skipped > 0 }

// NewRecorder returns a recorder writing into dir, which is created if missing and must be
// empty: replaying a directory replays every record in it.
func NewRecorder(dir string, opts Options) (*Recorder, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("record directory: %w", err)
	}
	if len(ents) > 0 {
		return nil, fmt.Errorf("record directory %s is not empty (%d entries): give a new or empty one", dir, len(ents))
	}
	return &Recorder{dir: dir, opts: opts, parallel: 1, sum: Summary{Path: dir, MaxBytes: opts.MaxBytes}}, nil
}

// NewFileRecorder returns a recorder of one invocation into file (replaced if it exists).
func NewFileRecorder(file string, opts Options) (*Recorder, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return nil, fmt.Errorf("record file %s is a directory", file)
	}
	return &Recorder{file: file, opts: opts, parallel: 1, sum: Summary{Path: file, MaxBytes: opts.MaxBytes}}, nil
}

// SetParallelism tells the recorder how many invocations may run at once: each is given at most
// its share of what is left of the cap, so that together they stay under it.
func (r *Recorder) SetParallelism(n int) {
	r.mu.Lock()
	r.parallel = max(1, n)
	r.mu.Unlock()
}

// Begin reserves room for recording one invocation and returns where and how to record it; ok is
// false when it is not to be recorded (the cap is reached, or a file recorder already recorded
// its invocation).
func (r *Recorder) Begin(key, function string, since time.Time) (Spec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	avail := r.opts.MaxBytes - r.used - r.reserved
	share := avail / int64(max(1, r.parallel-r.inFlight))
	if share < minRecordBytes || (r.file != "" && r.seq > 0) {
		r.sum.Skipped++
		return Spec{}, false
	}
	r.seq++
	p := r.file
	if p == "" {
		name := fmt.Sprintf("%04d-%s", r.seq, safeName(key))
		if function != "" {
			name += "-" + safeName(function)
		}
		if !since.IsZero() {
			name += "-" + since.UTC().Format("20060102T150405Z")
		}
		p = filepath.Join(r.dir, name+".jsonl.gz")
	}
	r.inFlight++
	r.reserved += share
	if r.entries == nil {
		r.entries = map[entryKey][]*entry{}
	}
	k := keyOf(key, since)
	r.entries[k] = append(r.entries[k], &entry{path: p})
	return Spec{Path: p, MaxBytes: share, Secrets: r.opts.Secrets, Output: r.opts.Output}, true
}

// Done settles an invocation Begin reserved room for, with what recording it produced.
func (r *Recorder) Done(spec Spec, info Info, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	r.reserved -= spec.MaxBytes
	if info.Bytes == 0 {
		if st, serr := os.Stat(spec.Path); serr == nil {
			info.Bytes = st.Size()
		}
	}
	r.used += info.Bytes
	r.sum.Bytes += info.Bytes
	if info.Bytes > 0 {
		r.sum.Records++
	}
	switch {
	case err != nil:
		r.sum.Errors = append(r.sum.Errors, fmt.Sprintf("%s: %v", filepath.Base(spec.Path), err))
	case !info.Complete:
		r.sum.Incomplete++
	}
	if e := r.entry(spec.Path); e != nil {
		e.done, e.bytes, e.complete, e.failed = true, info.Bytes, info.Complete, err != nil
		if e.discard {
			r.discardLocked(e)
		}
	}
}

// entry returns the entry recorded at path, nil if none.
func (r *Recorder) entry(path string) *entry {
	for _, es := range r.entries {
		for _, e := range es {
			if e.path == path {
				return e
			}
		}
	}
	return nil
}

func keyOf(key string, since time.Time) entryKey {
	k := entryKey{key: key}
	if !since.IsZero() {
		k.since = since.UnixNano()
	}
	return k
}

// Settle tells the recorder how the gather judged an invocation: err is nil when it succeeded,
// its output included (a guard's refusal, a JSON collector that emitted nothing are failures
// the executor does not see). With [Options.FailuresOnly] the record of an invocation that
// succeeded is removed, and its bytes are given back to the cap. An invocation never settled
// (the gather stopped first) keeps its record. key and since are those given to Begin.
func (r *Recorder) Settle(key string, since time.Time, err error) {
	if !r.opts.FailuresOnly || err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries[keyOf(key, since)] {
		switch {
		case e.failed:
			// A record the recorder could not write is counted in Errors; nothing to remove.
		case e.done:
			r.discardLocked(e)
		default:
			e.discard = true
		}
	}
}

// discardLocked removes a finished record of an invocation that succeeded.
func (r *Recorder) discardLocked(e *entry) {
	if e.path == "" {
		return
	}
	if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.sum.Errors = append(r.sum.Errors, fmt.Sprintf("%s: remove the record of an invocation that succeeded: %v", filepath.Base(e.path), err))
		return
	}
	r.used -= e.bytes
	r.sum.Bytes -= e.bytes
	if e.bytes > 0 {
		r.sum.Records--
		r.sum.Discarded++
	}
	if !e.complete {
		r.sum.Incomplete--
	}
	e.path = ""
}

// Summary returns what was recorded so far.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Errors = append([]string(nil), s.Errors...)
	return s
}

// SummaryFile is the file a gather's recording writes beside its records: its [Summary], so that
// the directory says how big it is and what the cap left out.
const SummaryFile = "summary.json"

// Finish writes the summary of a directory recording into it (a file recording has nothing to
// add: its end line says how big it is). Call it once the gather is over.
func (r *Recorder) Finish() error {
	if r.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(r.Summary(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, SummaryFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording summary: %w", err)
	}
	return nil
}

// safeName keeps a collector key or function usable in a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Trim(s, ".")
}

type recorderKey struct{}

// WithRecorder returns a context whose invocations the executors record with r.
func WithRecorder(ctx context.Context, r *Recorder) context.Context {
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, recorderKey{}, r)
}

// RecorderFrom returns the recorder of ctx, nil if none.
func RecorderFrom(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

// ErrWorkerLost is recorded when a worker ended before it closed its record and the record could
// not be finalised ([Finalize]): the file is left as it was, and a replay refuses it as truncated.
var ErrWorkerLost = errors.New("the invocation ended before its record was closed")
