package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// field is one decoded field of a field list.
type field struct {
	Null bool
	Text string
}

func (f field) String() string {
	if f.Null {
		return "NULL"
	}
	return fmt.Sprintf("%q", f.Text)
}

// txt and null build expected fields.
func txt(s string) field { return field{Text: s} }

var null = field{Null: true}

// decodeBatch decodes a csv_rows batch (rows back to back) the way hostfuncs/ABI.md defines it,
// independently of the encoder under test.
func decodeBatch(b []byte) ([][]field, error) {
	var rows [][]field
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("batch ends inside a field count")
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		row := []field{}
		for range n {
			if len(b) < 4 {
				return nil, errors.New("batch ends inside a field length")
			}
			l := binary.LittleEndian.Uint32(b)
			b = b[4:]
			if l == abi.NullField {
				row = append(row, null)
				continue
			}
			if uint64(l) > uint64(len(b)) {
				return nil, fmt.Errorf("field of %d bytes, %d left", l, len(b))
			}
			row = append(row, txt(string(b[:l])))
			b = b[l:]
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// recorder is a rowSink that keeps what it was sent.
type recorder struct {
	headers  [][]byte
	batches  [][]byte
	fails    []string
	rowsErr  error // returned by rows when set
	discard  bool  // do not keep batches (allocation tests)
	nBatches int
}

func (r *recorder) header(b []byte) error {
	r.headers = append(r.headers, append([]byte(nil), b...))
	return nil
}

func (r *recorder) rows(b []byte) error {
	if r.rowsErr != nil {
		return r.rowsErr
	}
	r.nBatches++
	if !r.discard {
		r.batches = append(r.batches, append([]byte(nil), b...))
	}
	return nil
}

func (r *recorder) fail(msg string) { r.fails = append(r.fails, msg) }

// allRows decodes every batch the recorder got, in order.
func (r *recorder) allRows() ([][]field, error) {
	var all [][]field
	for i, b := range r.batches {
		rows, err := decodeBatch(b)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", i, err)
		}
		all = append(all, rows...)
	}
	return all, nil
}

func formatRows(rows [][]field) string {
	var sb strings.Builder
	for _, r := range rows {
		fmt.Fprintln(&sb, r)
	}
	return sb.String()
}
