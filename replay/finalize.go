package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wasmcollector/wasmcollector/internal/iocount"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Kinds of a recorded failure ([Result.Kind]) besides the runtime's error kinds (timeout,
// canceled, memory, trap, bad_pointer, exit, failed, refused, output; see runtime.ErrorKind).
const (
	// KindKilled: the process that ran the invocation was killed by a signal the host did not
	// send (the kernel's OOM killer, an operator).
	KindKilled = "killed"
	// KindHost: the host could not serve the invocation (its worker broke the protocol or exited,
	// a data source could not be opened).
	KindHost = "host"
)

// ErrorKind is the record's kind of an invocation's error: the *runtime.InvocationError's kind,
// else [KindHost]; "" for nil.
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	var ie *runtime.InvocationError
	if errors.As(err, &ie) && ie.Kind != "" {
		return string(ie.Kind)
	}
	return KindHost
}

// Finalize completes the record at spec.Path, which the process recording it left without its
// end line because it ended first: killed at its deadline or a cap, or crashed. The lines that
// process flushed (every answer it served up to a flush interval before it ended, and every
// answer whose call had ended) are kept; a data call still running is closed as abandoned (a
// replay serves its recorded rows and fails a read past them), and a result line (error errMsg,
// kind kind, finalized) and the end line are added. The file is replaced atomically. A record
// that already has its end line is kept as it is (its compressed stream completed if it was cut).
// A file with no readable header cannot be finalised: it is an error, naming what is wrong.
func Finalize(spec Spec, kind, errMsg string) (Info, error) {
	info := Info{Path: spec.Path}
	f, err := os.Open(spec.Path)
	if err != nil {
		return info, fmt.Errorf("finalise record: %w", err)
	}
	lines, err := decodablePrefix(f)
	f.Close()
	if err != nil {
		return info, fmt.Errorf("finalise record %s: %w", spec.Path, err)
	}

	type open struct{ rows int64 }
	queries := map[int]*open{}
	var order []int
	var out bytes.Buffer
	var raw int64
	var endLine *End
	sawResult := false
	for i, b := range lines {
		var l struct {
			K string `json:"k"`
			Q int    `json:"q"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return info, fmt.Errorf("finalise record %s: %w: line %d: %v", spec.Path, ErrCorrupt, i+1, err)
		}
		if i == 0 {
			var hdr Header
			if l.K != kindInvocation || decodeBody(b, &hdr) != nil {
				return info, fmt.Errorf("finalise record %s: %w: line 1 is not the invocation header", spec.Path, ErrCorrupt)
			}
			if hdr.Version < MinVersion || hdr.Version > Version {
				return info, fmt.Errorf("finalise record %s: %w: format version %d", spec.Path, ErrVersion, hdr.Version)
			}
		}
		switch l.K {
		case kindQuery:
			if queries[l.Q] == nil {
				queries[l.Q] = &open{}
				order = append(order, l.Q)
			}
		case kindRow, kindCSV:
			if q := queries[l.Q]; q != nil {
				q.rows++
			}
		case kindEndQuery:
			delete(queries, l.Q)
		case kindOut:
			var d dataLine
			if decodeBody(b, &d) == nil {
				if p, err := d.bytes(); err == nil {
					out.Write(p)
				}
			}
		case kindResult:
			sawResult = true
		case kindEnd:
			endLine = &End{}
			if err := decodeBody(b, endLine); err != nil {
				return info, fmt.Errorf("finalise record %s: %w: the end line: %v", spec.Path, ErrCorrupt, err)
			}
		}
		if endLine != nil {
			lines = lines[:i+1] // nothing follows the end line
			break
		}
		raw += int64(len(b)) + 1
	}

	var buf bytes.Buffer
	if endLine == nil {
		add := func(kind string, body any) {
			n := buf.Len()
			if encodeLine(&buf, kind, body) == nil {
				lines = append(lines, bytes.Clone(bytes.TrimSuffix(buf.Bytes()[n:], []byte("\n"))))
				raw += int64(buf.Len() - n)
			}
		}
		for _, q := range order {
			if o := queries[q]; o != nil {
				rows := o.rows
				if rows > 0 && csvQuery(lines, q) {
					rows-- // the header
				}
				add(kindEndQuery, &QueryEnd{N: q, Rows: rows, Abandoned: true,
					Error: "the invocation ended during this call: " + errMsg})
			}
		}
		if !sawResult {
			res := &Result{Error: errMsg, Kind: kind, Finalized: true, OutputRecorded: spec.Output}
			if spec.Output {
				sum := sha256.Sum256(out.Bytes())
				res.SHA256, res.Bytes = hex.EncodeToString(sum[:]), int64(out.Len())
			}
			add(kindResult, res)
		}
		endLine = &End{Complete: true, Bytes: raw, Lines: int64(len(lines))}
		add(kindEnd, endLine)
	}

	tmp, err := os.CreateTemp(filepath.Dir(spec.Path), ".finalize-*")
	if err != nil {
		return info, fmt.Errorf("finalise record: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	cw := &iocount.Writer{W: tmp}
	gz, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	for _, b := range lines {
		gz.Write(b)
		gz.Write([]byte{'\n'})
	}
	err = errors.Join(gz.Close(), tmp.Chmod(0o600), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), spec.Path)
	}
	if err != nil {
		return info, fmt.Errorf("finalise record %s: %w", spec.Path, err)
	}
	info.Bytes, info.Complete, info.Reason = cw.N, endLine.Complete, endLine.Reason
	return info, nil
}

// csvQuery says whether query q of lines is a stream_csv call.
func csvQuery(lines [][]byte, q int) bool {
	for _, b := range lines {
		var l struct {
			K    string `json:"k"`
			Q    int    `json:"q"`
			Call string `json:"call"`
		}
		if json.Unmarshal(b, &l) == nil && l.K == kindQuery && l.Q == q {
			return l.Call == callStreamCSV
		}
	}
	return false
}

// decodablePrefix returns the whole lines of a gzip'd record that decode, without their
// newlines: a compressed stream cut short (its process killed) yields what was flushed before.
func decodablePrefix(r io.Reader) ([][]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: no readable header (%v)", ErrCorrupt, err)
	}
	gz.Multistream(false)
	br := bufio.NewReaderSize(io.LimitReader(gz, MaxRecordBytes), 64<<10)
	var lines [][]byte
	for {
		b, err := readLine(br, DefaultMaxLine)
		if err != nil {
			break // the end, or where the cut stream stops decoding
		}
		if !json.Valid(b) {
			break
		}
		lines = append(lines, b)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: no whole line decodes", ErrCorrupt)
	}
	return lines, nil
}
