package shipping

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxRedirects is how many redirects one attempt follows, as net/http's default policy.
const maxRedirects = 10

// NewClient builds the *http.Client an [Uploader] uses for cfg: proxy from the environment
// (HTTPS_PROXY, NO_PROXY, …), [Config.ConnectTimeout] for the dial and for the TLS handshake,
// TLS 1.2 or later verified against the system roots or [Config.CABundleFile], the client
// certificate of [AuthMutualTLS], and the redirect policy described in the package doc. It sets
// no overall client timeout: [Config.Timeout] bounds each attempt instead. It touches no global
// state; the client is safe for concurrent use, and CloseIdleConnections releases its idle
// connections.
//
// Errors name the file and what is wrong with it ("shipping ca_bundle /x.pem: no certificates
// found"); all problems are reported at once (errors.Join).
func NewClient(cfg Config) (*http.Client, error) {
	c := cfg.withDefaults()
	var errs []error
	if c.Auth == AuthMutualTLS {
		errs = c.mutualTLSFiles()
	}
	client, more := newClient(c)
	if errs = append(errs, more...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return client, nil
}

// newClient builds the client for c (defaults applied), reading the files that are set.
func newClient(c Config) (*http.Client, []error) {
	tlsConf, errs := tlsConfig(c)
	if len(errs) > 0 {
		return nil, errs
	}
	dialer := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   c.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: transport, CheckRedirect: redirectPolicy(nil)}, nil
}

// tlsConfig builds the TLS configuration of c, reporting every unreadable or invalid file.
func tlsConfig(c Config) (*tls.Config, []error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	var errs []error
	if c.CABundleFile != "" {
		pool, err := loadCABundle(c.CABundleFile)
		if err != nil {
			errs = append(errs, err)
		}
		conf.RootCAs = pool
	}
	if c.Auth == AuthMutualTLS && c.ClientCertFile != "" && c.ClientKeyFile != "" {
		cert, err := loadKeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			errs = append(errs, err...)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, errs
}

// loadCABundle reads a PEM bundle into a new pool; the system roots are not included.
func loadCABundle(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError("shipping ca_bundle", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("shipping ca_bundle %s: no certificates found", path)
	}
	return pool, nil
}

// loadKeyPair reads the client certificate and key, naming the file at fault.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, []error) {
	var errs []error
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		errs = append(errs, fileError("shipping client_cert", certFile, err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		errs = append(errs, fileError("shipping client_key", keyFile, err))
	}
	if len(errs) > 0 {
		return tls.Certificate{}, errs
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The message of X509KeyPair says which of the two it could not use.
		msg := strings.TrimPrefix(err.Error(), "tls: ")
		return tls.Certificate{}, []error{fmt.Errorf("shipping client_cert %s, client_key %s: %s", certFile, keyFile, msg)}
	}
	return cert, nil
}

// redirectRefused is an error of the redirect policy; Ship does not retry it. url is where the
// refused redirect led, absolute (net/http reports the raw Location).
type redirectRefused struct {
	err error
	url string
}

func (e *redirectRefused) Error() string { return e.err.Error() }
func (e *redirectRefused) Unwrap() error { return e.err }

// redirectPolicy returns a CheckRedirect function that
//   - stops at 301, 302 and 303, returning that response (http.ErrUseLastResponse), because
//     net/http would follow them with a GET without the tarball;
//   - removes the credentials (Authorization, x-rh-identity, Cookie) from a request to another
//     origin (scheme, host or port) than the first request's;
//   - stops after maxRedirects redirects, or applies next when it is not nil.
//
// 307 and 308 are followed with the body, which net/http re-reads through Request.GetBody.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.Response != nil {
			switch req.Response.StatusCode {
			case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
				return http.ErrUseLastResponse
			}
		}
		if len(via) > 0 && !sameOrigin(via[0], req) {
			for _, h := range [...]string{"Authorization", identityHeader, "Cookie"} {
				req.Header.Del(h)
			}
		}
		if next != nil {
			if err := next(req, via); err != nil {
				if err == http.ErrUseLastResponse { // net/http compares with ==, so must we
					return err
				}
				return &redirectRefused{err: err, url: req.URL.Redacted()}
			}
			return nil
		}
		if len(via) >= maxRedirects {
			return &redirectRefused{err: fmt.Errorf("stopped after %d redirects", maxRedirects), url: req.URL.Redacted()}
		}
		return nil
	}
}

// sameOrigin reports whether b goes to the scheme, host and port of a.
func sameOrigin(a, b *http.Request) bool {
	return strings.EqualFold(a.URL.Scheme, b.URL.Scheme) &&
		strings.EqualFold(canonicalHost(a), canonicalHost(b))
}

// canonicalHost is r's host with the scheme's default port made explicit.
func canonicalHost(r *http.Request) string {
	host, port := r.URL.Hostname(), r.URL.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(r.URL.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}
