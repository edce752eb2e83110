package ingress

import (
	"fmt"
	"io"
	"net/http"
	"slices"
)

// FailMode is how [Server.FailNext] makes an upload fail.
type FailMode string

const (
	// FailStatus500 answers 500 Internal Server Error with the usual error body.
	FailStatus500 FailMode = "500"
	// FailStatus503 answers 503 Service Unavailable with the usual error body (no Retry-After).
	FailStatus503 FailMode = "503"
	// FailDrop reads up to 512 bytes of the body, then closes the connection without a response:
	// the client sees EOF or a reset. The connection is hijacked (HTTP/1); where it cannot be
	// (HTTP/2, a ResponseRecorder) the handler panics with [http.ErrAbortHandler], which the
	// HTTP server turns into an aborted stream.
	FailDrop FailMode = "drop"
	// FailHang reads the body, then answers nothing until the client gives up (the request's
	// context is done: the handler returns without a response) or [Server.Close] is called (the
	// handler answers 503).
	FailHang FailMode = "hang"
)

// failModes lists the modes in the order error messages give them.
var failModes = []FailMode{FailStatus500, FailStatus503, FailDrop, FailHang}

// dropReadBytes is how much of the body FailDrop reads before closing the connection.
const dropReadBytes = 512

func (m FailMode) valid() bool { return slices.Contains(failModes, m) }

// FailNext makes the next n uploads (POSTs on Path, whatever their credentials or content) fail
// the given way, for retry tests and demos. It replaces any failures still pending; n <= 0
// clears them. Each upload takes one failure atomically, so n concurrent uploads fail exactly n
// times. Control requests are never failed. It panics on a mode that is not one of the
// constants: that is a bug in the caller.
func (s *Server) FailNext(n int, mode FailMode) {
	if !mode.valid() {
		panic(fmt.Sprintf("ingress: FailNext: unknown mode %q", mode))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failMode = max(n, 0), mode
}

// takeFailure takes one pending failure, if any.
func (s *Server) takeFailure() (FailMode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN == 0 {
		return "", false
	}
	s.failN--
	return s.failMode, true
}

// injectFailure answers an upload the failing way.
func (s *Server) injectFailure(w http.ResponseWriter, r *http.Request, mode FailMode) result {
	switch mode {
	case FailStatus500:
		return writeError(w, reject(http.StatusInternalServerError, "injected failure: 500"))
	case FailStatus503:
		return writeError(w, reject(http.StatusServiceUnavailable, "injected failure: 503"))
	case FailDrop:
		s.drop(w, r)
		return result{reason: "injected failure: connection dropped"}
	default: // FailHang
		return s.hang(w, r)
	}
}

func (s *Server) drop(w http.ResponseWriter, r *http.Request) {
	_, _ = io.CopyN(io.Discard, r.Body, dropReadBytes)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.logRequest(r, result{reason: "injected failure: aborting the response (cannot hijack: " + err.Error() + ")"}, 0)
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// hang reads the body and then waits for the client to go away or the server to close. Reading
// the body to its end matters: only then does net/http watch the connection and cancel the
// request's context when the client hangs up.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) result {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.cfg.MaxBytes))
	if s.hangHook != nil {
		s.hangHook()
	}
	select {
	case <-r.Context().Done():
		return result{reason: "injected failure: hung until the client went away"}
	case <-s.closed:
		return writeError(w, reject(http.StatusServiceUnavailable, "injected failure: hung until the server closed"))
	}
}
