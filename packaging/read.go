package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Defaults of [ReadLimits]. A tarball of this package has a few members per collection with
// names like "./<key>.csv" and at most [DefaultMaxDataSize] of data per tarball unless one file
// is larger; the defaults leave room for upstream's tarballs and for large configured sizes while
// keeping what a hostile tarball can cost small: the member list stays under 10 MiB and reading
// stops after 4 GiB of tar stream. See RATIONALE.md "Why does reading a tarball have limits?".
const (
	DefaultMaxMembers       = 10_000
	DefaultMaxNameBytes     = 1024
	DefaultMaxPAXBytes      = 8 << 10
	DefaultMaxMetaBytes     = 16 << 20
	DefaultMaxExpandedBytes = 4 << 30
)

// ReadLimits bounds what [ReadLimits.ReadTarball] accepts, so that reading a hostile tarball
// costs bounded memory and time. The zero value of each field selects its default; a negative
// value is treated as its default too. A tarball over any limit is refused with a [*LimitError].
//
// # Notes
//
// archive/tar reads one PAX or GNU long-name header whole (up to 1 MiB) before its member is
// checked, so one header can cost that much, once: the first member over a limit ends the read.
type ReadLimits struct {
	// MaxMembers is the number of members, default [DefaultMaxMembers].
	MaxMembers int
	// MaxNameBytes is the length of a member's name and of its link name, in bytes, default
	// [DefaultMaxNameBytes].
	MaxNameBytes int
	// MaxPAXBytes is the size of one member's PAX records together (keys and values), in bytes,
	// default [DefaultMaxPAXBytes].
	MaxPAXBytes int
	// MaxMetaBytes is the size of manifest.json and of data_collection_status.csv, each, in bytes,
	// default [DefaultMaxMetaBytes]. Both are read into memory to be parsed.
	MaxMetaBytes int64
	// MaxExpandedBytes is the size of the uncompressed tar stream, headers and padding included,
	// in bytes, default [DefaultMaxExpandedBytes]. It bounds the time a gzip bomb costs.
	MaxExpandedBytes int64
}

// withDefaults returns l with every unset field at its default.
func (l ReadLimits) withDefaults() ReadLimits {
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = DefaultMaxNameBytes
	}
	if l.MaxPAXBytes <= 0 {
		l.MaxPAXBytes = DefaultMaxPAXBytes
	}
	if l.MaxMetaBytes <= 0 {
		l.MaxMetaBytes = DefaultMaxMetaBytes
	}
	if l.MaxExpandedBytes <= 0 {
		l.MaxExpandedBytes = DefaultMaxExpandedBytes
	}
	return l
}

// LimitError reports a tarball refused by [ReadLimits]: which limit, its value, and the member
// where it was reached. Its message names all three, for example
//
//	member 1: name "aaaa…" of 1048576 bytes: over the limit of 1024 bytes (MaxNameBytes)
type LimitError struct {
	// Limit names the [ReadLimits] field, for example "MaxNameBytes".
	Limit string
	// Max is the limit's value: a count for MaxMembers, bytes for the others.
	Max int64
	// Index is the member's position in the tar, from 1; 0 when the limit is not a member's.
	Index int
	// Reason says what went over, for example `name "aaaa…" of 1048576 bytes`.
	Reason string
}

func (e *LimitError) Error() string {
	what, unit := "tarball", " bytes"
	if e.Index > 0 {
		what = "member " + strconv.Itoa(e.Index)
	}
	if e.Limit == "MaxMembers" {
		unit = " members"
	}
	return fmt.Sprintf("%s: %s: over the limit of %d%s (%s)", what, e.Reason, e.Max, unit, e.Limit)
}

// MemberError reports a manifest.json or data_collection_status.csv that could be read from the
// tarball but not parsed.
type MemberError struct {
	// Member is the member's name as in the tar, for example "./manifest.json".
	Member string
	// Err is what is wrong with its content.
	Err error
}

func (e *MemberError) Error() string { return fmt.Sprintf("member %s: %v", e.Member, e.Err) }
func (e *MemberError) Unwrap() error { return e.Err }

// Contents is what [ReadTarball] found in a tarball.
type Contents struct {
	// Members lists every member in tar order.
	Members []Member
	// Manifest lists manifest.json's entries in file order; nil if the tarball has none.
	Manifest []ManifestEntry
	// Status lists data_collection_status.csv's rows, header excluded; nil if the tarball has none.
	Status []StatusRow
}

// ReadTarball reads a tarball with the default [ReadLimits]; see [ReadLimits.ReadTarball].
func ReadTarball(path string) (*Contents, error) {
	return ReadLimits{}.ReadTarball(path)
}

// ReadTarball reads a tarball written by this package or by upstream, for
// `wasmcollector inspect` and the ingress, within the limits l. It reads the whole file, so a
// truncated or corrupt tarball (bad gzip checksum included) is an error, and parses
// manifest.json and data_collection_status.csv (the members named so, with or without "./").
// Status columns are matched by header name. A tarball over a limit is a [*LimitError], a
// manifest or status file that cannot be parsed a [*MemberError]; both come wrapped with the path.
func (l ReadLimits) ReadTarball(path string) (*Contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := readTarball(bufio.NewReaderSize(f, 64<<10), l.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

func readTarball(r io.Reader, l ReadLimits) (*Contents, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	expanded := &expandLimit{r: zr, max: l.MaxExpandedBytes}
	tr := tar.NewReader(expanded)
	var c Contents
	for i := 1; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := l.checkHeader(i, h); err != nil {
			return nil, err
		}
		c.Members = append(c.Members, Member{Name: h.Name, Size: h.Size})
		var parse func([]byte) error
		switch strings.TrimPrefix(h.Name, memberPrefix) {
		case manifestName:
			parse = func(b []byte) (err error) { c.Manifest, err = parseManifest(b); return err }
		case statusName:
			parse = func(b []byte) (err error) { c.Status, err = parseStatus(b); return err }
		default:
			continue
		}
		if h.Size > l.MaxMetaBytes {
			return nil, &LimitError{Limit: "MaxMetaBytes", Max: l.MaxMetaBytes, Index: i,
				Reason: fmt.Sprintf("%s of %d bytes", h.Name, h.Size)}
		}
		b, err := io.ReadAll(io.LimitReader(tr, l.MaxMetaBytes))
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", h.Name, err)
		}
		if err := parse(b); err != nil {
			return nil, &MemberError{Member: h.Name, Err: err}
		}
	}
	// Read to the end of the gzip stream so its checksum is verified.
	if _, err := io.Copy(io.Discard, expanded); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkHeader checks member i's header against l.
func (l ReadLimits) checkHeader(i int, h *tar.Header) error {
	if i > l.MaxMembers {
		return &LimitError{Limit: "MaxMembers", Max: int64(l.MaxMembers), Reason: "more members"}
	}
	if len(h.Name) > l.MaxNameBytes {
		return &LimitError{Limit: "MaxNameBytes", Max: int64(l.MaxNameBytes), Index: i,
			Reason: fmt.Sprintf("name %s of %d bytes", quotePrefix(h.Name), len(h.Name))}
	}
	if len(h.Linkname) > l.MaxNameBytes {
		return &LimitError{Limit: "MaxNameBytes", Max: int64(l.MaxNameBytes), Index: i,
			Reason: fmt.Sprintf("link name of %d bytes", len(h.Linkname))}
	}
	pax := 0
	for k, v := range h.PAXRecords {
		pax += len(k) + len(v)
	}
	if pax > l.MaxPAXBytes {
		return &LimitError{Limit: "MaxPAXBytes", Max: int64(l.MaxPAXBytes), Index: i,
			Reason: fmt.Sprintf("PAX records of %d bytes", pax)}
	}
	return nil
}

// quotePrefix quotes the first bytes of a name that may be too long to print whole.
func quotePrefix(name string) string {
	const n = 32
	if len(name) > n {
		return strconv.Quote(name[:n]) + "…"
	}
	return strconv.Quote(name)
}

// expandLimit reads r and fails with a [*LimitError] once more than max bytes come out of it.
type expandLimit struct {
	r      io.Reader
	n, max int64
}

func (e *expandLimit) Read(p []byte) (int, error) {
	if e.n >= e.max {
		// At the limit: only the end of the stream is still acceptable.
		var b [1]byte
		n, err := e.r.Read(b[:])
		if n > 0 {
			return 0, &LimitError{Limit: "MaxExpandedBytes", Max: e.max, Reason: "more uncompressed data"}
		}
		return 0, err
	}
	if int64(len(p)) > e.max-e.n {
		p = p[:e.max-e.n]
	}
	n, err := e.r.Read(p)
	e.n += int64(n)
	return n, err
}

// parseManifest reads a manifest.json object keeping its order.
func parseManifest(b []byte) ([]ManifestEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil {
		return nil, err
	} else if t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	entries := []ManifestEntry{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("version of %q: %w", k, err)
		}
		entries = append(entries, ManifestEntry{File: k.(string), Version: v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return entries, nil
}

// parseStatus reads data_collection_status.csv, matching columns by header name.
func parseStatus(b []byte) ([]StatusRow, error) {
	r := csv.NewReader(bytes.NewReader(b))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	var idx [len(statusHeader)]int
	for i, name := range statusHeader {
		j, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("header lacks column %q", name)
		}
		idx[i] = j
	}
	rows := []StatusRow{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, StatusRow{
			CollectionStart: rec[idx[0]], Since: rec[idx[1]], Until: rec[idx[2]],
			FileName: rec[idx[3]], Status: rec[idx[4]], Elapsed: rec[idx[5]],
		})
	}
}
