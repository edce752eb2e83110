package ingress

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
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

// partContentType returns the media type of part p, lower-cased, if accepted: by the real
// ingress's rule ([serviceOf], the service one of Config.UploadTypes), or, when
// Config.ContentTypes is set, by that list.
func (s *Server) partContentType(p *multipart.Part) (string, error) {
	raw := p.Header.Get("Content-Type")
	if raw == "" {
		return "", reject(http.StatusUnsupportedMediaType, "part %s has no content type; %s", formField, s.acceptedTypes())
	}
	mt, _, err := mime.ParseMediaType(raw)
	if err != nil {
		return "", reject(http.StatusUnsupportedMediaType, "part %s: content type %q: %v; %s", formField, raw, err, s.acceptedTypes())
	}
	if len(s.cfg.ContentTypes) > 0 {
		if !slices.Contains(s.cfg.ContentTypes, mt) {
			return "", reject(http.StatusUnsupportedMediaType, "part %s: content type %q is not accepted; %s", formField, mt, s.acceptedTypes())
		}
		return mt, nil
	}
	service, ok := serviceOf(raw)
	if !ok {
		return "", reject(http.StatusUnsupportedMediaType,
			"part %s: content type %q names no service: the ingress routes uploads by application/vnd.redhat.<service>.<category>+tgz; %s",
			formField, raw, s.acceptedTypes())
	}
	if !slices.Contains(s.cfg.UploadTypes, service) {
		return "", reject(http.StatusUnsupportedMediaType,
			"part %s: content type %q is for service %q, which this ingress takes no uploads for; %s",
			formField, raw, service, s.acceptedTypes())
	}
	return mt, nil
}

// uploadTypePattern is the real ingress's content type pattern (insights-ingress-go,
// internal/upload/validation.go): application/vnd.redhat.<service>.<category>, then anything,
// matched case-sensitively on the header's raw value. The real one is not anchored at the start;
// this one is, so a value that matches there only by accident is refused here.
var uploadTypePattern = regexp.MustCompile(`^application/vnd\.redhat\.([a-z0-9-]+)\.([a-z0-9-]+)`)

// advisorTypes are the raw content types the real ingress takes as service "advisor" (what the
// insights-client sends), compared exactly as it does.
var advisorTypes = []string{"application/x-gzip; charset=binary", "application/gzip", "application/gzip; charset=binary"}

// serviceOf returns the service a part's raw Content-Type routes the upload to, as the real
// ingress reads it.
func serviceOf(raw string) (string, bool) {
	if slices.Contains(advisorTypes, raw) {
		return "advisor", true
	}
	m := uploadTypePattern.FindStringSubmatch(raw)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// acceptedTypes describes what content types are accepted, for an error message.
func (s *Server) acceptedTypes() string {
	if len(s.cfg.ContentTypes) > 0 {
		return "accepted: " + strings.Join(s.cfg.ContentTypes, ", ")
	}
	return "upload types (services) accepted: " + strings.Join(s.cfg.UploadTypes, ", ")
}

// validateTarball reads the uploaded file at path with [packaging.ReadLimits.ReadTarball] and
// checks that it has a manifest.json listing only its members; it fills u's metadata.
func (s *Server) validateTarball(path string, u *Upload) error {
	if u.Size == 0 {
		return reject(http.StatusBadRequest, "not a tar.gz: part %s is empty", formField)
	}
	c, err := s.cfg.TarballLimits.ReadTarball(path)
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
	u.keepMetadata(c)
	return nil
}

// classifyReadError turns a [packaging.ReadLimits.ReadTarball] error into the answer: a tarball
// over a read limit is a 413 naming the limit; a manifest.json or data_collection_status.csv that
// cannot be parsed a 400 naming that file; anything else a 400 "not a tar.gz". The message never
// shows the temporary path, which means nothing to the client.
func classifyReadError(path string, readErr error) error {
	detail := strings.TrimPrefix(readErr.Error(), "read "+path+": ")
	if lim, ok := errors.AsType[*packaging.LimitError](readErr); ok {
		return reject(http.StatusRequestEntityTooLarge, "tarball refused: %v", lim)
	}
	if me, ok := errors.AsType[*packaging.MemberError](readErr); ok {
		return reject(http.StatusBadRequest, "%s: %v", strings.TrimPrefix(me.Member, "./"), me.Err)
	}
	if errors.Is(readErr, fs.ErrNotExist) || errors.Is(readErr, fs.ErrPermission) {
		return fmt.Errorf("reopen upload: %w", readErr)
	}
	return reject(http.StatusBadRequest, "not a tar.gz: %s", detail)
}
