package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFileStoreRoundTrip(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   State
		want State // zero: same as in
	}{
		{name: "empty", in: State{Entries: map[string]time.Time{}}},
		{name: "nil entries", in: State{}, want: State{Entries: map[string]time.Time{}}},
		{name: "last gather only", in: State{LastGather: t0, Entries: map[string]time.Time{}}},
		{
			name: "entries",
			in: State{LastGather: t0, Entries: map[string]time.Time{
				"events_table": t1, "events_table_full": t2, "manifest": t1, "odd key/é": t0,
			}},
		},
		{
			name: "pending tarballs",
			in: State{LastGather: t0, Entries: map[string]time.Time{"jobs": t1}, Pending: []Pending{
				{Name: "x-1.tar.gz", Path: "/out/pending/x-1.tar.gz", SHA256: strings.Repeat("0f", 32), Size: 10, Slices: []PendingSlice{
					{Key: "jobs", Since: t1, Until: t0, Part: 1, Parts: 1},
					{Key: "config_less", Until: t0, Part: 1, Parts: 1},
				}},
				{Name: "x-0.tar.gz", Path: "/out/pending/x-0.tar.gz", SHA256: strings.Repeat("f0", 32), Shipped: true, Slices: []PendingSlice{
					{Key: "jobs", Since: t2, Until: t1, Part: 2, Parts: 3},
				}},
			}},
		},
		{
			name: "nanoseconds kept",
			in:   State{LastGather: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Entries: map[string]time.Time{"a": time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC)}},
		},
		{
			name: "zones become UTC, monotonic reading dropped",
			in:   State{LastGather: time.Date(2026, 1, 2, 4, 0, 0, 0, cet), Entries: map[string]time.Time{"a": time.Now()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fs := NewFileStore(filepath.Join(t.TempDir(), "new", "dir"))
			require.NoError(t, fs.Save(ctx, tt.in))
			got, err := fs.Load(ctx)
			require.NoError(t, err)

			want := tt.want
			if want.Entries == nil {
				want = tt.in.Clone()
			}
			require.True(t, want.LastGather.Equal(got.LastGather), "last gather %v, want %v", got.LastGather, want.LastGather)
			require.Equal(t, time.UTC, got.LastGather.Location())
			require.Len(t, got.Entries, len(want.Entries))
			for k, w := range want.Entries {
				g, ok := got.Entries[k]
				require.True(t, ok, "entry %q missing", k)
				require.True(t, w.Equal(g), "entry %q = %v, want %v", k, g, w)
				require.Equal(t, time.UTC, g.Location())
			}
			require.Equal(t, want.Pending, got.Pending)
		})
	}
}

// TestFileFormat pins the bytes Save writes, as documented in the package comment.
func TestFileFormat(t *testing.T) {
	dir := t.TempDir()
	fs := NewFileStore(dir)
	require.NoError(t, fs.Save(context.Background(), State{LastGather: t0, Entries: map[string]time.Time{
		"events_table_full": t2,
		"events_table":      t1,
	}}))
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	require.NoError(t, err)
	require.Equal(t, `{
  "version": 2,
  "last_gather": "2026-11-26T16:16:54.53162Z",
  "entries": {
    "events_table": "2026-11-26T16:00:00Z",
    "events_table_full": "2026-11-20T03:12:09.1Z"
  }
}
`, string(data))

	require.NoError(t, fs.Save(context.Background(), State{}))
	data, err = os.ReadFile(filepath.Join(dir, "state.json"))
	require.NoError(t, err)
	require.Equal(t, "{\n  \"version\": 2,\n  \"entries\": {}\n}\n", string(data), "a zero last gather is left out")
}

func TestLoadMissing(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "does", "not", "exist")} {
		got, err := NewFileStore(dir).Load(context.Background())
		require.NoError(t, err)
		require.Equal(t, State{Entries: map[string]time.Time{}}, got)
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // error after "state: read <file>: "
	}{
		{name: "empty file", content: "", want: "invalid JSON at byte 0: unexpected end of file"},
		{name: "truncated", content: `{"version": 1, "entries": {"a": "2026-`, want: "invalid JSON at byte 38: unexpected end of file"},
		{name: "syntax error", content: `{"version": }`, want: "invalid JSON at byte 12: invalid character '}' looking for beginning of value"},
		{name: "not JSON", content: "version = 1\n", want: "invalid JSON at byte 0: invalid character 'v' looking for beginning of value"},
		{name: "not an object", content: `[1]`, want: "invalid JSON: the document must be an object, not an array"},
		{name: "data after the object", content: "{\"version\": 1}\n{}", want: "invalid JSON at byte 15: data after the JSON object"},
		{name: "null", content: `null`, want: `no "version" field`},
		{name: "no version", content: `{"entries": {}}`, want: `no "version" field`},
		{name: "version 3", content: `{"version": 3, "entries": {}}`, want: "unsupported version 3 (this wasmcollector reads versions 1 and 2)"},
		{name: "pending in version 1", content: `{"version": 1, "pending": []}`, want: `version 1 has no "pending" field`},
		{name: "pending relative path", content: `{"version": 2, "pending": [{"name": "a.tar.gz", "path": "a.tar.gz", "sha256": "` + strings.Repeat("a", 64) + `", "size": 1, "slices": []}]}`, want: `pending[0]: path "a.tar.gz" is not absolute`},
		{name: "pending name with slash", content: `{"version": 2, "pending": [{"name": "../a.tar.gz", "path": "/a", "sha256": "` + strings.Repeat("a", 64) + `", "size": 1, "slices": []}]}`, want: `pending[0]: name "../a.tar.gz" is not a file name`},
		{name: "pending bad digest", content: `{"version": 2, "pending": [{"name": "a.tar.gz", "path": "/a", "sha256": "XY", "size": 1, "slices": []}]}`, want: `pending[0]: sha256 "XY" is not 64 lower-case hex digits`},
		{name: "pending bad part", content: `{"version": 2, "pending": [{"name": "a.tar.gz", "path": "/a", "sha256": "` + strings.Repeat("a", 64) + `", "size": 1, "slices": [{"key": "k", "until": "2026-01-01T00:00:00Z", "part": 2, "parts": 1}]}]}`, want: `pending[0]: slices[0]: key "k" part 2 of 1`},
		{name: "pending bad until", content: `{"version": 2, "pending": [{"name": "a.tar.gz", "path": "/a", "sha256": "` + strings.Repeat("a", 64) + `", "size": 1, "slices": [{"key": "k", "until": "soon", "part": 1, "parts": 1}]}]}`, want: `pending[0]: slices[0].until: invalid time "soon"`},
		{name: "version 0", content: `{"version": 0}`, want: "unsupported version 0"},
		{name: "version a string", content: `{"version": "1"}`, want: "invalid JSON: version must be a number, not a string"},
		{name: "entry not a string", content: `{"version": 1, "entries": {"a": 5}}`, want: "invalid JSON: each value of entries must be a string, not a number"},
		{name: "entries not an object", content: `{"version": 1, "entries": []}`, want: "invalid JSON: entries must be an object, not an array"},
		{name: "unknown field", content: `{"version": 1, "last_gahter": "2026-01-01T00:00:00Z"}`, want: `invalid JSON: unknown field "last_gahter"`},
		{name: "bad last gather", content: `{"version": 1, "last_gather": "yesterday"}`, want: `last_gather: invalid time "yesterday": want RFC 3339, such as "2026-11-26T16:16:54.53162Z"`},
		{name: "first bad entry by key", content: `{"version": 1, "entries": {"b": "x", "a": "y"}}`, want: `entries["a"]: invalid time "y"`},
		{name: "bad entry time", content: `{"version": 1, "entries": {"jobs": "2026-11-26 16:00:00"}}`, want: `entries["jobs"]: invalid time "2026-11-26 16:00:00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "state.json")
			require.NoError(t, os.WriteFile(name, []byte(tt.content), 0o600))
			got, err := NewFileStore(dir).Load(context.Background())
			require.Error(t, err)
			require.Equal(t, State{}, got)
			prefix := "state: read " + name + ": "
			require.True(t, strings.HasPrefix(err.Error(), prefix), "%q lacks prefix %q", err, prefix)
			require.Contains(t, err.Error(), tt.want)
			require.NotRegexp(t, `\.$`, err.Error(), "style: no final period")
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "state.json"), 0o700))
	_, err := NewFileStore(dir).Load(context.Background())
	require.EqualError(t, err, "state: read "+filepath.Join(dir, "state.json")+": is a directory")
}

// TestSaveAtomic: a Save that fails leaves what was there untouched and no temporary file
// behind.
func TestSaveAtomic(t *testing.T) {
	ctx := context.Background()
	old := State{LastGather: t1, Entries: map[string]time.Time{"jobs": t1}}
	next := State{LastGather: t0, Entries: map[string]time.Time{"jobs": t0}}

	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		fs := NewFileStore(dir)
		require.NoError(t, fs.Save(ctx, old))
		before, err := os.ReadFile(filepath.Join(dir, "state.json"))
		require.NoError(t, err)

		var tmp string
		fs.rename = func(oldpath, newpath string) error {
			tmp = oldpath
			// The temporary file is complete when the rename would happen.
			data, err := os.ReadFile(oldpath)
			require.NoError(t, err)
			_, err = decode(data)
			require.NoError(t, err)
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("disk on fire")}
		}
		err = fs.Save(ctx, next)
		require.ErrorContains(t, err, "state: save "+filepath.Join(dir, "state.json")+": replace with .state.json.tmp")
		require.ErrorContains(t, err, ": disk on fire")
		require.True(t, strings.HasPrefix(filepath.Base(tmp), ".state.json.tmp"), tmp)
		require.Equal(t, filepath.Clean(dir), filepath.Dir(tmp))

		after, err := os.ReadFile(filepath.Join(dir, "state.json"))
		require.NoError(t, err)
		require.Equal(t, before, after)
		got, err := fs.Load(ctx)
		require.NoError(t, err)
		require.Equal(t, old, got)
		requireOnly(t, dir, "state.json")
	})

	t.Run("state.json is a non-empty directory", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "state.json", "keep")
		require.NoError(t, os.MkdirAll(filepath.Dir(keep), 0o700))
		require.NoError(t, os.WriteFile(keep, []byte("x"), 0o600))

		err := NewFileStore(dir).Save(ctx, next)
		require.ErrorContains(t, err, "state: save "+filepath.Join(dir, "state.json")+": replace with .state.json.tmp")
		data, err := os.ReadFile(keep)
		require.NoError(t, err)
		require.Equal(t, "x", string(data))
		requireOnly(t, dir, "state.json")
	})
}

// requireOnly checks that dir holds exactly the named entries.
func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	require.ElementsMatch(t, names, got)
}

func TestSaveCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	require.NoError(t, NewFileStore(dir).Save(context.Background(), State{}))
	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	info, err = os.Stat(filepath.Join(dir, "state.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestSaveRefusesUnwritableTimes(t *testing.T) {
	tests := []struct {
		name string
		in   State
		want string
	}{
		{"last gather", State{LastGather: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "last_gather: time 10000-01-01 00:00:00 +0000 UTC: year outside 0 to 9999"},
		{"entry", State{Entries: map[string]time.Time{"a": time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}, `entries["a"]: time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := NewFileStore(dir).Save(context.Background(), tt.in)
			require.ErrorContains(t, err, "state: save "+filepath.Join(dir, "state.json")+": "+tt.want)
			requireOnly(t, dir)
		})
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "s")
	fs := NewFileStore(dir)
	_, err := fs.Load(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, fs.Save(ctx, State{}), context.Canceled)
	_, err = fs.TryLock(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoDirExists(t, dir, "nothing is created after cancellation")
}

func TestTryLock(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	lockPath := filepath.Join(dir, "gather.lock")
	a, b := NewFileStore(dir), NewFileStore(dir)

	unlock, err := a.TryLock(ctx)
	require.NoError(t, err)
	data, err := os.ReadFile(lockPath)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(data), "the holder records its pid")

	want := "state: another gather holds the lock: " + lockPath + " (pid " + strconv.Itoa(os.Getpid()) + ")"
	for name, s := range map[string]*FileStore{"same FileStore": a, "second FileStore": b} {
		_, err := s.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked, name)
		require.EqualError(t, err, want, name)
	}

	require.NoError(t, unlock())
	require.NoError(t, unlock(), "a second unlock is harmless")
	data, err = os.ReadFile(lockPath)
	require.NoError(t, err)
	require.Empty(t, data, "the pid goes with the lock")

	unlockB, err := b.TryLock(ctx)
	require.NoError(t, err, "free again after unlock")
	_, err = a.TryLock(ctx)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, unlockB())
}

// TestTryLockWithoutPID: a holder that recorded no pid (an older version, or one that has not
// written it yet) still yields ErrLocked, naming the file only.
func TestTryLockWithoutPID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	unlock, err := NewFileStore(dir).TryLock(ctx)
	require.NoError(t, err)
	defer unlock()
	lockPath := filepath.Join(dir, "gather.lock")
	require.NoError(t, os.WriteFile(lockPath, []byte("garbage"), 0o600))
	_, err = NewFileStore(dir).TryLock(ctx)
	require.ErrorIs(t, err, ErrLocked)
	require.EqualError(t, err, "state: another gather holds the lock: "+lockPath)
}

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name    string
		xdg     string
		home    string
		want    string
		wantErr string
	}{
		{name: "XDG_STATE_HOME", xdg: "/xdg/state", home: "/home/u", want: "/xdg/state/wasmcollector"},
		{name: "XDG_STATE_HOME unset", home: "/home/u", want: "/home/u/.local/state/wasmcollector"},
		{name: "XDG_STATE_HOME relative is ignored", xdg: "rel/state", home: "/home/u", want: "/home/u/.local/state/wasmcollector"},
		{name: "nothing set", wantErr: "state: no default directory (XDG_STATE_HOME is not set): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := DefaultDir()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
