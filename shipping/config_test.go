package shipping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewBadConfig(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	noCerts := filepath.Join(dir, "empty.pem")
	require.NoError(t, os.WriteFile(noCerts, []byte("not a certificate\n"), 0o644))
	missing := filepath.Join(dir, "missing.pem")
	const url = "https://ingress.example/api/ingress/v1/upload"

	tests := []struct {
		name string
		cfg  Config
		want []string // every line of the joined error, in order
	}{
		{
			name: "missing url",
			cfg:  Config{Username: "u", Password: "p"},
			want: []string{"shipping url is not set"},
		},
		{
			name: "bad scheme",
			cfg:  Config{URL: "ftp://ingress.example/upload", Auth: AuthNone},
			want: []string{`shipping url "ftp://ingress.example/upload": must start with http:// or https://`},
		},
		{
			name: "no host",
			cfg:  Config{URL: "https:///upload", Auth: AuthNone},
			want: []string{`shipping url "https:///upload": no host`},
		},
		{
			name: "credentials in the url are refused and not echoed",
			cfg:  Config{URL: "https://user:hunter2@ingress.example/", Auth: AuthNone},
			want: []string{`shipping url "https://user:xxxxx@ingress.example/": must not carry credentials; set username and password`},
		},
		{
			name: "user-pass without password",
			cfg:  Config{URL: url, Username: "u"},
			want: []string{"shipping auth user-pass needs a password"},
		},
		{
			name: "user-pass without anything",
			cfg:  Config{URL: url, Auth: AuthUserPass},
			want: []string{"shipping auth user-pass needs a username", "shipping auth user-pass needs a password"},
		},
		{
			name: "mutual-tls without key",
			cfg:  Config{URL: url, Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile},
			want: []string{"shipping auth mutual-tls needs a client_key"},
		},
		{
			name: "unknown auth mode",
			cfg:  Config{URL: url, Auth: "kerberos"},
			want: []string{`shipping auth "kerberos" is unknown (want user-pass, x-rh-identity, mutual-tls or none)`},
		},
		{
			name: "identity not json",
			cfg:  Config{URL: url, Auth: AuthIdentity, Identity: []byte("{nope")},
			want: []string{"shipping auth x-rh-identity: identity is not valid JSON"},
		},
		{
			name: "bad headers",
			cfg:  Config{URL: url, Auth: AuthNone, Headers: map[string]string{"Bad Name": "x", "X-Ok": "a\r\nInjected: 1"}},
			want: []string{`shipping header "Bad Name": not a valid header name`, `shipping header "X-Ok": value contains a line break or NUL`},
		},
		{
			name: "negative numbers",
			cfg:  Config{URL: url, Auth: AuthNone, Timeout: -1, MaxAttempts: -2, MaxErrorBody: -3},
			want: []string{"shipping timeout -1ns is negative", "shipping max_attempts -2 is negative", "shipping max_error_body -3 is negative"},
		},
		{
			name: "unreadable ca bundle",
			cfg:  Config{URL: url, Auth: AuthNone, CABundleFile: missing},
			want: []string{"shipping ca_bundle " + missing + ": open: no such file or directory"},
		},
		{
			name: "ca bundle without certificates",
			cfg:  Config{URL: url, Auth: AuthNone, CABundleFile: noCerts},
			want: []string{"shipping ca_bundle " + noCerts + ": no certificates found"},
		},
		{
			name: "unreadable client key",
			cfg:  Config{URL: url, Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: missing},
			want: []string{"shipping client_key " + missing + ": open: no such file or directory"},
		},
		{
			name: "client cert and key that are not a pair",
			cfg:  Config{URL: url, Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: p.CAFile},
			want: []string{"shipping client_cert " + p.ClientCertFile + ", client_key " + p.CAFile + ": found a certificate rather than a key in the PEM for the private key"},
		},
		{
			name: "several at once",
			cfg:  Config{Auth: AuthUserPass, Username: "u", CABundleFile: noCerts},
			want: []string{
				"shipping url is not set",
				"shipping auth user-pass needs a password",
				"shipping ca_bundle " + noCerts + ": no certificates found",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(tt.cfg, nil, nil)
			require.Nil(t, u)
			require.Error(t, err)
			require.Equal(t, tt.want, strings.Split(err.Error(), "\n"))
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

// TestNewWithClientSkipsFiles: with the caller's client the connection files are its business.
func TestNewWithClientSkipsFiles(t *testing.T) {
	cfg := Config{URL: "https://ingress.example/", Auth: AuthNone, CABundleFile: "/nonexistent/ca.pem"}
	_, err := New(cfg, nil, nil)
	require.Error(t, err)
	u, err := New(cfg, newIngress(t, answer(202, "")).Client(), nil)
	require.NoError(t, err)
	require.NotNil(t, u.client.CheckRedirect, "the redirect policy applies to a caller's client too")
}

func TestValidHeaderName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"X-Custom", true}, {"x_rh-thing.v2", true}, {"", false}, {"Bad Name", false}, {"a:b", false}, {"é", false},
	} {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, validHeaderName(tt.name)) })
	}
}
