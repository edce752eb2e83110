package packaging

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// A tarball is a concatenation of gzip members (RFC 1952 allows it; Go's gzip reader, Python's
// tarfile and GNU tar read it as one stream): one member for each CSV part, then one for the rest
// (config.json, the status file, the manifest and the end-of-archive blocks). The uncompressed
// stream is the tar archive it always was. So a part can be compressed ahead of time, as soon as
// it is staged, while its collector still runs (Splitter.CompressParts), and the tarball copies
// that member as it is: the gather's second core does the compressing while the guest works.
// A part compressed ahead and one compressed when its tarball is written give the same bytes.

// MemberSpec says how a staged part will appear in its tarball: its member name (without the
// leading "./", such as "events.csv"), its modification time (the gather's Until), and the gzip
// level.
type MemberSpec struct {
	Name    string
	ModTime time.Time
	Level   int
}

func memberHeader(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     memberPrefix + name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	}
}

// writeMember writes to w one gzip member holding the tar entry of src: its header, its size bytes
// and the padding to the next block.
func writeMember(w io.Writer, gz *gzip.Writer, buf []byte, name string, mtime time.Time, src io.Reader, size int64) error {
	gz.Reset(w)
	tw := tar.NewWriter(gz)
	h := memberHeader(name, size, mtime)
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	// Exactly the size in the header: a file that shrinks meanwhile is an error, one that grows
	// is cut at its stat size; either way the member stays well-formed.
	n, err := io.CopyBuffer(tw, io.LimitReader(src, size), buf)
	if err == nil && n != size {
		err = fmt.Errorf("shrank from %d to %d bytes while being packed", size, n)
	}
	if err == nil {
		err = tw.Flush()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	return nil
}

// compressPart writes the gzip member of part p into p.Path+".gz".
func compressPart(p Part, spec MemberSpec) (string, error) {
	src, err := os.Open(p.Path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	out := p.Path + ".gz"
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	gz, err := gzip.NewWriterLevel(nil, spec.Level)
	if err == nil {
		bw := bufio.NewWriterSize(f, 64<<10)
		err = writeMember(bw, gz, make([]byte, copyBufSize), spec.Name, spec.ModTime, src, p.Size)
		if err == nil {
			err = bw.Flush()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return "", err
	}
	return out, nil
}

// VerifyMember checks that the file at path is exactly one gzip member holding exactly one tar
// entry with the header spec and size give, and nothing else: a compressed part from another
// process (a worker) can then add nothing to a tarball but its own data.
func VerifyMember(path string, spec MemberSpec, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	want := memberHeader(spec.Name, size, spec.ModTime)
	if h.Typeflag != tar.TypeReg || h.Name != want.Name || h.Size != want.Size || h.Mode != want.Mode || !h.ModTime.Equal(want.ModTime) {
		return fmt.Errorf("%s: member %q of %d bytes, want %q of %d", path, h.Name, h.Size, want.Name, want.Size)
	}
	if n, err := io.Copy(io.Discard, tr); err != nil || n != size {
		return fmt.Errorf("%s: member data: %d bytes, %v", path, n, err)
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: more than one member", path)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := br.Peek(1); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: data after the gzip member", path)
	}
	return nil
}
