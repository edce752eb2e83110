// Package packaging turns what collectors emitted into the .tar.gz packages the ingress accepts.
//
// It sits between the gather and shipping (design.md, "The flow"): the gather streams each
// collector's CSV rows through a [Splitter] into staged part files and stages JSON documents and
// the config document as files, then hands every output to a [Packer] as a [Collection]. The
// Packer places collections into packages with upstream's package finder
// (reference/upstream-behaviour.md 3.6), writes each package as a tarball into
// [Options.Dir] (4.1–4.3) and deletes the staged files it consumed. Shipping then uploads the
// returned [Tarball] files; `wasmcollector inspect` reads them back with [ReadTarball].
//
// The package is a leaf: standard library plus github.com/klauspost/compress. It knows nothing of
// wazero, the runtime, the registry or the gather.
//
// # Tarball format
//
// A tarball is a gzip-compressed tar (PAX format) whose members are flat with a "./" prefix, in
// this order: one member "./<key>.<format>" per collection with a staged file, in the order the
// collections were added; "./config.json" (when a config was staged); "./data_collection_status.csv";
// "./manifest.json". manifest.json maps each member's file name to its version, in that order, the
// way Python's json.dumps prints a dict; data_collection_status.csv has one CRLF-terminated row per
// collection of the package (failed JSON included) with timestamps in Python's str(datetime) form.
// These texts are what the cloud parses, so they are byte-compatible with upstream (design.md D12).
//
// # Differences from upstream
//
//   - Every member header is normalised: mode 0644, uid/gid 0, empty user and group names,
//     mtime = [Options.Until]. Upstream did that only for JSON members; CSV members kept the
//     staged file's own mode, owner and mtime, which made tarballs depend on the host.
//   - The splitter counts bytes, header included, and splits before a row that would overflow a
//     part, so a part exceeds the limit only when the header plus one row alone does (D8).
//     Upstream counted characters and split after the limit was reached. Parts keep their
//     "_splitN" suffix on disk even when there is only one; the member name comes from the key.
//   - Tarballs are written to a temporary name, synced and then linked or renamed into place,
//     never over an existing file: an index whose name is taken is skipped. Upstream counted the
//     files already there. The output directory is never deleted or emptied (D6).
//   - The default gzip level is 6, not 9 (see [Options.Level]).
//   - The gzip stream is a concatenation of members (RFC 1952): one per data file, then one for
//     config.json, the status file, the manifest and the end of the archive. Readers see one tar
//     archive (Go's gzip reader, Python's tarfile and GNU tar are tested); a part can then be
//     compressed ahead, while its collector still runs (member.go).
//   - Timestamps are written in UTC (upstream's always were) and sizes of JSON documents are
//     their byte size, not their length in characters.
package packaging
