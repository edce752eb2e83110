package shipping

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	fixed := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	// withinBackoff checks that each wait was a full-jitter draw for its retry.
	withinBackoff := func(t *testing.T, cfg Config, asked []time.Duration) {
		c := cfg.withDefaults()
		for i, d := range asked {
			require.GreaterOrEqual(t, d, time.Duration(0), "wait %d", i)
			require.LessOrEqual(t, d, backoffCap(c.InitialBackoff, c.MaxBackoff, i), "wait %d", i)
		}
	}

	tests := []struct {
		name         string
		cfg          Config
		respond      respondFunc
		setup        func(u *Uploader)
		wantRequests int
		wantSleeps   []time.Duration // exact waits; nil = checked by withinBackoff
		wantErr      string          // "" = shipped
		check        func(t *testing.T, ue *UploadError)
	}{
		{
			name: "503 twice then 202",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			},
			wantRequests: 3,
		},
		{
			name: "429 with Retry-After seconds",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "2")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			},
			wantRequests: 2,
			wantSleeps:   []time.Duration{2 * time.Second},
		},
		{
			name:  "503 with Retry-After date",
			setup: func(u *Uploader) { u.now = func() time.Time { return fixed } },
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", fixed.Add(30*time.Second).Format(http.TimeFormat))
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusCreated)
			},
			wantRequests: 2,
			wantSleeps:   []time.Duration{30 * time.Second},
		},
		{
			name: "Retry-After is capped at MaxBackoff",
			cfg:  Config{MaxBackoff: 10 * time.Second},
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "3600")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			},
			wantRequests: 2,
			wantSleeps:   []time.Duration{10 * time.Second},
		},
		{
			name: "Retry-After on 500 is not honoured",
			respond: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "30")
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			},
			wantRequests: 2,
		},
		{
			name:         "400 with a body is not retried",
			respond:      answer(http.StatusBadRequest, "{\"error\": \"bad manifest\"}\n"),
			wantRequests: 1,
			wantErr:      `upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 400 Bad Request after 1 attempt: {"error": "bad manifest"}`,
			check: func(t *testing.T, ue *UploadError) {
				require.Equal(t, http.StatusBadRequest, ue.StatusCode)
				require.Equal(t, `{"error": "bad manifest"}`, ue.Body)
				require.Equal(t, 1, ue.Attempts)
				require.False(t, ue.Retryable)
				require.NoError(t, ue.Err)
			},
		},
		{
			name:         "413 is not retried",
			respond:      answer(http.StatusRequestEntityTooLarge, ""),
			wantRequests: 1,
			wantErr:      "upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 413 Request Entity Too Large after 1 attempt",
			check:        func(t *testing.T, ue *UploadError) { require.False(t, ue.Retryable) },
		},
		{
			name:         "500 forever runs out of attempts",
			cfg:          Config{MaxAttempts: 4},
			respond:      answer(http.StatusInternalServerError, "  upstream\n  timeout  "),
			wantRequests: 4,
			wantErr:      "upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 500 Internal Server Error after 4 attempts: upstream timeout",
			check: func(t *testing.T, ue *UploadError) {
				require.True(t, ue.Retryable)
				require.Equal(t, 4, ue.Attempts)
				require.Equal(t, http.StatusInternalServerError, ue.StatusCode)
				require.Equal(t, "upstream\n  timeout", ue.Body)
			},
		},
		{
			name:         "error body is capped",
			cfg:          Config{MaxAttempts: 1, MaxErrorBody: 16},
			respond:      answer(http.StatusBadGateway, strings.Repeat("é", 100)),
			wantRequests: 1,
			wantErr:      "upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 502 Bad Gateway after 1 attempt: " + strings.Repeat("é", 8),
			check:        func(t *testing.T, ue *UploadError) { require.True(t, ue.Retryable) },
		},
		{
			name:         "one attempt only",
			cfg:          Config{MaxAttempts: 1},
			respond:      answer(http.StatusServiceUnavailable, ""),
			wantRequests: 1,
			wantErr:      "upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 503 Service Unavailable after 1 attempt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIngress(t, tt.respond)
			tb, data := tarballFile(t, 32<<10)
			cfg := tt.cfg
			cfg.URL, cfg.Auth = srv.URL, AuthNone
			u, sl, logs := testUploader(t, cfg, nil)
			if tt.setup != nil {
				tt.setup(u)
			}

			err := u.Ship(context.Background(), tb)

			reqs := srv.requests()
			require.Len(t, reqs, tt.wantRequests)
			sum := sha256.Sum256(data)
			for _, c := range reqs {
				require.Equal(t, data, parseUpload(t, c).Data, "every attempt sends the whole tarball")
				require.Equal(t, hex.EncodeToString(sum[:]), c.Header.Get(RequestIDHeader), "every attempt carries the payload identifier")
				require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, c.Header.Get(IdempotencyKeyHeader))
			}
			asked := sl.asked()
			require.Len(t, asked, tt.wantRequests-1, "one wait between attempts")
			if tt.wantSleeps != nil {
				require.Equal(t, tt.wantSleeps, asked)
			} else {
				withinBackoff(t, cfg, asked)
			}
			require.Equal(t, tt.wantRequests-1, strings.Count(logs.String(), `msg="upload failed, retrying" tarball=`+testTarballName))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Contains(t, logs.String(), `msg="tarball shipped" tarball=`+testTarballName)
				return
			}
			ue := asUploadError(t, err)
			require.EqualError(t, err, tt.wantErr)
			if tt.check != nil {
				tt.check(t, ue)
			}
		})
	}
}

func TestDroppedConnection(t *testing.T) {
	tests := []struct {
		name      string
		drops     int32 // how many first requests are dropped
		wantErr   bool
		wantCalls int32
	}{
		{name: "dropped once, then accepted", drops: 1, wantCalls: 2},
		{name: "dropped every time", drops: 1 << 20, wantErr: true, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > tt.drops {
					_, _ = io.Copy(io.Discard, r.Body)
					w.WriteHeader(http.StatusAccepted)
					return
				}
				// Read part of the upload, then drop the connection.
				_, _ = io.ReadFull(r.Body, make([]byte, 16<<10))
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			}))
			t.Cleanup(srv.Close)
			tb, _ := tarballFile(t, 2<<20)
			u, sl, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, MaxAttempts: 3}, nil)

			err := u.Ship(context.Background(), tb)
			require.Equal(t, tt.wantCalls, calls.Load())
			require.Len(t, sl.asked(), int(tt.wantCalls)-1)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			ue := asUploadError(t, err)
			require.Zero(t, ue.StatusCode)
			require.Error(t, ue.Err)
			require.True(t, ue.Retryable)
			require.Equal(t, 3, ue.Attempts)
			require.True(t, strings.HasPrefix(err.Error(), "upload "+testTarballName+": post "+srv.URL+": "), err.Error())
			require.True(t, strings.HasSuffix(err.Error(), " (3 attempts)"), err.Error())
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newIngress(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select { // never answer
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	tb, _ := tarballFile(t, 1<<10)
	u, sl, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, Timeout: 200 * time.Millisecond, MaxAttempts: 2}, nil)

	err := u.Ship(context.Background(), tb)
	ue := asUploadError(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, ue.StatusCode)
	require.True(t, ue.Retryable)
	require.Equal(t, 2, ue.Attempts)
	require.Len(t, srv.requests(), 2)
	require.Len(t, sl.asked(), 1)
	require.Contains(t, err.Error(), "attempt timed out after 200ms")
}

func TestContextCancelled(t *testing.T) {
	t.Run("during backoff", func(t *testing.T) {
		srv := newIngress(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		tb, _ := tarballFile(t, 1<<10)
		u, _, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone, MaxBackoff: 2 * time.Hour}, nil)
		sleeping := make(chan time.Duration, 1)
		u.sleep = func(ctx context.Context, d time.Duration) error {
			sleeping <- d
			return sleepCtx(ctx, d) // the real wait: one hour unless cancelled
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- u.Ship(ctx, tb) }()

		require.Equal(t, time.Hour, <-sleeping)
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second): // a guard against a hang, not a timing assertion
			t.Fatal("Ship did not return after its context was cancelled")
		}
		ue := asUploadError(t, err)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, ue.Attempts)
		require.Equal(t, http.StatusServiceUnavailable, ue.StatusCode)
		require.False(t, ue.Retryable)
		require.EqualError(t, err, "upload "+testTarballName+": context canceled (1 attempt; last answer 503 Service Unavailable)")
		require.Len(t, srv.requests(), 1)
	})
	t.Run("before the first attempt", func(t *testing.T) {
		srv := newIngress(t, answer(http.StatusAccepted, ""))
		tb, _ := tarballFile(t, 1<<10)
		u, _, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ue := asUploadError(t, u.Ship(ctx, tb))
		require.ErrorIs(t, ue, context.Canceled)
		require.Zero(t, ue.Attempts)
		require.Empty(t, srv.requests())
	})
	t.Run("during an attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := newIngress(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		tb, _ := tarballFile(t, 1<<10)
		u, sl, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone}, nil)
		ue := asUploadError(t, u.Ship(ctx, tb))
		require.ErrorIs(t, ue, context.Canceled)
		require.Equal(t, 1, ue.Attempts)
		require.False(t, ue.Retryable)
		require.Empty(t, sl.asked(), "no retry after cancellation")
	})
}

func TestBackoffCap(t *testing.T) {
	tests := []struct {
		name         string
		initial, max time.Duration
		n            int
		want         time.Duration
	}{
		{"first retry", time.Second, time.Minute, 0, time.Second},
		{"doubles", time.Second, time.Minute, 3, 8 * time.Second},
		{"capped", time.Second, time.Minute, 6, time.Minute},
		{"no overflow", time.Second, time.Minute, 1000, time.Minute},
		{"initial above max", 2 * time.Minute, time.Minute, 0, time.Minute},
		{"zero initial", 0, time.Minute, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, backoffCap(tt.initial, tt.max, tt.n))
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	u, _, _ := testUploader(t, Config{URL: "http://ingress.example", Auth: AuthNone}, nil)
	for n := range 8 {
		limit := backoffCap(time.Second, time.Minute, n)
		distinct := map[time.Duration]bool{}
		for range 200 {
			d := u.backoff(n)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, limit)
			distinct[d] = true
		}
		require.Greater(t, len(distinct), 100, "waits are spread over [0, %s]", limit)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		wantOK bool
	}{
		{"absent", "", 0, false},
		{"seconds", "2", 2 * time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 5 ", 5 * time.Second, true},
		{"negative", "-1", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
		{"huge", "99999999999999999", 365 * 24 * time.Hour, true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"rfc 850 date", now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT"), time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := retryAfter(tt.header, now)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSleepCtx(t *testing.T) {
	require.NoError(t, sleepCtx(context.Background(), 0))
	require.NoError(t, sleepCtx(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, sleepCtx(ctx, time.Hour), context.Canceled)
	require.ErrorIs(t, sleepCtx(ctx, 0), context.Canceled)
}

func TestRetryableStatus(t *testing.T) {
	for _, tt := range []struct {
		code int
		want bool
	}{
		{400, false}, {401, false}, {403, false}, {404, false}, {408, false}, {413, false}, {415, false},
		{429, true}, {500, true}, {502, true}, {503, true}, {504, true},
	} {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			require.Equal(t, tt.want, retryableStatus(tt.code))
		})
	}
}
