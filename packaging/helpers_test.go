package packaging

import (
	"archive/tar"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
)

// Goldens (testdata/*.golden) are made by the code under test, never by hand: run
//
//	go test ./packaging/ -run 'TestPlacement|TestGolden' -update
//
// then review every changed golden in the diff before committing it. Without -update a
// mismatch fails the test.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/<name>.golden, or rewrites that file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden: run go test -update and review it")
	require.Equal(t, string(want), string(got), "output differs from %s (go test -update rewrites it)", path)
}

// fixtureUntil is the gather's until in the tests: names become analytics-2024-06-30-000000+0000-N.tar.gz.
var fixtureUntil = time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)

// Upstream's test fixture: CSV files of 10-byte lines under a 10-byte header.
const (
	fixtureHeader = "Col1,Col2\n"
	fixtureRow    = "aaaa,bbbb\n"
)

// stageCSV writes a fixture CSV file of exactly size bytes (a multiple of 10, at least 20).
func stageCSV(t testing.TB, dir, name string, size int64) string {
	t.Helper()
	require.True(t, size >= 20 && size%10 == 0, "fixture CSV size %d", size)
	b := []byte(fixtureHeader + strings.Repeat(fixtureRow, int(size/10-1)))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// stageJSON writes a JSON document of exactly size bytes (at least 10).
func stageJSON(t testing.TB, dir, name string, size int64) string {
	t.Helper()
	require.GreaterOrEqual(t, size, int64(10))
	b := []byte(`{"k": "` + strings.Repeat("x", int(size)-10) + `"}` + "\n")
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// dirNames lists the names in dir, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// memberNames returns the names of ms.
func memberNames(ms []Member) []string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names
}

// memberBytes returns the content of member name of the tarball at path.
func memberBytes(t testing.TB, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "member %s not found in %s", name, path)
		if h.Name == name {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return b
		}
	}
}

// checkTarball checks tb against the file on disk: the system tar lists exactly its members,
// gzip -t accepts it, every header is normalised, and ReadTarball round-trips members, manifest
// and status rows as computed from tb.Collections and cfg.
func checkTarball(t *testing.T, tb *Tarball, cfg *Config) {
	t.Helper()
	fi, err := os.Stat(tb.Path)
	require.NoError(t, err)
	require.Equal(t, fi.Size(), tb.Size, "compressed size")
	require.Equal(t, filepath.Base(tb.Path), tb.Name)

	if _, err := exec.LookPath("tar"); err == nil {
		out, err := exec.Command("tar", "-tzf", tb.Path).CombinedOutput()
		require.NoError(t, err, "tar -tzf %s: %s", tb.Name, out)
		require.Equal(t, memberNames(tb.Members), strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), "tar -tzf %s", tb.Name)
	} else {
		t.Log("no tar on PATH: system tar check skipped")
	}
	if _, err := exec.LookPath("gzip"); err == nil {
		out, err := exec.Command("gzip", "-t", tb.Path).CombinedOutput()
		require.NoError(t, err, "gzip -t %s: %s", tb.Name, out)
	} else {
		t.Log("no gzip on PATH: gzip -t check skipped")
	}

	// Headers are normalised.
	f, err := os.Open(tb.Path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, int64(0o644), h.Mode, h.Name)
		require.Equal(t, 0, h.Uid, h.Name)
		require.Equal(t, 0, h.Gid, h.Name)
		require.Empty(t, h.Uname, h.Name)
		require.Empty(t, h.Gname, h.Name)
		require.True(t, h.ModTime.Equal(fixtureUntil), "%s mtime %v", h.Name, h.ModTime)
		require.Equal(t, byte(tar.TypeReg), h.Typeflag, h.Name)
	}

	c, err := ReadTarball(tb.Path)
	require.NoError(t, err)
	require.Equal(t, tb.Members, c.Members)

	var manifest []ManifestEntry
	var rows []StatusRow
	var data int64
	for _, col := range tb.Collections {
		rows = append(rows, statusRowOf(col))
		data += col.Size
		if col.hasMember() {
			manifest = append(manifest, ManifestEntry{File: col.fileName(), Version: col.Version})
		}
	}
	if cfg != nil && cfg.Path != "" {
		manifest = append(manifest, ManifestEntry{File: "config.json", Version: cfg.Version})
	}
	manifest = append(manifest, ManifestEntry{File: "data_collection_status.csv", Version: "1.0"})
	require.Equal(t, manifest, c.Manifest, "manifest of %s", tb.Name)
	require.Equal(t, rows, c.Status, "status of %s", tb.Name)
	require.Equal(t, data, tb.DataSize)
}

// listing renders tarballs for a golden: name, group, data size, then members and sizes. The
// compressed size is left out: it belongs to the compressor, not to this package.
func listing(tbs []*Tarball) []byte {
	var b strings.Builder
	for _, tb := range tbs {
		fmt.Fprintf(&b, "%s group=%s index=%d data=%d\n", tb.Name, tb.Group, tb.Index, tb.DataSize)
		for _, m := range tb.Members {
			fmt.Fprintf(&b, "\t%s\t%d\n", m.Name, m.Size)
		}
	}
	return []byte(b.String())
}
