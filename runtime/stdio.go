package runtime

import (
	"bytes"
	"strings"
)

// capturedOutput keeps the first limit bytes written to it and counts the rest, so a guest cannot
// grow host memory by printing.
type capturedOutput struct {
	limit   int64
	buf     bytes.Buffer
	dropped int64
}

func (c *capturedOutput) Write(p []byte) (int, error) {
	room := c.limit - int64(c.buf.Len())
	switch {
	case room <= 0:
		c.dropped += int64(len(p))
	case int64(len(p)) > room:
		c.buf.Write(p[:room])
		c.dropped += int64(len(p)) - room
	default:
		c.buf.Write(p)
	}
	return len(p), nil
}

// Captured is what a guest printed on one stream.
type Captured struct {
	// Text is the start of the output, up to the stdio limit.
	Text string
	// Dropped counts the bytes past the limit.
	Dropped int64
}

func (c *capturedOutput) captured() Captured {
	return Captured{Text: c.buf.String(), Dropped: c.dropped}
}

// summary returns the most telling line of a guest's stderr for an error message.
func (c Captured) summary() string { return Summary(c.Text) }

// Summary returns the most telling line of what a Go program (a guest, or a worker process)
// printed on stderr: the first line of a panic or fatal error if there is one, otherwise the
// first non-empty line, clipped to 300 bytes.
func Summary(stderr string) string {
	first := ""
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") ||
			strings.HasPrefix(line, "runtime: out of memory") {
			return clip(line)
		}
		if first == "" {
			first = line
		}
	}
	return clip(first)
}

func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
