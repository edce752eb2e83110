package replay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// A replay reads its record once, checking it, and puts the bulk of it (every data call's
// columns and rows or CSV writes, the mount files, the recorded output) in a spill file, an
// uncompressed temporary file read back as the replayed guest asks; the replayed output goes
// there too. The Record keeps a small index per data call. Memory then stays bounded whatever
// the record holds (up to MaxRecordBytes uncompressed); the disk holds what memory held before.

// extent is a run of bytes in the spill.
type extent struct{ off, n int64 }

// spillOutput is the stream number of the recorded output (data calls are numbered from 1).
const spillOutput = 0

// Bounds on what the spill buffers in memory: a stream's items are written out once they pass
// spillChunk, and every stream's once all together pass spillPending (many calls left open at
// once, each with a little).
const (
	spillChunk   = 64 << 10
	spillPending = 4 << 20
)

// spill is a record's temporary file of items: one stream of items per data call (columns,
// rows or CSV writes, each a uvarint length and the bytes), one for the output, and whole
// mount files.
type spill struct {
	f        *os.File
	unlinked bool
	mu       sync.Mutex // guards size: the replayed output is appended while answers are read
	size     int64
	streams  map[int]*spillStream
	pending  int
}

type spillStream struct {
	buf bytes.Buffer
	ext []extent
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "wasmcollector-replay-*.spill")
	if err != nil {
		return nil, fmt.Errorf("replay spill: %w", err)
	}
	// Unlinked at once where the system allows it: nothing is left behind, whatever happens.
	return &spill{f: f, unlinked: os.Remove(f.Name()) == nil, streams: map[int]*spillStream{}}, nil
}

// close releases the spill file.
func (s *spill) close() {
	s.f.Close()
	if !s.unlinked {
		os.Remove(s.f.Name())
	}
}

// add appends an item to stream n, after its length.
func (s *spill) add(n int, item []byte) error {
	return s.addBytes(n, item, true)
}

// addBytes appends b to stream n, after its length when item (the output is bytes, not items).
func (s *spill) addBytes(n int, b []byte, item bool) error {
	st := s.streams[n]
	if st == nil {
		st = &spillStream{}
		s.streams[n] = st
	}
	var l [binary.MaxVarintLen64]byte
	before := st.buf.Len()
	if item {
		st.buf.Write(l[:binary.PutUvarint(l[:], uint64(len(b)))])
	}
	st.buf.Write(b)
	s.pending += st.buf.Len() - before
	if st.buf.Len() >= spillChunk {
		return s.flush(st)
	}
	if s.pending >= spillPending {
		for _, o := range s.streams {
			if err := s.flush(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes what stream st holds to the file.
func (s *spill) flush(st *spillStream) error {
	if st.buf.Len() == 0 {
		return nil
	}
	e, err := s.append(st.buf.Bytes())
	if err != nil {
		return err
	}
	s.pending -= st.buf.Len()
	st.buf.Reset()
	if k := len(st.ext) - 1; k >= 0 && st.ext[k].off+st.ext[k].n == e.off {
		st.ext[k].n += e.n // the common case: one call's answer at a time, one run
	} else {
		st.ext = append(st.ext, e)
	}
	return nil
}

// done ends stream n and returns where its items are.
func (s *spill) done(n int) ([]extent, error) {
	st := s.streams[n]
	if st == nil {
		return nil, nil
	}
	if err := s.flush(st); err != nil {
		return nil, err
	}
	delete(s.streams, n)
	return st.ext, nil
}

// whole writes b (a mount file) to the file.
func (s *spill) whole(b []byte) ([]extent, error) {
	e, err := s.append(b)
	if err != nil || e.n == 0 {
		return nil, err
	}
	return []extent{e}, nil
}

// append writes b at the end of the file.
func (s *spill) append(b []byte) (extent, error) {
	s.mu.Lock()
	off := s.size
	s.size += int64(len(b))
	s.mu.Unlock()
	if _, err := s.f.WriteAt(b, off); err != nil {
		return extent{}, fmt.Errorf("replay spill: %w", err)
	}
	return extent{off, int64(len(b))}, nil
}

// reader reads the bytes of ext in order.
func (s *spill) reader(ext []extent) io.Reader {
	rs := make([]io.Reader, len(ext))
	for i, e := range ext {
		rs[i] = io.NewSectionReader(s.f, e.off, e.n)
	}
	return io.MultiReader(rs...)
}

// readAll reads the bytes of ext (a mount file, whose size the record's cap bounds).
func (s *spill) readAll(ext []extent) ([]byte, error) {
	var n int64
	for _, e := range ext {
		n += e.n
	}
	b := make([]byte, 0, n)
	buf := bytes.NewBuffer(b)
	if _, err := io.Copy(buf, s.reader(ext)); err != nil {
		return nil, fmt.Errorf("replay spill: %w", err)
	}
	return buf.Bytes(), nil
}

// items reads a stream's items one at a time.
type items struct {
	br  *bufio.Reader
	buf []byte
}

func (s *spill) items(ext []extent) *items {
	return &items{br: bufio.NewReaderSize(s.reader(ext), 32<<10)}
}

// next returns the next item, valid until the next call; io.EOF after the last.
func (it *items) next() ([]byte, error) {
	n, err := binary.ReadUvarint(it.br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("replay spill: %w", err)
	}
	if n > DefaultMaxLine {
		return nil, fmt.Errorf("replay spill: item of %d bytes", n)
	}
	if uint64(cap(it.buf)) < n {
		it.buf = make([]byte, n)
	}
	it.buf = it.buf[:n]
	if _, err := io.ReadFull(it.br, it.buf); err != nil {
		return nil, fmt.Errorf("replay spill: %w", err)
	}
	return it.buf, nil
}

// spillWriter is the replayed output, hashed by its caller and written at the end of the spill
// so that a diff can read it back.
type spillWriter struct {
	s   *spill
	ext []extent
}

func (w *spillWriter) Write(p []byte) (int, error) {
	e, err := w.s.append(p)
	if err != nil {
		return 0, err
	}
	if k := len(w.ext) - 1; k >= 0 && w.ext[k].off+w.ext[k].n == e.off {
		w.ext[k].n += e.n
	} else if e.n > 0 {
		w.ext = append(w.ext, e)
	}
	return len(p), nil
}
