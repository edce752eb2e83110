package ingress

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcollector/wasmcollector/internal/hostile"
	"github.com/wasmcollector/wasmcollector/packaging"
)

// fuzzBoundary is the multipart boundary of the fuzzed bodies' content type.
const fuzzBoundary = "fuzzboundary"

// FuzzUpload sends any body as a multipart upload to a server (ServeHTTP, no network, small
// limits so each input is fast): never a panic or a 500; every answer is a 202 or one of the
// documented 4xx in the error shape; a rejection leaves nothing in Dir, an acceptance exactly
// the stored file.
func FuzzUpload(f *testing.F) {
	valid := hostile.Tarball(hostile.File{Name: "./a.csv", Body: "x\n"}, hostile.File{Name: "./manifest.json", Body: `{"a.csv": "1.0"}`})
	body := func(parts ...string) []byte {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString("--" + fuzzBoundary + "\r\n" + p + "\r\n")
		}
		b.WriteString("--" + fuzzBoundary + "--\r\n")
		return []byte(b.String())
	}
	file := func(disposition, ctype string, content []byte) string {
		return "Content-Disposition: " + disposition + "\r\nContent-Type: " + ctype + "\r\n\r\n" + string(content)
	}
	f.Add(body(file(`form-data; name="file"; filename="a.tar.gz"`, payloadType, valid)))
	f.Add(body(`Content-Disposition: form-data; name="note"`+"\r\n\r\nhello", file(`form-data; name="file"; filename="a.tar.gz"`, "application/gzip", valid)))
	f.Add(body(file(`form-data; name="file"; filename="../a.tar.gz"`, payloadType, valid)))
	f.Add(body(file(`form-data; name="file"; filename="a.tar.gz"`, "text/plain", valid)))
	f.Add(body(file(`form-data; name="file"; filename="a.tar.gz"`, payloadType, valid), file(`form-data; name="file"; filename="b.tar.gz"`, payloadType, valid)))
	f.Add(body(file(`form-data; name="file"; filename="a.tar.gz"`, payloadType, hostile.HugeNames(2, 300))))
	f.Add(body(file(`form-data; name="file"; filename*=UTF-8''%1b%5b31m.tar.gz`, payloadType, valid)))
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"))
	f.Add([]byte{})
	// One server per fuzzing process, whose Dir is emptied after each input: a server and a
	// directory per input would cost more than the upload itself.
	dir := f.TempDir()
	s, err := New(Config{Dir: dir, MaxBytes: 64 << 10, KeepUploads: 1,
		TarballLimits: packaging.ReadLimits{MaxMembers: 16, MaxNameBytes: 256, MaxPAXBytes: 1024, MaxMetaBytes: 16 << 10, MaxExpandedBytes: 256 << 10}})
	if err != nil {
		f.Fatal(err)
	}
	lastID := func() string {
		if ups := s.Uploads(); len(ups) > 0 {
			return ups[len(ups)-1].ID
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := lastID()
		req := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(b))
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)

		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Code {
		case http.StatusAccepted:
			ups := s.Uploads()
			if len(ups) != 1 || len(entries) != 1 || filepath.Base(ups[0].Path) != entries[0].Name() {
				t.Fatalf("accepted: uploads %v, files in dir %v", ups, entries)
			}
			if err := os.Remove(ups[0].Path); err != nil {
				t.Fatal(err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Status != rec.Code || e.Errors[0].Detail == "" {
				t.Fatalf("answer %d has body %q", rec.Code, rec.Body.Bytes())
			}
			if len(entries) != 0 {
				t.Fatalf("rejected (%d %s) but left %v in dir", rec.Code, e.Errors[0].Detail, entries)
			}
			if lastID() != before {
				t.Fatalf("rejected (%d %s) but remembered", rec.Code, e.Errors[0].Detail)
			}
		default:
			t.Fatalf("answer %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}
