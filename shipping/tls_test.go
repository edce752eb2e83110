package shipping

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{p.ServerCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.CAPool,
		MinVersion:   tls.VersionTLS12,
	}

	tests := []struct {
		name       string
		cfg        Config
		wantCN     string // "" = the upload fails before any request
		wantErr    func(t *testing.T, err error)
		retryable  bool // of wantErr
		wantWarned bool
		maxVersion uint16 // of the server; 0 = TLS 1.3
	}{
		{
			name:   "client certificate, CA bundle",
			cfg:    Config{Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: p.ClientKeyFile, CABundleFile: p.CAFile},
			wantCN: "collector-1",
		},
		{
			name:       "client certificate, verification off",
			cfg:        Config{Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: p.ClientKeyFile, InsecureSkipVerify: true},
			wantCN:     "collector-1",
			wantWarned: true,
		},
		{
			// In TLS 1.2 the server checks the client certificate within the handshake.
			name:       "no client certificate, TLS 1.2: the handshake fails",
			cfg:        Config{Auth: AuthNone, CABundleFile: p.CAFile},
			maxVersion: tls.VersionTLS12,
			wantErr: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "remote error: tls: handshake failure")
				require.ErrorContains(t, err, "[shipping] auth")
			},
		},
		{
			// In TLS 1.3 the client finishes first and learns of the refusal in whatever way the
			// closing connection shows while it writes the request: an alert, a reset, EOF.
			name:      "no client certificate, TLS 1.3: the connection is refused",
			cfg:       Config{Auth: AuthNone, CABundleFile: p.CAFile},
			retryable: true, // when the refusal shows as a broken connection (TestTLSFailuresAreNotRetried)
			wantErr: func(t *testing.T, err error) {
				var uerr *url.Error
				require.ErrorAs(t, err, &uerr, "a transport error")
			},
		},
		{
			name: "system roots do not trust the test CA",
			cfg:  Config{Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: p.ClientKeyFile},
			wantErr: func(t *testing.T, err error) {
				var verr *tls.CertificateVerificationError
				require.ErrorAs(t, err, &verr)
				var unknown x509.UnknownAuthorityError
				require.True(t, errors.As(err, &unknown), "unknown authority: %v", err)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := serverTLS.Clone()
			conf.MaxVersion = tt.maxVersion
			srv := startIngress(t, answer(http.StatusAccepted, ""), conf)
			tb, data := tarballFile(t, 8<<10)
			cfg := tt.cfg
			cfg.URL = srv.URL
			cfg.MaxAttempts = 1
			u, _, logs := testUploader(t, cfg, nil)

			err := u.Ship(context.Background(), tb)
			require.Equal(t, tt.wantWarned, containsAll(logs.String(), "level=WARN", "insecure_skip_verify"))
			if tt.wantErr != nil {
				ue := asUploadError(t, err)
				require.Zero(t, ue.StatusCode, "a transport error, not an answer")
				require.Equal(t, 1, ue.Attempts)
				if _, isTLS := errors.AsType[*TLSError](err); isTLS || !tt.retryable {
					require.False(t, ue.Retryable, "a certificate refused is refused again")
				} else {
					require.True(t, ue.Retryable)
				}
				tt.wantErr(t, err)
				require.Empty(t, srv.requests())
				return
			}
			require.NoError(t, err)
			reqs := srv.requests()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.wantCN, reqs[0].PeerCommonName)
			require.Empty(t, reqs[0].Header.Get("Authorization"))
			require.Equal(t, data, parseUpload(t, reqs[0]).Data)
		})
	}
}

func TestNewClient(t *testing.T) {
	p := newPKI(t)
	client, err := NewClient(Config{Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile, ClientKeyFile: p.ClientKeyFile, CABundleFile: p.CAFile})
	require.NoError(t, err)
	require.NotSame(t, http.DefaultClient, client)
	require.NotNil(t, client.CheckRedirect)
	require.Zero(t, client.Timeout, "attempts are bounded by Config.Timeout instead")
	tr, ok := client.Transport.(*http.Transport)
	require.True(t, ok)
	require.NotNil(t, tr.Proxy)
	require.Equal(t, uint16(tls.VersionTLS12), tr.TLSClientConfig.MinVersion)
	require.Len(t, tr.TLSClientConfig.Certificates, 1)
	require.NotNil(t, tr.TLSClientConfig.RootCAs)
	require.Equal(t, DefaultConnectTimeout, tr.TLSHandshakeTimeout)

	_, err = NewClient(Config{Auth: AuthMutualTLS, ClientCertFile: p.ClientCertFile})
	require.EqualError(t, err, "shipping auth mutual-tls needs a client_key")

	// Other modes do not need the files and a user-pass client has no certificate.
	client, err = NewClient(Config{})
	require.NoError(t, err)
	require.Empty(t, client.Transport.(*http.Transport).TLSClientConfig.Certificates)
	require.Nil(t, client.Transport.(*http.Transport).TLSClientConfig.RootCAs, "system roots")
}
