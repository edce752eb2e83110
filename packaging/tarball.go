package packaging

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmcollector/wasmcollector/internal/iocount"
)

// Tarball is one package written to disk.
type Tarball struct {
	// Path is the tarball's file, Dir/Name.
	Path string
	// Name is "<base>-<until %Y-%m-%d-%H%M%S%z>-<index>.tar.gz", until in UTC, for example
	// "analytics-2024-06-30-000000+0000-0.tar.gz".
	Name string
	// Group is the shipping group of its collections.
	Group string
	// Index is the tarball's index: processing order in this run, 0, 1, 2 …, skipping an index
	// whose name is already taken in Dir.
	Index int
	// Size is the compressed size on disk, in bytes.
	Size int64
	// DataSize is the sum of the collections' Size.
	DataSize int64
	// Members lists the tar members in tar order.
	Members []Member
	// Collections lists the package's collections in insertion order, failed ones included.
	Collections []Collection
	// SHA256 is the hex SHA-256 of the file when the caller computed it (the gather does, before
	// it records the tarball as pending); shipping sends it as the upload's identifier.
	SHA256 string
}

// Member is one member of a tarball.
type Member struct {
	// Name is the member's name in the tar, with its "./" prefix.
	Name string
	// Size is the member's uncompressed size in bytes.
	Size int64
}

// copyBufSize is the buffer for copying staged files into the tar stream.
const copyBufSize = 256 << 10

// name returns the tarball name for index i.
func (p *Packer) name(i int) string {
	return p.opts.Base + "-" + p.opts.Until.UTC().Format("2006-01-02-150405-0700") + "-" + strconv.Itoa(i) + ".tar.gz"
}

// process writes pk as a tarball (to a temporary name in Dir, synced, then moved into place under
// the next free index) and deletes its collections' staged files. A failure to write is sticky
// and returns no tarball; a failure to delete a staged file returns the tarball and the error.
func (p *Packer) process(pk *pkg) (*Tarball, error) {
	pk.processed = true
	tb := &Tarball{Group: pk.group, DataSize: pk.size, Collections: append([]Collection(nil), pk.colls...)}
	tmp, err := p.write(pk, tb)
	if err == nil {
		err = p.publish(tmp, tb)
	}
	if err != nil {
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		p.err = fmt.Errorf("packaging: write %s: %w", p.name(p.next), err)
		return nil, p.err
	}
	var errs []error
	for _, c := range pk.colls {
		if c.Path == "" {
			continue
		}
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		if c.Compressed != "" {
			_ = os.Remove(c.Compressed)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return tb, fmt.Errorf("packaging: %s written, removing staged files: %w", tb.Name, err)
	}
	return tb, nil
}

// write writes the tarball of pk into a temporary file in Dir and returns its path, filling
// tb.Members and tb.Size. On error the returned path, if not empty, is to be removed.
func (p *Packer) write(pk *pkg, tb *Tarball) (tmp string, err error) {
	f, err := os.CreateTemp(p.opts.Dir, "."+p.opts.Base+"-*"+tempSuffix)
	if err != nil {
		return "", err
	}
	tmp = f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	cw := &iocount.Writer{W: f}
	bw := bufio.NewWriterSize(cw, 64<<10)
	if p.buf == nil {
		p.buf = make([]byte, copyBufSize)
	}

	// One gzip member per data file (compressed ahead when the part came with one), then one for
	// the rest: see member.go.
	var manifest []ManifestEntry
	rows := make([]StatusRow, 0, len(pk.colls))
	for i := range pk.colls {
		c := &pk.colls[i]
		rows = append(rows, statusRowOf(*c))
		if !c.hasMember() {
			continue
		}
		if err := p.addMember(bw, tb, c); err != nil {
			return tmp, err
		}
		manifest = append(manifest, ManifestEntry{File: c.fileName(), Version: c.Version})
	}
	p.gz.Reset(bw)
	tw := tar.NewWriter(p.gz)
	if cfg := p.opts.Config; cfg != nil && cfg.Path != "" {
		if err := p.addFile(tw, tb, configName, cfg.Path); err != nil {
			return tmp, err
		}
		manifest = append(manifest, ManifestEntry{File: configName, Version: cfg.Version})
	}
	manifest = append(manifest, ManifestEntry{File: statusName, Version: statusVersion})
	if err := p.addBytes(tw, tb, statusName, appendStatusCSV(nil, rows)); err != nil {
		return tmp, err
	}
	if err := p.addBytes(tw, tb, manifestName, appendManifest(nil, manifest)); err != nil {
		return tmp, err
	}
	if err := tw.Close(); err != nil {
		return tmp, err
	}
	if err := p.gz.Close(); err != nil {
		return tmp, err
	}
	if err := bw.Flush(); err != nil {
		return tmp, err
	}
	if !p.opts.NoSync {
		if err := f.Sync(); err != nil {
			return tmp, err
		}
	}
	if err := f.Close(); err != nil {
		return tmp, err
	}
	tb.Size = cw.N
	return tmp, nil
}

// header returns the normalised header of a member: see the package doc.
func (p *Packer) header(name string, size int64) *tar.Header {
	return memberHeader(name, size, p.opts.Until)
}

// addMember writes the gzip member of collection c: the one compressed ahead if there is one,
// otherwise compressed now.
func (p *Packer) addMember(w io.Writer, tb *Tarball, c *Collection) error {
	name := memberPrefix + c.fileName()
	f, err := os.Open(c.Path)
	if err != nil {
		return fmt.Errorf("member %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("member %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("member %s: %s is not a regular file", name, c.Path)
	}
	if c.Compressed != "" {
		if z, err := os.Open(c.Compressed); err == nil {
			_, err = io.CopyBuffer(w, z, p.buf)
			z.Close()
			if err != nil {
				return fmt.Errorf("member %s: %w", name, err)
			}
			tb.Members = append(tb.Members, Member{Name: name, Size: fi.Size()})
			return nil
		}
	}
	if err := writeMember(w, p.gz, p.buf, c.fileName(), p.opts.Until, f, fi.Size()); err != nil {
		return err
	}
	tb.Members = append(tb.Members, Member{Name: name, Size: fi.Size()})
	return nil
}

// addFile copies the staged file path into the tar as member name.
func (p *Packer) addFile(tw *tar.Writer, tb *Tarball, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("member %s%s: %w", memberPrefix, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("member %s%s: %w", memberPrefix, name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("member %s%s: %s is not a regular file", memberPrefix, name, path)
	}
	h := p.header(name, fi.Size())
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	if p.buf == nil {
		p.buf = make([]byte, copyBufSize)
	}
	// Copy exactly the size in the header: a file that shrinks meanwhile is an error, one that
	// grows is cut at its stat size; either way the member stays well-formed.
	n, err := io.CopyBuffer(tw, io.LimitReader(f, h.Size), p.buf)
	if err == nil && n != h.Size {
		err = fmt.Errorf("%s shrank from %d to %d bytes while being packed", path, h.Size, n)
	}
	if err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	tb.Members = append(tb.Members, Member{Name: h.Name, Size: h.Size})
	return nil
}

// addBytes writes b into the tar as member name.
func (p *Packer) addBytes(tw *tar.Writer, tb *Tarball, name string, b []byte) error {
	h := p.header(name, int64(len(b)))
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("member %s: %w", h.Name, err)
	}
	tb.Members = append(tb.Members, Member{Name: h.Name, Size: h.Size})
	return nil
}

// publish moves the finished temporary file tmp into place under the first free index from
// p.next on, never replacing an existing file, and fills tb's name fields.
//
// A hard link fails if the name exists, which makes taking a name atomic; where links are not
// supported it falls back to checking the name and renaming.
func (p *Packer) publish(tmp string, tb *Tarball) error {
	for i := p.next; ; i++ {
		name := p.name(i)
		if p.opts.Reserved != nil && p.opts.Reserved(name) {
			continue
		}
		final := filepath.Join(p.opts.Dir, name)
		err := os.Link(tmp, final)
		switch {
		case err == nil:
			_ = os.Remove(tmp) // the tarball is in place; a leftover temporary name is harmless
		case errors.Is(err, fs.ErrExist):
			continue
		default:
			if _, serr := os.Lstat(final); serr == nil {
				continue
			} else if !errors.Is(serr, fs.ErrNotExist) {
				return serr
			}
			if err := os.Rename(tmp, final); err != nil {
				return err
			}
		}
		// The directory entry is not synced: until the gather records the tarball (moving it into
		// pending/, whose directory it syncs), losing the entry only means collecting its window
		// again. One fsync per tarball, of its content.
		p.next = i + 1
		tb.Name, tb.Path, tb.Index = name, final, i
		return nil
	}
}

// tempSuffix ends the name of a tarball being written; it is renamed into place when complete.
const tempSuffix = ".tar.gz.tmp"

// IsTemp reports whether a file name in an output directory is a tarball a packer was still
// writing (one a killed process left behind), so that the next gather can remove it.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix)
}
