package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// common are the members every tarball ends with when a config is staged.
var common = []string{"./config.json", "./data_collection_status.csv", "./manifest.json"}

func with(names ...string) []string { return append(names, common...) }

// input is one collector's output in a placement case.
type input struct {
	key, format, group string
	version            string
	sizes              []int64 // one staged file per size (a CSV part each)
	splitRows          int     // CSV only: fixture rows written through a Splitter limited to MaxDataSize, instead of sizes
	sliced, failed     bool
}

// want is one expected tarball, in processing order.
type want struct {
	index   int
	group   string
	members []string
}

// TestPlacement runs upstream's package finder on the worked examples of
// reference/upstream-behaviour.md 7.1 (MaxDataSize = 1000 as upstream's fixture) and the cases
// derived from the algorithm in 3.6.
func TestPlacement(t *testing.T) {
	tests := []struct {
		name     string
		noConfig bool     // no Config at all
		emptyCfg bool     // Config with an empty Path (the config collector failed)
		existing []string // files already in Dir
		inputs   []input
		want     []want
	}{
		{
			name: "upstream config and two json",
			inputs: []input{
				{key: "json1", format: "json", version: "1.1", sizes: []int64{100}},
				{key: "json2", format: "json", version: "1.2", sizes: []int64{100}},
			},
			want: []want{{0, "default", with("./json1.json", "./json2.json")}},
		},
		{
			name: "upstream three non-sliced csv",
			inputs: []input{
				{key: "csv1", format: "csv", sizes: []int64{100}},
				{key: "csv2", format: "csv", sizes: []int64{200}},
				{key: "csv3", format: "csv", sizes: []int64{300}},
			},
			want: []want{{0, "default", with("./csv1.csv", "./csv2.csv", "./csv3.csv")}},
		},
		{
			name: "upstream one csv split into ten files",
			inputs: []input{
				// 99 rows of 10 bytes under a 10-byte header fill a 1000-byte part exactly.
				{key: "csv1", format: "csv", splitRows: 990},
			},
			want: func() []want {
				var w []want
				for i := range 10 {
					w = append(w, want{i, "default", with("./csv1.csv")})
				}
				return w
			}(),
		},
		{
			name: "upstream two json then sliced csv a and b",
			inputs: []input{
				{key: "json1", format: "json", version: "1.1", sizes: []int64{100}},
				{key: "json2", format: "json", version: "1.2", sizes: []int64{100}},
				{key: "csv_a", format: "csv", sizes: []int64{100}, sliced: true},
				{key: "csv_b", format: "csv", sizes: []int64{1000, 1000}, sliced: true},
			},
			want: []want{
				{0, "default", with("./json1.json", "./json2.json", "./csv_a.csv")},
				{1, "default", with("./csv_b.csv")},
				{2, "default", with("./csv_b.csv")},
			},
		},
		{
			name: "mixed shipping groups",
			inputs: []input{
				{key: "json1", format: "json", group: "other", sizes: []int64{100}},
				{key: "json2", format: "json", sizes: []int64{100}},
				{key: "events", format: "csv", sizes: []int64{100, 100}, sliced: true},
				{key: "json3", format: "json", group: "third", sizes: []int64{100}},
				{key: "csv1", format: "csv", group: "other", sizes: []int64{100}},
			},
			// Sliced packages go out at once; Finish then walks groups in order of first use
			// (other, default, third), so "other" is first used but gets index 2.
			want: []want{
				{0, "default", with("./json2.json", "./events.csv")},
				{1, "default", with("./events.csv")},
				{2, "other", with("./json1.json", "./csv1.csv")},
				{3, "third", with("./json3.json")},
			},
		},
		{
			name: "sliced after non-sliced csv flushes their package",
			inputs: []input{
				{key: "csv1", format: "csv", sizes: []int64{100}},
				{key: "csv2", format: "csv", sizes: []int64{200}},
				{key: "events", format: "csv", sizes: []int64{100}, sliced: true},
				{key: "csv3", format: "csv", sizes: []int64{100}},
			},
			want: []want{
				{0, "default", with("./csv1.csv", "./csv2.csv", "./events.csv")},
				{1, "default", with("./csv3.csv")},
			},
		},
		{
			name: "sliced before non-sliced csv",
			inputs: []input{
				{key: "events", format: "csv", sizes: []int64{100, 100}, sliced: true},
				{key: "csv1", format: "csv", sizes: []int64{100}},
				{key: "csv2", format: "csv", sizes: []int64{100}},
			},
			want: []want{
				{0, "default", with("./events.csv")},
				{1, "default", with("./events.csv")},
				{2, "default", with("./csv1.csv", "./csv2.csv")},
			},
		},
		{
			name: "file bigger than max data size goes alone",
			inputs: []input{
				{key: "csv1", format: "csv", sizes: []int64{100}},
				{key: "big", format: "csv", sizes: []int64{1500}},
				{key: "csv2", format: "csv", sizes: []int64{100}},
			},
			want: []want{
				{0, "default", with("./csv1.csv", "./csv2.csv")},
				{1, "default", with("./big.csv")},
			},
		},
		{
			name: "first package with room is taken",
			inputs: []input{
				{key: "csv1", format: "csv", sizes: []int64{900}},
				{key: "csv2", format: "csv", sizes: []int64{200}},
				{key: "csv3", format: "csv", sizes: []int64{100}}, // 900+100 = 1000 fits the first
			},
			want: []want{
				{0, "default", with("./csv1.csv", "./csv3.csv")},
				{1, "default", with("./csv2.csv")},
			},
		},
		{
			name: "failed json has a status row but no member",
			inputs: []input{
				{key: "json1", format: "json", version: "1.1", sizes: []int64{100}},
				{key: "json2", format: "json", version: "1.2", failed: true},
				{key: "csv1", format: "csv", sizes: []int64{100}},
			},
			want: []want{{0, "default", with("./json1.json", "./csv1.csv")}},
		},
		{
			name:     "config missing",
			noConfig: true,
			inputs: []input{
				{key: "json1", format: "json", sizes: []int64{100}},
			},
			want: []want{{0, "default", []string{"./json1.json", "./data_collection_status.csv", "./manifest.json"}}},
		},
		{
			name:     "config failed",
			emptyCfg: true,
			inputs: []input{
				{key: "json1", format: "json", sizes: []int64{100}},
			},
			want: []want{{0, "default", []string{"./json1.json", "./data_collection_status.csv", "./manifest.json"}}},
		},
		{
			name:     "existing file takes an index",
			existing: []string{"analytics-2024-06-30-000000+0000-1.tar.gz", "unrelated.txt"},
			inputs: []input{
				{key: "events", format: "csv", sizes: []int64{100, 100}, sliced: true},
				{key: "json1", format: "json", sizes: []int64{100}},
			},
			want: []want{
				{0, "default", with("./events.csv")},
				{2, "default", with("./events.csv")},
				{3, "default", with("./json1.json")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stage, out := t.TempDir(), t.TempDir()
			for _, name := range tt.existing {
				require.NoError(t, os.WriteFile(filepath.Join(out, name), []byte("keep "+name), 0o644))
			}
			var cfg *Config
			switch {
			case tt.emptyCfg:
				cfg = &Config{Version: "1.0"}
			case !tt.noConfig:
				cfg = &Config{Version: "1.0", Path: stageJSON(t, stage, "config.json", 50)}
			}
			p := NewPacker(Options{Dir: out, Until: fixtureUntil, MaxDataSize: 1000, Config: cfg})

			started := fixtureUntil.Add(time.Minute)
			var tbs []*Tarball
			var staged []string
			for _, in := range tt.inputs {
				paths := stageInput(t, stage, in, 1000)
				if in.failed {
					paths = []string{""}
				}
				for _, path := range paths {
					var size int64
					if path != "" {
						fi, err := os.Stat(path)
						require.NoError(t, err)
						size = fi.Size()
						staged = append(staged, path)
					}
					version := in.version
					if version == "" {
						version = "1.0"
					}
					got, err := p.Add(Collection{
						Key: in.key, Version: version, Format: in.format, Group: in.group,
						Path: path, Size: size, Failed: in.failed, Sliced: in.sliced,
						Since: fixtureUntil.Add(-24 * time.Hour), Until: fixtureUntil,
						Started: started, Finished: started.Add(1500 * time.Millisecond),
						Ref: in.key,
					})
					require.NoError(t, err)
					tbs = append(tbs, got...)
				}
				started = started.Add(2 * time.Second)
			}
			got, err := p.Finish()
			require.NoError(t, err)
			tbs = append(tbs, got...)

			require.Len(t, tbs, len(tt.want), "number of tarballs:\n%s", listing(tbs))
			wantDir := append([]string(nil), tt.existing...)
			for i, w := range tt.want {
				tb := tbs[i]
				require.Equal(t, w.index, tb.Index, "tarball #%d", i)
				require.Equal(t, fmt.Sprintf("analytics-2024-06-30-000000+0000-%d.tar.gz", w.index), tb.Name)
				require.Equal(t, w.group, tb.Group, "tarball #%d", i)
				require.Equal(t, w.members, memberNames(tb.Members), "tarball #%d", i)
				checkTarball(t, tb, cfg)
				for _, c := range tb.Collections {
					require.Equal(t, c.Key, c.Ref, "Ref handed back")
				}
				wantDir = append(wantDir, tb.Name)
			}

			// Staged files are gone, the config stays (the caller owns it), Dir holds exactly
			// what was there plus the tarballs, and nothing in it was overwritten.
			for _, path := range staged {
				require.NoFileExists(t, path)
			}
			if cfg != nil && cfg.Path != "" {
				require.FileExists(t, cfg.Path)
				require.Equal(t, []string{"config.json"}, dirNames(t, stage))
			} else {
				require.Empty(t, dirNames(t, stage))
			}
			require.ElementsMatch(t, wantDir, dirNames(t, out))
			for _, name := range tt.existing {
				b, err := os.ReadFile(filepath.Join(out, name))
				require.NoError(t, err)
				require.Equal(t, "keep "+name, string(b))
			}

			golden(t, "placement-"+strings.ReplaceAll(tt.name, " ", "-"), listing(tbs))
		})
	}
}

// stageInput stages in's files in dir and returns their paths in order.
func stageInput(t *testing.T, dir string, in input, maxBytes int64) []string {
	t.Helper()
	if in.failed {
		return nil
	}
	if in.splitRows > 0 {
		s := NewSplitter(dir, in.key, maxBytes)
		_, err := s.Write([]byte(fixtureHeader))
		require.NoError(t, err)
		for range in.splitRows {
			_, err := s.Write([]byte(fixtureRow))
			require.NoError(t, err)
		}
		parts, err := s.Close()
		require.NoError(t, err)
		var paths []string
		for _, p := range parts {
			require.Equal(t, maxBytes, p.Size)
			paths = append(paths, p.Path)
		}
		return paths
	}
	var paths []string
	for i, size := range in.sizes {
		name := fmt.Sprintf("%s_split%d", in.key, i)
		if in.format == FormatJSON {
			paths = append(paths, stageJSON(t, dir, name, size))
		} else {
			paths = append(paths, stageCSV(t, dir, name, size))
		}
	}
	return paths
}

// TestGolden pins manifest.json, data_collection_status.csv and the tarball listing of one rich
// package byte for byte: failed JSON, a key needing JSON escapes, a sliced CSV, zero and
// sub-second times.
func TestGolden(t *testing.T) {
	stage, out := t.TempDir(), t.TempDir()
	cfg := &Config{Version: "1.0", Path: stageJSON(t, stage, "config.json", 40)}
	p := NewPacker(Options{Dir: out, Until: fixtureUntil, MaxDataSize: 1000, Config: cfg})
	start := time.Date(2026, 11, 26, 16, 16, 54, 531620999, time.UTC)
	adds := []Collection{
		{Key: "json1", Version: "1.1", Format: "json", Path: stageJSON(t, stage, "json1", 60), Size: 60,
			Until: fixtureUntil, Started: start, Finished: start.Add(2900 * time.Millisecond)},
		{Key: "json2", Version: "1.2", Format: "json", Failed: true,
			Since: fixtureUntil.Add(-28 * 24 * time.Hour), Until: fixtureUntil,
			Started: start.Truncate(time.Second), Finished: start.Add(-time.Second)},
		{Key: "caf\u00e9 \"\U0001F600\"", Version: "2.0\t", Format: "json", Path: stageJSON(t, stage, "cafe", 30), Size: 30,
			Started: start, Finished: start.Add(25*time.Hour + 5*time.Second)},
		{Key: "events", Version: "1.0", Format: "csv", Path: stageCSV(t, stage, "events_split0", 200), Size: 200,
			Since: time.Date(2024, 6, 29, 20, 0, 0, 0, time.FixedZone("x", 2*3600)), Until: fixtureUntil,
			Started: time.Time{}, Finished: start, Sliced: true},
	}
	var tbs []*Tarball
	for _, c := range adds {
		got, err := p.Add(c)
		require.NoError(t, err)
		tbs = append(tbs, got...)
	}
	got, err := p.Finish()
	require.NoError(t, err)
	tbs = append(tbs, got...)
	require.Len(t, tbs, 1)
	checkTarball(t, tbs[0], cfg)

	golden(t, "manifest", memberBytes(t, tbs[0].Path, "./manifest.json"))
	golden(t, "status", memberBytes(t, tbs[0].Path, "./data_collection_status.csv"))
	golden(t, "listing", listing(tbs))
}

func TestAddSkipsFailedAndEmptyCSV(t *testing.T) {
	stage, out := t.TempDir(), t.TempDir()
	p := NewPacker(Options{Dir: out, Until: fixtureUntil, MaxDataSize: 1000})
	failed := stageCSV(t, stage, "failed", 100)
	for _, c := range []Collection{
		{Key: "failed", Format: "csv", Path: failed, Size: 100, Failed: true, Sliced: true},
		{Key: "empty", Format: "csv", Sliced: true},
	} {
		tbs, err := p.Add(c)
		require.NoError(t, err)
		require.Empty(t, tbs)
	}
	tbs, err := p.Finish()
	require.NoError(t, err)
	require.Empty(t, tbs)
	require.FileExists(t, failed, "a skipped collection's file stays the caller's")
	require.Empty(t, dirNames(t, out))
}

func TestAddRejectsInvalidCollections(t *testing.T) {
	tests := []struct {
		name string
		c    Collection
		want string
	}{
		{"empty key", Collection{Format: "csv", Path: "x"}, `collection key "" is not a valid file name`},
		{"slash in key", Collection{Key: "a/b", Format: "csv", Path: "x"}, `collection key "a/b" is not a valid file name`},
		{"dot dot key", Collection{Key: "..", Format: "csv", Path: "x"}, `collection key ".." is not a valid file name`},
		{"unknown format", Collection{Key: "a", Format: "xml", Path: "x"}, `collection "a": format "xml" is neither "json" nor "csv"`},
		{"negative size", Collection{Key: "a", Format: "csv", Path: "x", Size: -1}, `collection "a": negative size -1`},
		{"json without file", Collection{Key: "a", Format: "json"}, `collection "a": json collection has no staged file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacker(Options{Dir: t.TempDir(), Until: fixtureUntil})
			_, err := p.Add(tt.c)
			require.EqualError(t, err, "packaging: "+tt.want)
			// Not sticky: the Packer still works.
			tbs, err := p.Finish()
			require.NoError(t, err)
			require.Empty(t, tbs)
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no dir", Options{Until: fixtureUntil}, "output directory is not set"},
		{"dir is a file", Options{Dir: file, Until: fixtureUntil}, "is not a directory"},
		{"missing dir", Options{Dir: filepath.Join(file, "x"), Until: fixtureUntil}, "output directory: stat"},
		{"no until", Options{Dir: t.TempDir()}, "until is not set"},
		{"bad base", Options{Dir: t.TempDir(), Until: fixtureUntil, Base: "a/b"}, `tarball name base "a/b"`},
		{"negative max", Options{Dir: t.TempDir(), Until: fixtureUntil, MaxDataSize: -1}, "max data size -1 is negative"},
		{"bad level", Options{Dir: t.TempDir(), Until: fixtureUntil, Level: 42}, "gzip level 42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacker(tt.opts)
			_, err := p.Finish()
			require.ErrorContains(t, err, "packaging: options: ")
			require.ErrorContains(t, err, tt.want)
			_, err2 := p.Add(Collection{Key: "a", Format: "json", Path: "x"})
			require.Equal(t, err, err2, "sticky")
		})
	}
}

func TestWriteFailureIsSticky(t *testing.T) {
	stage, out := t.TempDir(), t.TempDir()
	p := NewPacker(Options{Dir: out, Until: fixtureUntil, MaxDataSize: 1000})
	gone := filepath.Join(stage, "gone")
	_, err := p.Add(Collection{Key: "gone", Format: "csv", Path: gone, Size: 100})
	require.NoError(t, err)
	tbs, err := p.Finish()
	require.Empty(t, tbs)
	require.ErrorContains(t, err, "packaging: write analytics-2024-06-30-000000+0000-0.tar.gz: member ./gone.csv: open ")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Empty(t, dirNames(t, out), "the temporary file is removed")

	_, err2 := p.Add(Collection{Key: "b", Format: "csv", Path: stageCSV(t, stage, "b", 100), Size: 100})
	require.ErrorIs(t, err2, os.ErrNotExist)
	_, err3 := p.Finish()
	require.Equal(t, err2, err3)
}

func TestTarballNameAndDefaults(t *testing.T) {
	stage, out := t.TempDir(), t.TempDir()
	until := time.Date(2024, 6, 30, 12, 34, 56, 789, time.FixedZone("CEST", 2*3600))
	p := NewPacker(Options{Dir: out, Until: until, Base: "eda-analytics"})
	require.Equal(t, int64(DefaultMaxDataSize), p.opts.MaxDataSize)
	require.Equal(t, DefaultLevel, p.opts.Level)
	_, err := p.Add(Collection{Key: "j", Format: "json", Path: stageJSON(t, stage, "j", 20), Size: 20})
	require.NoError(t, err)
	tbs, err := p.Finish()
	require.NoError(t, err)
	require.Len(t, tbs, 1)
	require.Equal(t, "eda-analytics-2024-06-30-103456+0000-0.tar.gz", tbs[0].Name)
	require.Equal(t, filepath.Join(out, tbs[0].Name), tbs[0].Path)
	require.Equal(t, "default", tbs[0].Group)
}

// TestDeterministic packs the same input twice: the tarballs are identical byte for byte, whatever
// the staged files' own modes and mtimes.
func TestDeterministic(t *testing.T) {
	var got [][]byte
	for i, mode := range []os.FileMode{0o600, 0o755} {
		stage, out := t.TempDir(), t.TempDir()
		path := stageCSV(t, stage, "events", 100)
		require.NoError(t, os.Chmod(path, mode))
		require.NoError(t, os.Chtimes(path, time.Unix(int64(i)*1e6, 0), time.Unix(int64(i)*1e6, 0)))
		p := NewPacker(Options{Dir: out, Until: fixtureUntil, MaxDataSize: 1000})
		_, err := p.Add(Collection{Key: "events", Version: "1.0", Format: "csv", Path: path, Size: 100, Started: fixtureUntil})
		require.NoError(t, err)
		tbs, err := p.Finish()
		require.NoError(t, err)
		require.Len(t, tbs, 1)
		b, err := os.ReadFile(tbs[0].Path)
		require.NoError(t, err)
		got = append(got, b)
	}
	require.Equal(t, got[0], got[1])
}
