package shipping

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/packaging"
)

const testTarballName = "analytics-2024-06-30-000000+0000-0.tar.gz"

// tarballFile writes size pseudo-random bytes (the uploader does not look inside) as a
// tarball file and returns it with its content.
func tarballFile(t *testing.T, size int) (*packaging.Tarball, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := mrand.NewChaCha8([32]byte{1})
	_, _ = r.Read(data)
	path := filepath.Join(t.TempDir(), testTarballName)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return &packaging.Tarball{Path: path, Name: testTarballName, Size: int64(size)}, data
}

// capture is one request as the ingress received it.
type capture struct {
	Method, Path     string
	Host             string
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Body             []byte
	ReadErr          error
	PeerCommonName   string // of the TLS client certificate, if any
}

// ingress is a loopback server that records every request, body included, and then answers
// through respond, called with the 1-based number of the request.
type ingress struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []capture
}

type respondFunc func(n int, w http.ResponseWriter, r *http.Request)

// answer responds with a fixed status and body.
func answer(status int, body string) respondFunc {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func newIngress(t *testing.T, respond respondFunc) *ingress {
	return startIngress(t, respond, nil)
}

// startIngress starts an ingress, over TLS with tlsConf when it is not nil.
func startIngress(t *testing.T, respond respondFunc, tlsConf *tls.Config) *ingress {
	t.Helper()
	s := &ingress{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := capture{
			Method:           r.Method,
			Path:             r.URL.Path,
			Host:             r.Host,
			Header:           r.Header.Clone(),
			ContentLength:    r.ContentLength,
			TransferEncoding: r.TransferEncoding,
		}
		c.Body, c.ReadErr = io.ReadAll(r.Body)
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			c.PeerCommonName = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, c)
		n := len(s.reqs)
		s.mu.Unlock()
		respond(n, w, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures are expected in some tests
	if tlsConf != nil {
		s.TLS = tlsConf
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *ingress) requests() []capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]capture(nil), s.reqs...)
}

// sleeper records the waits Ship asks for and returns at once.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) asked() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testUploader returns an Uploader whose waits are recorded, not slept, with seeded jitter and
// logs captured (and echoed to the test output).
func testUploader(t *testing.T, cfg Config, client *http.Client) (*Uploader, *sleeper, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	lg := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	u, err := New(cfg, client, lg)
	require.NoError(t, err)
	s := &sleeper{}
	u.sleep = s.sleep
	u.rng = mrand.New(mrand.NewPCG(1, 2))
	return u, s, logs
}

// filePart is the single part of a multipart upload.
type filePart struct {
	FormName, FileName, ContentType string
	Data                            []byte
	Parts                           int
}

// parseUpload reads the multipart body of c, failing unless it is well formed.
func parseUpload(t *testing.T, c capture) filePart {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(c.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mediaType)
	mr := multipart.NewReader(bytes.NewReader(c.Body), params["boundary"])
	var fp filePart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		fp.Parts++
		fp.FormName, fp.FileName, fp.ContentType = p.FormName(), p.FileName(), p.Header.Get("Content-Type")
		fp.Data, err = io.ReadAll(p)
		require.NoError(t, err)
	}
	return fp
}

// pki is a CA with a server and a client certificate, written as PEM files.
type pki struct {
	CAFile, ClientCertFile, ClientKeyFile string
	ServerCert                            tls.Certificate
	CAPool                                *x509.CertPool
}

// newPKI generates an ECDSA CA, a server certificate for 127.0.0.1 and a client certificate
// with common name "collector-1", all signed by the CA.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	now := time.Now()
	serial := int64(0)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
		}
	}

	caKey := newKey()
	caTmpl := template("test ca")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	leaf := func(cn string, usage x509.ExtKeyUsage, ip net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := template(cn)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		if ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		return der, k
	}
	serverDER, serverKey := leaf("ingress", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	clientDER, clientKey := leaf("collector-1", x509.ExtKeyUsageClientAuth, nil)
	clientKeyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	require.NoError(t, err)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		CAFile:         writePEM("ca.pem", "CERTIFICATE", caDER),
		ClientCertFile: writePEM("client.pem", "CERTIFICATE", clientDER),
		ClientKeyFile:  writePEM("client-key.pem", "PRIVATE KEY", clientKeyDER),
		ServerCert:     tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		CAPool:         pool,
	}
}

// asUploadError returns err as an *UploadError, failing if it is not one.
func asUploadError(t *testing.T, err error) *UploadError {
	t.Helper()
	require.Error(t, err)
	var ue *UploadError
	require.ErrorAs(t, err, &ue)
	return ue
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
