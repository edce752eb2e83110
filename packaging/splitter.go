package packaging

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// splitterBufSize is the write buffer of a Splitter: rows are small, so 64 KiB turns many row
// writes into one system call without holding more than that of a collector's output in memory.
const splitterBufSize = 64 << 10

// errSplitterClosed is returned by Write after Close or Abort.
var errSplitterClosed = errors.New("splitter is closed")

// Part is one file written by a [Splitter].
type Part struct {
	// Path is the part's file, dir/<name>_split<N>.
	Path string
	// Size is the part's size in bytes, header included.
	Size int64
	// Compressed is the part's tarball member compressed ahead, Path+".gz", when the Splitter
	// was asked to (CompressParts) and managed to; "" otherwise.
	Compressed string `json:",omitempty"`
}

// Splitter is an io.Writer for one collector's CSV output that cuts it into part files of at most
// a given number of bytes, each starting with the header (upstream's CsvFileSplitter, section 6 of
// reference/upstream-behaviour.md, counting bytes as design.md D8 decides).
//
// Its input must follow the contract of the host's CSV writer: the first Write is exactly the
// header line, and every later Write is exactly one complete row with its trailing "\n" (a row
// may hold newlines inside quoted fields; it is never cut). A Write that does not end with "\n"
// fails.
//
// Parts are named dir/<name>_split0, dir/<name>_split1, … and created exclusively: an existing
// file of that name is an error, never overwritten. Before a row that would take the current part
// past maxBytes (counting the header), the Splitter starts a new part and repeats the header in
// it; a part therefore exceeds maxBytes only when the header plus a single row alone does.
// Output is buffered (64 KiB); the whole output is never held in memory.
//
// Errors are sticky: after the first failure every Write and Close returns it, and the files
// written so far have been removed. A Splitter is not safe for concurrent use.
type Splitter struct {
	dir, name string
	max       int64

	header []byte
	f      *os.File
	w      *bufio.Writer
	size   int64  // bytes in the current part, header included
	parts  []Part // finished parts, then the current one (its Size is set when it is finished)

	err    error
	closed bool

	// compress, when set, compresses each finished part in the background (CompressParts).
	compress   *MemberSpec
	compressWG sync.WaitGroup
	compressMu sync.Mutex
	compressed map[int]string // part index → its compressed member
}

// CompressParts has the Splitter compress each part into its tarball member (Part.Compressed) in
// the background as soon as the part is finished, while the collector goes on writing the next:
// the packer then copies the member instead of compressing the part. Call it before the first
// Write. A part whose compression fails is simply left for the packer to compress.
func (s *Splitter) CompressParts(spec MemberSpec) {
	if spec.Level == 0 {
		spec.Level = DefaultLevel
	}
	s.compress = &spec
	s.compressed = map[int]string{}
}

// Compression returns what CompressParts set, if it was called.
func (s *Splitter) Compression() (MemberSpec, bool) {
	if s.compress == nil {
		return MemberSpec{}, false
	}
	return *s.compress, true
}

// startCompress compresses part i in the background.
func (s *Splitter) startCompress(i int) {
	if s.compress == nil {
		return
	}
	p, spec := s.parts[i], *s.compress
	s.compressWG.Add(1)
	go func() {
		defer s.compressWG.Done()
		if out, err := compressPart(p, spec); err == nil {
			s.compressMu.Lock()
			s.compressed[i] = out
			s.compressMu.Unlock()
		}
	}()
}

// collectCompressed waits for the background compressions and records them in the parts.
func (s *Splitter) collectCompressed() {
	s.compressWG.Wait()
	s.compressMu.Lock()
	defer s.compressMu.Unlock()
	for i, out := range s.compressed {
		if i < len(s.parts) {
			s.parts[i].Compressed = out
		} else {
			os.Remove(out)
		}
	}
}

// NewSplitter returns a Splitter writing parts of at most maxBytes bytes into dir, named after
// name (usually the collector's key). maxBytes <= 0 means [DefaultMaxDataSize]. No file is created
// before the first Write. The caller must call Close (or Abort) once done.
func NewSplitter(dir, name string, maxBytes int64) *Splitter {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxDataSize
	}
	return &Splitter{dir: dir, name: name, max: maxBytes}
}

// Write writes one line: the header on the first call, one complete row on every later call. It
// returns len(p) on success. See [Splitter] for the contract and the splitting rule.
func (s *Splitter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, fmt.Errorf("split %s: %w", s.name, errSplitterClosed)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if p[len(p)-1] != '\n' {
		what := "row"
		if s.header == nil {
			what = "header"
		}
		return 0, s.fail(fmt.Errorf("%s of %d bytes does not end with a newline", what, len(p)))
	}
	if s.header == nil {
		s.header = append([]byte(nil), p...)
		if err := s.open(); err != nil {
			return 0, s.fail(err)
		}
		return len(p), nil
	}
	// Split only between rows, and only if the current part already holds one: a part is never
	// header-only, and an over-sized row goes alone into a part.
	if s.size > int64(len(s.header)) && s.size+int64(len(p)) > s.max {
		if err := s.finish(); err != nil {
			return 0, s.fail(err)
		}
		if err := s.open(); err != nil {
			return 0, s.fail(err)
		}
	}
	if _, err := s.w.Write(p); err != nil {
		return 0, s.fail(err)
	}
	s.size += int64(len(p))
	return len(p), nil
}

// Close flushes and closes the current part and returns the parts in order. If nothing was
// written, or only the header, it returns no parts and leaves no file behind (upstream:
// header-only output is "no data"). The caller owns the returned files: it hands them to a
// [Packer], which deletes them once packed, or removes them itself. A second Close returns the
// same result.
func (s *Splitter) Close() ([]Part, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.closed {
		return append([]Part(nil), s.parts...), nil
	}
	s.closed = true
	if s.f == nil {
		return nil, nil
	}
	if err := s.finish(); err != nil {
		return nil, s.fail(err)
	}
	s.collectCompressed()
	// Only the first part can hold the header alone: later parts are opened for a row.
	if last := s.parts[len(s.parts)-1]; last.Size <= int64(len(s.header)) {
		if last.Compressed != "" {
			os.Remove(last.Compressed)
		}
		if err := os.Remove(last.Path); err != nil {
			return nil, s.fail(err)
		}
		s.parts = s.parts[:len(s.parts)-1]
	}
	return append([]Part(nil), s.parts...), nil
}

// Abort discards the output: it closes the current part and removes every part written so far.
// The gather calls it when the collector fails, whose CSV output upstream skips. Later Writes
// fail; Close then returns no parts. It returns the first error met while removing files.
func (s *Splitter) Abort() error {
	var err error
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.compress != nil {
		s.collectCompressed()
	}
	for _, p := range s.parts {
		if p.Compressed != "" {
			os.Remove(p.Compressed)
		}
		if rerr := os.Remove(p.Path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("split %s: %w", s.name, rerr)
		}
	}
	s.parts = nil
	s.closed = true
	return err
}

// open creates the next part and writes the header into it.
func (s *Splitter) open() error {
	path := filepath.Join(s.dir, s.name+"_split"+strconv.Itoa(len(s.parts)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	s.f = f
	s.parts = append(s.parts, Part{Path: path})
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, splitterBufSize)
	} else {
		s.w.Reset(f)
	}
	if _, err := s.w.Write(s.header); err != nil {
		return err
	}
	s.size = int64(len(s.header))
	return nil
}

// finish flushes and closes the current part and records its size.
func (s *Splitter) finish() error {
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	s.parts[len(s.parts)-1].Size = s.size
	if err == nil && s.size > int64(len(s.header)) {
		s.startCompress(len(s.parts) - 1)
	}
	return err
}

// fail records err as the sticky error, closes the current part and removes every part.
func (s *Splitter) fail(err error) error {
	s.err = fmt.Errorf("split %s: %w", s.name, err)
	_ = s.Abort() // best effort: the write error is the one worth reporting
	return s.err
}

// Target returns where the Splitter writes: its directory, the name its parts are named after, and
// the most bytes of a part. Another process may write the parts itself with a Splitter of the
// same target; this one then takes them over with [Splitter.Adopt].
func (s *Splitter) Target() (dir, name string, maxBytes int64) { return s.dir, s.name, s.max }

// Adopt takes over parts written by another Splitter of the same target (in a worker process),
// in place of writing them: Close then returns them, Abort removes them. The parts are checked,
// not trusted: each must be the next part's file, exist, be a regular file, and have the size
// reported. Adopt fails on a Splitter that was written to.
func (s *Splitter) Adopt(parts []Part) error {
	if s.header != nil || s.closed || s.err != nil {
		return fmt.Errorf("split %s: adopt: the splitter was already used", s.name)
	}
	for i, p := range parts {
		want := filepath.Join(s.dir, s.name+"_split"+strconv.Itoa(i))
		if p.Path != want {
			return s.fail(fmt.Errorf("adopt: part %d is %q, want %q", i, p.Path, want))
		}
		st, err := os.Lstat(p.Path)
		if err != nil {
			return s.fail(fmt.Errorf("adopt: %w", err))
		}
		if !st.Mode().IsRegular() || st.Size() != p.Size {
			return s.fail(fmt.Errorf("adopt: part %s is not a regular file of %d bytes", p.Path, p.Size))
		}
		if p.Compressed != "" {
			// Another process's compressed member is used only if it is exactly the member this
			// part makes; otherwise the packer compresses the part itself.
			if s.compress == nil || p.Compressed != p.Path+".gz" || VerifyMember(p.Compressed, *s.compress, p.Size) != nil {
				if p.Compressed == p.Path+".gz" {
					os.Remove(p.Compressed)
				}
				p.Compressed = ""
			}
		}
		s.parts = append(s.parts, p)
	}
	s.closed = true
	return nil
}
