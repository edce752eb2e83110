// Package shipping uploads the tarballs the gather produced to a cloud ingress, such as
// console.redhat.com's ingress service.
//
// It sits at the end of the flow (design.md, "The flow"): [packaging] writes each package as a
// .tar.gz file, the gather hands every [packaging.Tarball] to a shipper, and an [Uploader] posts it
// to the ingress, one HTTP request per tarball. An Uploader implements the gather's Shipper
// interface; the front door builds one from the TOML's [shipping] table (design.md D10), resolving
// the passwords and keys it names in variables or files, so they never sit in the TOML itself.
//
// # The request
//
// Each upload is one POST to [Config.URL] with a multipart/form-data body holding exactly one
// part: form field "file", file name [packaging.Tarball.Name], part Content-Type
// [Config.ContentType]. The tarball is streamed from disk, never loaded into memory, and the
// request carries its exact Content-Length. Credentials depend on [Config.Auth]: HTTP Basic
// (user-pass), a base64 JSON identity in the x-rh-identity header (x-rh-identity, for
// development ingresses), a TLS client certificate (mutual-tls), or nothing (none). This is the
// request upstream's Package.ship sends (reference/upstream-behaviour.md 4.4), plus the payload
// identifier: the hex SHA-256 of the tarball, in x-rh-insights-request-id (which the real ingress
// adopts as its request id: it logs it, answers with it and passes it on) and in Idempotency-Key
// (quoted, as the IETF draft has it). Every attempt, and every later re-send of the same tarball
// by a later gather, carries the same identifier, so an ingress that deduplicates (the local one,
// `wasmcollector ingress`) stores it once.
//
// # Outcomes
//
// A 2xx answer means the ingress accepted the tarball. An answer of 429, a 5xx or a transport
// failure (refused or reset connection, timeout) is retried with capped exponential backoff and
// full jitter, honouring Retry-After on 429 and 503, up to [Config.MaxAttempts] attempts. Any
// other answer (4xx, a 3xx left unfollowed) fails at once, and so does a TLS failure no retry
// cures (a [*TLSError]: the ingress's certificate does not verify, or the ingress refuses this
// host's client certificate). Every failure is returned as an [*UploadError] that says whether
// it was an ingress answer or a transport error, whether it was of a retryable kind, and, when
// one setting is at fault, which ([UploadError.Setting]: content_type for a 415, ca_bundle, url
// or client_cert for TLS); callers branch with errors.As, never on the text.
//
// [Config.OnAttempt] is told of every request, not only the last, for metrics of attempts by
// status code ([Attempt.Outcome]).
//
// # Differences from upstream
//
//   - Upstream did not retry and let network exceptions escape the gather; here transport errors,
//     5xx and 429 are retried a bounded number of times and then reported (design.md D5).
//   - Redirects 307 and 308 are followed with the body; 301, 302 and 303 are not followed, since
//     following them turns the POST into a GET without the tarball that may well answer 200 and
//     pass for a successful upload. Upstream's HTTP client followed them all.
//   - Credentials (Authorization, x-rh-identity) are never sent to another scheme, host or port
//     than the URL's when a redirect leads there; upstream sent x-rh-identity anywhere.
//   - A Content-Type in [Config.Headers] is ignored rather than required (upstream deleted it and
//     crashed when it was absent).
//   - One attempt is bounded by [Config.Timeout] (default 5 minutes) as a whole, where upstream
//     had a 31 s read timeout that a slow ingress reading a large tarball could trip.
package shipping
