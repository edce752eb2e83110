package serve

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTarGz(t *testing.T, members map[string]string, order ...string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range order {
		body := members[name]
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	path := filepath.Join(t.TempDir(), "t.tar.gz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// TestPreviewHostile: a preview of untrusted members is bounded and never fails the page: long
// cells are clipped, rows beyond the limit are counted as more, invalid JSON is shown raw with
// the reason, and a corrupt or truncated tarball is an error message.
func TestPreviewHostile(t *testing.T) {
	long := strings.Repeat("é", 10_000)
	var csv strings.Builder
	csv.WriteString("a,b\n")
	for i := 0; i < 50; i++ {
		csv.WriteString(long + ",\"<b>x</b>\"\n")
	}
	path := writeTarGz(t, map[string]string{
		"./x.csv":  csv.String(),
		"./y.json": `{"a": [1, 2`,
		"./z.bin":  "\x00\x01",
	}, "./x.csv", "./y.json", "./z.bin")
	p := readPreview(path, 5)
	require.Empty(t, p.Err)
	require.Len(t, p.Members, 3)
	x := p.Members[0]
	assert.Equal(t, "csv", x.Kind)
	assert.Equal(t, []string{"a", "b"}, x.Header)
	require.Len(t, x.Rows, 5)
	assert.True(t, x.More)
	assert.LessOrEqual(t, len(x.Rows[0][0]), maxCellBytes+len("…"))
	assert.True(t, strings.HasSuffix(x.Rows[0][0], "…"))
	assert.True(t, utf8Valid(x.Rows[0][0]), "clipped on a rune boundary")
	assert.Equal(t, "<b>x</b>", x.Rows[0][1], "kept as data; the template escapes it")
	y := p.Members[1]
	assert.Contains(t, y.Err, "not valid JSON")
	assert.Equal(t, `{"a": [1, 2`, y.JSON)
	assert.Equal(t, "other", p.Members[2].Kind)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	truncated := filepath.Join(t.TempDir(), "cut.tar.gz")
	require.NoError(t, os.WriteFile(truncated, b[:len(b)/2], 0o644))
	assert.NotEmpty(t, readPreview(truncated, 5).Err)
	assert.NotEmpty(t, readPreview(filepath.Join(t.TempDir(), "missing.tar.gz"), 5).Err)
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
