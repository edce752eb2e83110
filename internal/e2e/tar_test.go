package e2e_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func readTarGz(t *testing.T, r io.Reader) []member {
	t.Helper()
	zr, err := gzip.NewReader(r)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var out []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out = append(out, member{h.Name, b})
	}
}
