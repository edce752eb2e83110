package ingress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// httpTestServer is a Server behind its own HTTPServer on a loopback port.
type httpTestServer struct {
	*Server
	hs   *HTTPServer
	addr string // host:port
	url  string // the upload URL
}

// newHTTPTestServer serves cfg (Dir defaults to a temporary directory) with lim on 127.0.0.1;
// setup, if not nil, runs before serving. Everything is shut down when the test ends.
func newHTTPTestServer(t *testing.T, cfg Config, lim HTTPLimits, setup func(*Server)) *httpTestServer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := New(cfg)
	require.NoError(t, err)
	if setup != nil {
		setup(s)
	}
	hs, err := s.HTTPServer(lim)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, hs.Shutdown(ctx))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return &httpTestServer{Server: s, hs: hs, addr: ln.Addr().String(), url: "http://" + ln.Addr().String() + s.cfg.Path}
}

// slowConns opens n connections to addr that each send the start of an upload's header and then
// nothing: a slowloris. They are closed when the test ends.
func slowConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = io.WriteString(c, "POST "+DefaultPath+" HTTP/1.1\r\nHost: ingress\r\nX-Slow: ")
		require.NoError(t, err)
	}
	return conns
}

// timedUpload posts a valid upload with a fresh client and returns its status and how long it took.
func timedUpload(t *testing.T, url string) (int, time.Duration) {
	t.Helper()
	name, tarball := packTarball(t)
	ctype, body := uploadBody(t, name, tarball)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	status, _, answer := post(t, client, url, ctype, body, nil)
	elapsed := time.Since(start)
	require.Equal(t, http.StatusAccepted, status, "answer %s", answer)
	return status, elapsed
}

// TestSlowloris is the attack of issue 11 item 7, scaled to a few hundred connections: 300 slow
// clients that never finish their header, against a cap of 50 connections. A valid upload is
// still answered within a second, and the server never holds more than its cap.
func TestSlowloris(t *testing.T) {
	s := newHTTPTestServer(t, Config{}, HTTPLimits{MaxConns: 50}, nil)
	slowConns(t, s.addr, 300)

	_, elapsed := timedUpload(t, s.url)
	require.Less(t, elapsed, time.Second)
	_, peak := s.hs.conns.stats()
	require.LessOrEqual(t, peak, 50)
	require.Len(t, s.Uploads(), 1)
}

// TestConnCapWaitsForRequests: connections in a request are never evicted; at the cap a new
// connection waits until one ends. Two uploads hang (FailHang) and fill a cap of 2; a third
// client connects and is served only once the hanging ones are released.
func TestConnCapWaitsForRequests(t *testing.T) {
	hanging := make(chan struct{}, 2)
	s := newHTTPTestServer(t, Config{}, HTTPLimits{MaxConns: 2}, func(s *Server) {
		s.FailNext(2, FailHang)
		s.hangHook = func() { hanging <- struct{}{} }
	})
	name, tarball := packTarball(t)
	ctype, body := uploadBody(t, name, tarball)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	hung := make(chan int, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			resp, err := client.Do(req)
			if err != nil {
				hung <- 0
				return
			}
			resp.Body.Close()
			hung <- resp.StatusCode
		}()
	}
	<-hanging
	<-hanging

	// The third connection is accepted by the kernel but waits for room: its request is not read.
	c, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET %s/_uploads HTTP/1.1\r\nHost: ingress\r\nConnection: close\r\n\r\n", DefaultPath)
	require.NoError(t, err)
	answered := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		answered <- err
	}()
	open, _ := s.hs.conns.stats()
	require.Equal(t, 2, open, "the hanging uploads keep their connections")
	select {
	case err := <-answered:
		t.Fatalf("answered while the cap was full of requests: %v", err)
	default:
	}

	require.NoError(t, s.Close()) // releases the hanging uploads: 503
	require.Equal(t, http.StatusServiceUnavailable, <-hung)
	require.Equal(t, http.StatusServiceUnavailable, <-hung)
	require.NoError(t, <-answered)
}

// TestReadHeaderTimeout: a client that does not finish its header in time is disconnected.
func TestReadHeaderTimeout(t *testing.T) {
	s := newHTTPTestServer(t, Config{}, HTTPLimits{ReadHeaderTimeout: 500 * time.Millisecond}, nil)
	c := slowConns(t, s.addr, 1)[0]
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.ReadAll(c) // the server closes it; only the deadline would make this an error
	require.NoError(t, err)
	timedUpload(t, s.url)
}

func TestHTTPLimits(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), MaxBytes: 1 << 20})
	require.NoError(t, err)

	_, err = s.HTTPServer(HTTPLimits{MaxConns: -1, ReadHeaderTimeout: -1, MinUploadRate: -1, IdleTimeout: -1})
	require.EqualError(t, err, "ingress: http limits: max conns -1 is negative\n"+
		"read header timeout -1ns is negative\nmin upload rate -1 is negative\nidle timeout -1ns is negative")

	hs, err := s.HTTPServer(HTTPLimits{})
	require.NoError(t, err)
	require.Equal(t, DefaultReadHeaderTimeout, hs.srv.ReadHeaderTimeout)
	require.Equal(t, DefaultIdleTimeout, hs.srv.IdleTimeout)
	// 1 MiB at 256 KiB/s: 4 s after the header.
	require.Equal(t, DefaultReadHeaderTimeout+4*time.Second, hs.srv.ReadTimeout)
	require.Equal(t, hs.srv.ReadTimeout+answerTime, hs.srv.WriteTimeout)
	require.Equal(t, fitFileLimit(DefaultMaxConns), hs.MaxConns())
	require.Positive(t, hs.MaxConns())

	hs, err = s.HTTPServer(HTTPLimits{MaxConns: 7, MinUploadRate: 1 << 20, ReadHeaderTimeout: time.Second})
	require.NoError(t, err)
	require.Equal(t, 7, hs.MaxConns())
	require.Equal(t, 2*time.Second, hs.srv.ReadTimeout)
}

// TestSlowBody: a client that sends its header at once and then its body too slowly is cut off
// when the read timeout (the header timeout plus the largest upload at the minimum rate) ends,
// and its connection counts no more.
func TestSlowBody(t *testing.T) {
	// 1 KiB at 4 KiB/s after 1 s (a generous header timeout, so a loaded machine does not trip
	// it first): 1.25 s for the whole request.
	s := newHTTPTestServer(t, Config{MaxBytes: 1 << 10}, HTTPLimits{ReadHeaderTimeout: time.Second, MinUploadRate: 4 << 10}, nil)
	require.Equal(t, 1250*time.Millisecond, s.hs.srv.ReadTimeout)
	c, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: ingress\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n--b\r\n", DefaultPath)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	answer, err := io.ReadAll(c) // the server answers 400 (the body read failed) and closes
	require.NoError(t, err, "not cut off within 10 s")
	require.Contains(t, string(answer), "400 Bad Request")
	timedUpload(t, s.url)
}

// selfSigned returns a self-signed certificate for 127.0.0.1 usable by both ends of a mutual TLS
// connection, and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
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
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestServeTLS: over mutual TLS the connection cap counts connections before their handshake (a
// client that never starts one is a waiting connection, evicted at the cap) and follows their
// state through the TLS layer: an upload in progress is never evicted, however many clients come
// after it, and a valid upload is answered within a second while they hold the cap.
func TestServeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	hanging := make(chan struct{}, 1)
	s, err := New(Config{Dir: t.TempDir()})
	require.NoError(t, err)
	s.FailNext(1, FailHang)
	s.hangHook = func() { hanging <- struct{}{} }
	hs, err := s.HTTPServer(HTTPLimits{MaxConns: 20})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- hs.ServeTLS(ln, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	}()
	t.Cleanup(func() {
		require.NoError(t, hs.Shutdown(context.Background()))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	idle := func(n int) {
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	url := "https://" + ln.Addr().String() + DefaultPath
	name, tarball := packTarball(t)
	ctype, body := uploadBody(t, name, tarball)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}

	// An upload that hangs in its request, then more idle clients than the cap holds.
	hung := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			hung <- 0
			return
		}
		resp.Body.Close()
		hung <- resp.StatusCode
	}()
	<-hanging
	idle(100)

	// A valid upload, accepted after all of them.
	start := time.Now()
	status, _, answer := post(t, client, url, ctype, body, nil)
	require.Equal(t, http.StatusAccepted, status, "answer %s", answer)
	require.Less(t, time.Since(start), time.Second)
	_, peak := hs.conns.stats()
	require.LessOrEqual(t, peak, 20)

	require.NoError(t, s.Close())
	require.Equal(t, http.StatusServiceUnavailable, <-hung, "the hanging upload kept its connection")

	// Without a client certificate the handshake fails.
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	_, err = noCert.Do(req)
	require.Error(t, err)
}

// TestMinUploadRate: a client that sends its header at once and then stalls its body is cut off
// once it falls behind the minimum rate (here after 1 s of grace plus 64 KiB at 256 KiB/s), long
// before the read timeout of the largest upload (100 MB at that rate: 6.5 minutes), and told why.
func TestMinUploadRate(t *testing.T) {
	s := newHTTPTestServer(t, Config{}, HTTPLimits{ReadHeaderTimeout: time.Second, MinUploadRate: 256 << 10}, nil)
	require.Greater(t, s.hs.srv.ReadTimeout, 6*time.Minute)
	c, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: ingress\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\n", DefaultPath)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "not cut off within 10 s")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	requireRejected(t, resp.StatusCode, body, http.StatusBadRequest, "slower than the minimum rate of 262144 bytes per second")
	timedUpload(t, s.url)
}
