package packaging

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitter(t *testing.T) {
	rows := func(row string, n int) []string {
		r := make([]string, n)
		for i := range r {
			r[i] = row
		}
		return r
	}
	tests := []struct {
		name      string
		max       int64
		header    string   // "" = no write at all
		rows      []string // written one per Write after the header
		wantSizes []int64  // nil = no parts
	}{
		{
			name: "upstream fixture: 990 rows fill ten parts of exactly 1000 bytes", max: 1000,
			header: fixtureHeader, rows: rows(fixtureRow, 990),
			wantSizes: []int64{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000},
		},
		{
			name: "one more row starts an eleventh part with the header", max: 1000,
			header: fixtureHeader, rows: rows(fixtureRow, 991),
			wantSizes: []int64{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 20},
		},
		{
			name: "header counts and is repeated", max: 35,
			header: fixtureHeader, rows: rows(fixtureRow, 5),
			wantSizes: []int64{30, 30, 20},
		},
		{
			name: "exact fit", max: 30,
			header: fixtureHeader, rows: rows(fixtureRow, 4),
			wantSizes: []int64{30, 30},
		},
		{
			name: "small output stays in one part", max: 1000,
			header: fixtureHeader, rows: rows(fixtureRow, 3),
			wantSizes: []int64{40},
		},
		{
			name: "over-sized row goes alone", max: 30,
			header: fixtureHeader, rows: []string{fixtureRow, strings.Repeat("x", 47) + ",y\n", fixtureRow},
			wantSizes: []int64{20, 60, 20},
		},
		{
			name: "header plus first row over the limit", max: 15,
			header: fixtureHeader, rows: rows(fixtureRow, 2),
			wantSizes: []int64{20, 20},
		},
		{
			name: "multi-byte utf-8 counted in bytes", max: 16,
			// "é,ü\n" is 4 characters but 6 bytes: counting characters would fit 3 rows in 16.
			header: "k,v\n", rows: rows("é,ü\n", 3),
			wantSizes: []int64{16, 10},
		},
		{
			name: "rows with quoted newlines are never cut", max: 52,
			// 8-byte header, 22-byte rows holding a newline each: two rows fit in 52 bytes.
			header: "id,text\n", rows: rows("1,\"line one\nline two\"\n", 5),
			wantSizes: []int64{52, 52, 30},
		},
		{
			name: "header only is no data", max: 1000,
			header: fixtureHeader,
		},
		{
			name: "no write is no data", max: 1000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := NewSplitter(dir, "events", tt.max)
			if tt.header != "" {
				n, err := s.Write([]byte(tt.header))
				require.NoError(t, err)
				require.Equal(t, len(tt.header), n)
			}
			for _, r := range tt.rows {
				n, err := s.Write([]byte(r))
				require.NoError(t, err)
				require.Equal(t, len(r), n)
			}
			parts, err := s.Close()
			require.NoError(t, err)

			var sizes []int64
			var names []string
			var body bytes.Buffer
			for i, p := range parts {
				require.Equal(t, filepath.Join(dir, fmt.Sprintf("events_split%d", i)), p.Path)
				b, err := os.ReadFile(p.Path)
				require.NoError(t, err)
				require.Equal(t, p.Size, int64(len(b)), "Size is the file's size")
				require.True(t, bytes.HasPrefix(b, []byte(tt.header)), "part %d starts with the header", i)
				rest := b[len(tt.header):]
				require.NotEmpty(t, rest, "part %d holds a row", i)
				if p.Size > tt.max {
					// Only when the header plus a single row alone is over the limit.
					require.Contains(t, tt.rows, string(rest), "part %d over the limit holds one row", i)
				}
				// Every part is valid CSV on its own: no row is cut.
				_, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
				require.NoError(t, err, "part %d", i)
				body.Write(rest)
				sizes = append(sizes, p.Size)
				names = append(names, filepath.Base(p.Path))
			}
			require.Equal(t, tt.wantSizes, sizes)
			require.Equal(t, strings.Join(tt.rows, ""), body.String(), "rows are kept, in order")
			if names == nil {
				names = []string{}
			}
			require.ElementsMatch(t, names, dirNames(t, dir), "no other file is left")

			again, err := s.Close()
			require.NoError(t, err, "a second Close is harmless")
			require.Equal(t, parts, again)
		})
	}
}

func TestSplitterErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string)
		writes []string
		want   string
	}{
		{
			name:   "header without newline",
			writes: []string{"Col1,Col2"},
			want:   "split events: header of 9 bytes does not end with a newline",
		},
		{
			name:   "row without newline",
			writes: []string{fixtureHeader, fixtureRow, "aaaa,bbbb"},
			want:   "split events: row of 9 bytes does not end with a newline",
		},
		{
			name: "part name taken",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "events_split1"), []byte("keep"), 0o644))
			},
			writes: []string{fixtureHeader, fixtureRow, fixtureRow, fixtureRow},
			want:   "file exists",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := dirNames(t, dir)
			s := NewSplitter(dir, "events", 30)
			var err error
			for _, w := range tt.writes {
				if _, err = s.Write([]byte(w)); err != nil {
					break
				}
			}
			require.ErrorContains(t, err, tt.want)
			_, err2 := s.Write([]byte(fixtureRow))
			require.Equal(t, err, err2, "sticky")
			parts, err3 := s.Close()
			require.Equal(t, err, err3, "sticky")
			require.Empty(t, parts)
			require.Equal(t, before, dirNames(t, dir), "the files written so far are removed, others kept")
		})
	}
}

func TestSplitterAbort(t *testing.T) {
	dir := t.TempDir()
	s := NewSplitter(dir, "events", 30)
	for _, w := range []string{fixtureHeader, fixtureRow, fixtureRow, fixtureRow} {
		_, err := s.Write([]byte(w))
		require.NoError(t, err)
	}
	require.Len(t, dirNames(t, dir), 2)
	require.NoError(t, s.Abort())
	require.Empty(t, dirNames(t, dir))
	_, err := s.Write([]byte(fixtureRow))
	require.ErrorContains(t, err, "splitter is closed")
	parts, err := s.Close()
	require.NoError(t, err)
	require.Empty(t, parts)
}

func TestSplitterDefaultLimit(t *testing.T) {
	s := NewSplitter(t.TempDir(), "events", 0)
	require.Equal(t, int64(DefaultMaxDataSize), s.max)
}
