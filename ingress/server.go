package ingress

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmcollector/wasmcollector/packaging"
)

const (
	// DefaultPath is the upload path of the real ingress, the default of [Config.Path].
	DefaultPath = "/api/ingress/v1/upload"
	// DefaultMaxBytes is the default of [Config.MaxBytes]: the real ingress's limit of 100 MB
	// (decimal, as it states it).
	DefaultMaxBytes int64 = 100 * 1000 * 1000
	// DefaultKeepUploads is the default of [Config.KeepUploads].
	DefaultKeepUploads = 1000
	// MaxListedBytes bounds the metadata an [Upload] lists: its Members, and separately its
	// Manifest, list entries while their names add up to at most this many bytes; the rest are
	// only counted. With [DefaultKeepUploads] the metadata kept stays under 32 MiB whatever is
	// uploaded.
	MaxListedBytes = 16 << 10
)

// Config configures a [Server]. The zero value of each field but Dir selects its default. [New]
// copies it; later changes to the caller's value (or its ContentTypes slice) have no effect.
type Config struct {
	// Dir is where accepted uploads are stored, and where uploads are streamed to temporary files
	// (".upload-*.part", removed when the upload is rejected). It is created if missing. Required.
	Dir string
	// Path is the upload path; default [DefaultPath]. It must start with "/". The control
	// endpoints live under it (see the package documentation); other paths answer 404.
	Path string
	// MaxBytes limits the size of one upload: the whole request body, multipart framing
	// included, in bytes; default [DefaultMaxBytes]. A larger request is answered 413.
	MaxBytes int64
	// Username and Password, when Username is set, require HTTP Basic authentication with these
	// credentials; a request without them is answered 401 with a WWW-Authenticate header.
	Username, Password string
	// RequireIdentity requires an x-rh-identity header: standard base64 of a JSON object whose
	// identity.account_number or identity.org_id is a non-empty string; otherwise 401. When
	// Username is also set, a request may satisfy either.
	RequireIdentity bool
	// UploadTypes lists the services the ingress takes uploads for, as the real ingress's
	// INGRESS_VALID_UPLOAD_TYPES; default [DefaultUploadType] alone. As the real one, it reads the
	// service from the "file" part's Content-Type, application/vnd.redhat.<service>.<category>
	// (then anything, such as "+tgz"), or takes application/gzip as service "advisor", and
	// answers 415 when there is none or it is not listed. Each must be lowercase letters, digits
	// and dashes.
	UploadTypes []string
	// ContentTypes, when not empty, replaces the UploadTypes rule: it lists the accepted content
	// types of the "file" part, compared as media types (case-insensitive, parameters ignored);
	// a part of another type is answered 415.
	ContentTypes []string
	// TarballLimits bounds what reading an uploaded tarball may cost (member count, name and PAX
	// sizes, manifest size, uncompressed size); the zero value selects packaging's defaults. A
	// tarball over a limit is answered 413 with the limit named.
	TarballLimits packaging.ReadLimits
	// KeepUploads is how many accepted uploads [Server.Uploads] remembers, the newest; default
	// [DefaultKeepUploads]. Older ones are forgotten (their files stay in Dir), so memory does not
	// grow with the number of uploads.
	KeepUploads int
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
	// KeepDuplicates turns deduplication off. By default an upload carrying a payload
	// identifier (Idempotency-Key, else x-rh-insights-request-id) that was stored before with
	// the same content (SHA-256) is answered 202 with the first copy's request_id, and nothing
	// new is stored; the same identifier with other content is answered 422.
	KeepDuplicates bool
}

// DefaultUploadType is the one service in the default of [Config.UploadTypes]: the service of
// wasmcollector's own default content type (shipping.DefaultContentType), so that, out of the
// box, this ingress takes what an unconfigured wasmcollector sends, as an ingress configured for
// that service would. The cloud ingress is not: a product sets [shipping] content_type to the type
// its service is registered under, and this ingress is told that service with UploadTypes.
const DefaultUploadType = "wasmcollector"

// uploadTypeName is what the real ingress's pattern takes as a service.
var uploadTypeName = regexp.MustCompile(`^[a-z0-9-]+$`)

// Upload is one accepted upload.
type Upload struct {
	// ID is the request_id the upload was answered with: 32 hex digits, unique per server.
	ID string
	// Name is the filename of the "file" part.
	Name string
	// Path is the stored file: Dir/<received 20060102T150405Z>-<sequence>-<Name>, absolute.
	Path string
	// Size is the stored file's size in bytes.
	Size int64
	// ContentType is the media type of the "file" part, lower-cased, without parameters.
	ContentType string
	// Received is when the request arrived, in UTC.
	Received time.Time
	// User is who sent it: the Basic user name, else the identity's account number, else its org
	// id; empty without authentication.
	User string
	// Manifest lists the tarball's manifest.json entries in file order, as many as fit in
	// [MaxListedBytes] of file names.
	Manifest []packaging.ManifestEntry
	// ManifestCount is the number of manifest.json entries, listed or not.
	ManifestCount int
	// Members lists the tarball's members in tar order, as many as fit in [MaxListedBytes] of
	// names.
	Members []packaging.Member
	// MemberCount is the number of members, listed or not.
	MemberCount int
}

// keepMetadata fills u's lists and counts from c, keeping at most [MaxListedBytes] of names in
// each list, in copies that do not share c's memory.
func (u *Upload) keepMetadata(c *packaging.Contents) {
	u.ManifestCount, u.MemberCount = len(c.Manifest), len(c.Members)
	n := 0
	for _, e := range c.Manifest {
		if n += len(e.File) + len(e.Version); n > MaxListedBytes {
			break
		}
		u.Manifest = append(u.Manifest, packaging.ManifestEntry{File: strings.Clone(e.File), Version: strings.Clone(e.Version)})
	}
	n = 0
	for _, m := range c.Members {
		if n += len(m.Name); n > MaxListedBytes {
			break
		}
		u.Members = append(u.Members, packaging.Member{Name: strings.Clone(m.Name), Size: m.Size})
	}
}

// Server is the ingress: an [http.Handler] serving uploads and the control endpoints. It is safe
// for concurrent use. Call [Server.Close] before shutting down the HTTP server, so requests held
// by [FailHang] are released.
type Server struct {
	cfg      Config // defaults applied, Dir absolute, ContentTypes normalised
	log      *slog.Logger
	failPath string
	listPath string

	seq    atomic.Uint64 // stored-file sequence
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	uploads  []Upload
	failN    int
	failMode FailMode

	dedupMu sync.Mutex
	dedup   dedupIndex

	// hangHook, when set (by tests, before serving), is called when a request starts hanging.
	hangHook func()
}

// New checks cfg, applies its defaults, creates cfg.Dir if missing and checks that a file can be
// written in it.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	} else if !strings.HasPrefix(cfg.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q does not start with /", cfg.Path))
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	} else if cfg.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes %d is negative", cfg.MaxBytes))
	}
	if cfg.KeepUploads == 0 {
		cfg.KeepUploads = DefaultKeepUploads
	} else if cfg.KeepUploads < 0 {
		errs = append(errs, fmt.Errorf("keep uploads %d is negative", cfg.KeepUploads))
	}
	if cfg.Username == "" && cfg.Password != "" {
		errs = append(errs, errors.New("password is set without a username"))
	}
	types := make([]string, 0, len(cfg.ContentTypes))
	for _, t := range cfg.ContentTypes {
		mt, _, err := mime.ParseMediaType(t)
		if err == nil && !strings.Contains(mt, "/") {
			err = errors.New("not of the form type/subtype")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("content type %q: %w", t, err))
			continue
		}
		types = append(types, mt)
	}
	cfg.ContentTypes = types
	if len(cfg.UploadTypes) == 0 {
		cfg.UploadTypes = []string{DefaultUploadType}
	} else {
		cfg.UploadTypes = slices.Clone(cfg.UploadTypes)
	}
	for _, t := range cfg.UploadTypes {
		if !uploadTypeName.MatchString(t) {
			errs = append(errs, fmt.Errorf("upload type %q: not a service name (lowercase letters, digits and dashes)", t))
		}
	}
	if cfg.Dir == "" {
		errs = append(errs, errors.New("dir is not set"))
	} else if err := checkDir(&cfg.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ingress: config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimSuffix(cfg.Path, "/")
	return &Server{
		cfg:      cfg,
		log:      log,
		failPath: base + "/_fail",
		listPath: base + "/_uploads",
		closed:   make(chan struct{}),
	}, nil
}

// checkDir makes *dir absolute, creates it if missing and checks a file can be written in it.
func checkDir(dir *string) error {
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("dir %s: %w", *dir, err)
	}
	*dir = abs
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	f, err := os.CreateTemp(abs, ".check-*")
	if err != nil {
		return fmt.Errorf("dir %s is not writable: %w", abs, err)
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("dir %s: %w", abs, err)
	}
	return nil
}

// Uploads returns the accepted uploads in order of acceptance, the newest [Config.KeepUploads]
// of them. The result is a copy the caller may keep and modify.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploads))
	for i, u := range s.uploads {
		u.Manifest = slices.Clone(u.Manifest)
		u.Members = slices.Clone(u.Members)
		out[i] = u
	}
	return out
}

// Close releases the requests held by [FailHang], which then answer 503, and makes later hangs
// answer at once. Uploads are still served. It does not close any listener: that belongs to the
// HTTP server. Close always returns nil; a second call is harmless.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// result is what a request came to, for the log line.
type result struct {
	status int // 0: no response (connection dropped, client gone)
	reason string
	name   string
	size   int64
	user   string
	id     string
}

// ServeHTTP serves an upload or a control request (see the package documentation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := s.route(w, r)
	s.logRequest(r, res, time.Since(start))
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) result {
	switch r.URL.Path {
	case s.cfg.Path:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return writeError(w, reject(http.StatusMethodNotAllowed, "method %s is not allowed: uploads are POST", r.Method))
		}
		if mode, ok := s.takeFailure(); ok {
			return s.injectFailure(w, r, mode)
		}
		return s.upload(w, r)
	case s.failPath:
		return s.controlFail(w, r)
	case s.listPath:
		return s.controlList(w, r)
	default:
		return writeError(w, reject(http.StatusNotFound, "no such path %s: uploads go to %s", r.URL.Path, s.cfg.Path))
	}
}

func (s *Server) logRequest(r *http.Request, res result, elapsed time.Duration) {
	level := slog.LevelInfo
	switch {
	case res.status == 0 || res.status >= 500:
		level = slog.LevelError
	case res.status >= 400:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("remote", r.RemoteAddr),
		slog.Int("status", res.status),
		slog.String("name", res.name),
		slog.Int64("size", res.size),
	}
	if res.user != "" {
		attrs = append(attrs, slog.String("user", res.user))
	}
	if res.id != "" {
		attrs = append(attrs, slog.String("request_id", res.id))
	}
	if res.reason != "" {
		attrs = append(attrs, slog.String("reason", res.reason))
	}
	attrs = append(attrs, slog.Duration("elapsed", elapsed))
	s.log.LogAttrs(r.Context(), level, "ingress request", attrs...)
}

// rejection is a reason to answer a request with a 4xx (or 5xx) status.
type rejection struct {
	status int
	reason string
}

func (e *rejection) Error() string { return e.reason }

func reject(status int, format string, args ...any) *rejection {
	return &rejection{status: status, reason: fmt.Sprintf(format, args...)}
}

// errorBody is the real ingress's error shape.
type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// writeError answers with err's status and reason; an error that is not a rejection is a 500.
func writeError(w http.ResponseWriter, err error) result {
	var rej *rejection
	if !errors.As(err, &rej) {
		rej = &rejection{status: http.StatusInternalServerError, reason: err.Error()}
	}
	writeJSON(w, rej.status, errorBody{Errors: []errorItem{{Status: rej.status, Detail: rej.reason}}})
	return result{status: rej.status, reason: rej.reason}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are marshalled: a bug
		panic(fmt.Sprintf("ingress: marshal response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// newID returns a request id: 32 hex digits from crypto/rand.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}
