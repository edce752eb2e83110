package secret

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	withNewline := write("password", "s3cret\n")
	withCRLF := write("password-crlf", "s3cret\r\n")
	inner := write("inner-space", " two words \n")
	empty := write("empty", "\n")
	missing := filepath.Join(dir, "missing")
	t.Setenv("WASMCOLLECTOR_TEST_PASSWORD", "from-env\n")
	t.Setenv("WASMCOLLECTOR_TEST_EMPTY", "")

	tests := []struct {
		name    string
		secret  Ref
		want    string
		wantErr string
	}{
		{name: "neither set", secret: Ref{}, want: ""},
		{name: "env set, used as is", secret: Ref{Env: "WASMCOLLECTOR_TEST_PASSWORD"}, want: "from-env\n"},
		{name: "env missing", secret: Ref{Env: "WASMCOLLECTOR_TEST_UNSET_VARIABLE"}, wantErr: "secret: environment variable WASMCOLLECTOR_TEST_UNSET_VARIABLE is not set"},
		{name: "env empty", secret: Ref{Env: "WASMCOLLECTOR_TEST_EMPTY"}, wantErr: "secret: environment variable WASMCOLLECTOR_TEST_EMPTY is empty"},
		{name: "file, newline trimmed", secret: Ref{File: withNewline}, want: "s3cret"},
		{name: "file, crlf trimmed", secret: Ref{File: withCRLF}, want: "s3cret"},
		{name: "file, only line breaks trimmed", secret: Ref{File: inner}, want: " two words "},
		{name: "file empty", secret: Ref{File: empty}, wantErr: "secret file " + empty + " is empty"},
		{name: "file missing", secret: Ref{File: missing}, wantErr: "secret file " + missing + ": open: no such file or directory"},
		{name: "both set", secret: Ref{Env: "WASMCOLLECTOR_TEST_PASSWORD", File: withNewline}, wantErr: `secret: set env "WASMCOLLECTOR_TEST_PASSWORD" or file "` + withNewline + `", not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.secret.Resolve()
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := Ref{File: missing}.Resolve()
	require.ErrorIs(t, err, os.ErrNotExist)
}
