package cmdutil

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestOnceHandler: a warning or error repeated with the same message and attributes is written
// once; info lines and warnings that differ all pass.
func TestOnceHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewOnceHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})))
	guest := log.With("collector", "chatty", "source", "guest")
	for range 3 {
		guest.Info("one row")
		guest.Warn("column a is obsolete")
		log.Warn("column a is obsolete") // other attributes: another warning
		guest.Error("failed", "slice", 1)
	}
	guest.Error("failed", "slice", 2)
	guest.WithGroup("g").Warn("column a is obsolete", "k", 1)
	guest.WithGroup("g").Warn("column a is obsolete", "k", 1)
	out := buf.String()
	assert.Equal(t, 3, strings.Count(out, `msg="one row"`), out)
	assert.Equal(t, 1, strings.Count(out, "level=WARN msg=\"column a is obsolete\" collector=chatty source=guest\n"), out)
	assert.Equal(t, 1, strings.Count(out, "g.k=1"), out)
	assert.Equal(t, 1, strings.Count(out, "level=WARN msg=\"column a is obsolete\"\n"), out)
	assert.Equal(t, 1, strings.Count(out, "slice=1"), out)
	assert.Equal(t, 1, strings.Count(out, "slice=2"), out)
	assert.Equal(t, 8, strings.Count(out, "\n"), out)
}

// TestStatusLine: log output erases the status line, which comes back after a complete line and
// waits while a line is half written.
func TestStatusLine(t *testing.T) {
	var buf bytes.Buffer
	s := NewStatusLine(&buf)
	s.Write([]byte("before\n"))
	s.Set("[1/2] a")
	s.Write([]byte("log 1\n"))
	s.Write([]byte("half "))
	s.Set("[2/2] b")
	s.Write([]byte("done\n"))
	s.Clear()
	s.Write([]byte("after\n"))
	assert.Equal(t, "before\n"+
		"\r\x1b[K[1/2] a"+
		"\r\x1b[Klog 1\n\r\x1b[K[1/2] a"+
		"\r\x1b[Khalf "+
		"done\n\r\x1b[K[2/2] b"+
		"\r\x1b[K"+
		"after\n", buf.String())
}

func TestETA(t *testing.T) {
	for _, tt := range []struct {
		elapsed     time.Duration
		done, total int
		want        string
	}{
		{time.Second, 0, 10, ""},
		{time.Second, 10, 10, ""},
		{0, 1, 10, ""},
		{100 * time.Millisecond, 1, 5, "ETA <1s"},
		{10 * time.Second, 1, 4, "ETA 30s"},
		{25 * time.Second, 1, 6, "ETA 2m05s"},
		{time.Hour, 1, 4, "ETA 3h00m"},
	} {
		assert.Equal(t, tt.want, ETA(tt.elapsed, tt.done, tt.total), "%v %d/%d", tt.elapsed, tt.done, tt.total)
	}
}

func TestWantsJSON(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"gather", "-o", "json"}, true},
		{[]string{"gather", "-ojson"}, true},
		{[]string{"gather", "-o=json"}, true},
		{[]string{"gather", "--output", "json"}, true},
		{[]string{"gather", "--output=json"}, true},
		{[]string{"gather", "-o", "json", "-o", "text"}, false},
		{[]string{"gather", "-o"}, false},
		{[]string{"gather", "--", "-o", "json"}, false},
		{[]string{"run", "k", "--param", "o=json"}, false},
		{[]string{"gather", "--out", "json"}, false},
	} {
		assert.Equal(t, tt.want, WantsJSON(tt.args), "%q", tt.args)
	}
	assert.Equal(t, "lock_held", CodeName(ExitLockHeld))
	assert.Equal(t, "exit_7", CodeName(7))
}

// TestStatusLineFitsWidth: a status longer than the terminal is cut before the last column,
// with an ellipsis; an unknown width cuts nothing.
func TestStatusLineFitsWidth(t *testing.T) {
	for _, tt := range []struct {
		line  string
		width int
		want  string
	}{
		{"[1/2] abc", 0, "[1/2] abc"},
		{"[1/2] abc", -1, "[1/2] abc"},
		{"[1/2] abc", 10, "[1/2] abc"},
		{"[1/2] abcd", 10, "[1/2] ab…"},
		{"[1/2] ééé", 8, "[1/2] …"},
		{"abc", 2, "…"},
		{"abc", 1, ""},
	} {
		assert.Equal(t, tt.want, fitWidth(tt.line, tt.width), "%q in %d columns", tt.line, tt.width)
	}

	var buf bytes.Buffer
	width := 8
	s := NewStatusLine(&buf)
	s.Width = func() int { return width }
	s.Set("[1/2] long status")
	width = 100 // a resized window: the next draw follows it
	s.Write([]byte("log\n"))
	assert.Equal(t, "\r\x1b[K[1/2] …"+"\r\x1b[Klog\n\r\x1b[K[1/2] long status", buf.String())
}
