package testguests

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// TarFile is one member of a tarball, read back whole.
type TarFile struct {
	Name string
	Data []byte
}

// ReadTarball reads every member of a .tar.gz, in order, with the standard library alone, so
// tests check the packaging with a reader it does not share.
func ReadTarball(tb testing.TB, path string) []TarFile {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("testguests: %s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	var out []TarFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatalf("testguests: %s: %v", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatalf("testguests: %s: %v", path, err)
		}
		out = append(out, TarFile{h.Name, b})
	}
}
