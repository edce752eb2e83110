package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/state"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// receiver is the ingress on a loopback server, behind a gate the test controls: it records every
// request and can answer some itself (a 400, a redirect) before the ingress sees them.
type receiver struct {
	t       *testing.T
	ing     *ingress.Server
	srv     *httptest.Server
	dir     string
	mu      sync.Mutex
	seen    []*http.Request
	answers []func(w http.ResponseWriter, r *http.Request) bool // consumed in order; true = answered
}

func newReceiver(t *testing.T, cfg ingress.Config, tlsCfg *tls.Config) *receiver {
	t.Helper()
	rc := &receiver{t: t, dir: t.TempDir()}
	cfg.Dir, cfg.Logger = rc.dir, quiet
	var err error
	rc.ing, err = ingress.New(cfg)
	require.NoError(t, err)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.seen = append(rc.seen, r.Clone(context.Background()))
		var answer func(http.ResponseWriter, *http.Request) bool
		if len(rc.answers) > 0 {
			answer, rc.answers = rc.answers[0], rc.answers[1:]
		}
		rc.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		rc.ing.ServeHTTP(w, r)
	})
	if tlsCfg != nil {
		rc.srv = httptest.NewUnstartedServer(h)
		rc.srv.TLS = tlsCfg
		rc.srv.StartTLS()
	} else {
		rc.srv = httptest.NewServer(h)
	}
	t.Cleanup(func() { rc.ing.Close(); rc.srv.Close() })
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + ingress.DefaultPath }

func (rc *receiver) requests() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.seen...)
}

// rows returns how often each events row reached the ingress, over every stored tarball.
func (rc *receiver) rows() map[string]int {
	rc.t.Helper()
	rows := map[string]int{}
	for _, u := range rc.ing.Uploads() {
		for _, f := range readMembers(rc.t, u.Path) {
			if f.Name != "./events.csv" {
				continue
			}
			recs, err := csv.NewReader(bytes.NewReader(f.Data)).ReadAll()
			require.NoError(rc.t, err)
			for _, r := range recs[1:] {
				rows[r[0]]++
			}
		}
	}
	return rows
}

// setup is a registry shipping to rc: a config collector and "events", a CSV collector sliced
// hourly with one row a minute.
type setup struct {
	reg, out, stateDir string
}

func newSetup(t *testing.T, shipping string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{out: filepath.Join(dir, "out"), stateDir: filepath.Join(dir, "state")}
	s.reg = testguests.Registry(t, map[string]string{"flaky.wasm": testguests.Go(t, "internal/testguests/flaky")}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q

[shipping]
retry_backoff = "10ms"
%s

[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "events"
version = "1.3"
format = "csv"
slicing = "1h"
module = "flaky.wasm"
function = "events"
`, s.out, s.stateDir, shipping))
	return s
}

// gather runs `wasmcollector gather --manual` over the three hours before until.
func (s *setup) gather(t *testing.T, since, until string, extra ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"gather", "--manual", "-c", s.reg, "--log-level", "error", "--until", until}, extra...)
	if since != "" {
		args = append(args, "--since", since)
	}
	code = cli.Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func (s *setup) entry(t *testing.T, key string) time.Time {
	t.Helper()
	st, err := state.NewFileStore(s.stateDir).Load(context.Background())
	require.NoError(t, err)
	return st.Entries[key]
}

func readMembers(t *testing.T, path string) []testguests.TarFile {
	return testguests.ReadTarball(t, path)
}

const (
	t0 = "2026-11-25T00:00:00Z"
	t3 = "2026-11-25T03:00:00Z"
	t5 = "2026-11-25T05:00:00Z"
)

// requireExactlyOnce checks that every minute of (t0, until] reached the ingress once.
func requireExactlyOnce(t *testing.T, rc *receiver, minutes int) {
	t.Helper()
	rows := rc.rows()
	assert.Len(t, rows, minutes)
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s reached the ingress %d times", id, n)
	}
}

func TestAuthModes(t *testing.T) {
	p := newPKI(t)
	t.Setenv("E2E_PASSWORD", "s3cret pass")
	identity := filepath.Join(t.TempDir(), "identity.json")
	require.NoError(t, os.WriteFile(identity, []byte(`{"identity": {"account_number": "4242", "org_id": "77"}}`), 0o644))
	tests := []struct {
		name     string
		cfg      ingress.Config
		tls      *tls.Config
		shipping string
		user     string
		check    func(t *testing.T, r *http.Request)
	}{
		{"user-pass", ingress.Config{Username: "acme", Password: "s3cret pass"}, nil,
			`auth = "user-pass"` + "\nusername = \"acme\"\npassword_env = \"E2E_PASSWORD\"", "acme",
			func(t *testing.T, r *http.Request) {
				u, pw, ok := r.BasicAuth()
				require.True(t, ok)
				assert.Equal(t, "acme", u)
				assert.Equal(t, "s3cret pass", pw)
			}},
		{"x-rh-identity", ingress.Config{RequireIdentity: true}, nil,
			`auth = "x-rh-identity"` + "\nidentity_file = \"" + identity + "\"", "4242",
			func(t *testing.T, r *http.Request) {
				assert.NotEmpty(t, r.Header.Get("x-rh-identity"))
				assert.Empty(t, r.Header.Get("Authorization"))
			}},
		{"mutual-tls", ingress.Config{}, &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert},
			fmt.Sprintf("auth = \"mutual-tls\"\nclient_cert = %q\nclient_key = %q\nca_bundle = %q", p.clientCert, p.clientKey, p.caFile), "",
			func(t *testing.T, r *http.Request) {
				require.NotNil(t, r.TLS)
				require.Len(t, r.TLS.PeerCertificates, 1)
				assert.Equal(t, "wasmcollector test", r.TLS.PeerCertificates[0].Subject.CommonName)
			}},
		{"none", ingress.Config{}, nil, `auth = "none"`, "", func(t *testing.T, r *http.Request) {
			assert.Empty(t, r.Header.Get("Authorization"))
			assert.Empty(t, r.Header.Get("x-rh-identity"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.cfg, tt.tls)
			s := newSetup(t, fmt.Sprintf("url = %q\ncontent_type = \"application/vnd.redhat.wasmcollector.acme+tgz\"\n%s\n[shipping.headers]\nX-Product = \"acme 4.6\"", rc.url(), tt.shipping))
			stdout, errs, code := s.gather(t, t0, t3)
			require.Equal(t, 0, code, "%s%s", stdout, errs)
			uploads := rc.ing.Uploads()
			require.Len(t, uploads, 3, "one tarball per hourly slice")
			for _, u := range uploads {
				assert.Equal(t, tt.user, u.User)
				assert.Equal(t, "application/vnd.redhat.wasmcollector.acme+tgz", u.ContentType)
				assert.Regexp(t, `^analytics-2026-11-25-030000\+0000-\d\.tar\.gz$`, u.Name)
			}
			reqs := rc.requests()
			require.Len(t, reqs, 3, "no retries")
			for _, r := range reqs {
				tt.check(t, r)
				assert.Equal(t, http.MethodPost, r.Method)
				assert.Equal(t, ingress.DefaultPath, r.URL.Path)
				assert.Equal(t, "wasmcollector/dev", r.Header.Get("User-Agent"))
				assert.Equal(t, "acme 4.6", r.Header.Get("X-Product"))
				mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				require.NoError(t, err)
				assert.Equal(t, "multipart/form-data", mt)
				assert.NotEmpty(t, params["boundary"])
			}
			requireExactlyOnce(t, rc, 3*60)
			assert.Equal(t, time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), s.entry(t, "events"))
			assert.Contains(t, stdout, "shipped")
			entries, err := os.ReadDir(s.out)
			require.NoError(t, err)
			assert.Empty(t, entries, "shipped tarballs are deleted")
		})
	}
}

// TestMultipartShape reads the body the ingress parsed, one part named file, byte for byte the
// tarball, with its name and content type.
func TestMultipartShape(t *testing.T) {
	var parts []string
	var mu sync.Mutex
	rc := newReceiver(t, ingress.Config{}, nil)
	rc.answers = append(rc.answers, func(w http.ResponseWriter, r *http.Request) bool {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		require.NoError(t, err)
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, int64(len(body)), r.ContentLength, "Content-Length is exact")
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			data, err := io.ReadAll(p)
			require.NoError(t, err)
			mu.Lock()
			parts = append(parts, fmt.Sprintf("%s|%s|%s|%d", p.FormName(), p.FileName(), p.Header.Get("Content-Type"), len(data)))
			mu.Unlock()
			assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "a gzip file")
		}
		w.WriteHeader(http.StatusAccepted)
		return true
	})
	s := newSetup(t, fmt.Sprintf("url = %q\nauth = \"none\"", rc.url()))
	_, errs, code := s.gather(t, "2026-11-25T02:00:00Z", t3)
	require.Equal(t, 0, code, errs)
	require.Len(t, parts, 1)
	assert.Regexp(t, `^file\|analytics-2026-11-25-030000\+0000-0\.tar\.gz\|application/vnd\.redhat\.wasmcollector\.analytics\+tgz\|\d+$`, parts[0])
}

// TestFaults: the ingress fails in each way the issue names. After the first run the bookkeeping
// is what D3 says; a second run without faults ships the missing window; across both runs every
// row reaches the ingress exactly once.
func TestFaults(t *testing.T) {
	status := func(code int, body string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(code)
			io.WriteString(w, body)
			return true
		}
	}
	redirect := func(code int, to string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, to, code)
			return true
		}
	}
	pass := func(http.ResponseWriter, *http.Request) bool { return false }
	tests := []struct {
		name     string
		fail     func(rc *receiver)
		shipping string
		code     int
		entry    string // events entry after the first run
		requests int    // requests the first run made
		stored   int    // uploads the ingress stored in the first run
		stdout   string
		kept     string // where the unshipped tarball waits: failed/ (rejected) or pending/ (re-sent next run)
	}{
		{name: "503 twice, then accepted", fail: func(rc *receiver) { rc.ing.FailNext(2, ingress.FailStatus503) },
			code: 0, entry: t3, requests: 5, stored: 3},
		{name: "400 is not retried", fail: func(rc *receiver) {
			rc.answers = append(rc.answers, pass, status(400, `{"errors": [{"detail": "payload rejected"}]}`))
		}, code: 3, entry: "2026-11-25T01:00:00Z", requests: 2, stored: 1, stdout: `ingress answered 400 Bad Request after 1 attempt: {"errors": [{"detail": "payload rejected"}]}`, kept: "failed"},
		{name: "dropped connection, retried", fail: func(rc *receiver) { rc.ing.FailNext(1, ingress.FailDrop) },
			code: 0, entry: t3, requests: 4, stored: 3},
		{name: "never answers", fail: func(rc *receiver) { rc.ing.FailNext(2, ingress.FailHang) },
			shipping: "timeout = \"300ms\"\nmax_attempts = 2", code: 3, entry: t0, requests: 2, stored: 0, stdout: "2 attempts", kept: "pending"},
		{name: "307 redirect is followed", fail: func(rc *receiver) {
			rc.answers = append(rc.answers, redirect(http.StatusTemporaryRedirect, ingress.DefaultPath+"?moved=1"))
		}, code: 0, entry: t3, requests: 4, stored: 3},
		{name: "302 redirect is a failure", fail: func(rc *receiver) {
			rc.answers = append(rc.answers, pass, pass, redirect(http.StatusFound, "/elsewhere"))
		}, code: 3, entry: "2026-11-25T02:00:00Z", requests: 3, stored: 2, stdout: "not followed", kept: "pending"},
		{name: "500 until attempts run out", fail: func(rc *receiver) { rc.ing.FailNext(3, ingress.FailStatus500) },
			shipping: "max_attempts = 3", code: 3, entry: t0, requests: 3, stored: 0, stdout: "500 Internal Server Error after 3 attempts", kept: "pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, ingress.Config{}, nil)
			tt.fail(rc)
			s := newSetup(t, fmt.Sprintf("url = %q\nauth = \"none\"\n%s", rc.url(), tt.shipping))
			stdout, errs, code := s.gather(t, t0, t3)
			require.Equal(t, tt.code, code, "%s%s", stdout, errs)
			assert.Contains(t, stdout, tt.stdout)
			assert.Len(t, rc.requests(), tt.requests)
			assert.Len(t, rc.ing.Uploads(), tt.stored)
			want, err := time.Parse(time.RFC3339, tt.entry)
			require.NoError(t, err)
			assert.Equal(t, want, s.entry(t, "events"), "D3: the key stops at the last slice that, with all before it, shipped")
			if tt.code != 0 {
				kept, err := filepath.Glob(filepath.Join(s.out, tt.kept, "*.tar.gz"))
				require.NoError(t, err)
				assert.NotEmpty(t, kept, "the unshipped tarball is kept in %s/", tt.kept)
				assert.Contains(t, stdout, filepath.Join(s.out, tt.kept))
			}

			// The second run, faults gone, ships the missing window, up to 05:00.
			_, errs, code = s.gather(t, "", t5)
			require.Equal(t, 0, code, errs)
			requireExactlyOnce(t, rc, 5*60)
			assert.Equal(t, time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC), s.entry(t, "events"))
		})
	}
}

func TestBadShippingConfig(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o644))
	tests := []struct {
		name     string
		shipping string
		env      map[string]string
		code     int
		stderr   string
	}{
		{"missing url", "", nil, 1, "shipping is not configured: set [shipping] url in the TOML, or gather with --dry-run"},
		{"missing password variable", "url = \"http://127.0.0.1:1/u\"\nusername = \"acme\"\npassword_env = \"E2E_NOT_SET\"", nil, 2, "E2E_NOT_SET"},
		{"missing credentials in the TOML", "url = \"http://127.0.0.1:1/u\"", nil, 2, "shipping.username: user-pass needs a username"},
		{"unreadable CA bundle", "url = \"https://127.0.0.1:1/u\"\nauth = \"none\"\nca_bundle = \"" + filepath.Join(dir, "nope.pem") + "\"", nil, 2,
			"ca_bundle " + filepath.Join(dir, "nope.pem")},
		{"CA bundle without certificates", "url = \"https://127.0.0.1:1/u\"\nauth = \"none\"\nca_bundle = \"" + garbage + "\"", nil, 2, "no certificates found"},
		{"unreadable client key", "url = \"https://127.0.0.1:1/u\"\nauth = \"mutual-tls\"\nclient_cert = \"" + garbage + "\"\nclient_key = \"" + filepath.Join(dir, "key.pem") + "\"", nil, 2,
			"client_key " + filepath.Join(dir, "key.pem")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, tt.shipping)
			_, errs, code := s.gather(t, t0, t3)
			assert.Equal(t, tt.code, code, errs)
			assert.Contains(t, errs, tt.stderr)
			if !strings.Contains(errs, " in the registry:") { // those list one problem a line
				assert.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %s", errs)
			}
		})
	}
}
