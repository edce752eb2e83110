// Package ingress is a small, real HTTP server that behaves like the cloud ingress wasmcollector
// uploads its tarballs to, for development, demos and end-to-end tests.
//
// It sits at the far end of the flow (design.md, "The flow"): packaging writes a .tar.gz,
// shipping POSTs it here, and this package checks the request the way the cloud would, stores the
// tarball and remembers what it accepted. `wasmcollector ingress --listen <addr> --dir <dir>`
// serves a [Server]; tests embed one in an httptest server. It imports only the standard library
// and [packaging] (to read tarballs back with [packaging.ReadTarball]).
//
// # Uploads
//
// An upload is a POST to [Config.Path] (default [DefaultPath]) whose body is multipart/form-data
// with a part named "file" carrying a filename and the tarball, as upstream's ship() sends it
// (reference/upstream-behaviour.md 4.4). Checks run in this order, the first failure answering:
//
//  1. injected failures ([Server.FailNext]), before anything else, so retry tests see them
//     whatever the credentials;
//  2. authentication: HTTP Basic ([Config.Username]) and/or an x-rh-identity header
//     ([Config.RequireIdentity]), either one satisfying when both are set → 401;
//  3. size: the whole request body is limited to [Config.MaxBytes] → 413;
//  4. the multipart body: a part named "file" (other parts are read and ignored, a second "file"
//     part is an error) with a plain filename (no directory, no leading dot) → 400, and a part
//     content type the real ingress would route here: application/vnd.redhat.<service>.<category>
//     (then anything, usually "+tgz"; application/gzip counts as service "advisor") with the
//     service one of [Config.UploadTypes] (default "wasmcollector") → 415 (or one of
//     [Config.ContentTypes] when that list is set);
//  5. the tarball, streamed to a temporary file in [Config.Dir], never held in memory: within
//     the read limits ([Config.TarballLimits]: member count, name and PAX sizes, manifest size,
//     uncompressed size) → 413 naming the limit; a readable gzip'd tar, with a manifest.json
//     that is a JSON object of string to string, every file of which is a member of the
//     tarball → 400.
//
// An accepted upload is stored as Dir/<received, UTC, 20060102T150405Z>-<sequence>-<filename>
// and answered 202 with
//
//	{"request_id": "<32 hex digits>", "upload": {"name": "<filename>", "size": <bytes>}}
//
// An upload carrying a payload identifier (Idempotency-Key, else x-rh-insights-request-id; the
// shipping package sends the tarball's SHA-256 in both) that repeats one already stored with the
// same content is answered with that upload's 202 and request_id, and nothing is stored: so a
// client that re-sends after a lost answer delivers exactly once. The same identifier with other
// content is answered 422. [Config.KeepDuplicates] turns this off; uploads without an identifier
// are never deduplicated; an identifier over 256 bytes is refused (400). The index lives as
// long as the server.
//
// A rejected one is answered with its status and
//
//	{"errors": [{"status": 400, "detail": "<reason>"}]}
//
// and leaves nothing in Dir. The server remembers the newest [Config.KeepUploads] accepted
// uploads with bounded metadata each ([MaxListedBytes]), so its memory does not grow with what it
// is sent. Other methods on Path answer 405, other paths 404. Every request is logged as one line
// through [Config.Logger] with its status, filename, size and reason.
//
// # Serving
//
// [Server.HTTPServer] puts an HTTP server in front of a Server with the limits that keep slow and
// idle clients from starving it ([HTTPLimits]): timeouts for the header, the whole request (the
// largest upload at a minimum rate) and idle connections, and a cap on connections fitted to the
// open-file limit, at which a new connection closes the one that has waited longest without a
// request in progress. `wasmcollector ingress` serves with it; tests may use httptest instead.
//
// # Control endpoints
//
// For demos, the server also answers, to loopback clients only (403 otherwise), and without
// authentication or injected failures:
//
//   - POST <Path>/_fail?n=2&mode=drop calls [Server.FailNext]: n defaults to 1, mode is one of
//     500, 503, drop, hang. It answers 200 with {"n": 2, "mode": "drop"}.
//   - GET <Path>/_uploads answers 200 with the JSON list of [Server.Uploads], oldest first, in the
//     shape of [Upload.MarshalJSON].
//
// # Differences from the real ingress
//
// The real service answers 202 with request_id and account details and checks far more (the
// identity comes from its gateway, the tenant may be deny-listed). This one checks only what
// wasmcollector must get right: request shape, credentials, size, content type and a well-formed
// tarball whose manifest matches its members. The content type is checked by the real service's
// rule (insights-ingress-go, internal/upload/validation.go and its kafka validator): it names a
// service, which must be one the ingress is configured for. The real one answers 415 with no body;
// this one says why. Its pattern is anchored at the start of the value where the real one's is
// not, which only refuses values that match there by accident.
package ingress
