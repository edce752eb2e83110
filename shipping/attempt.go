package shipping

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"
)

// Attempt is one request of an upload, as [Config.OnAttempt] is told of it.
type Attempt struct {
	// Tarball is the tarball's name.
	Tarball string
	// N is the attempt's number within its upload, 1 for the first.
	N int
	// StatusCode is the HTTP status the ingress answered; 0 when no answer came.
	StatusCode int
	// Err is why no answer came (a transport error, a timeout, a *TLSError, the context's end);
	// nil when StatusCode is set.
	Err error
	// Elapsed is how long the attempt took.
	Elapsed time.Duration
}

// The classes [Attempt.Outcome] reports for an attempt that got no answer.
const (
	// OutcomeTLS: a certificate did not verify or the ingress refused the TLS handshake
	// (a [*TLSError]); not retried.
	OutcomeTLS = "tls"
	// OutcomeTimeout: the attempt or its connection timed out.
	OutcomeTimeout = "timeout"
	// OutcomeCanceled: the caller's context ended the attempt.
	OutcomeCanceled = "canceled"
	// OutcomeRedirect: a redirect the policy refused to follow (too many, or refused by the
	// caller's client).
	OutcomeRedirect = "redirect"
	// OutcomeNetwork: any other failure to get an answer: refused, reset or dropped
	// connection, name resolution, proxy.
	OutcomeNetwork = "network"
)

// Outcome names what came of the attempt in a word, for a metric's label: the status code in
// decimal ("202", "503"), or, when no answer came, one of [OutcomeTLS], [OutcomeTimeout],
// [OutcomeCanceled], [OutcomeRedirect] and [OutcomeNetwork]. The set of values stays small.
func (a Attempt) Outcome() string {
	if a.Err == nil {
		return strconv.Itoa(a.StatusCode)
	}
	var te *TLSError
	var ne net.Error
	var rr *redirectRefused
	switch {
	case errors.As(a.Err, &te):
		return OutcomeTLS
	case errors.Is(a.Err, context.Canceled):
		return OutcomeCanceled
	case errors.Is(a.Err, context.DeadlineExceeded), errors.As(a.Err, &ne) && ne.Timeout():
		return OutcomeTimeout
	case errors.As(a.Err, &rr):
		return OutcomeRedirect
	}
	return OutcomeNetwork
}

// WithOnAttempt returns an Uploader that uploads as u does, through the same client, and tells
// fn of every attempt ([Config.OnAttempt]), in place of u's own OnAttempt. It is for a caller
// that did not build u but counts its attempts (serve's metrics); u is not changed.
func (u *Uploader) WithOnAttempt(fn func(Attempt)) *Uploader {
	cfg := u.cfg
	cfg.OnAttempt = fn
	v := &Uploader{cfg: cfg, client: u.client, log: u.log, identity: u.identity, sleep: u.sleep, now: u.now}
	u.rngMu.Lock()
	v.rng = newRand(u.rng.Uint64())
	u.rngMu.Unlock()
	return v
}
