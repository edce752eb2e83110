package cmdutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// OnceHandler wraps a slog.Handler so that a warning or error is written once: a later record
// with the same level, message and attributes (the time aside) is dropped. Records below warn
// pass through. For `gather --scheduled`, whose output a cron mail or a journal shows: a guest
// that warns the same way in each of its 200 slices says it once.
type OnceHandler struct {
	next   slog.Handler
	prefix string // the attributes and groups added by WithAttrs and WithGroup, as text
	seen   *onceSeen
}

type onceSeen struct {
	mu   sync.Mutex
	keys map[string]bool
}

// NewOnceHandler returns a handler that writes to next and drops repeated warnings and errors.
func NewOnceHandler(next slog.Handler) *OnceHandler {
	return &OnceHandler{next: next, seen: &onceSeen{keys: map[string]bool{}}}
}

// Enabled reports whether next handles records of level l.
func (h *OnceHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle writes r to next unless it is a warning or error already written.
func (h *OnceHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\x00%s\x00%s", r.Level, h.prefix, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, "\x00%s=%v", a.Key, a.Value)
			return true
		})
		key := b.String()
		h.seen.mu.Lock()
		dup := h.seen.keys[key]
		h.seen.keys[key] = true
		h.seen.mu.Unlock()
		if dup {
			return nil
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler adding attrs, sharing what was seen with h.
func (h *OnceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		fmt.Fprintf(&b, "\x00%s=%v", a.Key, a.Value)
	}
	return &OnceHandler{next: h.next.WithAttrs(attrs), prefix: b.String(), seen: h.seen}
}

// WithGroup returns a handler opening group name, sharing what was seen with h.
func (h *OnceHandler) WithGroup(name string) slog.Handler {
	return &OnceHandler{next: h.next.WithGroup(name), prefix: h.prefix + "\x00group " + name, seen: h.seen}
}

// StatusLine is the standard error of a command that shows a one-line status (gather's progress
// on a terminal) between log lines. The logger writes through it: a log line first erases the
// status line, and the status line is drawn again below it, so the two never run together on
// one line.
type StatusLine struct {
	// Width, when set, returns the terminal's width in columns (asked at each draw, so that a
	// resized window is followed; 0 or less: unknown). A longer status is cut to fit: a status
	// that wraps leaves rows that the next erase, which clears one row, does not reach.
	Width func() int

	mu    sync.Mutex
	w     io.Writer
	line  string // the status to show, "" for none
	drawn bool   // the status is on the screen, the cursor at its end
	// partial is set while a write that did not end a line is on the screen: the status waits
	// for the end of that line.
	partial bool
}

// NewStatusLine returns a StatusLine writing to w.
func NewStatusLine(w io.Writer) *StatusLine { return &StatusLine{w: w} }

// eraseLine returns the cursor to the start of the line and clears it.
const eraseLine = "\r\x1b[K"

// Write writes p (log output) below any status line, then draws the status again.
func (s *StatusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn {
		if _, err := io.WriteString(s.w, eraseLine); err != nil {
			return 0, err
		}
		s.drawn = false
	}
	n, err := s.w.Write(p)
	if err != nil || len(p) == 0 {
		return n, err
	}
	s.partial = p[len(p)-1] != '\n'
	s.draw()
	return n, nil
}

// Set shows line as the status, replacing the one shown.
func (s *StatusLine) Set(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = line
	s.draw()
}

// Clear erases the status line and shows none until the next Set.
func (s *StatusLine) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = ""
	if s.drawn {
		io.WriteString(s.w, eraseLine)
		s.drawn = false
	}
}

// draw writes the status line over the current one; s.mu is held.
func (s *StatusLine) draw() {
	if s.line == "" || s.partial {
		return
	}
	line := s.line
	if s.Width != nil {
		line = fitWidth(line, s.Width())
	}
	io.WriteString(s.w, eraseLine+line)
	s.drawn = true
}

// fitWidth cuts line to fewer than width columns, ending it with "…" when cut; a width of 0 or
// less leaves it whole. The last column stays free: some terminals move the cursor to the next
// row once it is written. A rune counts as one column, which holds for the status's text (keys,
// numbers, ASCII punctuation).
func fitWidth(line string, width int) string {
	if width <= 0 || utf8.RuneCountInString(line) < width {
		return line
	}
	if width < 2 {
		return ""
	}
	r := []rune(line)
	return string(r[:width-2]) + "…"
}

// ETA estimates the time left when done of total steps took elapsed: "" until a step is done.
func ETA(elapsed time.Duration, done, total int) string {
	if done <= 0 || total <= done || elapsed <= 0 {
		return ""
	}
	left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
	switch {
	case left < time.Second:
		return "ETA <1s"
	case left < time.Minute:
		return "ETA " + left.Round(time.Second).String()
	case left < time.Hour:
		return fmt.Sprintf("ETA %dm%02ds", int(left/time.Minute), int(left%time.Minute/time.Second))
	default:
		return fmt.Sprintf("ETA %dh%02dm", int(left/time.Hour), int(left%time.Hour/time.Minute))
	}
}
