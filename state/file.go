package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// File names inside FileStore.Dir.
const (
	stateFile = "state.json"
	lockFile  = "gather.lock"
	// tempPattern names the temporary file Save writes before renaming it over stateFile; the
	// leading dot keeps it out of casual listings.
	tempPattern = ".state.json.tmp*"
)

// formatVersion is the "version" FileStore writes. It also reads version 1, which had no
// pending tarballs.
const formatVersion = 2

// FileStore keeps a [State] in Dir/state.json and the gather lock in Dir/gather.lock; see the
// package documentation for the format. It implements [Store] and [Locker].
//
// A FileStore holds no open files between calls and is safe for concurrent use; the lock, not the
// FileStore, decides who may Save. Several FileStores, in one process or in several, may share a
// Dir.
type FileStore struct {
	// Dir is the directory holding the files. Save and TryLock create it, mode 0700, when it is
	// missing.
	Dir string

	// rename replaces the state file; nil means os.Rename. Tests make it fail.
	rename func(oldpath, newpath string) error
}

// NewFileStore returns a FileStore keeping its files in dir. Nothing is created until the first
// Save or TryLock.
func NewFileStore(dir string) *FileStore {
	return &FileStore{Dir: dir}
}

var (
	_ Store  = (*FileStore)(nil)
	_ Locker = (*FileStore)(nil)
)

// fileFormat is state.json. Times stay strings so that a bad one gets our own message.
type fileFormat struct {
	Version    *int              `json:"version"`
	LastGather string            `json:"last_gather,omitempty"`
	Entries    map[string]string `json:"entries"`
	Pending    []filePending     `json:"pending,omitempty"`
}

type filePending struct {
	Name    string      `json:"name"`
	Path    string      `json:"path"`
	SHA256  string      `json:"sha256"`
	Size    int64       `json:"size"`
	Shipped bool        `json:"shipped,omitempty"`
	Slices  []fileSlice `json:"slices"`
}

type fileSlice struct {
	Key   string `json:"key"`
	Since string `json:"since,omitempty"`
	Until string `json:"until"`
	Part  int    `json:"part"`
	Parts int    `json:"parts"`
}

// Load reads Dir/state.json. A missing file is an empty State (nothing gathered yet), not an
// error. A file that cannot be read or understood is an error naming the file and what is wrong
// with it, such as
//
//	state: read /x/state.json: invalid JSON at byte 12: invalid character '}' looking for beginning of value
func (s *FileStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	name := filepath.Join(s.Dir, stateFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return State{Entries: map[string]time.Time{}}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("state: read %s: %w", name, unwrapPath(err))
	}
	st, err := decode(data)
	if err != nil {
		return State{}, fmt.Errorf("state: read %s: %w", name, err)
	}
	return st, nil
}

// decode parses the content of state.json.
func decode(data []byte) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return State{}, jsonError(err, data)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return State{}, fmt.Errorf("invalid JSON at byte %d: data after the JSON object", len(data)-len(rest))
	}
	switch {
	case f.Version == nil:
		return State{}, errors.New(`no "version" field`)
	case *f.Version != 1 && *f.Version != formatVersion:
		return State{}, fmt.Errorf("unsupported version %d (this wasmcollector reads versions 1 and %d)", *f.Version, formatVersion)
	case *f.Version == 1 && f.Pending != nil:
		return State{}, errors.New(`version 1 has no "pending" field`)
	}
	st := State{Entries: make(map[string]time.Time, len(f.Entries))}
	if f.LastGather != "" {
		t, err := parseTime(f.LastGather)
		if err != nil {
			return State{}, fmt.Errorf("last_gather: %w", err)
		}
		st.LastGather = t
	}
	for _, k := range slices.Sorted(maps.Keys(f.Entries)) { // sorted: the first bad entry is reported
		t, err := parseTime(f.Entries[k])
		if err != nil {
			return State{}, fmt.Errorf("entries[%q]: %w", k, err)
		}
		st.Entries[k] = t
	}
	for i, fp := range f.Pending {
		p, err := decodePending(fp)
		if err != nil {
			return State{}, fmt.Errorf("pending[%d]: %w", i, err)
		}
		st.Pending = append(st.Pending, p)
	}
	return st, nil
}

func decodePending(fp filePending) (Pending, error) {
	p := Pending{Name: fp.Name, Path: fp.Path, SHA256: fp.SHA256, Size: fp.Size, Shipped: fp.Shipped}
	if err := CheckPending(p); err != nil {
		return Pending{}, err
	}
	for j, fs := range fp.Slices {
		s := PendingSlice{Key: fs.Key, Part: fs.Part, Parts: fs.Parts}
		var err error
		if fs.Since != "" {
			if s.Since, err = parseTime(fs.Since); err != nil {
				return Pending{}, fmt.Errorf("slices[%d].since: %w", j, err)
			}
		}
		if s.Until, err = parseTime(fs.Until); err != nil {
			return Pending{}, fmt.Errorf("slices[%d].until: %w", j, err)
		}
		if s.Key == "" || s.Part < 1 || s.Part > s.Parts {
			return Pending{}, fmt.Errorf("slices[%d]: key %q part %d of %d: want a key and 1 <= part <= parts", j, s.Key, s.Part, s.Parts)
		}
		p.Slices = append(p.Slices, s)
	}
	return p, nil
}

// CheckPending reports what is wrong with p's name, path, digest or size, so that a damaged
// record is refused on loading rather than re-sent wrongly.
func CheckPending(p Pending) error {
	switch {
	case p.Name == "" || strings.ContainsAny(p.Name, "/\\\x00"):
		return fmt.Errorf("name %q is not a file name", p.Name)
	case !filepath.IsAbs(p.Path):
		return fmt.Errorf("path %q is not absolute", p.Path)
	case len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "":
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", p.SHA256)
	case p.Size < 0:
		return fmt.Errorf("size %d is negative", p.Size)
	}
	return nil
}

// jsonError turns a decoder error into one that says where in the file the problem is: the
// field, or the byte offset (counted from 0) of a syntax error.
func jsonError(err error, data []byte) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %s", syn.Offset-1, syn.Error())
	case errors.As(err, &typ):
		what := typ.Field
		switch what {
		case "":
			what = "the document"
		case "entries":
			if typ.Type.Kind() == reflect.String {
				what = "each value of entries" // the decoder names the map, not the key
			}
		}
		// No byte offset: the decoder's points past the value, inconsistently; the field says more.
		return fmt.Errorf("invalid JSON: %s must be %s, not %s", what, jsonKind(typ.Type.Kind().String()), jsonKind(typ.Value))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("invalid JSON at byte %d: unexpected end of file", len(data))
	}
	// DisallowUnknownFields reports `json: unknown field "x"`.
	return fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go kind or a JSON value kind, as decoder errors give them, in JSON terms.
func jsonKind(k string) string {
	switch k {
	case "int", "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "array", "slice":
		return "an array"
	case "map", "struct", "object":
		return "an object"
	}
	return k
}

// parseTime parses an RFC 3339 time and returns it in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339, such as \"2026-11-26T16:16:54.53162Z\"", s)
	}
	return t.UTC(), nil
}

// formatTime renders t for state.json, refusing years RFC 3339 cannot write.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %v: year outside 0 to 9999", t)
	}
	return t.Format(time.RFC3339Nano), nil
}

// encode renders st as the content of state.json.
func encode(st State) ([]byte, error) {
	version := formatVersion
	f := fileFormat{Version: &version, Entries: make(map[string]string, len(st.Entries))}
	if !st.LastGather.IsZero() {
		s, err := formatTime(st.LastGather)
		if err != nil {
			return nil, fmt.Errorf("last_gather: %w", err)
		}
		f.LastGather = s
	}
	for k, t := range st.Entries {
		s, err := formatTime(t)
		if err != nil {
			return nil, fmt.Errorf("entries[%q]: %w", k, err)
		}
		f.Entries[k] = s
	}
	for i, p := range st.Pending {
		fp := filePending{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Size: p.Size, Shipped: p.Shipped, Slices: []fileSlice{}}
		for j, sl := range p.Slices {
			fs := fileSlice{Key: sl.Key, Part: sl.Part, Parts: sl.Parts}
			var err error
			if !sl.Since.IsZero() {
				if fs.Since, err = formatTime(sl.Since); err != nil {
					return nil, fmt.Errorf("pending[%d].slices[%d].since: %w", i, j, err)
				}
			}
			if fs.Until, err = formatTime(sl.Until); err != nil {
				return nil, fmt.Errorf("pending[%d].slices[%d].until: %w", i, j, err)
			}
			fp.Slices = append(fp.Slices, fs)
		}
		f.Pending = append(f.Pending, fp)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err // unreachable: only strings and an int
	}
	return append(data, '\n'), nil
}

// Save replaces Dir/state.json with st, atomically: it writes a temporary file beside it
// (Dir/.state.json.tmpNNNN), flushes it to disk, renames it over state.json and flushes the
// directory. If Save fails the old file is left as it was, and the temporary file is removed.
// Dir is created, mode 0700, when missing; the file is mode 0600.
//
// Save does not take the lock: the caller holds it (see [FileStore.TryLock]).
func (s *FileStore) Save(ctx context.Context, st State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := filepath.Join(s.Dir, stateFile)
	data, err := encode(st)
	if err != nil {
		return fmt.Errorf("state: save %s: %w", name, err)
	}
	if err := s.writeAtomic(name, data); err != nil {
		return fmt.Errorf("state: save %s: %w", name, err)
	}
	return nil
}

func (s *FileStore) writeAtomic(name string, data []byte) (err error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, tempPattern)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", unwrapPath(err))
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), unwrapPath(err))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), unwrapPath(err))
	}
	rename := s.rename
	if rename == nil {
		rename = os.Rename
	}
	if err := rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("replace with %s: %w", filepath.Base(tmp.Name()), unwrapPath(err))
	}
	// The rename is durable only once the directory is; the new file is in place either way,
	// so a failure here is reported but nothing is undone.
	return syncDir(s.Dir)
}

// syncDir flushes the directory entry changes of dir to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", unwrapPath(err))
	}
	defer d.Close()
	// Some file systems cannot sync a directory (EINVAL); there is nothing more to do on them.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, unwrapPath(err))
	}
	return nil
}

// TryLock takes the exclusive lock on Dir/gather.lock without waiting, creating Dir (mode 0700)
// and the file (mode 0600) when missing, and writes this process's ID into the file.
//
// When another holder has the lock, in another process or in this one (another FileStore, or
// this one called again before unlock), it returns an error matching [ErrLocked] that names the
// lock file and, when the file records one, the holder's process ID:
//
//	state: another gather holds the lock: /x/gather.lock (pid 4242)
//
// unlock empties the file and releases the lock; calling it again does nothing and returns nil.
// The lock is also released when the process exits, however it exits.
func (s *FileStore) TryLock(ctx context.Context) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	name := filepath.Join(s.Dir, lockFile)
	// A new Flock each time: one Flock answers "locked" to its own second TryLock, and a new one
	// opens a new file description, which flock(2) excludes like another process.
	fl := flock.New(name, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("state: lock %s: %w", name, unwrapPath(err))
	}
	if !ok {
		if pid := holder(name); pid > 0 {
			return nil, fmt.Errorf("%w: %s (pid %d)", ErrLocked, name, pid)
		}
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	// Best effort: the PID only improves the message another gather prints.
	_ = os.WriteFile(name, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)

	var once sync.Once
	var unlockErr error
	unlock := func() error {
		once.Do(func() {
			// Empty the file first, while it is still ours, so that the next reader does not
			// blame a process that has let go.
			_ = os.Truncate(name, 0)
			if err := fl.Unlock(); err != nil {
				unlockErr = fmt.Errorf("state: unlock %s: %w", name, err)
			}
		})
		return unlockErr
	}
	return unlock, nil
}

// holder returns the process ID recorded in the lock file name, or 0 when there is none. The
// holder may not have written it yet, so the answer is a hint.
func holder(name string) int {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// unwrapPath drops the *fs.PathError wrapper when the message names the path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
