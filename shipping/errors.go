package shipping

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// UploadError is an upload that did not succeed, as [Uploader.Ship] returns it. Either the
// ingress answered with a status other than 2xx (StatusCode set, Err nil), or no answer came
// (Err set: a transport error, the context's error, or the tarball file could not be read).
// Use errors.As to get it; errors.Is sees through Err (context.Canceled, fs.ErrNotExist, …).
type UploadError struct {
	// Tarball is the tarball's name.
	Tarball string
	// Attempts is how many requests were made, 0 when none could be.
	Attempts int
	// StatusCode is the last HTTP status the ingress answered, 0 when none came.
	StatusCode int
	// Retryable reports whether the last failure was of a kind worth retrying later: a
	// transport error, 429 or a 5xx, after MaxAttempts attempts ran out. It is false for
	// other statuses (the ingress rejected the tarball), for a [*TLSError] (a certificate that
	// does not verify, or one the ingress refuses, is refused again), for an unreadable tarball
	// file and when the context ended the upload.
	Retryable bool
	// Setting names the [shipping] setting to fix when the failure points at one: "content_type"
	// when the ingress answered 415 (it does not take the part's content type), and for a
	// [*TLSError] its Setting ("ca_bundle", "url", "client_cert"). "" otherwise.
	Setting string
	// ContentType is the part Content-Type the tarball was sent with ([Config.ContentType]); ""
	// when no request was made.
	ContentType string
	// Body is the start of the last failed response's body, at most [Config.MaxErrorBody]
	// bytes of valid UTF-8, trimmed of surrounding space.
	Body string
	// Location is the target of a redirect that was not followed (301, 302, 303, or a 3xx left
	// after following redirects), "" otherwise.
	Location string
	// Err is the last error that kept a response from arriving: a transport error (a
	// *url.Error), the context's error when it ended the upload, or the error opening the
	// tarball. Nil when the failure is an HTTP status.
	Err error
}

// Error describes the failure on one line, for example
//
//	upload analytics-2024-06-30-000000+0000-0.tar.gz: ingress answered 400 Bad Request after 1 attempt: {"error": "bad manifest"}
//	upload analytics-2024-06-30-000000+0000-0.tar.gz: post https://ingress.example/api: read: connection reset by peer (5 attempts)
func (e *UploadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "upload %s: ", e.Tarball)
	if e.Err != nil {
		b.WriteString(describeErr(e.Err))
		switch {
		case e.StatusCode != 0:
			fmt.Fprintf(&b, " (%s; last answer %s)", attempts(e.Attempts), statusText(e.StatusCode))
		case e.Attempts > 0:
			fmt.Fprintf(&b, " (%s)", attempts(e.Attempts))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "ingress answered %s after %s", statusText(e.StatusCode), attempts(e.Attempts))
	if e.Setting == "content_type" {
		// The real ingress answers 415 with no body: say what it refused and what to change.
		fmt.Fprintf(&b, ": it does not take content type %q; set [shipping] content_type to the type the ingress is configured to route for this product (AWX's is %s)",
			e.ContentType, awxContentType)
		if e.Body != "" {
			b.WriteString("; it said: ")
			b.WriteString(strings.Join(strings.Fields(e.Body), " "))
		}
		return b.String()
	}
	switch {
	case e.Location != "":
		fmt.Fprintf(&b, ": redirect to %s not followed", e.Location)
	case e.Body != "":
		b.WriteString(": ")
		b.WriteString(strings.Join(strings.Fields(e.Body), " "))
	}
	return b.String()
}

// awxContentType is the content type AWX uploads with, which console.redhat.com's ingress routes:
// the example a message about content_type gives.
const awxContentType = "application/vnd.redhat.tower.tower_payload+tgz"

// Unwrap returns Err.
func (e *UploadError) Unwrap() error { return e.Err }

// describeErr prints a *url.Error as "post <url>: <cause>" rather than net/http's
// `Post "<url>": <cause>`.
func describeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %v", strings.ToLower(ue.Op), ue.URL, ue.Err)
	}
	return err.Error()
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}
