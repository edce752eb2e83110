package iocount

import (
	"errors"
	"strings"
	"testing"
)

// shortWriter accepts at most limit bytes in all, then fails.
type shortWriter struct{ limit int }

func (s *shortWriter) Write(p []byte) (int, error) {
	if len(p) > s.limit {
		n := s.limit
		s.limit = 0
		return n, errors.New("full")
	}
	s.limit -= len(p)
	return len(p), nil
}

func TestWriterCountsWhatWasAccepted(t *testing.T) {
	var b strings.Builder
	w := &Writer{W: &b}
	for _, s := range []string{"abc", "", "defg"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if w.N != 7 || b.String() != "abcdefg" {
		t.Fatalf("N = %d, wrote %q; want 7, abcdefg", w.N, b.String())
	}

	short := &Writer{W: &shortWriter{limit: 5}}
	if _, err := short.Write([]byte("0123")); err != nil {
		t.Fatal(err)
	}
	if n, err := short.Write([]byte("4567")); err == nil || n != 1 {
		t.Fatalf("second write: n = %d, err = %v; want 1 and an error", n, err)
	}
	if short.N != 5 {
		t.Fatalf("N = %d after a short write; want 5, the bytes accepted", short.N)
	}
}
