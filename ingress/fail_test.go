package ingress

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// closeBound bounds how long a test waits for something that must happen promptly; reaching it
// is a failure (a hung handler), not a measurement.
const closeBound = 10 * time.Second

// TestFailStatus: FailNext(2, …) fails the next two uploads, before authentication, then uploads
// go through again.
func TestFailStatus(t *testing.T) {
	name, tarball := packTarball(t)
	tests := []struct {
		mode   FailMode
		status int
	}{
		{FailStatus500, http.StatusInternalServerError},
		{FailStatus503, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s := newTestServer(t, Config{Username: "alice", Password: "s3cret"}, nil)
			creds := func(r *http.Request) { r.SetBasicAuth("alice", "s3cret") }
			s.FailNext(2, tt.mode)

			status, _, body := s.upload(t, name, tarball, nil) // no credentials: the failure comes first
			requireRejected(t, status, body, tt.status, "injected failure: "+string(tt.mode))
			status, _, body = s.upload(t, name, tarball, creds)
			requireRejected(t, status, body, tt.status, "injected failure: "+string(tt.mode))
			require.Empty(t, dirNames(t, s.dir))

			status, _, body = s.upload(t, name, tarball, creds)
			require.Equal(t, http.StatusAccepted, status, "answer %s", body)
			status, _, _ = s.upload(t, name, tarball, nil)
			require.Equal(t, http.StatusUnauthorized, status, "failures used up: authentication again")
			require.Len(t, s.Uploads(), 1)
			require.Len(t, dirNames(t, s.dir), 1)
		})
	}
}

func TestFailNextReplacesAndClears(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	s.FailNext(5, FailStatus500)
	s.FailNext(1, FailStatus503) // replaces
	status, _, _ := s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	status, _, _ = s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status)

	s.FailNext(3, FailStatus500)
	s.FailNext(0, FailStatus500) // clears
	status, _, _ = s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status)

	require.PanicsWithValue(t, `ingress: FailNext: unknown mode "404"`, func() { s.FailNext(1, "404") })
}

// TestFailNextConcurrent: n failures are taken by exactly n of many concurrent uploads.
func TestFailNextConcurrent(t *testing.T) {
	const uploads, failures = 24, 7
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	s.FailNext(failures, FailStatus503)

	start := make(chan struct{})
	var mu sync.Mutex
	count := map[int]int{}
	var wg sync.WaitGroup
	for range uploads {
		wg.Go(func() {
			<-start
			ctype, body := uploadBody(t, name, tarball)
			req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", ctype)
			resp, err := s.ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			count[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusServiceUnavailable: failures, http.StatusAccepted: uploads - failures}, count)
	require.Len(t, s.Uploads(), uploads-failures)
}

// TestFailDrop: the client sees its connection closed without an answer (not a timeout); the
// next upload succeeds.
func TestFailDrop(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	s.FailNext(1, FailDrop)

	// A fresh connection per request: the transport must not retry on a reused one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctype, body := uploadBody(t, name, tarball)
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "a dropped connection gives no response")
	t.Logf("client error: %v", err)
	var netErr net.Error
	require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "not a timeout: %v", err)
	require.Empty(t, dirNames(t, s.dir))

	status, _, b := post(t, client, s.url, ctype, body, nil)
	require.Equal(t, http.StatusAccepted, status, "answer %s", b)
	require.Len(t, s.Uploads(), 1)
}

// TestFailHangClientTimeout: a hanging upload holds its answer until the client's timeout fires;
// the handler then returns, so the HTTP server closes promptly.
func TestFailHangClientTimeout(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	s.FailNext(1, FailHang)

	client := &http.Client{Timeout: 200 * time.Millisecond}
	ctype, body := uploadBody(t, name, tarball)
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	require.True(t, netErr.Timeout(), "the client's timeout: %v", err)

	// httptest's Close waits for every handler: it returns only if the hanging one did, without
	// Server.Close.
	closed := make(chan struct{})
	go func() { s.ts.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(closeBound):
		t.Fatal("the hanging handler did not return after the client gave up")
	}
	lines := s.log.lines(t)
	require.Len(t, lines, 1)
	require.Equal(t, "injected failure: hung until the client went away", lines[0]["reason"])
	require.Equal(t, float64(0), lines[0]["status"])
}

// TestFailHangServerClose: Server.Close releases hanging uploads with a 503 at once, and later
// hangs do not block.
func TestFailHangServerClose(t *testing.T) {
	hanging := make(chan struct{}, 1)
	s := newTestServer(t, Config{}, func(s *Server) { s.hangHook = func() { hanging <- struct{}{} } })
	name, tarball := packTarball(t)
	s.FailNext(1, FailHang)

	type answer struct {
		status int
		body   []byte
	}
	answered := make(chan answer, 1)
	go func() {
		status, _, body := s.upload(t, name, tarball, nil) // no client timeout
		answered <- answer{status, body}
	}()
	<-hanging
	select {
	case a := <-answered:
		t.Fatalf("answered while hanging: %d %s", a.status, a.body)
	default:
	}
	require.NoError(t, s.Close())
	select {
	case a := <-answered:
		requireRejected(t, a.status, a.body, http.StatusServiceUnavailable, "injected failure: hung until the server closed")
	case <-time.After(closeBound):
		t.Fatal("Server.Close did not release the hanging upload")
	}

	// After Close: a hang answers at once, and uploads are still served.
	s.FailNext(1, FailHang)
	status, _, body := s.upload(t, name, tarball, nil)
	<-hanging
	requireRejected(t, status, body, http.StatusServiceUnavailable, "hung until the server closed")
	status, _, _ = s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status)

	closed := make(chan struct{})
	go func() { s.ts.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(closeBound):
		t.Fatal("a handler is still running")
	}
}
