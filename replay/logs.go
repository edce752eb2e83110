package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"log/slog"
	"strconv"
	"sync"
)

// LogLine is one line the guest logged: a message of the log host function (Stream "log", with
// its level), or what it printed on stdout or stderr (Stream "stdout" or "stderr", the text the
// host kept, up to the invocation's stdio limit, in one line).
type LogLine struct {
	Stream string `json:"stream"`
	Level  string `json:"level,omitempty"`
	Msg    string `json:"msg"`
}

// Streams of a log line.
const (
	streamLog    = "log"
	streamStdout = "stdout"
	streamStderr = "stderr"
)

// logDigest is the sha256 and count of an invocation's log lines, in order: how a replay
// compares them without holding them.
type logDigest struct {
	mu sync.Mutex
	h  hash.Hash
	n  int64
}

func newLogDigest() *logDigest { return &logDigest{h: sha256.New()} }

func (d *logDigest) add(l *LogLine) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Length-prefixed, so that no two sequences of lines hash alike.
	for _, s := range []string{l.Stream, l.Level, l.Msg} {
		d.h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
	}
	d.n++
}

func (d *logDigest) sum() (string, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return hex.EncodeToString(d.h.Sum(nil)), d.n
}

// stdioLines are the log lines of what the guest printed, "" streams left out.
func stdioLines(stdout, stderr string) []*LogLine {
	var out []*LogLine
	if stdout != "" {
		out = append(out, &LogLine{Stream: streamStdout, Msg: stdout})
	}
	if stderr != "" {
		out = append(out, &LogLine{Stream: streamStderr, Msg: stderr})
	}
	return out
}

// logTap is a slog.Handler that hands each of the guest's own log lines (the log host
// function's: a message without attributes of its own; the host's warnings about an invocation
// carry attributes) to keep, and everything to next.
type logTap struct {
	next slog.Handler
	keep func(*LogLine)
}

func newLogTap(l *slog.Logger, keep func(*LogLine)) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(&logTap{next: l.Handler(), keep: keep})
}

// Enabled is true at every level: a line is kept whether or not the host's log shows it.
func (t *logTap) Enabled(context.Context, slog.Level) bool { return true }

func (t *logTap) Handle(ctx context.Context, r slog.Record) error {
	if r.NumAttrs() == 0 {
		t.keep(&LogLine{Stream: streamLog, Level: r.Level.String(), Msg: r.Message})
	}
	if t.next.Enabled(ctx, r.Level) {
		return t.next.Handle(ctx, r)
	}
	return nil
}

func (t *logTap) WithAttrs(as []slog.Attr) slog.Handler {
	return &logTap{next: t.next.WithAttrs(as), keep: t.keep}
}

func (t *logTap) WithGroup(name string) slog.Handler {
	return &logTap{next: t.next.WithGroup(name), keep: t.keep}
}

// Logger wraps the invocation's logger (nil: slog.Default()): the guest's log lines are
// recorded as they pass.
func (r *Invocation) Logger(l *slog.Logger) *slog.Logger {
	return newLogTap(l, func(line *LogLine) { r.w.write(kindLog, line) })
}

// Stdio records what the guest printed on stdout and stderr (runtime.Result's Stdout.Text and
// Stderr.Text, which the stdio limit bounds). Call it before Close.
func (r *Invocation) Stdio(stdout, stderr string) {
	for _, l := range stdioLines(stdout, stderr) {
		r.w.write(kindLog, l)
	}
}

// LogsOutcome says whether the replayed guest logged what the recorded one did. It is
// informational: log lines that differ do not make a replay different.
type LogsOutcome struct {
	// Recorded: the record has the guest's log lines (format version 3 onward).
	Recorded bool `json:"recorded"`
	// Match: the same lines, in the same order (log messages with their levels, then stdout and
	// stderr as kept).
	Match bool `json:"match"`
	// RecordedLines and Lines count the lines of each.
	RecordedLines int64 `json:"recorded_lines"`
	Lines         int64 `json:"lines"`
}
