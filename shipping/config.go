package shipping

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Auth names how an upload authenticates to the ingress.
type Auth string

// The authentication modes, spelt as upstream's SHIPPING_AUTH_* values.
const (
	// AuthUserPass sends [Config.Username] and [Config.Password] as HTTP Basic credentials.
	// It is the default, as upstream's.
	AuthUserPass Auth = "user-pass"
	// AuthIdentity sends [Config.Identity] base64-encoded in the x-rh-identity header, which a
	// development ingress trusts without further checks. Not for production.
	AuthIdentity Auth = "x-rh-identity"
	// AuthMutualTLS presents the client certificate [Config.ClientCertFile] with its key
	// [Config.ClientKeyFile] during the TLS handshake and sends no other credentials.
	AuthMutualTLS Auth = "mutual-tls"
	// AuthNone sends no credentials.
	AuthNone Auth = "none"
)

// Defaults of [Config]; see each field for why.
const (
	DefaultContentType    = "application/vnd.redhat.wasmcollector.analytics+tgz"
	DefaultUserAgent      = "wasmcollector"
	DefaultConnectTimeout = 31 * time.Second
	DefaultTimeout        = 5 * time.Minute
	DefaultMaxAttempts    = 5
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultMaxErrorBody   = 4 << 10
	// DefaultAuth is the authentication mode when none is set, as upstream.
	DefaultAuth = AuthUserPass
	// DefaultFailedKeep is how many tarballs the ingress did not take a gather keeps for a
	// later attempt.
	DefaultFailedKeep = 20
)

// AuthModes returns every authentication mode, in the order messages list them.
func AuthModes() []Auth { return []Auth{AuthUserPass, AuthIdentity, AuthMutualTLS, AuthNone} }

// defaultIdentity is upstream's development identity (reference/upstream-behaviour.md 4.4).
const defaultIdentity = `{"identity": {"type": "User", "account_number": "0000001", "org_id": "000001", "internal": {"org_id": "000001"}, "user": {"is_org_admin": true}}}`

// Config is everything an [Uploader] needs, with secrets already resolved by the caller. Zero
// values take the defaults documented on each field; [New] applies them to its own copy and
// never writes into the caller's value. Error messages name fields by their TOML key
// (url, username, client_key, ca_bundle, …).
type Config struct {
	// URL is the ingress endpoint tarballs are posted to, http:// or https://; required. It may
	// not carry user information: credentials come from Username and Password.
	URL string
	// ContentType is the Content-Type of the multipart part holding the tarball, which the
	// ingress uses to route the upload: application/vnd.redhat.<service>.<category>+tgz, where the
	// ingress must be configured for <service> or it answers 415. Default [DefaultContentType],
	// whose service "wasmcollector" console.redhat.com's ingress is not configured for: a product
	// sets its own (AWX: application/vnd.redhat.tower.tower_payload+tgz).
	ContentType string
	// UserAgent is the User-Agent header; default [DefaultUserAgent]. The CLI sends
	// "wasmcollector/<version>".
	UserAgent string
	// Headers are extra request headers, set after User-Agent (so a User-Agent here wins) and
	// before the credentials of Auth (so those win). A Content-Type here is ignored and not
	// sent: the request's Content-Type is always the multipart one with its boundary. New copies
	// the map.
	Headers map[string]string
	// Auth is the authentication mode; default [AuthUserPass], as upstream.
	Auth Auth
	// Username and Password are the HTTP Basic credentials of [AuthUserPass]; both required
	// in that mode, ignored in the others.
	Username, Password string
	// Identity is the JSON identity [AuthIdentity] sends; nil means upstream's development
	// identity, a User of account 0000001 in org 000001 who is an org admin. Must be valid
	// JSON. New copies the slice.
	Identity []byte
	// ClientCertFile and ClientKeyFile are the PEM client certificate (chain) and its private
	// key for [AuthMutualTLS]; both required in that mode, ignored in the others. They are read
	// once, when the client is built.
	ClientCertFile, ClientKeyFile string
	// CABundleFile is a PEM bundle of CA certificates to trust instead of the system roots, as
	// upstream's CERT_PATH; "" means the system roots.
	CABundleFile string
	// InsecureSkipVerify turns off verification of the ingress's certificate. For tests
	// against self-signed ingresses only; New logs a warning when it is set.
	InsecureSkipVerify bool
	// ConnectTimeout bounds establishing a connection: the TCP dial and, separately, the TLS
	// handshake; default [DefaultConnectTimeout] (31 s, upstream's).
	ConnectTimeout time.Duration
	// Timeout bounds one attempt as a whole: connecting, writing the request with the tarball,
	// following redirects and reading the response; default [DefaultTimeout] (5 minutes,
	// enough for a 200 MiB tarball at about 5 Mbit/s).
	Timeout time.Duration
	// MaxAttempts is how many times one tarball is tried before Ship gives up, first attempt
	// included; default [DefaultMaxAttempts] (one attempt and four retries).
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the wait before retry n (n = 0, 1, …): a uniformly
	// random duration in [0, min(MaxBackoff, InitialBackoff·2ⁿ)] ("full jitter", which spreads
	// many collectors retrying at once). A Retry-After on 429 or 503 replaces it, capped at
	// MaxBackoff. Defaults [DefaultInitialBackoff] (1 s) and [DefaultMaxBackoff] (1 minute).
	InitialBackoff, MaxBackoff time.Duration
	// OnAttempt, when not nil, is told of every request an upload makes, answered or not, for
	// metrics of attempts by status code. It is called in the goroutine that called Ship, after
	// the attempt and before any wait for the next one, so it must return quickly. An upload that
	// never made a request (its file could not be read) reports nothing.
	OnAttempt func(Attempt)
	// MaxErrorBody is how many bytes of a failed response's body [UploadError.Body] keeps;
	// default [DefaultMaxErrorBody] (4 KiB, enough for an ingress error document).
	MaxErrorBody int64
}

// withDefaults returns a copy of c with defaults applied and its map and slice copied.
func (c Config) withDefaults() Config {
	if c.ContentType == "" {
		c.ContentType = DefaultContentType
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Auth == "" {
		c.Auth = DefaultAuth
	}
	if c.Identity == nil {
		c.Identity = []byte(defaultIdentity)
	} else {
		c.Identity = slices.Clone(c.Identity)
	}
	c.Headers = maps.Clone(c.Headers)
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxErrorBody == 0 {
		c.MaxErrorBody = DefaultMaxErrorBody
	}
	return c
}

// validate reports every problem of c (defaults applied) that needs no file to be read; the
// files are checked when the client is built.
func (c Config) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if msg := checkURL(c.URL); msg != "" {
		add("shipping %s", msg)
	}
	switch c.Auth {
	case AuthUserPass:
		if c.Username == "" {
			add("shipping auth %s needs a username", c.Auth)
		}
		if c.Password == "" {
			add("shipping auth %s needs a password", c.Auth)
		}
	case AuthIdentity:
		if !json.Valid(c.Identity) {
			add("shipping auth %s: identity is not valid JSON", c.Auth)
		}
	case AuthMutualTLS:
		errs = append(errs, c.mutualTLSFiles()...)
	case AuthNone:
	default:
		add("shipping auth %q is unknown (want %s, %s, %s or %s)", c.Auth, AuthUserPass, AuthIdentity, AuthMutualTLS, AuthNone)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		switch {
		case !validHeaderName(name):
			add("shipping header %q: not a valid header name", name)
		case strings.ContainsAny(c.Headers[name], "\r\n\x00"):
			add("shipping header %q: value contains a line break or NUL", name)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout},
		{"timeout", c.Timeout},
		{"initial_backoff", c.InitialBackoff},
		{"max_backoff", c.MaxBackoff},
	} {
		if d.v < 0 {
			add("shipping %s %s is negative", d.key, d.v)
		}
	}
	if c.MaxAttempts < 0 {
		add("shipping max_attempts %d is negative", c.MaxAttempts)
	}
	if c.MaxErrorBody < 0 {
		add("shipping max_error_body %d is negative", c.MaxErrorBody)
	}
	return errs
}

// mutualTLSFiles reports the missing files of AuthMutualTLS.
func (c Config) mutualTLSFiles() []error {
	var errs []error
	if c.ClientCertFile == "" {
		errs = append(errs, fmt.Errorf("shipping auth %s needs a client_cert", AuthMutualTLS))
	}
	if c.ClientKeyFile == "" {
		errs = append(errs, fmt.Errorf("shipping auth %s needs a client_key", AuthMutualTLS))
	}
	return errs
}

// checkURL returns what is wrong with an ingress URL, starting with "url", or "".
func checkURL(s string) string {
	if s == "" {
		return "url is not set"
	}
	u, err := url.Parse(s)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return fmt.Sprintf("url %q: %v", s, ue.Err)
	case err != nil:
		return fmt.Sprintf("url %q: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("url %q: must start with http:// or https://", s)
	case u.Host == "":
		return fmt.Sprintf("url %q: no host", s)
	case u.User != nil:
		return fmt.Sprintf("url %q: must not carry credentials; set username and password", u.Redacted())
	}
	return ""
}

// validHeaderName reports whether name is an RFC 9110 token, which a header name must be.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
