package ingress

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/packaging"
)

func TestAccept(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)

	before := time.Now().UTC()
	status, hdr, body := s.upload(t, name, tarball, nil)
	after := time.Now().UTC()
	require.Equal(t, http.StatusAccepted, status, "answer %s", body)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))

	// The answer's shape: request_id at the top level, then the upload's name and size.
	var got struct {
		RequestID string         `json:"request_id"`
		Upload    map[string]any `json:"upload"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &top))
	require.Len(t, top, 2, "top-level keys of %s", body)
	require.Regexp(t, `^[0-9a-f]{32}$`, got.RequestID)
	require.Equal(t, map[string]any{"name": name, "size": float64(len(tarball))}, got.Upload)

	// The stored file: its name, its bytes, and nothing else in Dir.
	names := dirNames(t, s.dir)
	require.Len(t, names, 1)
	require.Regexp(t, `^\d{8}T\d{6}Z-000001-`+regexp.QuoteMeta(name)+`$`, names[0])
	stored, err := os.ReadFile(filepath.Join(s.dir, names[0]))
	require.NoError(t, err)
	require.Equal(t, tarball, stored)

	want, err := packaging.ReadTarball(filepath.Join(s.dir, names[0]))
	require.NoError(t, err)
	ups := s.Uploads()
	require.Len(t, ups, 1)
	u := ups[0]
	require.Equal(t, got.RequestID, u.ID)
	require.Equal(t, name, u.Name)
	require.Equal(t, filepath.Join(s.dir, names[0]), u.Path)
	require.Equal(t, int64(len(tarball)), u.Size)
	require.Equal(t, payloadType, u.ContentType)
	require.Empty(t, u.User)
	require.Equal(t, want.Manifest, u.Manifest)
	require.Equal(t, want.Members, u.Members)
	require.False(t, u.Received.Before(before.Truncate(time.Second)) || u.Received.After(after), "received %v", u.Received)
	require.Equal(t, time.UTC, u.Received.Location())

	// Uploads returns a copy.
	ups[0].Members[0].Name = "changed"
	require.Equal(t, want.Members, s.Uploads()[0].Members)
}

// TestReject sends every kind of bad request: each is answered with its status and reason, in
// the real ingress's error shape, and leaves nothing in Dir.
func TestReject(t *testing.T) {
	name, tarball := packTarball(t)
	gzipTarball := func() []byte { return tarball }
	file := func(filename string, body []byte) func(t *testing.T) (string, []byte) {
		return func(t *testing.T) (string, []byte) { return uploadBody(t, filename, body) }
	}
	tgz := func(members ...member) func(t *testing.T) (string, []byte) {
		return func(t *testing.T) (string, []byte) { return uploadBody(t, name, tarGz(t, members...)) }
	}
	flipped := bytes.Clone(tarball)
	flipped[len(flipped)-8] ^= 0xff // the CRC-32 in the gzip trailer

	tests := []struct {
		name   string
		method string // default POST
		path   string // default the upload path
		body   func(t *testing.T) (ctype string, body []byte)
		status int
		reason string
	}{
		{name: "get on the upload path", method: http.MethodGet, body: file(name, tarball),
			status: http.StatusMethodNotAllowed, reason: "method GET is not allowed"},
		{name: "other path", path: "/api/ingress/v1/uploads", body: file(name, tarball),
			status: http.StatusNotFound, reason: "no such path /api/ingress/v1/uploads"},
		{name: "not multipart", body: func(*testing.T) (string, []byte) { return "application/gzip", gzipTarball() },
			status: http.StatusBadRequest, reason: "request is not multipart/form-data"},
		{name: "broken multipart", body: func(*testing.T) (string, []byte) {
			return "multipart/form-data; boundary=xyz", []byte("not multipart at all")
		}, status: http.StatusBadRequest, reason: "read multipart body"},
		{name: "no part named file", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("upload", name, payloadType, tarball))
		}, status: http.StatusBadRequest, reason: "no part named file"},
		{name: "only a plain field", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("comment", "", "", []byte("hello")))
		}, status: http.StatusBadRequest, reason: "no part named file"},
		{name: "no filename", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("file", "", payloadType, tarball))
		}, status: http.StatusBadRequest, reason: "part file has no filename"},
		{name: "filename with parent directory", body: file("../"+name, tarball),
			status: http.StatusBadRequest, reason: `filename "../` + name + `" is not a plain file name`},
		{name: "absolute filename", body: file("/tmp/"+name, tarball),
			status: http.StatusBadRequest, reason: "is not a plain file name"},
		{name: "filename with backslash", body: file(`dir\`+name, tarball),
			status: http.StatusBadRequest, reason: "is not a plain file name"},
		{name: "filename dot dot", body: file("..", tarball),
			status: http.StatusBadRequest, reason: `filename ".." is not a plain file name`},
		{name: "hidden filename", body: file(".upload-1.part", tarball),
			status: http.StatusBadRequest, reason: "is not a plain file name"},
		{name: "two file parts", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("file", name, payloadType, tarball), filePart("file", "b.tar.gz", payloadType, tarball))
		}, status: http.StatusBadRequest, reason: "more than one part named file"},
		{name: "content type not accepted", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("file", name, "application/octet-stream", tarball))
		}, status: http.StatusUnsupportedMediaType,
			reason: `content type "application/octet-stream" names no service: the ingress routes uploads by application/vnd.redhat.<service>.<category>+tgz; upload types (services) accepted: wasmcollector`},
		{name: "no content type", body: func(t *testing.T) (string, []byte) {
			return multipartBody(t, filePart("file", name, "", tarball))
		}, status: http.StatusUnsupportedMediaType, reason: "part file has no content type; upload types (services) accepted: wasmcollector"},
		{name: "not gzip", body: file(name, []byte("just text, no gzip")),
			status: http.StatusBadRequest, reason: "not a tar.gz: "},
		{name: "empty file", body: file(name, nil),
			status: http.StatusBadRequest, reason: "not a tar.gz: part file is empty"},
		{name: "gzip but not tar", body: file(name, gzipped(t, []byte("just text, no tar"))),
			status: http.StatusBadRequest, reason: "not a tar.gz: "},
		{name: "truncated", body: file(name, tarball[:len(tarball)/2]),
			status: http.StatusBadRequest, reason: "not a tar.gz: "},
		{name: "bad gzip checksum", body: file(name, flipped),
			status: http.StatusBadRequest, reason: "not a tar.gz: "},
		{name: "no manifest", body: tgz(member{"./a.csv", "x\n1\n"}),
			status: http.StatusBadRequest, reason: "manifest.json: not in the tarball"},
		{name: "manifest is an array", body: tgz(member{"./a.csv", "x\n"}, member{"./manifest.json", `["a.csv"]`}),
			status: http.StatusBadRequest, reason: "manifest.json: not a JSON object"},
		{name: "manifest is not JSON", body: tgz(member{"./a.csv", "x\n"}, member{"./manifest.json", `{"a.csv": `}),
			status: http.StatusBadRequest, reason: "manifest.json: "},
		{name: "manifest version is a number", body: tgz(member{"./a.csv", "x\n"}, member{"./manifest.json", `{"a.csv": 1}`}),
			status: http.StatusBadRequest, reason: `manifest.json: version of "a.csv"`},
		{name: "manifest lists a missing file", body: tgz(member{"./a.csv", "x\n"},
			member{"./manifest.json", `{"a.csv": "1.0", "b.csv": "1.0", "c.json": "1.0"}`}),
			status: http.StatusBadRequest,
			reason: "manifest lists b.csv, which is not in the tarball; manifest lists c.json, which is not in the tarball"},
		{name: "status file without its columns", body: tgz(member{"./data_collection_status.csv", "a,b\r\n"},
			member{"./manifest.json", `{"data_collection_status.csv": "1.0"}`}),
			status: http.StatusBadRequest, reason: `data_collection_status.csv: header lacks column "collection_start_timestamp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{}, nil)
			method, url := tt.method, s.url
			if method == "" {
				method = http.MethodPost
			}
			if tt.path != "" {
				url = s.ts.URL + tt.path
			}
			ctype, body := tt.body(t)
			req, err := http.NewRequest(method, url, bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", ctype)
			resp, err := s.ts.Client().Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			requireRejected(t, resp.StatusCode, b, tt.status, tt.reason)
			require.NotContains(t, string(b), s.dir, "the answer must not reveal the server's paths")
			require.Empty(t, dirNames(t, s.dir), "nothing stored, no temporary file left")
			require.Empty(t, s.Uploads())
		})
	}
}

func TestTooLarge(t *testing.T) {
	name, tarball := packTarball(t)
	ctype, body := uploadBody(t, name, tarball)
	tests := []struct {
		name     string
		maxBytes int64
		chunked  bool // no Content-Length: only the streaming limit can catch it
		status   int
		reason   string
	}{
		{name: "content length over", maxBytes: int64(len(body)) - 1, status: http.StatusRequestEntityTooLarge,
			reason: "larger than the limit of " + strconv.Itoa(len(body)-1) + " bytes"},
		{name: "chunked over", maxBytes: int64(len(body)) - 1, chunked: true, status: http.StatusRequestEntityTooLarge,
			reason: "upload is larger than the limit of " + strconv.Itoa(len(body)-1) + " bytes"},
		{name: "chunked far over", maxBytes: 100, chunked: true, status: http.StatusRequestEntityTooLarge,
			reason: "upload is larger than the limit of 100 bytes"},
		{name: "content length at the limit", maxBytes: int64(len(body)), status: http.StatusAccepted},
		{name: "chunked at the limit", maxBytes: int64(len(body)), chunked: true, status: http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{MaxBytes: tt.maxBytes}, nil)
			var r io.Reader = bytes.NewReader(body)
			if tt.chunked {
				r = io.MultiReader(r) // hides the length from net/http
			}
			req, err := http.NewRequest(http.MethodPost, s.url, r)
			require.NoError(t, err)
			req.Header.Set("Content-Type", ctype)
			resp, err := s.ts.Client().Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			if tt.status == http.StatusAccepted {
				require.Equal(t, tt.status, resp.StatusCode, "answer %s", b)
				require.Len(t, dirNames(t, s.dir), 1)
				return
			}
			requireRejected(t, resp.StatusCode, b, tt.status, tt.reason)
			require.Empty(t, dirNames(t, s.dir))
			require.Empty(t, s.Uploads())
		})
	}
}

func TestAuth(t *testing.T) {
	name, tarball := packTarball(t)
	basic := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	ident := func(doc string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("x-rh-identity", identityHeaderValue(doc)) }
	}
	const account = `{"identity": {"account_number": "0000001", "org_id": "000001", "type": "User"}}`
	const orgOnly = `{"identity": {"org_id": "000001", "type": "User"}}`
	cfgBasic := Config{Username: "alice", Password: "s3cret"}
	cfgIdentity := Config{RequireIdentity: true}
	cfgBoth := Config{Username: "alice", Password: "s3cret", RequireIdentity: true}
	both := func(a, b func(*http.Request)) func(*http.Request) {
		return func(r *http.Request) { a(r); b(r) }
	}

	tests := []struct {
		name   string
		cfg    Config
		mod    func(*http.Request)
		status int
		user   string // when accepted
		reason string // when rejected
	}{
		{name: "none configured", cfg: Config{}, status: http.StatusAccepted},
		{name: "basic good", cfg: cfgBasic, mod: basic("alice", "s3cret"), status: http.StatusAccepted, user: "alice"},
		{name: "basic wrong password", cfg: cfgBasic, mod: basic("alice", "guess"), status: http.StatusUnauthorized,
			reason: "basic auth: wrong user name or password"},
		{name: "basic wrong user", cfg: cfgBasic, mod: basic("bob", "s3cret"), status: http.StatusUnauthorized,
			reason: "basic auth: wrong user name or password"},
		{name: "basic missing", cfg: cfgBasic, status: http.StatusUnauthorized, reason: "basic auth: no credentials"},
		{name: "basic configured, identity sent", cfg: cfgBasic, mod: ident(account), status: http.StatusUnauthorized,
			reason: "basic auth: no credentials"},
		{name: "identity with account", cfg: cfgIdentity, mod: ident(account), status: http.StatusAccepted, user: "0000001"},
		{name: "identity with org only", cfg: cfgIdentity, mod: ident(orgOnly), status: http.StatusAccepted, user: "000001"},
		{name: "identity bad base64", cfg: cfgIdentity, mod: func(r *http.Request) { r.Header.Set("x-rh-identity", "!!not base64!!") },
			status: http.StatusUnauthorized, reason: "x-rh-identity: not base64"},
		{name: "identity bad JSON", cfg: cfgIdentity, mod: ident(`{"identity": `), status: http.StatusUnauthorized,
			reason: "x-rh-identity: not a JSON identity"},
		{name: "identity account not a string", cfg: cfgIdentity, mod: ident(`{"identity": {"account_number": 1}}`),
			status: http.StatusUnauthorized, reason: "x-rh-identity: not a JSON identity"},
		{name: "identity without account or org", cfg: cfgIdentity, mod: ident(`{"identity": {"type": "User", "account_number": ""}}`),
			status: http.StatusUnauthorized, reason: "x-rh-identity: identity has neither account_number nor org_id"},
		{name: "identity without identity", cfg: cfgIdentity, mod: ident(`{"entitlements": {}}`),
			status: http.StatusUnauthorized, reason: "x-rh-identity: no identity object"},
		{name: "identity missing", cfg: cfgIdentity, status: http.StatusUnauthorized, reason: "x-rh-identity: no header"},
		{name: "identity configured, basic sent", cfg: cfgIdentity, mod: basic("alice", "s3cret"),
			status: http.StatusUnauthorized, reason: "x-rh-identity: no header"},
		{name: "both, basic satisfies", cfg: cfgBoth, mod: basic("alice", "s3cret"), status: http.StatusAccepted, user: "alice"},
		{name: "both, identity satisfies", cfg: cfgBoth, mod: ident(account), status: http.StatusAccepted, user: "0000001"},
		{name: "both, bad basic, good identity", cfg: cfgBoth, mod: both(basic("alice", "guess"), ident(account)),
			status: http.StatusAccepted, user: "0000001"},
		{name: "both, good basic, bad identity", cfg: cfgBoth, mod: both(basic("alice", "s3cret"), ident(`{}`)),
			status: http.StatusAccepted, user: "alice"},
		{name: "both, neither", cfg: cfgBoth, status: http.StatusUnauthorized,
			reason: "basic auth: no credentials; x-rh-identity: no header"},
		{name: "both, both bad", cfg: cfgBoth, mod: both(basic("alice", "guess"), ident(orgOnly[:10])), status: http.StatusUnauthorized,
			reason: "basic auth: wrong user name or password; x-rh-identity: not a JSON identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.cfg, nil)
			status, hdr, body := s.upload(t, name, tarball, tt.mod)
			if tt.status == http.StatusAccepted {
				require.Equal(t, tt.status, status, "answer %s", body)
				ups := s.Uploads()
				require.Len(t, ups, 1)
				require.Equal(t, tt.user, ups[0].User)
				return
			}
			requireRejected(t, status, body, tt.status, tt.reason)
			if tt.cfg.Username != "" {
				require.Equal(t, `Basic realm="wasmcollector ingress", charset="UTF-8"`, hdr.Get("WWW-Authenticate"))
			} else {
				require.Empty(t, hdr.Get("WWW-Authenticate"))
			}
			require.Empty(t, dirNames(t, s.dir))
			require.Empty(t, s.Uploads())
		})
	}
}

// TestContentTypes: the part's content type is checked as the real ingress checks it: it must
// name a service, application/vnd.redhat.<service>.<category>…, or be one of the gzip types it
// takes as "advisor", and the service must be one of the configured upload types (415 otherwise).
// A list of ContentTypes replaces the rule.
func TestContentTypes(t *testing.T) {
	name, tarball := packTarball(t)
	eda := "application/vnd.redhat.aap-eda.filename+tgz"
	tests := []struct {
		name     string
		types    []string // UploadTypes
		accepted []string // ContentTypes
		sent     string
		status   int
		reason   string
		stored   string // the content type recorded
	}{
		{name: "default, wasmcollector's default", sent: payloadType, status: http.StatusAccepted, stored: payloadType},
		{name: "default, tower payload: not configured for tower", sent: towerType, status: http.StatusUnsupportedMediaType,
			reason: `content type "` + towerType + `" is for service "tower", which this ingress takes no uploads for; upload types (services) accepted: wasmcollector`},
		{name: "default, another vendor's +tgz", sent: "application/vnd.acme.analytics+tgz", status: http.StatusUnsupportedMediaType,
			reason: `content type "application/vnd.acme.analytics+tgz" names no service`},
		{name: "default, gzip is advisor's", sent: "application/gzip", status: http.StatusUnsupportedMediaType,
			reason: `is for service "advisor"`},
		{name: "default, octet-stream", sent: "application/octet-stream", status: http.StatusUnsupportedMediaType,
			reason: `content type "application/octet-stream" names no service`},
		{name: "default, malformed", sent: "application/", status: http.StatusUnsupportedMediaType, reason: `content type "application/": `},
		{name: "tower configured", types: []string{"advisor", "tower"}, sent: towerType, status: http.StatusAccepted, stored: towerType},
		{name: "tower configured, parameters after the type", types: []string{"tower"}, sent: towerType + "; charset=binary",
			status: http.StatusAccepted, stored: towerType},
		{name: "tower configured, our default refused", types: []string{"tower"}, sent: payloadType, status: http.StatusUnsupportedMediaType,
			reason: `is for service "wasmcollector", which this ingress takes no uploads for; upload types (services) accepted: tower`},
		{name: "case matters, as in the real one", types: []string{"tower"}, sent: "Application/VND.redhat.tower.tower_payload+tgz",
			status: http.StatusUnsupportedMediaType, reason: "names no service"},
		{name: "the service must be whole", types: []string{"tower"}, sent: "application/vnd.redhat.tower+tgz",
			status: http.StatusUnsupportedMediaType, reason: "names no service"},
		{name: "advisor configured, gzip", types: []string{"advisor"}, sent: "application/gzip", status: http.StatusAccepted, stored: "application/gzip"},
		{name: "advisor configured, x-gzip with charset", types: []string{"advisor"}, sent: "application/x-gzip; charset=binary",
			status: http.StatusAccepted, stored: "application/x-gzip"},
		{name: "advisor configured, bare x-gzip is not taken", types: []string{"advisor"}, sent: "application/x-gzip",
			status: http.StatusUnsupportedMediaType, reason: "names no service"},
		{name: "dashes in the service", types: []string{"aap-eda"}, sent: eda, status: http.StatusAccepted, stored: eda},
		{name: "content types listed", accepted: []string{eda}, sent: eda, status: http.StatusAccepted, stored: eda},
		{name: "content types listed, case", accepted: []string{"Application/Vnd.Redhat.AAP-EDA.filename+tgz"}, sent: eda,
			status: http.StatusAccepted, stored: eda},
		{name: "content types listed, another", accepted: []string{eda}, sent: payloadType, status: http.StatusUnsupportedMediaType,
			reason: `content type "` + payloadType + `" is not accepted; accepted: ` + eda},
		{name: "content types listed, any type", accepted: []string{"application/x-tar+gzip"}, sent: "application/x-tar+gzip",
			status: http.StatusAccepted, stored: "application/x-tar+gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{UploadTypes: tt.types, ContentTypes: tt.accepted}, nil)
			ctype, body := multipartBody(t, filePart("file", name, tt.sent, tarball))
			status, _, b := post(t, s.ts.Client(), s.url, ctype, body, nil)
			if tt.status == http.StatusAccepted {
				require.Equal(t, tt.status, status, "answer %s", b)
				require.Equal(t, tt.stored, s.Uploads()[0].ContentType)
				return
			}
			requireRejected(t, status, b, tt.status, tt.reason)
			require.Empty(t, dirNames(t, s.dir))
		})
	}
}

func TestServiceOf(t *testing.T) {
	for raw, want := range map[string]string{
		"application/vnd.redhat.tower.tower_payload+tgz":      "tower",
		"application/vnd.redhat.wasmcollector.analytics+tgz":  "wasmcollector",
		"application/vnd.redhat.openshift.periodic+tgz":       "openshift",
		"application/vnd.redhat.aap-billing-controller.x+tgz": "aap-billing-controller",
		"application/gzip":                           "advisor",
		"application/gzip; charset=binary":           "advisor",
		"application/x-gzip; charset=binary":         "advisor",
		"application/x-gzip":                         "",
		"application/vnd.redhat.Tower.payload+tgz":   "",
		"x-application/vnd.redhat.tower.payload+tgz": "", // the real one's unanchored pattern would take it
		"": "",
	} {
		got, ok := serviceOf(raw)
		require.Equal(t, want, got, raw)
		require.Equal(t, want != "", ok, raw)
	}
}

func TestNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{name: "no dir", cfg: Config{}, reason: "dir is not set"},
		{name: "dir is a file", cfg: Config{Dir: file}, reason: "dir: mkdir " + file},
		{name: "dir under a file", cfg: Config{Dir: filepath.Join(file, "sub")}, reason: "dir: mkdir " + file},
		{name: "relative path", cfg: Config{Dir: t.TempDir(), Path: "upload"}, reason: `path "upload" does not start with /`},
		{name: "negative max bytes", cfg: Config{Dir: t.TempDir(), MaxBytes: -1}, reason: "max bytes -1 is negative"},
		{name: "negative keep uploads", cfg: Config{Dir: t.TempDir(), KeepUploads: -1}, reason: "keep uploads -1 is negative"},
		{name: "password without user", cfg: Config{Dir: t.TempDir(), Password: "x"}, reason: "password is set without a username"},
		{name: "bad content type", cfg: Config{Dir: t.TempDir(), ContentTypes: []string{"+tgz"}}, reason: `content type "+tgz": not of the form type/subtype`},
		{name: "malformed content type", cfg: Config{Dir: t.TempDir(), ContentTypes: []string{"application/"}}, reason: `content type "application/": mime: `},
		{name: "bad upload type", cfg: Config{Dir: t.TempDir(), UploadTypes: []string{"tower", "Tower"}}, reason: `upload type "Tower": not a service name (lowercase letters, digits and dashes)`},
		{name: "all at once", cfg: Config{Path: "x", MaxBytes: -5},
			reason: "ingress: config: path \"x\" does not start with /\nmax bytes -5 is negative\ndir is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			require.Nil(t, s)
			require.ErrorContains(t, err, tt.reason)
			require.True(t, strings.HasPrefix(err.Error(), "ingress: config: "), err.Error())
		})
	}

	t.Run("unwritable dir", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes anywhere")
		}
		dir := t.TempDir()
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		_, err := New(Config{Dir: dir})
		require.ErrorContains(t, err, "is not writable")
	})

	t.Run("defaults", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		cfg := Config{Dir: dir, ContentTypes: []string{"Application/GZIP"}}
		s, err := New(cfg)
		require.NoError(t, err)
		require.DirExists(t, dir)
		require.Empty(t, dirNames(t, dir), "the write check leaves nothing behind")
		require.Equal(t, DefaultPath, s.cfg.Path)
		require.Equal(t, int64(100*1000*1000), s.cfg.MaxBytes)
		require.Equal(t, DefaultKeepUploads, s.cfg.KeepUploads)
		require.Equal(t, []string{"application/gzip"}, s.cfg.ContentTypes)
		require.Equal(t, []string{DefaultUploadType}, s.cfg.UploadTypes)
		require.Equal(t, []string{"Application/GZIP"}, cfg.ContentTypes, "the caller's config is not touched")
		require.Empty(t, cfg.Path)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "a second Close is harmless")
	})
}

func TestPlainName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"analytics-2024-06-30-000000+0000-0.tar.gz", true},
		{"a..b.tar.gz", true},
		{"ünïcode.tar.gz", true},
		{"", true}, // rejected earlier as "no filename"
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a/b", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", maxNameLen), true},
		{strings.Repeat("a", maxNameLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.ok, plainName(tt.name))
		})
	}
}

func TestLog(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	status, _, _ := s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status)
	ctype, body := multipartBody(t, filePart("file", name, "text/plain", tarball))
	status, _, _ = post(t, s.ts.Client(), s.url, ctype, body, nil)
	require.Equal(t, http.StatusUnsupportedMediaType, status)

	lines := s.log.lines(t)
	require.Len(t, lines, 2, "one line per request")
	require.Equal(t, "INFO", lines[0]["level"])
	require.Equal(t, float64(http.StatusAccepted), lines[0]["status"])
	require.Equal(t, name, lines[0]["name"])
	require.Equal(t, float64(len(tarball)), lines[0]["size"])
	require.Regexp(t, `^[0-9a-f]{32}$`, lines[0]["request_id"])
	require.NotContains(t, lines[0], "reason")

	require.Equal(t, "WARN", lines[1]["level"])
	require.Equal(t, float64(http.StatusUnsupportedMediaType), lines[1]["status"])
	require.Equal(t, name, lines[1]["name"])
	require.Contains(t, lines[1]["reason"], `content type "text/plain" names no service`)
}

// TestHammer uploads from many goroutines at once, released together, while others read
// Uploads: every upload is stored under its own name with its own id.
func TestHammer(t *testing.T) {
	const workers, each = 16, 8
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	client := s.ts.Client()

	start := make(chan struct{})
	var wg, readers sync.WaitGroup
	statuses := make(chan int, workers*each)
	stop := make(chan struct{})
	readers.Go(func() {
		<-start
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Uploads()
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				// The same filename from every worker: names must not collide in Dir.
				n := name
				if i%2 == 1 {
					n = "w" + strconv.Itoa(w) + "-" + name
				}
				ctype, body := uploadBody(t, n, tarball)
				req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", ctype)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				statuses <- resp.StatusCode
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	readers.Wait()
	close(statuses)
	for st := range statuses {
		require.Equal(t, http.StatusAccepted, st)
	}

	ups := s.Uploads()
	require.Len(t, ups, workers*each)
	ids, paths := map[string]bool{}, map[string]bool{}
	for _, u := range ups {
		require.False(t, ids[u.ID], "duplicate id %s", u.ID)
		require.False(t, paths[u.Path], "duplicate path %s", u.Path)
		ids[u.ID], paths[u.Path] = true, true
		b, err := os.ReadFile(u.Path)
		require.NoError(t, err)
		require.Equal(t, tarball, b)
	}
	require.Len(t, dirNames(t, s.dir), workers*each)
}
