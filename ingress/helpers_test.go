package ingress

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// payloadType is wasmcollector's default content type, which the ingress takes by default.
const payloadType = "application/vnd.redhat.wasmcollector.analytics+tgz"

// towerType is the content type upstream's AWX sends (reference/upstream-behaviour.md 4).
const towerType = "application/vnd.redhat.tower.tower_payload+tgz"

// packTarball writes a real tarball with packaging's Packer (one CSV and one JSON collection and
// a config document) and returns its name and bytes.
func packTarball(t testing.TB) (string, []byte) {
	t.Helper()
	stage, out := t.TempDir(), t.TempDir()
	until := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	write := func(name, text string) (string, int64) {
		path := filepath.Join(stage, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path, int64(len(text))
	}
	cfgPath, _ := write("config.json", `{"install_uuid": "0000"}`)
	csvPath, csvSize := write("events.csv", "id,name\n1,a\n2,b\n")
	jsonPath, jsonSize := write("info.json", `{"version": "1.0"}`)
	p := packaging.NewPacker(packaging.Options{Dir: out, Until: until, Config: &packaging.Config{Version: "1.0", Path: cfgPath}})
	for _, c := range []packaging.Collection{
		{Key: "events", Version: "1.2", Format: packaging.FormatCSV, Path: csvPath, Size: csvSize,
			Since: until.Add(-24 * time.Hour), Until: until, Started: until, Finished: until.Add(time.Second)},
		{Key: "info", Version: "1.0", Format: packaging.FormatJSON, Path: jsonPath, Size: jsonSize,
			Started: until, Finished: until},
	} {
		_, err := p.Add(c)
		require.NoError(t, err)
	}
	tbs, err := p.Finish()
	require.NoError(t, err)
	require.Len(t, tbs, 1)
	b, err := os.ReadFile(tbs[0].Path)
	require.NoError(t, err)
	return tbs[0].Name, b
}

// member is one file of a hand-made tarball.
type member struct{ name, body string }

// tarGz returns a gzip'd tar of members, for the malformed tarballs the Packer cannot make.
func tarGz(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(m.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// gzipped returns b gzip-compressed.
func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// part is one part of a hand-made multipart body.
type part struct {
	header textproto.MIMEHeader
	body   []byte
}

// filePart is a part named name with a filename and content type, each left out when empty.
func filePart(name, filename, contentType string, body []byte) part {
	params := map[string]string{"name": name}
	if filename != "" {
		params["filename"] = filename
	}
	h := textproto.MIMEHeader{"Content-Disposition": {mime.FormatMediaType("form-data", params)}}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return part{header: h, body: body}
}

// multipartBody returns the request content type and body holding parts.
func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		w, err := mw.CreatePart(p.header)
		require.NoError(t, err)
		_, err = w.Write(p.body)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// uploadBody is the multipart body of an upload of body as name, the way shipping sends it.
func uploadBody(t testing.TB, name string, body []byte) (string, []byte) {
	t.Helper()
	return multipartBody(t, filePart("file", name, payloadType, body))
}

// testServer is a Server behind a real loopback listener.
type testServer struct {
	*Server
	ts  *httptest.Server
	url string // the upload URL
	dir string
	log *syncBuffer
}

// newTestServer starts cfg (Dir defaults to a temporary directory, Logger to a JSON log kept in
// the result) on httptest; both are closed when the test ends. setup, if not nil, runs before
// the listener starts.
func newTestServer(t *testing.T, cfg Config, setup func(*Server)) *testServer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	log := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slogJSON(log)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	if setup != nil {
		setup(s)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		_ = s.Close()
		ts.Close()
	})
	return &testServer{Server: s, ts: ts, url: ts.URL + s.cfg.Path, dir: s.cfg.Dir, log: log}
}

// post sends a POST of body with content type ctype to url with client, after mod (if any) has
// adjusted the request; it returns the status, headers and body of the answer.
func post(t testing.TB, client *http.Client, url, ctype string, body []byte, mod func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	if mod != nil {
		mod(req)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// upload posts a good upload of body as name.
func (s *testServer) upload(t testing.TB, name string, body []byte, mod func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	ctype, b := uploadBody(t, name, body)
	return post(t, s.ts.Client(), s.url, ctype, b, mod)
}

// errorDetail decodes an error answer and returns its single item.
func errorDetail(t testing.TB, body []byte) errorItem {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e), "error body %s", body)
	require.Len(t, e.Errors, 1, "error body %s", body)
	return e.Errors[0]
}

// requireRejected checks an error answer: status, the same status in the body, a detail
// containing reason.
func requireRejected(t testing.TB, status int, body []byte, wantStatus int, reason string) {
	t.Helper()
	require.Equal(t, wantStatus, status, "answer %s", body)
	e := errorDetail(t, body)
	require.Equal(t, wantStatus, e.Status)
	require.Contains(t, e.Detail, reason)
}

// dirNames lists the names in dir, sorted, hidden temporary files included.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// identityHeaderValue is base64 of doc, as an x-rh-identity header.
func identityHeaderValue(doc string) string {
	return base64.StdEncoding.EncodeToString([]byte(doc))
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far, decoded.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		out = append(out, m)
	}
	return out
}

// slogJSON is a JSON logger writing to w at every level.
func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
