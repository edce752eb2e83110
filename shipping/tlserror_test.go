package shipping

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCA is a certificate authority for tests, valid from an hour ago for a day unless made
// otherwise.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var testSerial atomic.Int64

func newTestCA(t *testing.T, cn string, notBefore, notAfter time.Time) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCA{cert: cert, key: key}
}

// leafSpec describes a certificate a testCA issues.
type leafSpec struct {
	cn                  string
	usage               x509.ExtKeyUsage
	ips                 []net.IP
	dns                 []string
	notBefore, notAfter time.Time
}

func (ca testCA) issue(t *testing.T, s leafSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: s.cn},
		NotBefore: s.notBefore, NotAfter: s.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{s.usage}, IPAddresses: s.ips, DNSNames: s.dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func (ca testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// writeCA writes the CA certificate as a PEM bundle.
func (ca testCA) writeCA(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600))
	return path
}

// writeKeyPair writes a certificate and its key as PEM files.
func writeKeyPair(t *testing.T, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// TestTLSFailuresAreNotRetried: a certificate that does not verify, on either side, fails the
// upload at its first attempt (the next would meet the same certificate), and the error names the
// [shipping] setting to fix. Every certificate is generated here; the servers are real TLS
// servers on loopback.
func TestTLSFailuresAreNotRetried(t *testing.T) {
	now := time.Now()
	valid := func(s leafSpec) leafSpec {
		s.notBefore, s.notAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		return s
	}
	ca := newTestCA(t, "ingress ca", now.Add(-time.Hour), now.Add(48*time.Hour))
	other := newTestCA(t, "someone else's ca", now.Add(-time.Hour), now.Add(48*time.Hour))
	expiredCA := newTestCA(t, "expired ca", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	server := ca.issue(t, valid(leafSpec{cn: "ingress", usage: x509.ExtKeyUsageServerAuth, ips: loopback}))
	caFile, otherFile, expiredCAFile := ca.writeCA(t), other.writeCA(t), expiredCA.writeCA(t)
	goodCert, goodKey := writeKeyPair(t, ca.issue(t, valid(leafSpec{cn: "collector-1", usage: x509.ExtKeyUsageClientAuth})))
	strangerCert, strangerKey := writeKeyPair(t, other.issue(t, valid(leafSpec{cn: "stranger", usage: x509.ExtKeyUsageClientAuth})))
	expiredClient := ca.issue(t, leafSpec{cn: "old", usage: x509.ExtKeyUsageClientAuth, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
	oldCert, oldKey := writeKeyPair(t, expiredClient)
	mtls := func(cert, key string) Config {
		return Config{Auth: AuthMutualTLS, ClientCertFile: cert, ClientKeyFile: key, CABundleFile: caFile}
	}
	requireClient := func(maxVersion uint16) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs: ca.pool(), MaxVersion: maxVersion}
	}

	tests := []struct {
		name     string
		server   *tls.Config
		cfg      Config
		setting  string
		contains []string
		as       func(error) bool // the underlying error is still found in the chain
	}{
		{
			name:     "unknown authority, ca_bundle set",
			server:   &tls.Config{Certificates: []tls.Certificate{server}},
			cfg:      Config{Auth: AuthNone, CABundleFile: otherFile},
			setting:  "ca_bundle",
			contains: []string{`issued by "CN=ingress ca"`, "not signed by a CA in [shipping] ca_bundle " + otherFile, "set [shipping] ca_bundle"},
			as:       func(err error) bool { _, ok := errors.AsType[x509.UnknownAuthorityError](err); return ok },
		},
		{
			name:     "unknown authority, system roots",
			server:   &tls.Config{Certificates: []tls.Certificate{server}},
			cfg:      Config{Auth: AuthNone},
			setting:  "ca_bundle",
			contains: []string{"not signed by a CA in the system's CA certificates", "set [shipping] ca_bundle"},
			as:       func(err error) bool { _, ok := errors.AsType[x509.UnknownAuthorityError](err); return ok },
		},
		{
			name: "hostname mismatch",
			server: &tls.Config{Certificates: []tls.Certificate{
				ca.issue(t, valid(leafSpec{cn: "ingress", usage: x509.ExtKeyUsageServerAuth, dns: []string{"ingress.example"}})),
			}},
			cfg:      Config{Auth: AuthNone, CABundleFile: caFile},
			setting:  "url",
			contains: []string{"is valid for ingress.example, not for host 127.0.0.1", "[shipping] url must name a host the certificate is for"},
			as:       func(err error) bool { _, ok := errors.AsType[x509.HostnameError](err); return ok },
		},
		{
			name: "expired server certificate",
			server: &tls.Config{Certificates: []tls.Certificate{
				ca.issue(t, leafSpec{cn: "ingress", usage: x509.ExtKeyUsageServerAuth, ips: loopback, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)}),
			}},
			cfg:      Config{Auth: AuthNone, CABundleFile: caFile},
			setting:  "",
			contains: []string{`certificate "CN=ingress" in the ingress's chain is out of its validity period`, "the ingress must renew it"},
			as:       func(err error) bool { _, ok := errors.AsType[x509.CertificateInvalidError](err); return ok },
		},
		{
			name: "expired CA in ca_bundle",
			server: &tls.Config{Certificates: []tls.Certificate{
				expiredCA.issue(t, valid(leafSpec{cn: "ingress", usage: x509.ExtKeyUsageServerAuth, ips: loopback})),
			}},
			cfg:      Config{Auth: AuthNone, CABundleFile: expiredCAFile},
			setting:  "ca_bundle",
			contains: []string{`CA certificate "CN=expired ca" in [shipping] ca_bundle ` + expiredCAFile + " is out of its validity period"},
			as:       func(err error) bool { _, ok := errors.AsType[x509.CertificateInvalidError](err); return ok },
		},
		{
			name:     "client certificate from a CA the ingress does not trust, TLS 1.2",
			server:   requireClient(tls.VersionTLS12),
			cfg:      mtls(strangerCert, strangerKey),
			setting:  "client_cert",
			contains: []string{"the ingress refused the TLS handshake, most likely for the client certificate of [shipping] client_cert " + strangerCert, "remote error: tls: handshake failure"},
		},
		{
			name:     "expired client certificate, TLS 1.2",
			server:   requireClient(tls.VersionTLS12),
			cfg:      mtls(oldCert, oldKey),
			setting:  "client_cert",
			contains: []string{"the ingress refused the client certificate of [shipping] client_cert " + oldCert},
		},
		{
			name:     "no client certificate, TLS 1.2",
			server:   requireClient(tls.VersionTLS12),
			cfg:      Config{Auth: AuthNone, CABundleFile: caFile},
			setting:  "client_cert",
			contains: []string{`refused the TLS handshake, most likely because it requires a client certificate: set [shipping] auth = "mutual-tls" with client_cert and client_key`},
		},
		{
			// In TLS 1.3 the server refuses after the client's handshake is over: the refusal
			// arrives while the request is written, as the alert or, now and then, as a broken
			// connection, which is retried; the alert, once it is read, is not.
			name:     "client certificate refused, TLS 1.3",
			server:   requireClient(0),
			cfg:      mtls(strangerCert, strangerKey),
			setting:  "client_cert",
			contains: []string{"client certificate of [shipping] client_cert " + strangerCert},
		},
		{
			name:     "no client certificate, TLS 1.3",
			server:   requireClient(0),
			cfg:      Config{Auth: AuthNone, CABundleFile: caFile},
			setting:  "client_cert",
			contains: []string{`the ingress requires a client certificate: set [shipping] auth = "mutual-tls"`, "remote error: tls: certificate required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startIngress(t, answer(http.StatusAccepted, ""), tt.server)
			tb, _ := tarballFile(t, 8<<10)
			cfg := tt.cfg
			cfg.URL = srv.URL
			cfg.MaxAttempts = 6
			var attempts []Attempt
			cfg.OnAttempt = func(a Attempt) { attempts = append(attempts, a) }
			u, delays, _ := testUploader(t, cfg, nil)

			err := u.Ship(context.Background(), tb)
			ue := asUploadError(t, err)
			require.False(t, ue.Retryable, "%v", err)
			require.Zero(t, ue.StatusCode)
			require.Equal(t, tt.setting, ue.Setting, "%v", err)
			te, ok := errors.AsType[*TLSError](err)
			require.True(t, ok, "a *TLSError: %v", err)
			require.Equal(t, tt.setting, te.Setting)
			for _, want := range tt.contains {
				require.ErrorContains(t, err, want)
			}
			if tt.as != nil {
				require.True(t, tt.as(err), "the x509 error is in the chain: %v", err)
			}
			require.Empty(t, srv.requests(), "no request reached the handler")
			require.Equal(t, OutcomeTLS, attempts[len(attempts)-1].Outcome())
			if tt.server.MaxVersion == tls.VersionTLS12 || tt.server.ClientAuth == tls.NoClientCert {
				// Refused within the handshake: always at the first attempt.
				require.Equal(t, 1, ue.Attempts, "not retried: %v", err)
				require.Empty(t, delays.asked())
			} else {
				require.Len(t, delays.asked(), ue.Attempts-1)
			}
		})
	}

	t.Run("the same client certificates, trusted, succeed", func(t *testing.T) {
		srv := startIngress(t, answer(http.StatusAccepted, ""), requireClient(0))
		tb, _ := tarballFile(t, 1<<10)
		cfg := mtls(goodCert, goodKey)
		cfg.URL = srv.URL
		u, _, _ := testUploader(t, cfg, nil)
		require.NoError(t, u.Ship(context.Background(), tb))
		require.Equal(t, "collector-1", srv.requests()[0].PeerCommonName)
	})
}
