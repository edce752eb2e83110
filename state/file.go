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

// formatVersion is the "version" FileStore writes and the only one it reads.
const formatVersion = 1

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
	case *f.Version != formatVersion:
		return State{}, fmt.Errorf("unsupported version %d (this wasmcollector reads version %d)", *f.Version, formatVersion)
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
	return st, nil
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
