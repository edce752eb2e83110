package ingress

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/hostile"
	"github.com/wasmcollector/wasmcollector/packaging"
)

// TestHugeNamesRefused is the attack of issue 11 item 6 against a real ingress over loopback:
// 3,000 members with 1 MB PAX names. Before the read limits the server read all of it, holding
// 3 GB of names per request. Now it answers 413 naming the limit, stores nothing, and answers
// the next valid upload.
func TestHugeNamesRefused(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	attack := hostile.HugeNames(3000, 1<<20-64)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	status, _, body := s.upload(t, "attack.tar.gz", attack, nil)
	runtime.ReadMemStats(&after)
	requireRejected(t, status, body, http.StatusRequestEntityTooLarge,
		`tarball refused: member 1: name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"… of 1048512 bytes: over the limit of 1024 bytes (MaxNameBytes)`)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(64<<20), "the refused upload allocated %d MiB", allocated>>20)
	require.Empty(t, dirNames(t, s.dir))

	name, tarball := packTarball(t)
	status, _, body = s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status, "answer %s", body)
	require.Len(t, s.Uploads(), 1)
}

// TestTarballLimitsConfigured: Config.TarballLimits reaches the reader, and the answer names the
// limit that was hit.
func TestTarballLimitsConfigured(t *testing.T) {
	s := newTestServer(t, Config{TarballLimits: packaging.ReadLimits{MaxMembers: 2}}, nil)
	_, tarball := packTarball(t) // 5 members
	status, _, body := s.upload(t, "x.tar.gz", tarball, nil)
	requireRejected(t, status, body, http.StatusRequestEntityTooLarge,
		"tarball refused: tarball: more members: over the limit of 2 members (MaxMembers)")
}

// manyMembers is a valid tarball of n members with names of the largest size the default
// limits allow, listed in its manifest: the most metadata an accepted upload can carry per
// member.
func manyMembers(n int) []byte {
	files := make([]hostile.File, 0, n+1)
	var manifest strings.Builder
	manifest.WriteString("{")
	for i := range n {
		name := fmt.Sprintf("%0*d.csv", packaging.DefaultMaxNameBytes-len("./.csv"), i)
		files = append(files, hostile.File{Name: "./" + name, Body: "x\n"})
		if i > 0 {
			manifest.WriteString(",")
		}
		fmt.Fprintf(&manifest, "%q: \"1.0\"", name)
	}
	manifest.WriteString("}")
	return hostile.Tarball(append(files, hostile.File{Name: "./manifest.json", Body: manifest.String()})...)
}

// TestUploadsBoundedMemory: many accepted uploads, each with 500 members of 1 KiB names, do not
// grow the server's memory with their metadata. Before the bound every upload kept all its names
// (1 MB each with the manifest, 24 MB for these 24 uploads); now each keeps at most
// MaxListedBytes per list and counts the rest.
func TestUploadsBoundedMemory(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	tarball := manyMembers(500)
	const uploads = 24

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range uploads {
		status, _, body := s.upload(t, fmt.Sprintf("u%d.tar.gz", i), tarball, nil)
		require.Equal(t, http.StatusAccepted, status, "answer %s", body)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	require.Less(t, grown, int64(8<<20), "the heap grew by %d MiB over %d uploads", grown>>20, uploads)

	ups := s.Uploads()
	require.Len(t, ups, uploads)
	for _, u := range ups {
		require.Equal(t, 501, u.MemberCount)
		require.Equal(t, 500, u.ManifestCount)
		require.NotEmpty(t, u.Members)
		require.Less(t, len(u.Members), 501)
		listed := 0
		for _, m := range u.Members {
			listed += len(m.Name)
		}
		require.LessOrEqual(t, listed, MaxListedBytes)
		listed = 0
		for _, e := range u.Manifest {
			listed += len(e.File) + len(e.Version)
		}
		require.LessOrEqual(t, listed, MaxListedBytes)
	}
}

// TestKeepUploads: the server remembers the newest KeepUploads uploads, in order; the files of
// the forgotten ones stay in Dir.
func TestKeepUploads(t *testing.T) {
	s := newTestServer(t, Config{KeepUploads: 3}, nil)
	name, tarball := packTarball(t)
	for i := range 5 {
		status, _, body := s.upload(t, fmt.Sprintf("%d-%s", i, name), tarball, nil)
		require.Equal(t, http.StatusAccepted, status, "answer %s", body)
	}
	var names []string
	for _, u := range s.Uploads() {
		names = append(names, u.Name)
	}
	require.Equal(t, []string{"2-" + name, "3-" + name, "4-" + name}, names)
	require.Len(t, dirNames(t, s.dir), 5)
}
