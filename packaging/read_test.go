package packaging

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
)

// testdata/upstream.tar.gz is made by testdata/make_upstream.py (see its docstring) the way
// upstream writes tarballs.
func TestReadTarballUpstream(t *testing.T) {
	c, err := ReadTarball(filepath.Join("testdata", "upstream.tar.gz"))
	require.NoError(t, err)
	require.Equal(t, []Member{
		{"./events_table.csv", 20},
		{"./config.json", 28},
		{"./data_collection_status.csv", 251},
		{"./manifest.json", 86},
	}, c.Members)
	require.Equal(t, []ManifestEntry{
		{"events_table.csv", "1.0"},
		{"config.json", "1.0"},
		{"data_collection_status.csv", "1.0"},
	}, c.Manifest)
	require.Equal(t, []StatusRow{
		{"2024-06-30 00:00:01.531620+00:00", "", "2024-06-30 00:00:00+00:00", "config.json", "ok", "3"},
		{"2024-06-30 00:00:01.531620+00:00", "2024-06-29 00:00:00+00:00", "2024-06-30 00:00:00+00:00", "events_table.csv", "ok", "0"},
	}, c.Status)
}

// tarGz builds a tarball in memory from name/content pairs.
func tarGz(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i < len(files); i += 2 {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: files[i], Size: int64(len(files[i+1])), Mode: 0o644}))
		_, err := tw.Write([]byte(files[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestReadTarballErrors(t *testing.T) {
	good := tarGz(t, "./a.json", "{}", "./manifest.json", `{"a.json": "1.0"}`)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-5] ^= 0xff // inside the CRC-32 of the gzip trailer
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("plain text"), "gzip: invalid header"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"bad checksum", corrupt, "gzip: invalid checksum"},
		{"manifest not an object", tarGz(t, "./manifest.json", `["a"]`), "member ./manifest.json: not a JSON object"},
		{"manifest version not a string", tarGz(t, "./manifest.json", `{"a": 1}`), `member ./manifest.json: version of "a"`},
		{"manifest trailing data", tarGz(t, "./manifest.json", `{} {}`), "member ./manifest.json: data after the JSON object"},
		{"status without column", tarGz(t, "./data_collection_status.csv", "since,until\r\n"), `member ./data_collection_status.csv: header lacks column "collection_start_timestamp"`},
		{"status ragged row", tarGz(t, "./data_collection_status.csv", "collection_start_timestamp,since,until,file_name,status,elapsed\r\na,b\r\n"), "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.tar.gz")
			require.NoError(t, os.WriteFile(path, tt.data, 0o644))
			_, err := ReadTarball(path)
			require.ErrorContains(t, err, "read "+path+": ")
			require.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadTarball(filepath.Join(t.TempDir(), "nope.tar.gz"))
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestReadTarballWithoutMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.tar.gz")
	require.NoError(t, os.WriteFile(path, tarGz(t, "a.csv", "x\n", "b.json", "{}"), 0o644))
	c, err := ReadTarball(path)
	require.NoError(t, err)
	require.Equal(t, []Member{{"a.csv", 2}, {"b.json", 2}}, c.Members)
	require.Nil(t, c.Manifest)
	require.Nil(t, c.Status)
}
