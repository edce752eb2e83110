package serve

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/registry"
)

// TestBasicAuthRotates: the operator's password changes without a restart. A real server on
// loopback guarded by an AuthFile takes a rotated file at the next request; a broken new
// version keeps the previous credentials and says so in the log; a reload whose [serve]
// basic_auth_file names another file moves to it, and one naming an unusable file keeps the
// credentials in force.
func TestBasicAuthRotates(t *testing.T) {
	f := newFixture(t, false, "")
	dir := filepath.Dir(f.reg)
	authFile := filepath.Join(dir, "auth")
	// Rotation as an operator's tools do it: a new file renamed over the old one.
	rotate := func(path, text string) {
		t.Helper()
		require.NoError(t, writeFile(path+".new", text))
		require.NoError(t, os.Rename(path+".new", path))
	}
	rotate(authFile, "ops:one\n")
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	af, err := OpenAuthFile(authFile, log)
	require.NoError(t, err)

	now := func() time.Time { return until }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: now})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: log, Now: now,
		OnReload: func(reg *registry.Registry) { af.SetPath(reg.Serve.BasicAuthFile) }})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.Start(context.Background()))
	srv := serveLoopback(t, a.HandlerAuth(af))

	status := func(user, pass string) int {
		t.Helper()
		req, err := http.NewRequest("GET", srv+"/metrics", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, status("ops", "one"))
	assert.Equal(t, 401, status("", ""))
	assert.Equal(t, 401, status("ops", "two"))

	rotate(authFile, "ops:two\n")
	assert.Equal(t, 200, status("ops", "two"), "the rotated password, no restart")
	assert.Equal(t, 401, status("ops", "one"), "the old password no longer")

	// A broken new version: the previous credentials stay, the log says so, once.
	rotate(authFile, "no password here\n")
	assert.Equal(t, 200, status("ops", "two"))
	assert.Equal(t, 401, status("", ""))
	assert.Equal(t, 200, status("ops", "two"))
	assert.Contains(t, logs.String(), "basic auth file broken; the previous credentials stay in force")
	assert.Equal(t, 1, countLines(logs.String(), "basic auth file broken"))
	require.NoError(t, os.Remove(authFile))
	assert.Equal(t, 200, status("ops", "two"), "a removed file keeps the credentials too")
	assert.Contains(t, logs.String(), "basic auth file unreadable; the previous credentials stay in force")
	rotate(authFile, "ops:three\n")
	assert.Equal(t, 200, status("ops", "three"), "the fix is picked up")
	assert.Equal(t, 401, status("ops", "two"))

	// A reload moves to the file [serve] basic_auth_file now names.
	text, err := os.ReadFile(f.reg)
	require.NoError(t, err)
	rotate(filepath.Join(dir, "auth2"), "admin:four\n")
	require.NoError(t, os.WriteFile(f.reg, append([]byte("[serve]\nbasic_auth_file = \"auth2\"\n"), text...), 0o644))
	require.NoError(t, a.Reload(context.Background()))
	assert.Equal(t, 200, status("admin", "four"))
	assert.Equal(t, 401, status("ops", "three"))
	assert.NotContains(t, logs.String(), "basic_auth_file changed from", "no restart note")

	// One naming a file that is not user:password keeps what is in force.
	rotate(filepath.Join(dir, "auth3"), "admin\n")
	require.NoError(t, os.WriteFile(f.reg, append([]byte("[serve]\nbasic_auth_file = \"auth3\"\n"), text...), 0o644))
	require.NoError(t, a.Reload(context.Background()))
	assert.Equal(t, 200, status("admin", "four"))
	assert.Contains(t, logs.String(), "new basic auth file unusable; the previous credentials and file stay in force")
}

// serveLoopback starts a real HTTP server on loopback for h and returns its URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
