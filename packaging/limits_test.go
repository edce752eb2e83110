package packaging

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/hostile"
)

// writeFile writes b to a temporary file and returns its path.
func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.tar.gz")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// TestReadTarballHugeNames is the attack of issue 11 item 6: 3,000 members with 1 MB PAX names
// (a 3 GB tar stream in a 3 MB file). Before the limits ReadTarball read it whole, holding every
// name: 3 GB in use, 9 GB allocated. Now the first member is refused, and reading allocates
// about what archive/tar needs for one PAX header.
func TestReadTarballHugeNames(t *testing.T) {
	path := writeFile(t, hostile.HugeNames(3000, 1<<20-64))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadTarball(path)
	runtime.ReadMemStats(&after)

	var lim *LimitError
	require.ErrorAs(t, err, &lim)
	require.Equal(t, "MaxNameBytes", lim.Limit)
	require.Equal(t, 1, lim.Index)
	require.ErrorContains(t, err, `read `+path+`: member 1: name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"… of 1048512 bytes: over the limit of 1024 bytes (MaxNameBytes)`)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(16<<20), "reading the hostile tarball allocated %d MiB", allocated>>20)
}

// TestReadTarballLimits tries each limit with a tarball just over it and one at it.
func TestReadTarballLimits(t *testing.T) {
	manifest := hostile.File{Name: "./manifest.json", Body: `{"a.csv": "1.0"}`}
	tests := []struct {
		name     string
		limits   ReadLimits
		over, at []byte
		limit    string
		index    int
	}{
		{
			name:   "members",
			limits: ReadLimits{MaxMembers: 3},
			over:   hostile.Tarball(hostile.File{Name: "a"}, hostile.File{Name: "b"}, hostile.File{Name: "c"}, hostile.File{Name: "d"}),
			at:     hostile.Tarball(hostile.File{Name: "a"}, hostile.File{Name: "b"}, hostile.File{Name: "c"}),
			limit:  "MaxMembers",
		},
		{
			name:   "name",
			limits: ReadLimits{MaxNameBytes: 100},
			over:   hostile.Tarball(hostile.File{Name: "ok"}, hostile.File{Name: strings.Repeat("n", 101)}),
			at:     hostile.Tarball(hostile.File{Name: "ok"}, hostile.File{Name: strings.Repeat("n", 100)}),
			limit:  "MaxNameBytes", index: 2,
		},
		{
			name:   "link name",
			limits: ReadLimits{MaxNameBytes: 100},
			over:   linkTarball(t, strings.Repeat("l", 101)),
			at:     linkTarball(t, strings.Repeat("l", 100)),
			limit:  "MaxNameBytes", index: 1,
		},
		{
			name:   "PAX records",
			limits: ReadLimits{MaxPAXBytes: 200},
			over:   paxTarball(t, strings.Repeat("v", 200-len("comment")+1)),
			at:     paxTarball(t, strings.Repeat("v", 200-len("comment"))),
			limit:  "MaxPAXBytes", index: 1,
		},
		{
			name:   "manifest",
			limits: ReadLimits{MaxMetaBytes: int64(len(manifest.Body)) - 1},
			over:   hostile.Tarball(manifest),
			at:     hostile.Tarball(hostile.File{Name: "./manifest.json", Body: `{"a.csv":"1"}`}),
			limit:  "MaxMetaBytes", index: 1,
		},
		{
			name:   "status",
			limits: ReadLimits{MaxMetaBytes: 10},
			over:   hostile.Tarball(hostile.File{Name: "./data_collection_status.csv", Body: strings.Repeat("x", 11)}),
			at:     hostile.Tarball(hostile.File{Name: "x.csv", Body: strings.Repeat("x", 11)}),
			limit:  "MaxMetaBytes", index: 1,
		},
		{
			// A tar stream of one 512-byte header, 10 KiB of data and two 512-byte end blocks
			// (archive/tar pads to 10 KiB records only when writing).
			name:   "expanded",
			limits: ReadLimits{MaxExpandedBytes: 512 + 10<<10 + 1024 - 1},
			over:   hostile.Tarball(hostile.File{Name: "big", Body: strings.Repeat("z", 10<<10)}),
			at:     hostile.Tarball(hostile.File{Name: "big", Body: strings.Repeat("z", 10<<10-512)}),
			limit:  "MaxExpandedBytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.limits.ReadTarball(writeFile(t, tt.over))
			var lim *LimitError
			require.ErrorAs(t, err, &lim)
			require.Equal(t, tt.limit, lim.Limit)
			require.Equal(t, tt.index, lim.Index)
			require.ErrorContains(t, err, "over the limit of")
			require.ErrorContains(t, err, "("+tt.limit+")")

			_, err = tt.limits.ReadTarball(writeFile(t, tt.at))
			require.NoError(t, err)
		})
	}
}

// TestReadLimitsDefaults: the zero value and negative values select the defaults.
func TestReadLimitsDefaults(t *testing.T) {
	want := ReadLimits{DefaultMaxMembers, DefaultMaxNameBytes, DefaultMaxPAXBytes, DefaultMaxMetaBytes, DefaultMaxExpandedBytes}
	require.Equal(t, want, ReadLimits{}.withDefaults())
	require.Equal(t, want, ReadLimits{-1, -1, -1, -1, -1}.withDefaults())
	require.Equal(t, ReadLimits{1, 2, 3, 4, 5}, ReadLimits{1, 2, 3, 4, 5}.withDefaults())
}

// TestMemberError: a manifest that cannot be parsed is a *MemberError naming the member.
func TestMemberError(t *testing.T) {
	_, err := ReadTarball(writeFile(t, hostile.Tarball(hostile.File{Name: "./manifest.json", Body: "[]"})))
	var me *MemberError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "./manifest.json", me.Member)
	require.False(t, errors.As(err, new(*LimitError)))
}

// linkTarball is a tarball with one symlink to target.
func linkTarball(t testing.TB, target string) []byte {
	t.Helper()
	return tarWith(t, &tar.Header{Name: "link", Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777, Format: tar.FormatPAX})
}

// paxTarball is a tarball with one member carrying a PAX comment record of value.
func paxTarball(t testing.TB, value string) []byte {
	t.Helper()
	return tarWith(t, &tar.Header{Name: "x", Typeflag: tar.TypeReg, Mode: 0o644, PAXRecords: map[string]string{"comment": value}, Format: tar.FormatPAX})
}

// tarWith is a tarball of empty members with the headers hs.
func tarWith(t testing.TB, hs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range hs {
		require.NoError(t, tw.WriteHeader(h))
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// BenchmarkReadTarballHugeNames measures what refusing the huge-name attack costs (3,000 members
// with 1 MB PAX names): B/op is what one read allocates. Before the limits the read allocated
// 9.4 GB and held 3 GB for 70 s.
func BenchmarkReadTarballHugeNames(b *testing.B) {
	path := writeFile(b, hostile.HugeNames(3000, 1<<20-64))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadTarball(path); !errors.As(err, new(*LimitError)) {
			b.Fatalf("read: %v", err)
		}
	}
}
