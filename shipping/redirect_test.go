package shipping

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedirects(t *testing.T) {
	// redirect answers code with location on /upload and 202 elsewhere.
	redirect := func(code int, location string) respondFunc {
		return func(_ int, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/upload" {
				w.WriteHeader(http.StatusAccepted)
				return
			}
			if location != "" {
				w.Header().Set("Location", location)
			}
			w.WriteHeader(code)
		}
	}
	tests := []struct {
		name      string
		respond   respondFunc
		client    *http.Client // nil = New builds one
		wantPaths []string     // requests the server saw, in order
		wantErr   string       // "" = shipped; %s is the server's URL
		retryable bool
	}{
		{name: "307 followed", respond: redirect(http.StatusTemporaryRedirect, "/v2/upload"), wantPaths: []string{"/upload", "/v2/upload"}},
		{name: "308 followed", respond: redirect(http.StatusPermanentRedirect, "/v2/upload"), wantPaths: []string{"/upload", "/v2/upload"}},
		{
			name: "307 followed with a caller's client", respond: redirect(http.StatusTemporaryRedirect, "/v2/upload"),
			client: &http.Client{}, wantPaths: []string{"/upload", "/v2/upload"},
		},
		{
			name: "301 not followed", respond: redirect(http.StatusMovedPermanently, "/elsewhere"), wantPaths: []string{"/upload"},
			wantErr: "upload " + testTarballName + ": ingress answered 301 Moved Permanently after 1 attempt: redirect to %s/elsewhere not followed",
		},
		{
			name: "302 not followed", respond: redirect(http.StatusFound, "/elsewhere"), wantPaths: []string{"/upload"},
			wantErr: "upload " + testTarballName + ": ingress answered 302 Found after 1 attempt: redirect to %s/elsewhere not followed",
		},
		{
			name: "303 not followed", respond: redirect(http.StatusSeeOther, "/elsewhere"), wantPaths: []string{"/upload"},
			wantErr: "upload " + testTarballName + ": ingress answered 303 See Other after 1 attempt: redirect to %s/elsewhere not followed",
		},
		{
			name: "302 not followed with a caller's client", respond: redirect(http.StatusFound, "/elsewhere"),
			client: &http.Client{}, wantPaths: []string{"/upload"},
			wantErr: "upload " + testTarballName + ": ingress answered 302 Found after 1 attempt: redirect to %s/elsewhere not followed",
		},
		{
			name: "3xx without Location fails at once", respond: redirect(http.StatusTemporaryRedirect, ""), wantPaths: []string{"/upload"},
			wantErr: "upload " + testTarballName + ": ingress answered 307 Temporary Redirect after 1 attempt",
		},
		{
			name: "redirect loop is not retried", respond: redirect(http.StatusTemporaryRedirect, "/upload"),
			wantPaths: slices.Repeat([]string{"/upload"}, 10), // the first request and 9 redirects
			wantErr:   "upload " + testTarballName + ": post %s/upload: stopped after 10 redirects (1 attempt)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIngress(t, tt.respond)
			tb, data := tarballFile(t, 64<<10)
			u, sl, _ := testUploader(t, Config{URL: srv.URL + "/upload", Username: "u", Password: "p"}, tt.client)

			err := u.Ship(context.Background(), tb)

			reqs := srv.requests()
			var paths []string
			for _, c := range reqs {
				paths = append(paths, c.Path)
				require.Equal(t, http.MethodPost, c.Method, "never turned into a GET")
				require.Equal(t, data, parseUpload(t, c).Data, "body intact on %s", c.Path)
				user, _, ok := (&http.Request{Header: c.Header}).BasicAuth()
				require.True(t, ok, "same host keeps the credentials")
				require.Equal(t, "u", user)
			}
			require.Equal(t, tt.wantPaths, paths)
			require.Empty(t, sl.asked(), "redirect outcomes are not retried")
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			ue := asUploadError(t, err)
			require.EqualError(t, err, strings.ReplaceAll(tt.wantErr, "%s", srv.URL))
			require.Equal(t, tt.retryable, ue.Retryable)
			require.Equal(t, 1, ue.Attempts)
		})
	}
}

func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "user-pass", cfg: Config{Auth: AuthUserPass, Username: "u", Password: "p"}},
		{name: "x-rh-identity", cfg: Config{Auth: AuthIdentity}},
		{name: "authorization in custom headers", cfg: Config{Auth: AuthNone, Headers: map[string]string{"Authorization": "Bearer t0ken"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Another port is another origin, although net/http itself would keep
			// Authorization for the same host name.
			other := newIngress(t, answer(http.StatusAccepted, ""))
			first := newIngress(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/moved", http.StatusTemporaryRedirect)
			})
			tb, data := tarballFile(t, 8<<10)
			cfg := tt.cfg
			cfg.URL = first.URL + "/upload"
			cfg.Headers = map[string]string{"X-Custom": "kept"}
			maps.Copy(cfg.Headers, tt.cfg.Headers)
			u, _, _ := testUploader(t, cfg, nil)

			require.NoError(t, u.Ship(context.Background(), tb))

			sent := first.requests()
			require.Len(t, sent, 1)
			require.True(t, sent[0].Header.Get("Authorization") != "" || sent[0].Header.Get("X-Rh-Identity") != "",
				"the URL's host gets the credentials")

			moved := other.requests()
			require.Len(t, moved, 1)
			require.Equal(t, "/moved", moved[0].Path)
			require.Empty(t, moved[0].Header.Get("Authorization"))
			require.Empty(t, moved[0].Header.Get("X-Rh-Identity"))
			require.Equal(t, "kept", moved[0].Header.Get("X-Custom"))
			require.Equal(t, data, parseUpload(t, moved[0]).Data)
		})
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://ingress.example/upload", "https://ingress.example/v2", true},
		{"https://ingress.example/upload", "https://INGRESS.example:443/v2", true},
		{"http://ingress.example/upload", "http://ingress.example:80/v2", true},
		{"https://ingress.example/upload", "http://ingress.example/upload", false},
		{"https://ingress.example/upload", "https://ingress.example:8443/upload", false},
		{"https://ingress.example/upload", "https://cdn.ingress.example/upload", false},
		{"http://127.0.0.1:8080/", "http://localhost:8080/", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			a, err := url.Parse(tt.a)
			require.NoError(t, err)
			b, err := url.Parse(tt.b)
			require.NoError(t, err)
			require.Equal(t, tt.want, sameOrigin(&http.Request{URL: a}, &http.Request{URL: b}))
		})
	}
}
