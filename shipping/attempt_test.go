package shipping

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// attemptLog records what Config.OnAttempt is told.
type attemptLog struct {
	mu  sync.Mutex
	all []Attempt
}

func (l *attemptLog) add(a Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, a)
}

func (l *attemptLog) outcomes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.all))
	for i, a := range l.all {
		out[i] = a.Outcome()
	}
	return out
}

// TestOnAttempt: every request is reported, not only the last: a server that answers 503
// twice and then 202 gives three attempts, numbered, with their status codes.
func TestOnAttempt(t *testing.T) {
	srv := newIngress(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	tb, _ := tarballFile(t, 4<<10)
	var log attemptLog
	u, _, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, OnAttempt: log.add}, nil)
	require.NoError(t, u.Ship(context.Background(), tb))
	require.Equal(t, []string{"503", "503", "202"}, log.outcomes())
	for i, a := range log.all {
		require.Equal(t, i+1, a.N)
		require.Equal(t, testTarballName, a.Tarball)
		require.NoError(t, a.Err)
		require.Positive(t, a.Elapsed)
	}

	t.Run("WithOnAttempt reports to its own hook and leaves the original alone", func(t *testing.T) {
		var other attemptLog
		v := u.WithOnAttempt(other.add)
		require.NoError(t, v.Ship(context.Background(), tb))
		require.Equal(t, []string{"202"}, other.outcomes())
		require.Len(t, log.outcomes(), 3, "the original's hook is not called")
		require.NoError(t, u.Ship(context.Background(), tb))
		require.Len(t, log.outcomes(), 4)
		require.Len(t, other.outcomes(), 1)
	})

	t.Run("no request, no attempt", func(t *testing.T) {
		var none attemptLog
		v := u.WithOnAttempt(none.add)
		tb, _ := tarballFile(t, 10)
		tb.Path += ".missing"
		tb.SHA256 = "00"
		require.Error(t, v.Ship(context.Background(), tb))
		require.Empty(t, none.outcomes())
	})

	t.Run("transport errors are reported by class", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close()) // nothing listens there now: connection refused
		var refused attemptLog
		u, _, _ := testUploader(t, Config{URL: "http://" + addr, Auth: AuthNone, MaxAttempts: 2, OnAttempt: refused.add}, nil)
		require.Error(t, u.Ship(context.Background(), tb))
		require.Equal(t, []string{OutcomeNetwork, OutcomeNetwork}, refused.outcomes())
	})
}

func TestAttemptOutcome(t *testing.T) {
	ue := func(err error) error { return &url.Error{Op: "Post", URL: "u", Err: err} }
	tests := []struct {
		a    Attempt
		want string
	}{
		{Attempt{StatusCode: 202}, "202"},
		{Attempt{StatusCode: 503}, "503"},
		{Attempt{Err: ue(&TLSError{Setting: "ca_bundle", Err: errors.New("x509")})}, OutcomeTLS},
		{Attempt{Err: ue(context.Canceled)}, OutcomeCanceled},
		{Attempt{Err: ue(fmt.Errorf("attempt timed out after 1s: %w", context.DeadlineExceeded))}, OutcomeTimeout},
		{Attempt{Err: ue(&net.OpError{Op: "dial", Err: timeoutErr{}})}, OutcomeTimeout},
		{Attempt{Err: ue(&redirectRefused{err: errors.New("stopped after 10 redirects")})}, OutcomeRedirect},
		{Attempt{Err: ue(errors.New("connection reset by peer"))}, OutcomeNetwork},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.a.Outcome(), "%v", tt.a.Err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestUnsupportedMediaType: a 415 says the content type was refused, with the value sent, and
// names [shipping] content_type, with or without a body (the real ingress sends none). It is not
// retried.
func TestUnsupportedMediaType(t *testing.T) {
	for _, body := range []string{"", `{"errors": [{"status": 415, "detail": "service \"wasmcollector\" is not an upload type"}]}`} {
		t.Run(fmt.Sprintf("body %t", body != ""), func(t *testing.T) {
			srv := newIngress(t, answer(http.StatusUnsupportedMediaType, body))
			tb, _ := tarballFile(t, 1<<10)
			var log attemptLog
			u, sleeps, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, MaxAttempts: 5, OnAttempt: log.add}, nil)
			err := u.Ship(context.Background(), tb)
			ue := asUploadError(t, err)
			require.Equal(t, http.StatusUnsupportedMediaType, ue.StatusCode)
			require.False(t, ue.Retryable)
			require.Equal(t, 1, ue.Attempts)
			require.Empty(t, sleeps.asked())
			require.Equal(t, []string{"415"}, log.outcomes())
			require.Equal(t, "content_type", ue.Setting)
			require.Equal(t, DefaultContentType, ue.ContentType)
			want := `upload ` + testTarballName + `: ingress answered 415 Unsupported Media Type after 1 attempt: it does not take content type "` +
				DefaultContentType + `"; set [shipping] content_type to the type the ingress is configured to route for this product (AWX's is application/vnd.redhat.tower.tower_payload+tgz)`
			if body != "" {
				want += `; it said: {"errors": [{"status": 415, "detail": "service \"wasmcollector\" is not an upload type"}]}`
			}
			require.EqualError(t, err, want)
		})
	}

	t.Run("other statuses name no setting", func(t *testing.T) {
		srv := newIngress(t, answer(http.StatusBadRequest, "bad manifest"))
		tb, _ := tarballFile(t, 1<<10)
		u, _, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, ContentType: "application/vnd.redhat.tower.tower_payload+tgz"}, nil)
		ue := asUploadError(t, u.Ship(context.Background(), tb))
		require.Empty(t, ue.Setting)
		require.Equal(t, "application/vnd.redhat.tower.tower_payload+tgz", ue.ContentType)
		require.NotContains(t, ue.Error(), "content_type")
	})
}
