package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/hostile"
)

// requirePrintable checks that out holds nothing that would drive a terminal: valid UTF-8 of
// printable characters, spaces and newlines only.
func requirePrintable(t *testing.T, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "invalid UTF-8 in:\n%s", out)
	for i, r := range out {
		require.True(t, r == '\n' || r == ' ' || strconv.IsPrint(r), "character %q at byte %d of:\n%s", r, i, out)
	}
}

// TestInspectHostileNames: member names, manifest versions and status fields with ANSI escapes,
// newlines, tabs, a bidi override and invalid UTF-8 are printed escaped, never raw; no fake row
// appears; the JSON output stays valid and gives the names back.
func TestInspectHostileNames(t *testing.T) {
	names := []string{
		"\x1b[2J\x1b[31mred.csv",
		"a.csv\n./fake.csv\t999\t9.9",
		"bidi\u202egpj.csv",
		"bad\xff.csv",
		"ok\rEVIL.csv",
	}
	var files []hostile.File
	manifest := map[string]string{}
	status := "collection_start_timestamp,since,until,file_name,status,elapsed\r\n"
	for _, n := range names {
		files = append(files, hostile.File{Name: "./" + n, Body: "x\n"})
		manifest[n] = "1.0\x1b]0;pwned\x07"
		status += `2026-01-01 00:00:00+00:00,,2026-01-01 00:00:00+00:00,"` + n + `",ok` + "\x1b[5m,1\r\n"
	}
	mb, err := json.Marshal(manifest) // invalid UTF-8 becomes U+FFFD here: the member stays unlisted
	require.NoError(t, err)
	files = append(files,
		hostile.File{Name: "./data_collection_status.csv", Body: status},
		hostile.File{Name: "./manifest.json", Body: string(mb)})
	path := filepath.Join(t.TempDir(), "hostile.tar.gz")
	require.NoError(t, os.WriteFile(path, hostile.Tarball(files...), 0o644))

	stdout, errs, code := runCLI(t, "inspect", path)
	require.Equal(t, 0, code, errs)
	requirePrintable(t, stdout)
	require.Contains(t, stdout, `"./\x1b[2J\x1b[31mred.csv"`)
	require.Contains(t, stdout, `"./a.csv\n./fake.csv\t999\t9.9"`)
	require.Contains(t, stdout, `"./bidi\u202egpj.csv"`)
	require.Contains(t, stdout, `"./bad\xff.csv"`)
	require.Contains(t, stdout, `"./ok\rEVIL.csv"`)
	require.Contains(t, stdout, `"1.0\x1b]0;pwned\a"`)
	require.Contains(t, stdout, `"ok\x1b[5m"`)
	require.NotContains(t, stdout, "fake.csv  ", "no forged row")
	// path, blank, header, 7 members, blank, header, 5 status rows.
	require.Len(t, strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"), 1+1+1+7+1+1+5, stdout)

	stdout, errs, code = runCLI(t, "inspect", "-o", "json", path)
	require.Equal(t, 0, code, errs)
	requirePrintable(t, stdout)
	var doc []struct {
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
		Status []struct {
			FileName string `json:"file_name"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
	require.Len(t, doc, 1)
	require.Len(t, doc[0].Members, 7)
	for i, n := range names {
		want := strings.ToValidUTF8(n, "\ufffd")
		require.Equal(t, "./"+want, doc[0].Members[i].Name)
		require.Equal(t, want, doc[0].Status[i].FileName)
	}
}

// TestInspectHugeNames is the attack of issue 11 item 6 against inspect: 3,000 members with
// 1 MB PAX names. Before the read limits inspect held every name (3 GB resident); now it stops
// at the first member with one line naming the limit, having allocated little.
func TestInspectHugeNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attack.tar.gz")
	require.NoError(t, os.WriteFile(path, hostile.HugeNames(3000, 1<<20-64), 0o644))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stdout, errs, code := runCLI(t, "inspect", path)
	runtime.ReadMemStats(&after)
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Equal(t, "wasmcollector: inspect "+path+": read "+path+
		`: member 1: name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"… of 1048512 bytes: over the limit of 1024 bytes (MaxNameBytes)`+"\n", errs)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(64<<20), "inspect allocated %d MiB", allocated>>20)
}

// TestErrorEscaped: an error message carrying untrusted text (here the path) is printed with its
// control characters escaped.
func TestErrorEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x\x1b[2J\ry.tar.gz")
	_, errs, code := runCLI(t, "inspect", path)
	require.Equal(t, 1, code)
	requirePrintable(t, errs)
	require.Contains(t, errs, `x\x1b[2J\ry.tar.gz`)
}
