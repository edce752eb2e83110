package ingress

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// maxNameLen bounds a filename so that, with the received time and sequence in front, the stored
// name stays under the usual 255-byte limit.
const maxNameLen = 200

// partFileName returns the filename of part p, which must be a plain file name. The raw
// Content-Disposition parameter is read, not [multipart.Part.FileName], which would quietly
// strip a directory.
func partFileName(p *multipart.Part) (string, error) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", reject(http.StatusBadRequest, "part %s: content disposition: %v", formField, err)
	}
	name := params["filename"]
	if name == "" {
		return "", reject(http.StatusBadRequest, "part %s has no filename", formField)
	}
	if !plainName(name) {
		return "", reject(http.StatusBadRequest,
			"filename %q is not a plain file name (no directory, no leading dot, no control characters, at most %d bytes)",
			name, maxNameLen)
	}
	return name, nil
}

// plainName reports whether name can be used as is as the end of a file name in Dir.
func plainName(name string) bool {
	if len(name) > maxNameLen || !utf8.ValidString(name) || strings.HasPrefix(name, ".") {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || r == '\\' || r < 0x20 || r == 0x7f
	})
}

// partContentType returns the media type of part p, if accepted.
func (s *Server) partContentType(p *multipart.Part) (string, error) {
	raw := p.Header.Get("Content-Type")
	if raw == "" {
		return "", reject(http.StatusUnsupportedMediaType, "part %s has no content type; accepted: %s", formField, s.acceptedTypes())
	}
	mt, _, err := mime.ParseMediaType(raw)
	if err != nil {
		return "", reject(http.StatusUnsupportedMediaType, "part %s: content type %q: %v; accepted: %s", formField, raw, err, s.acceptedTypes())
	}
	if !s.accepts(mt) {
		return "", reject(http.StatusUnsupportedMediaType, "part %s: content type %q is not accepted; accepted: %s", formField, mt, s.acceptedTypes())
	}
	return mt, nil
}

func (s *Server) accepts(mediaType string) bool {
	if len(s.cfg.ContentTypes) > 0 {
		return slices.Contains(s.cfg.ContentTypes, mediaType)
	}
	return strings.HasSuffix(mediaType, "+tgz") || slices.Contains(defaultContentTypes, mediaType)
}

// acceptedTypes describes the accepted content types for an error message.
func (s *Server) acceptedTypes() string {
	if len(s.cfg.ContentTypes) > 0 {
		return strings.Join(s.cfg.ContentTypes, ", ")
	}
	return "any type ending in +tgz, " + strings.Join(defaultContentTypes, ", ")
}

// validateTarball reads the uploaded file at path with [packaging.ReadTarball] and checks that
// it has a manifest.json listing only its members; it fills u's Manifest and Members.
func validateTarball(path string, u *Upload) error {
	if u.Size == 0 {
		return reject(http.StatusBadRequest, "not a tar.gz: part %s is empty", formField)
	}
	c, err := packaging.ReadTarball(path)
	if err != nil {
		return classifyReadError(path, err)
	}
	if c.Manifest == nil {
		return reject(http.StatusBadRequest, "manifest.json: not in the tarball")
	}
	members := make(map[string]bool, len(c.Members))
	for _, m := range c.Members {
		members[strings.TrimPrefix(m.Name, "./")] = true
	}
	var missing []string
	for _, e := range c.Manifest {
		if !members[e.File] {
			missing = append(missing, fmt.Sprintf("manifest lists %s, which is not in the tarball", e.File))
		}
	}
	if len(missing) > 0 {
		return reject(http.StatusBadRequest, "%s", strings.Join(missing, "; "))
	}
	u.Manifest, u.Members = c.Manifest, c.Members
	return nil
}

// classifyReadError turns a [packaging.ReadTarball] error into the reason for a 400: when the
// gzip'd tar itself cannot be read to its end the file is "not a tar.gz"; otherwise the reader
// failed on manifest.json or data_collection_status.csv, and the reason names that member. A
// file that cannot even be opened is our failure, a 500.
func classifyReadError(path string, readErr error) error {
	// The path is a temporary name, meaningless to the client.
	detail := strings.TrimPrefix(readErr.Error(), "read "+path+": ")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reopen upload: %w", err)
	}
	defer f.Close()
	if err := readTarGz(f); err != nil {
		return reject(http.StatusBadRequest, "not a tar.gz: %s", detail)
	}
	detail = strings.TrimPrefix(strings.TrimPrefix(detail, "member "), "./")
	return reject(http.StatusBadRequest, "%s", detail)
}

// readTarGz reads r as a gzip'd tar to its end, checksum included.
func readTarGz(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err = io.Copy(io.Discard, zr)
	return err
}
