package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Defaults of [HTTPLimits]. See RATIONALE.md "Why does the ingress evict idle connections?".
const (
	// DefaultMaxConns is the default of [HTTPLimits.MaxConns].
	DefaultMaxConns = 1024
	// DefaultReadHeaderTimeout is the default of [HTTPLimits.ReadHeaderTimeout].
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultMinUploadRate is the default of [HTTPLimits.MinUploadRate], in bytes per second: a
	// 100 MB upload may take 6.5 minutes.
	DefaultMinUploadRate = 256 << 10
	// DefaultIdleTimeout is the default of [HTTPLimits.IdleTimeout].
	DefaultIdleTimeout = 60 * time.Second
	// maxHeaderBytes bounds a request's header: an upload needs a few hundred bytes.
	maxHeaderBytes = 64 << 10
	// answerTime is what the write timeout allows past the read timeout: checking the tarball
	// (bounded by its read limits) and writing the answer.
	answerTime = 60 * time.Second
	// fdsPerConn and fdReserve fit MaxConns into the process's open-file limit: an upload holds
	// its connection and one file at a time (its temporary file, then a reader of it); the
	// reserve is for everything else.
	fdsPerConn, fdReserve = 2, 64
)

// HTTPLimits bounds the connections of an [HTTPServer], so that slow or idle clients cannot
// exhaust its connections or file descriptors. The zero value of each field selects its default;
// a negative value is an error of [Server.HTTPServer].
type HTTPLimits struct {
	// MaxConns caps the connections open at once, default [DefaultMaxConns]. It is lowered to
	// fit the process's open-file limit (two descriptors a connection, 64 spare), so that
	// accepting never fails for want of one. At the cap, a new connection closes the one that has
	// waited longest without a request in progress (idle, or still sending its request header);
	// when every connection is busy with a request, it waits for one to end.
	MaxConns int
	// ReadHeaderTimeout is how long a client has to send a request's header, default
	// [DefaultReadHeaderTimeout].
	ReadHeaderTimeout time.Duration
	// MinUploadRate is the slowest average rate, in bytes per second, at which a client may send
	// a request body, default [DefaultMinUploadRate]: after ReadHeaderTimeout of grace from the
	// start of the body, each 64 KiB must have arrived by the time this rate would deliver it, or
	// the request fails (400). It also sets the read timeout of a whole request,
	// ReadHeaderTimeout + [Config.MaxBytes] / MinUploadRate; the write timeout is a minute more.
	MinUploadRate int64
	// IdleTimeout is how long a kept-alive connection may wait for its next request, default
	// [DefaultIdleTimeout].
	IdleTimeout time.Duration
}

// HTTPServer is the HTTP server in front of a [Server], with the timeouts and the connection cap
// of its [HTTPLimits]. Make one with [Server.HTTPServer].
type HTTPServer struct {
	srv   *http.Server
	conns *connLimiter
}

// HTTPServer returns an HTTP server for s with the limits lim, after checking them.
func (s *Server) HTTPServer(lim HTTPLimits) (*HTTPServer, error) {
	var errs []error
	if lim.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max conns %d is negative", lim.MaxConns))
	} else if lim.MaxConns == 0 {
		lim.MaxConns = DefaultMaxConns
	}
	if lim.ReadHeaderTimeout < 0 {
		errs = append(errs, fmt.Errorf("read header timeout %v is negative", lim.ReadHeaderTimeout))
	} else if lim.ReadHeaderTimeout == 0 {
		lim.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if lim.MinUploadRate < 0 {
		errs = append(errs, fmt.Errorf("min upload rate %d is negative", lim.MinUploadRate))
	} else if lim.MinUploadRate == 0 {
		lim.MinUploadRate = DefaultMinUploadRate
	}
	if lim.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle timeout %v is negative", lim.IdleTimeout))
	} else if lim.IdleTimeout == 0 {
		lim.IdleTimeout = DefaultIdleTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ingress: http limits: %w", err)
	}
	if fit := fitFileLimit(lim.MaxConns); fit < lim.MaxConns {
		s.log.Warn("ingress: max conns lowered to fit the open-file limit", "max_conns", fit, "asked", lim.MaxConns)
		lim.MaxConns = fit
	}
	read := lim.ReadHeaderTimeout + time.Duration(float64(s.cfg.MaxBytes)/float64(lim.MinUploadRate)*float64(time.Second))
	conns := newConnLimiter(lim.MaxConns)
	return &HTTPServer{
		srv: &http.Server{
			Handler:           &minRateHandler{h: s, rate: lim.MinUploadRate, grace: lim.ReadHeaderTimeout, max: read},
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       read,
			WriteTimeout:      read + answerTime,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ConnState:         conns.setState,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		},
		conns: conns,
	}, nil
}

// Serve accepts connections on ln, within the connection cap, until [HTTPServer.Shutdown]; it
// then returns [http.ErrServerClosed]. ln must be a plain listener: for TLS use
// [HTTPServer.ServeTLS].
func (h *HTTPServer) Serve(ln net.Listener) error {
	return h.srv.Serve(h.conns.wrap(ln))
}

// ServeTLS is [HTTPServer.Serve] over TLS with config. Connections are counted before their
// handshake, so a client that never completes one waits like any other and can be evicted.
func (h *HTTPServer) ServeTLS(ln net.Listener, config *tls.Config) error {
	return h.srv.Serve(tls.NewListener(h.conns.wrap(ln), config))
}

// Shutdown stops accepting, closes idle connections and waits for requests in progress until
// ctx is done; see [http.Server.Shutdown]. Call [Server.Close] first so hanging requests end.
func (h *HTTPServer) Shutdown(ctx context.Context) error {
	return h.srv.Shutdown(ctx)
}

// minRateWindow is how much body a client may owe at any time under MinUploadRate.
const minRateWindow = 64 << 10

// minRateHandler makes every request body of h keep up with MinUploadRate, so a client that sends
// its header at once and its body slowly holds its connection for seconds, not for the read
// timeout of the largest upload.
type minRateHandler struct {
	h     http.Handler
	rate  int64         // bytes per second
	grace time.Duration // before the rate applies
	max   time.Duration // the whole body's time, at most
}

func (m *minRateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		now := time.Now()
		r.Body = &minRateBody{ReadCloser: r.Body, ctl: http.NewResponseController(w), m: m, start: now, end: now.Add(m.max)}
	}
	m.h.ServeHTTP(w, r)
}

// minRateBody is a request body whose reads carry the deadline MinUploadRate sets.
type minRateBody struct {
	io.ReadCloser
	ctl        *http.ResponseController
	m          *minRateHandler
	start, end time.Time
	n          int64 // bytes read so far
}

func (b *minRateBody) Read(p []byte) (int, error) {
	owed := time.Duration(float64(b.n+minRateWindow) / float64(b.m.rate) * float64(time.Second))
	due := b.start.Add(b.m.grace + owed)
	if due.After(b.end) {
		due = b.end
	}
	// Fails only where the connection has no deadlines (a test's recorder): then the server's
	// own read timeout is all there is.
	_ = b.ctl.SetReadDeadline(due)
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("body slower than the minimum rate of %d bytes per second: %w", b.m.rate, err)
	}
	return n, err
}

// MaxConns is the connection cap in force, after fitting it to the open-file limit.
func (h *HTTPServer) MaxConns() int { return h.conns.max }
