package shipping

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/packaging"
)

func TestRequestShape(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		wantUA        string
		wantPartType  string
		wantHeaders   map[string]string
		tarballSize   int
		tarballNoName bool
	}{
		{
			name:         "defaults",
			cfg:          Config{Auth: AuthNone},
			wantUA:       "wasmcollector",
			wantPartType: "application/vnd.redhat.wasmcollector.analytics+tgz",
			tarballSize:  300 << 10,
		},
		{
			name: "custom type, agent and headers; content-type header ignored",
			cfg: Config{
				Auth:        AuthNone,
				ContentType: "application/vnd.redhat.eda.filename+tgz",
				UserAgent:   "wasmcollector/1.2.3",
				Headers:     map[string]string{"X-Custom": "yes", "x-trace-id": "abc", "content-type": "text/plain"},
			},
			wantUA:       "wasmcollector/1.2.3",
			wantPartType: "application/vnd.redhat.eda.filename+tgz",
			wantHeaders:  map[string]string{"X-Custom": "yes", "X-Trace-Id": "abc"},
			tarballSize:  10,
		},
		{
			name:         "empty tarball file",
			cfg:          Config{Auth: AuthNone},
			wantUA:       "wasmcollector",
			wantPartType: "application/vnd.redhat.wasmcollector.analytics+tgz",
			tarballSize:  0,
		},
		{
			name:          "name from the path when Name is empty",
			cfg:           Config{Auth: AuthNone},
			wantUA:        "wasmcollector",
			wantPartType:  "application/vnd.redhat.wasmcollector.analytics+tgz",
			tarballSize:   100,
			tarballNoName: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIngress(t, answer(http.StatusAccepted, `{"request_id": "1"}`))
			tb, data := tarballFile(t, tt.tarballSize)
			if tt.tarballNoName {
				tb.Name = ""
			}
			cfg := tt.cfg
			cfg.URL = srv.URL + "/api/ingress/v1/upload"
			u, sl, _ := testUploader(t, cfg, nil)

			require.NoError(t, u.Ship(context.Background(), tb))

			reqs := srv.requests()
			require.Len(t, reqs, 1)
			c := reqs[0]
			require.NoError(t, c.ReadErr)
			require.Equal(t, http.MethodPost, c.Method)
			require.Equal(t, "/api/ingress/v1/upload", c.Path)
			require.Empty(t, c.TransferEncoding, "the body is sent with a Content-Length, not chunked")
			require.Equal(t, int64(len(c.Body)), c.ContentLength)
			require.Equal(t, strconv.Itoa(len(c.Body)), c.Header.Get("Content-Length"))
			require.Equal(t, tt.wantUA, c.Header.Get("User-Agent"))
			for k, v := range tt.wantHeaders {
				require.Equal(t, v, c.Header.Get(k), "header %s", k)
			}
			require.Empty(t, c.Header.Get("Authorization"))
			require.Empty(t, c.Header.Get("X-Rh-Identity"))
			require.Len(t, c.Header.Values("Content-Type"), 1)

			part := parseUpload(t, c)
			require.Equal(t, 1, part.Parts, "exactly one part")
			require.Equal(t, "file", part.FormName)
			require.Equal(t, testTarballName, part.FileName)
			require.Equal(t, tt.wantPartType, part.ContentType)
			require.Equal(t, len(data), len(part.Data))
			require.Equal(t, data, part.Data)
			require.Empty(t, sl.asked())
		})
	}
}

func TestAuthModes(t *testing.T) {
	defaultIdentity := map[string]any{"identity": map[string]any{
		"type": "User", "account_number": "0000001", "org_id": "000001",
		"internal": map[string]any{"org_id": "000001"},
		"user":     map[string]any{"is_org_admin": true},
	}}
	customIdentity := map[string]any{"identity": map[string]any{"type": "System", "org_id": "42"}}
	customJSON, err := json.Marshal(customIdentity)
	require.NoError(t, err)

	tests := []struct {
		name         string
		cfg          Config
		wantBasic    []string // user, password; nil = no Authorization
		wantIdentity map[string]any
	}{
		{
			name:      "user-pass by default",
			cfg:       Config{Username: "rh-user", Password: "s3cr:et"},
			wantBasic: []string{"rh-user", "s3cr:et"},
		},
		{
			name:         "x-rh-identity default development identity",
			cfg:          Config{Auth: AuthIdentity},
			wantIdentity: defaultIdentity,
		},
		{
			name:         "x-rh-identity custom",
			cfg:          Config{Auth: AuthIdentity, Identity: customJSON},
			wantIdentity: customIdentity,
		},
		{
			name: "none sends no credentials even with username set",
			cfg:  Config{Auth: AuthNone, Username: "ignored", Password: "ignored"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIngress(t, answer(http.StatusAccepted, ""))
			tb, _ := tarballFile(t, 64)
			cfg := tt.cfg
			cfg.URL = srv.URL
			u, _, _ := testUploader(t, cfg, nil)
			require.NoError(t, u.Ship(context.Background(), tb))

			reqs := srv.requests()
			require.Len(t, reqs, 1)
			r := &http.Request{Header: reqs[0].Header}
			user, pass, ok := r.BasicAuth()
			if tt.wantBasic == nil {
				require.False(t, ok, "no basic auth")
				require.Empty(t, r.Header.Get("Authorization"))
			} else {
				require.True(t, ok, "basic auth")
				require.Equal(t, tt.wantBasic, []string{user, pass})
			}
			raw := r.Header.Get("x-rh-identity")
			if tt.wantIdentity == nil {
				require.Empty(t, raw)
				return
			}
			decoded, err := base64.StdEncoding.DecodeString(raw)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(decoded, &got))
			require.Equal(t, tt.wantIdentity, got)
		})
	}
}

func TestConfiguredAndCallerConfigUntouched(t *testing.T) {
	var nilUploader *Uploader
	require.Error(t, nilUploader.Configured())

	headers := map[string]string{"X-A": "1"}
	identity := []byte(`{"identity": {}}`)
	cfg := Config{URL: "https://ingress.example/upload", Auth: AuthIdentity, Headers: headers, Identity: identity}
	u, err := New(cfg, nil, nil)
	require.NoError(t, err)
	require.NoError(t, u.Configured())

	// New kept copies and wrote no defaults into the caller's value.
	headers["X-A"] = "changed"
	identity[0] = '['
	require.Equal(t, "1", u.cfg.Headers["X-A"])
	require.Equal(t, `{"identity": {}}`, string(u.cfg.Identity))
	require.Empty(t, cfg.UserAgent)
	require.Zero(t, cfg.MaxAttempts)

	require.Equal(t, DefaultTimeout, u.cfg.Timeout)
	require.Equal(t, DefaultConnectTimeout, u.cfg.ConnectTimeout)
	require.Equal(t, DefaultMaxAttempts, u.cfg.MaxAttempts)
	require.Equal(t, DefaultInitialBackoff, u.cfg.InitialBackoff)
	require.Equal(t, DefaultMaxBackoff, u.cfg.MaxBackoff)
	require.Equal(t, int64(DefaultMaxErrorBody), u.cfg.MaxErrorBody)
}

func TestShipMissingTarball(t *testing.T) {
	srv := newIngress(t, answer(http.StatusAccepted, ""))
	u, _, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone}, nil)

	err := u.Ship(context.Background(), &packaging.Tarball{Path: "/nonexistent/x.tar.gz", Name: "x.tar.gz"})
	ue := asUploadError(t, err)
	require.Zero(t, ue.Attempts)
	require.False(t, ue.Retryable)
	require.EqualError(t, err, "upload x.tar.gz: tarball /nonexistent/x.tar.gz: open: no such file or directory")

	ue = asUploadError(t, u.Ship(context.Background(), nil))
	require.Zero(t, ue.Attempts)
	require.Empty(t, srv.requests())
}

// TestConcurrentShips is a hammer: one Uploader, many goroutines, each a retry and a success.
func TestConcurrentShips(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := newIngress(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		// Both attempts of one Ship share its multipart boundary.
		key := r.Header.Get("Content-Type")
		mu.Lock()
		defer mu.Unlock()
		seen[key]++
		if seen[key]%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	tb, _ := tarballFile(t, 4<<10)
	u, sl, _ := testUploader(t, Config{URL: srv.URL, Auth: AuthNone}, nil)

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = u.Ship(context.Background(), tb)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	require.Len(t, srv.requests(), 2*n)
	require.Len(t, sl.asked(), n)
}

// The gather's Shipper interface (gather/policy.go), restated here so that this package's
// tests do not import the gather.
var _ interface {
	Configured() error
	Ship(ctx context.Context, t *packaging.Tarball) error
} = (*Uploader)(nil)
