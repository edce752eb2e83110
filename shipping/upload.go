package shipping

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// identityHeader is x-rh-identity in canonical form; header names are case-insensitive.
const identityHeader = "X-Rh-Identity"

// Headers carrying the payload identifier, the tarball's SHA-256 (see the package doc). The real
// ingress takes x-rh-insights-request-id as its request id when a client sends one; the
// Idempotency-Key header is the IETF draft's, a quoted string.
const (
	RequestIDHeader      = "X-Rh-Insights-Request-Id"
	IdempotencyKeyHeader = "Idempotency-Key"
)

// drainLimit is how much of a response body is read past what is kept, so that the connection
// can be reused; a longer body closes the connection instead.
const drainLimit = 64 << 10

// Uploader uploads tarballs to the ingress. It implements the gather's Shipper interface. An
// Uploader is safe for concurrent use; its configuration cannot change after [New].
type Uploader struct {
	cfg      Config // defaults applied
	client   *http.Client
	log      *slog.Logger
	identity string // base64 of cfg.Identity, for AuthIdentity

	// Hooks for tests in this package; New sets working defaults.
	sleep func(context.Context, time.Duration) error // the wait between attempts
	now   func() time.Time                           // for Retry-After dates
	rngMu sync.Mutex
	rng   *rand.Rand // jitter; not safe for concurrent use, hence rngMu
}

// New validates cfg and returns an Uploader that posts through client.
//
// A nil client means [NewClient](cfg). With a client of your own, the connection settings of
// cfg (ConnectTimeout, CABundleFile, InsecureSkipVerify and the mutual-tls files) are the
// client's business and not read; New uses a shallow copy of client whose CheckRedirect applies
// the package's redirect policy before client's own. A nil log discards.
//
// Validation reports every problem at once (errors.Join): the URL missing, malformed, not http
// or https, or carrying credentials; the credentials the auth mode needs (user-pass: username
// and password; mutual-tls: client_cert and client_key; x-rh-identity: valid JSON); an unknown
// auth mode; invalid header names; negative durations or counts; and, when New builds the
// client, unreadable or invalid certificate files.
//
// New logs a warning when InsecureSkipVerify is set, and when credentials would go unencrypted
// over http://.
func New(cfg Config, client *http.Client, log *slog.Logger) (*Uploader, error) {
	c := cfg.withDefaults()
	errs := c.validate()
	if client == nil {
		built, more := newClient(c)
		errs = append(errs, more...)
		client = built
	} else {
		own := *client
		own.CheckRedirect = redirectPolicy(client.CheckRedirect)
		client = &own
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.InsecureSkipVerify {
		log.Warn("shipping does not verify the ingress's TLS certificate (insecure_skip_verify)", "url", c.URL)
	}
	if strings.HasPrefix(strings.ToLower(c.URL), "http://") && (c.Auth == AuthUserPass || c.Auth == AuthIdentity) {
		log.Warn("shipping sends credentials unencrypted over http", "url", c.URL, "auth", string(c.Auth))
	}
	return &Uploader{
		cfg:      c,
		client:   client,
		log:      log,
		identity: base64.StdEncoding.EncodeToString(c.Identity),
		sleep:    sleepCtx,
		now:      time.Now,
		rng:      newRand(rand.Uint64()),
	}, nil
}

// newRand returns the jitter source of an Uploader.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// Configured returns nil: an Uploader exists only for a valid [Config], so shipping can run.
// It is there for the gather's Shipper interface; a nil *Uploader reports that shipping is not
// configured.
func (u *Uploader) Configured() error {
	if u == nil {
		return errors.New("shipping is not configured")
	}
	return nil
}

// Ship uploads the file t.Path as t.Name (the file's base name when Name is empty) and returns
// nil once the ingress answered 2xx. It retries as the package doc describes and otherwise
// returns an [*UploadError]. The file is opened afresh for each attempt and never modified or
// removed; what becomes of it is the caller's decision.
//
// When ctx ends, Ship stops at once, during an attempt or a wait, and returns an UploadError
// whose Err is ctx's error. Each retry is logged at warn level with key "tarball"; success at
// info level. The final failure is not logged: it is returned.
func (u *Uploader) Ship(ctx context.Context, t *packaging.Tarball) error {
	if t == nil || t.Path == "" {
		return &UploadError{Err: errors.New("no tarball file given")}
	}
	name := t.Name
	if name == "" {
		name = filepath.Base(t.Path)
	}
	log := u.log.With("tarball", name)
	f, err := newForm(name, u.cfg.ContentType)
	if err != nil {
		return &UploadError{Tarball: name, Err: err}
	}
	if f.id = t.SHA256; f.id == "" {
		if f.id, err = FileSHA256(t.Path); err != nil {
			return &UploadError{Tarball: name, Err: err}
		}
	}

	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return &UploadError{Tarball: name, Attempts: n - 1, Err: err}
		}
		o := u.attempt(ctx, t.Path, f)
		if o.sent && u.cfg.OnAttempt != nil {
			u.cfg.OnAttempt(Attempt{Tarball: name, N: n, StatusCode: o.status, Err: o.err, Elapsed: o.elapsed})
		}
		switch {
		case o.ok():
			log.Info("tarball shipped", "status", o.status, "attempts", n, "bytes", o.size)
			return nil
		case !o.sent:
			return &UploadError{Tarball: name, Attempts: n - 1, Err: o.err}
		case ctx.Err() != nil:
			return &UploadError{Tarball: name, Attempts: n, StatusCode: o.status, Body: o.body, Err: ctx.Err()}
		case !o.retryable || n >= u.cfg.MaxAttempts:
			return o.uploadError(name, n, u.cfg.ContentType)
		}

		delay := u.backoff(n - 1)
		if o.hasWait {
			delay = min(o.wait, u.cfg.MaxBackoff)
		}
		attrs := []any{"attempt", n, "max_attempts", u.cfg.MaxAttempts, "delay", delay}
		if o.err != nil {
			attrs = append(attrs, "error", describeErr(o.err))
		} else {
			attrs = append(attrs, "status", o.status)
		}
		log.Warn("upload failed, retrying", attrs...)
		if err := u.sleep(ctx, delay); err != nil {
			return &UploadError{Tarball: name, Attempts: n, StatusCode: o.status, Body: o.body, Err: err}
		}
	}
}

// outcome is the result of one attempt.
type outcome struct {
	sent      bool  // a request was made; false when the tarball could not be opened
	size      int64 // request body length
	status    int   // 0 when no response came
	body      string
	location  string
	wait      time.Duration // Retry-After, when hasWait
	hasWait   bool
	err       error // transport error, or why nothing was sent
	retryable bool
	elapsed   time.Duration
}

func (o *outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// uploadError describes the final outcome o of the upload of tarball name, sent as contentType.
func (o *outcome) uploadError(name string, attempts int, contentType string) *UploadError {
	ue := &UploadError{
		Tarball:     name,
		Attempts:    attempts,
		StatusCode:  o.status,
		Retryable:   o.retryable,
		Body:        o.body,
		Location:    o.location,
		ContentType: contentType,
		Err:         o.err,
	}
	if te, ok := errors.AsType[*TLSError](o.err); ok {
		ue.Setting = te.Setting
	} else if o.err == nil && o.status == http.StatusUnsupportedMediaType {
		ue.Setting = "content_type"
	}
	return ue
}

// attempt makes one request, bounded by cfg.Timeout, and classifies what came of it.
func (u *Uploader) attempt(ctx context.Context, path string, f *form) outcome {
	start := time.Now()
	o := u.send(ctx, path, f)
	o.elapsed = time.Since(start)
	return o
}

// send makes the request of attempt.
func (u *Uploader) send(ctx context.Context, path string, f *form) outcome {
	actx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	req, size, err := u.newRequest(actx, path, f)
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{sent: true, size: size}
	resp, err := u.client.Do(req)
	if err != nil {
		o.err, o.retryable = err, true
		var refused *redirectRefused
		var ue *url.Error
		if errors.As(err, &refused) {
			o.retryable = false
			if errors.As(err, &ue) {
				ue.URL = refused.url
			}
		}
		if te := classifyTLS(err, u.cfg); te != nil {
			// The same certificates give the same verdict on every attempt.
			o.retryable = false
			o.err = withCause(err, te)
		}
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			o.err = timedOut(err, u.cfg.Timeout)
		}
		return o
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	if o.ok() {
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		return o
	}
	o.retryable = retryableStatus(resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		o.location = resp.Header.Get("Location")
		if loc, err := resp.Location(); err == nil {
			o.location = loc.Redacted()
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		o.wait, o.hasWait = retryAfter(resp.Header.Get("Retry-After"), u.now())
	}
	o.body = readBody(resp.Body, u.cfg.MaxErrorBody)
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	return o
}

// withCause replaces the cause of a *url.Error by cause (which wraps it), keeping the operation
// and URL; any other err becomes cause.
func withCause(err, cause error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.Err = cause
		return err
	}
	return cause
}

// timedOut says that err came from the attempt timeout, keeping err's chain.
func timedOut(err error, d time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.Err = fmt.Errorf("attempt timed out after %s: %w", d, ue.Err)
		return err
	}
	return fmt.Errorf("attempt timed out after %s: %w", d, err)
}

// readBody returns up to limit bytes of r as valid UTF-8, trimmed.
func readBody(r io.Reader, limit int64) string {
	b, _ := io.ReadAll(io.LimitReader(r, limit))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}

// newRequest builds the POST of the tarball at path with its headers. The body reopens the
// file, so net/http can send it again after a 307 or 308 (Request.GetBody).
func (u *Uploader) newRequest(ctx context.Context, path string, f *form) (*http.Request, int64, error) {
	body, size, err := f.open(path)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.cfg.URL, body)
	if err != nil {
		body.Close()
		return nil, 0, err
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) {
		b, n, err := f.open(path)
		if err == nil && n != size {
			b.Close()
			err = fmt.Errorf("tarball %s changed size during the upload", path)
		}
		return b, err
	}

	req.Header.Set("User-Agent", u.cfg.UserAgent)
	for k, v := range u.cfg.Headers {
		if textproto.CanonicalMIMEHeaderKey(k) == "Content-Type" {
			continue
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", f.contentType)
	req.Header.Set(RequestIDHeader, f.id)
	req.Header.Set(IdempotencyKeyHeader, `"`+f.id+`"`)
	switch u.cfg.Auth {
	case AuthUserPass:
		req.SetBasicAuth(u.cfg.Username, u.cfg.Password)
	case AuthIdentity:
		req.Header.Set(identityHeader, u.identity)
	}
	return req, size, nil
}

// form is the multipart/form-data framing around the tarball: one part, field "file".
type form struct {
	prefix, suffix []byte
	contentType    string // multipart/form-data; boundary=…
	id             string // the payload identifier: hex SHA-256 of the tarball
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fileError("tarball", path, err)
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", fileError("tarball", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// newForm frames a part named "file" with file name name and Content-Type partType, with a
// fresh random boundary.
func newForm(name, partType string) (*form, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", name))
	h.Set("Content-Type", partType)
	if _, err := mw.CreatePart(h); err != nil {
		return nil, fmt.Errorf("build multipart body: %w", err)
	}
	prefix := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("build multipart body: %w", err)
	}
	return &form{prefix: prefix, suffix: bytes.Clone(buf.Bytes()), contentType: mw.FormDataContentType()}, nil
}

// open opens the tarball and returns the whole body, streamed from the file, and its length.
func (f *form) open(path string) (io.ReadCloser, int64, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, 0, fileError("tarball", path, err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, fileError("tarball", path, err)
	}
	if !st.Mode().IsRegular() {
		file.Close()
		return nil, 0, fmt.Errorf("tarball %s is not a regular file", path)
	}
	size := st.Size()
	r := io.MultiReader(bytes.NewReader(f.prefix), io.LimitReader(file, size), bytes.NewReader(f.suffix))
	return &fileBody{Reader: r, file: file}, int64(len(f.prefix)) + size + int64(len(f.suffix)), nil
}

// fileBody is a request body that closes the tarball file with it.
type fileBody struct {
	io.Reader
	file *os.File
}

func (b *fileBody) Close() error { return b.file.Close() }
