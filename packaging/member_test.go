package packaging

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompressedAheadTarballs: parts compressed ahead (in the background, or by another process
// and adopted) give a tarball identical to one whose parts are compressed when it is written; a
// tarball of several gzip members reads as one archive with Go, Python's tarfile and GNU tar.
func TestCompressedAheadTarballs(t *testing.T) {
	until := time.Date(2024, 6, 30, 10, 34, 56, 123456000, time.UTC)
	rows := func(w *Splitter) {
		_, err := w.Write([]byte("id,note\n"))
		require.NoError(t, err)
		for i := range 3000 {
			_, err := w.Write([]byte(strings.Repeat("x", i%50) + ",\"a, b\"\n"))
			require.NoError(t, err)
		}
	}
	pack := func(compress bool) (string, []byte) {
		dir, stage := t.TempDir(), t.TempDir()
		s := NewSplitter(stage, "events", 40_000)
		if compress {
			s.CompressParts(MemberSpec{Name: "events.csv", ModTime: until})
		}
		rows(s)
		parts, err := s.Close()
		require.NoError(t, err)
		require.Greater(t, len(parts), 2)
		p := NewPacker(Options{Dir: dir, Until: until})
		var tarballs []*Tarball
		for _, part := range parts {
			if compress {
				require.NotEmpty(t, part.Compressed, "compressed ahead")
			}
			tbs, err := p.Add(Collection{Key: "events", Version: "1", Format: FormatCSV, Path: part.Path, Size: part.Size,
				Compressed: part.Compressed, Since: until.Add(-time.Hour), Until: until, Started: until, Finished: until, Sliced: true})
			require.NoError(t, err)
			tarballs = append(tarballs, tbs...)
		}
		b, err := os.ReadFile(tarballs[0].Path)
		require.NoError(t, err)
		leftovers, _ := os.ReadDir(stage)
		assert.Empty(t, leftovers, "staged parts and their members are removed once packed")
		return tarballs[0].Path, b
	}
	path, ahead := pack(true)
	_, now := pack(false)
	assert.Equal(t, now, ahead, "compressed ahead or when written: the same bytes")

	// Go.
	c, err := ReadTarball(path)
	require.NoError(t, err)
	var names []string
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"./events.csv", "./data_collection_status.csv", "./manifest.json"}, names)

	// Python's tarfile.
	py, err := exec.Command("python3", "-c", `import json, sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as t:
    print(json.dumps([[m.name, m.size] for m in t.getmembers()] + [len(t.extractfile("./events.csv").read())]))`, path).CombinedOutput()
	require.NoError(t, err, "%s", py)
	var got []any
	require.NoError(t, json.Unmarshal(py, &got))
	require.Len(t, got, 4)
	assert.Equal(t, "./events.csv", got[0].([]any)[0])
	assert.Equal(t, got[0].([]any)[1], got[3], "the whole member read back")

	// GNU tar.
	out := t.TempDir()
	gnu, err := exec.Command("tar", "-xzf", path, "-C", out).CombinedOutput()
	require.NoError(t, err, "%s", gnu)
	b, err := os.ReadFile(filepath.Join(out, "events.csv"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("id,note\n")))
}

// TestAdoptVerifiesCompressedMembers: a compressed member from another process is used only if
// it is exactly the part's member; one that adds an entry, or names another, is dropped.
func TestAdoptVerifiesCompressedMembers(t *testing.T) {
	until := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	spec := MemberSpec{Name: "events.csv", ModTime: until}
	stage := t.TempDir()
	worker := NewSplitter(stage, "events", 0)
	worker.CompressParts(spec)
	_, err := worker.Write([]byte("a\n"))
	require.NoError(t, err)
	_, err = worker.Write([]byte("1\n"))
	require.NoError(t, err)
	parts, err := worker.Close()
	require.NoError(t, err)
	require.Len(t, parts, 1)
	require.NoError(t, VerifyMember(parts[0].Compressed, spec, parts[0].Size))

	host := NewSplitter(stage, "events", 0)
	host.CompressParts(spec)
	require.NoError(t, host.Adopt(parts))
	got, err := host.Close()
	require.NoError(t, err)
	assert.Equal(t, parts[0].Compressed, got[0].Compressed, "a true member is kept")

	// A member of another name (as a compromised worker could write) is refused.
	other := MemberSpec{Name: "manifest.json", ModTime: until}
	assert.Error(t, VerifyMember(parts[0].Compressed, other, parts[0].Size))
	assert.Error(t, VerifyMember(parts[0].Compressed, spec, parts[0].Size+1))
	// Two members in one file are refused.
	b, err := os.ReadFile(parts[0].Compressed)
	require.NoError(t, err)
	double := filepath.Join(t.TempDir(), "double.gz")
	require.NoError(t, os.WriteFile(double, append(append([]byte(nil), b...), b...), 0o644))
	assert.ErrorContains(t, VerifyMember(double, spec, parts[0].Size), "data after the gzip member")
}
