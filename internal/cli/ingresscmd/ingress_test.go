package ingresscmd_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/hostile"
)

// childEnv, when set, makes the test binary run `wasmcollector ingress` with the arguments after
// "--" under an open-file limit of that many descriptors: a real ingress process with a small
// limit, so the slowloris test needs only a few hundred connections to reach it.
const childEnv = "WASMCOLLECTOR_TEST_INGRESS_NOFILE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
	}
	os.Exit(m.Run())
}

func runChild() {
	var n uint64
	for _, c := range os.Getenv(childEnv) {
		n = n*10 + uint64(c-'0')
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		panic(err)
	}
	args := os.Args[1:]
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(cli.Main(args, os.Stdout, os.Stderr))
}

// startIngress runs `wasmcollector ingress --listen 127.0.0.1:0 --dir <tmp> --upload-types tower args...` in a child
// process limited to nofile open files and returns its upload URL. The child is stopped with
// SIGTERM when the test ends.
func startIngress(t *testing.T, nofile int, args ...string) string {
	t.Helper()
	// --upload-types tower: the uploads carry AWX's content type, which the default refuses.
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--", "ingress", "--listen", "127.0.0.1:0", "--dir", t.TempDir(), "--upload-types", "tower"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+itoa(nofile))
	// The child's log goes to a file, read once it has exited.
	logPath := filepath.Join(t.TempDir(), "ingress.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		log, _ := os.ReadFile(logPath)
		if t.Failed() || err != nil {
			t.Errorf("ingress: %v, its log:\n%s", err, log)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the ingress did not print its URL")
	return strings.TrimSpace(line)
}

func itoa(n int) string {
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// validUpload returns the content type and body of a valid upload.
func validUpload(t *testing.T) (string, []byte) {
	t.Helper()
	tarball := hostile.Tarball(
		hostile.File{Name: "./a.csv", Body: "x\n"},
		hostile.File{Name: "./manifest.json", Body: `{"a.csv": "1.0"}`})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="a.tar.gz"`)
	h.Set("Content-Type", "application/vnd.redhat.tower.tower_payload+tgz")
	w, err := mw.CreatePart(h)
	require.NoError(t, err)
	_, err = w.Write(tarball)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// TestSlowloris is the attack of issue 11 item 7 against the real command: slow clients that
// never finish their header, more of them than the server has file descriptors. 10,500 of them
// against the default limit made a valid upload wait 27–38 s with "too many open files"; here the
// ingress runs with 256 descriptors and 300 slow clients. Before the connection cap the server
// ran out of descriptors and the upload waited for the old 30 s header timeout; now the cap
// (fitted to the limit) closes the slowest waiting connections and the upload is answered
// within a second.
func TestSlowloris(t *testing.T) {
	url := startIngress(t, 256)
	host := strings.TrimPrefix(url, "http://")
	host = host[:strings.Index(host, "/")]

	for range 300 {
		c, err := net.Dial("tcp", host)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "POST /api/ingress/v1/upload HTTP/1.1\r\nHost: ingress\r\nX-Slow: ")
		require.NoError(t, err)
	}

	ctype, body := validUpload(t)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Post(url, ctype, bytes.NewReader(body))
	elapsed := time.Since(start)
	require.NoError(t, err)
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "answer %s", answer)
	require.Less(t, elapsed, time.Second)
}

// TestMutualTLS: with --tls-cert, --tls-key and --client-ca the command serves HTTPS through its
// connection cap and takes an upload from a client with a certificate signed by the CA (here one
// self-signed certificate plays CA, server and client).
func TestMutualTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingress test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))

	url := startIngress(t, 1024, "--tls-cert", certFile, "--tls-key", keyFile, "--client-ca", certFile, "--max-conns", "8")
	require.True(t, strings.HasPrefix(url, "https://"), url)

	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}
	ctype, body := validUpload(t)
	resp, err := client.Post(url, ctype, bytes.NewReader(body))
	require.NoError(t, err)
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "answer %s", answer)
}
