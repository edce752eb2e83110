package serve

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// AuthFile is the basic auth file the page and /metrics require, kept current without a
// restart: every guarded request checks whether the file changed (its inode, size or mtime, one
// stat) and reads it again when it did, and [AuthFile.SetPath] moves to another file (a reload
// whose [serve] basic_auth_file changed). A new version that cannot be read or is not
// user:password keeps the credentials in force and is logged once; the operator's fix is
// picked up by the next request. Its methods are safe for concurrent use.
type AuthFile struct {
	log *slog.Logger

	mu   sync.Mutex
	path string     // "" when no password is required
	cur  *BasicAuth // in force; nil only when path is ""
	seen fileStamp  // the version last read, good or bad
}

// fileStamp tells one version of a file from the next.
type fileStamp struct {
	ino, size uint64
	mtime     time.Time
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{size: uint64(fi.Size()), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// OpenAuthFile reads the basic auth file at path ("" for none: no password); an error when it
// cannot be used, so that serve does not start unguarded by mistake.
func OpenAuthFile(path string, log *slog.Logger) (*AuthFile, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &AuthFile{log: log, path: path}
	if path == "" {
		return f, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("basic auth file: %w", err)
	}
	if f.cur, err = ReadBasicAuthFile(path); err != nil {
		return nil, err
	}
	f.seen = stampOf(fi)
	return f, nil
}

// Current returns the credentials in force, reading the file again first when it changed, and
// whether a password is required at all. Required with nil credentials (a file that never read
// well) refuses every guarded request.
func (f *AuthFile) Current() (auth *BasicAuth, required bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path == "" {
		return nil, false
	}
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.seen != (fileStamp{}) { // log once, until the file is back
			f.seen = fileStamp{}
			f.log.Error("basic auth file unreadable; the previous credentials stay in force", "path", f.path, "error", err)
		}
		return f.cur, true
	}
	if s := stampOf(fi); s != f.seen {
		f.seen = s
		f.load()
	}
	return f.cur, true
}

// load reads the file at f.path into f.cur, keeping f.cur when it is broken. f.mu is held.
func (f *AuthFile) load() {
	auth, err := ReadBasicAuthFile(f.path)
	if err != nil {
		if f.cur == nil {
			f.log.Error("basic auth file broken; every guarded request is refused until it is fixed", "path", f.path, "error", err)
		} else {
			f.log.Error("basic auth file broken; the previous credentials stay in force", "path", f.path, "error", err)
		}
		return
	}
	if f.cur == nil || *auth != *f.cur {
		f.log.Info("basic auth credentials loaded", "path", f.path, "user", auth.User)
	}
	f.cur = auth
}

// SetPath makes path the file to use ("" to require no password), reading it at once: a reload
// whose [serve] basic_auth_file changed. A path that cannot be used keeps the credentials in
// force (and the file they came from), and says so in the log.
func (f *AuthFile) SetPath(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if path == f.path {
		return
	}
	if path == "" {
		f.log.Warn("[serve] basic_auth_file removed: the page and /metrics no longer require a password", "was", f.path)
		f.path, f.cur, f.seen = "", nil, fileStamp{}
		return
	}
	fi, err := os.Stat(path)
	var auth *BasicAuth
	if err == nil {
		auth, err = ReadBasicAuthFile(path)
	}
	if err != nil {
		if f.path != "" {
			f.log.Error("new basic auth file unusable; the previous credentials and file stay in force", "path", path, "previous", f.path, "error", err)
		} else {
			// Nothing guarded the page before; refusing every request is safer than leaving it open.
			f.log.Error("new basic auth file unusable; every guarded request is refused until it is fixed", "path", path, "error", err)
			f.path, f.seen = path, fileStamp{}
		}
		return
	}
	f.log.Info("basic auth file changed", "path", path, "previous", f.path, "user", auth.User)
	f.path, f.cur, f.seen = path, auth, stampOf(fi)
}
