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
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxMetaSize caps how much of manifest.json or data_collection_status.csv ReadTarball reads: both
// are a line per collection, far below this.
const maxMetaSize = 16 << 20

// Contents is what [ReadTarball] found in a tarball.
type Contents struct {
	// Members lists every member in tar order.
	Members []Member
	// Manifest lists manifest.json's entries in file order; nil if the tarball has none.
	Manifest []ManifestEntry
	// Status lists data_collection_status.csv's rows, header excluded; nil if the tarball has none.
	Status []StatusRow
}

// ReadTarball reads a tarball written by this package or by upstream, for
// `wasmcollector inspect`. It reads the whole file, so a truncated or corrupt tarball (bad gzip
// checksum included) is an error, and parses manifest.json and data_collection_status.csv (the
// members named so, with or without "./"). Status columns are matched by header name.
func ReadTarball(path string) (*Contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := readTarball(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

func readTarball(r io.Reader) (*Contents, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var c Contents
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
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
		b, err := io.ReadAll(io.LimitReader(tr, maxMetaSize+1))
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", h.Name, err)
		}
		if len(b) > maxMetaSize {
			return nil, fmt.Errorf("member %s: larger than %d bytes", h.Name, maxMetaSize)
		}
		if err := parse(b); err != nil {
			return nil, fmt.Errorf("member %s: %w", h.Name, err)
		}
	}
	// Read to the end of the gzip stream so its checksum is verified.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, err
	}
	return &c, nil
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
