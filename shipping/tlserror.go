package shipping

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"
)

// TLSError is a TLS failure that another attempt cannot cure: the ingress's certificate did not
// verify here, or the ingress refused this host's client certificate (or its absence). [Ship]
// does not retry it; [UploadError.Setting] names the setting to fix. It wraps the TLS or x509
// error, so errors.As still finds an [x509.UnknownAuthorityError], an [x509.HostnameError], ….
type TLSError struct {
	// Setting is the [shipping] key whose value decides the outcome: "ca_bundle" (the CAs
	// trusted to sign the ingress's certificate), "url" (the host the certificate must be for),
	// "client_cert" (the certificate this host presents), or "" when nothing on this side fixes
	// it (the ingress's own certificate expired).
	Setting string
	// Reason says what is wrong and what to do, in words.
	Reason string
	// Err is the TLS or x509 error.
	Err error
}

// Error returns the reason followed by the underlying error in parentheses.
func (e *TLSError) Error() string { return fmt.Sprintf("%s (%v)", e.Reason, e.Err) }

// Unwrap returns Err.
func (e *TLSError) Unwrap() error { return e.Err }

// TLS alerts (RFC 8446 6.2) an ingress sends about the client's certificate. crypto/tls reports
// an alert the peer sent as a *net.OpError "remote error" whose Err is of an unexported uint8
// type, hence tlsAlert.
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertCertificateRequired    = 116
)

// classifyTLS returns err as a *TLSError when it is a TLS failure no retry cures, else nil. c is
// the configuration with defaults applied, so the advice fits what was sent.
func classifyTLS(err error, c Config) *TLSError {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return serverCertError(verr, c)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		if code, ok := tlsAlert(op.Err); ok {
			return clientCertError(code, op, c)
		}
	}
	return nil
}

// tlsAlert returns the alert number of a TLS alert error received from the peer.
func tlsAlert(err error) (uint8, bool) {
	if a, ok := errors.AsType[tls.AlertError](err); ok {
		return uint8(a), true
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" {
		return uint8(v.Uint()), true
	}
	return 0, false
}

// serverCertError explains why the ingress's certificate did not verify.
func serverCertError(verr *tls.CertificateVerificationError, c Config) *TLSError {
	trusted := "the system's CA certificates"
	if c.CABundleFile != "" {
		trusted = "[shipping] ca_bundle " + c.CABundleFile
	}
	subject := ""
	if len(verr.UnverifiedCertificates) > 0 {
		subject = fmt.Sprintf(" (subject %q)", verr.UnverifiedCertificates[0].Subject.String())
	}
	if ua, ok := errors.AsType[x509.UnknownAuthorityError](verr); ok {
		issuer := ""
		if ua.Cert != nil {
			issuer = fmt.Sprintf(", issued by %q,", ua.Cert.Issuer.String())
		}
		return &TLSError{Setting: "ca_bundle", Err: verr, Reason: fmt.Sprintf(
			"the ingress's certificate%s%s is not signed by a CA in %s: set [shipping] ca_bundle to a PEM file holding the CA that signed it",
			subject, issuer, trusted)}
	}
	if he, ok := errors.AsType[x509.HostnameError](verr); ok {
		var names []string
		if he.Certificate != nil {
			names = append(names, he.Certificate.DNSNames...)
			for _, ip := range he.Certificate.IPAddresses {
				names = append(names, ip.String())
			}
		}
		valid := "no host"
		if len(names) > 0 {
			valid = strings.Join(names, ", ")
		}
		return &TLSError{Setting: "url", Err: verr, Reason: fmt.Sprintf(
			"the ingress's certificate%s is valid for %s, not for host %s: [shipping] url must name a host the certificate is for (ca_bundle cannot change that)",
			subject, valid, he.Host)}
	}
	if ci, ok := errors.AsType[x509.CertificateInvalidError](verr); ok && ci.Reason == x509.Expired && ci.Cert != nil {
		when := fmt.Sprintf("valid from %s to %s, and it is now %s", ci.Cert.NotBefore.UTC().Format(time.RFC3339),
			ci.Cert.NotAfter.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
		if ci.Cert.IsCA && c.CABundleFile != "" {
			return &TLSError{Setting: "ca_bundle", Err: verr, Reason: fmt.Sprintf(
				"the CA certificate %q in [shipping] ca_bundle %s is out of its validity period (%s): replace it with a current one, or check this host's clock",
				ci.Cert.Subject.String(), c.CABundleFile, when)}
		}
		return &TLSError{Err: verr, Reason: fmt.Sprintf(
			"the certificate %q in the ingress's chain is out of its validity period (%s): the ingress must renew it, or this host's clock is wrong",
			ci.Cert.Subject.String(), when)}
	}
	return &TLSError{Setting: "ca_bundle", Err: verr, Reason: fmt.Sprintf(
		"the ingress's certificate%s does not verify against %s: set [shipping] ca_bundle to the CAs that issued it", subject, trusted)}
}

// clientCertError explains a TLS alert the ingress sent; nil when the alert is not about the
// client's certificate.
func clientCertError(code uint8, op *net.OpError, c Config) *TLSError {
	what := "the ingress refused the client certificate"
	switch code {
	case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked, alertCertificateExpired,
		alertCertificateUnknown, alertUnknownCA, alertCertificateRequired:
	case alertHandshakeFailure:
		// What a TLS 1.2 ingress answers when it gets no certificate (a client sends none that
		// is not from a CA the ingress named), or a TLS version or cipher it does not take: the
		// client certificate is the usual cause, and the same handshake fails again anyway.
		what = "the ingress refused the TLS handshake, most likely for the client certificate"
	default:
		return nil
	}
	if c.Auth != AuthMutualTLS {
		what = "the ingress requires a client certificate"
		if code == alertHandshakeFailure {
			what = "the ingress refused the TLS handshake, most likely because it requires a client certificate"
		}
		return &TLSError{Setting: "client_cert", Err: op, Reason: what +
			`: set [shipping] auth = "mutual-tls" with client_cert and client_key`}
	}
	return &TLSError{Setting: "client_cert", Err: op, Reason: fmt.Sprintf(
		"%s of [shipping] client_cert %s: it must be issued by a CA the ingress trusts, be valid now and be meant for client authentication, with client_key its key",
		what, c.ClientCertFile)}
}
