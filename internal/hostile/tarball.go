package hostile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
)

// File is one regular member of a tarball.
type File struct {
	Name string
	Body string
}

// Tarball returns a gzip'd PAX tar of files, in order.
func Tarball(files ...File) []byte {
	return gzipped(tarOf(files...))
}

// HugeNames returns a tar.gz of n empty members with the same name, nameBytes long, carried in
// a PAX record (nameBytes must leave room for the record's framing within archive/tar's 1 MiB,
// so at most 1<<20 - 64), followed by a manifest.json that lists nothing.
//
// It is the attack of issue 11 item 6 (3,000 members, 1 MB PAX names). Gzip members may be
// concatenated, so the member is compressed once and repeated: a 3 GB tar stream in a 3 MB file,
// built in milliseconds.
func HugeNames(n, nameBytes int) []byte {
	var out, tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	must(tw.WriteHeader(&tar.Header{Name: strings.Repeat("a", nameBytes), Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}))
	must(tw.Flush())
	member := gzipped(tarBuf.Bytes())
	for range n {
		out.Write(member)
	}
	out.Write(gzipped(tarOf(File{Name: "./manifest.json", Body: "{}"})))
	return out.Bytes()
}

// tarOf returns an uncompressed tar of files, end blocks included.
func tarOf(files ...File) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		must(tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}))
		_, err := tw.Write([]byte(f.Body))
		must(err)
	}
	must(tw.Close())
	return buf.Bytes()
}

// gzipped returns b gzip-compressed, as one gzip member.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	must(err)
	must(zw.Close())
	return buf.Bytes()
}

// must panics on an error writing to memory, which cannot happen with valid headers: a bug in
// the builder.
func must(err error) {
	if err != nil {
		panic("hostile: " + err.Error())
	}
}
