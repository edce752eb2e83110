package serve

import (
	"archive/tar"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// Preview bounds: what the page keeps of each tarball, so that a history of gathers costs
// bounded memory whatever the collectors emit.
const (
	maxPreviewMembers = 64       // members previewed per tarball
	maxCellBytes      = 256      // bytes kept of one CSV cell
	maxJSONBytes      = 16 << 10 // bytes of a JSON member read for the preview
	maxMemberRead     = 1 << 20  // bytes of a CSV member read for its first rows
)

// TarballPreview is what the page shows of one tarball: its members and the start of each.
type TarballPreview struct {
	Members []MemberPreview
	// Err is why the tarball could not be read ("" when it could).
	Err string
}

// MemberPreview is the start of one member: a CSV's header and first rows, or a JSON document
// pretty-printed, or only its name and size for anything else.
type MemberPreview struct {
	Name   string
	Size   int64
	Kind   string // csv, json or other
	Header []string
	Rows   [][]string
	More   bool   // the member has more rows (or bytes) than shown
	JSON   string // pretty-printed, for Kind json
	Err    string
}

// readPreview reads the tarball at path: packaging.ReadTarball first, which refuses a tarball
// over its limits, then the first rows of each member.
func readPreview(path string, rows int) *TarballPreview {
	p := &TarballPreview{}
	contents, err := packaging.ReadTarball(path)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	sizes := map[string]int64{}
	for _, m := range contents.Members {
		sizes[m.Name] = m.Size
	}
	f, err := os.Open(path)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		p.Err = fmt.Sprintf("%s: %v", path, err)
		return p
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for len(p.Members) < maxPreviewMembers {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.Err = fmt.Sprintf("%s: %v", path, err)
			break
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		m := MemberPreview{Name: h.Name, Size: sizes[h.Name], Kind: "other"}
		switch {
		case strings.HasSuffix(h.Name, ".csv"):
			m.Kind = "csv"
			previewCSV(&m, io.LimitReader(tr, maxMemberRead), rows)
		case strings.HasSuffix(h.Name, ".json"):
			m.Kind = "json"
			previewJSON(&m, tr)
		}
		p.Members = append(p.Members, m)
	}
	return p
}

func previewCSV(m *MemberPreview, r io.Reader, rows int) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	for i := 0; ; i++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			m.Err = err.Error()
			return
		}
		for j := range rec {
			rec[j] = clip(rec[j], maxCellBytes)
		}
		if i == 0 {
			m.Header = rec
			continue
		}
		if len(m.Rows) == rows {
			m.More = true
			return
		}
		m.Rows = append(m.Rows, rec)
	}
}

func previewJSON(m *MemberPreview, r io.Reader) {
	b, err := io.ReadAll(io.LimitReader(r, maxJSONBytes+1))
	if err != nil {
		m.Err = err.Error()
		return
	}
	if len(b) > maxJSONBytes {
		m.More = true
		m.JSON = clip(string(b), maxJSONBytes)
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		m.Err = "not valid JSON: " + err.Error()
		m.JSON = string(b)
		return
	}
	m.JSON = out.String()
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
