package ingress

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// receivedFormat is the received time at the start of a stored file's name.
const receivedFormat = "20060102T150405Z"

// formField is the name of the multipart part that carries the tarball (4.4).
const formField = "file"

// acceptBody is the 202 answer, shaped like the real ingress's: request_id at the top level.
type acceptBody struct {
	RequestID string     `json:"request_id"`
	Upload    acceptPart `json:"upload"`
}

type acceptPart struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// upload serves a POST on Path once injected failures are out of the way.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) result {
	received := time.Now().UTC()
	user, err := s.authenticate(r)
	if err != nil {
		if s.cfg.Username != "" {
			w.Header().Set("WWW-Authenticate", basicRealm)
		}
		return writeError(w, err)
	}
	if r.ContentLength > s.cfg.MaxBytes {
		res := writeError(w, reject(http.StatusRequestEntityTooLarge,
			"upload of %d bytes is larger than the limit of %d bytes", r.ContentLength, s.cfg.MaxBytes))
		res.user = user
		return res
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBytes)

	u := Upload{Received: received, User: user}
	tmp, err := s.receive(r, &u)
	if err == nil {
		err = s.validateTarball(tmp, &u)
	}
	if err == nil {
		var dup *dedupEntry
		if dup, err = s.storeOnce(r, tmp, received, &u); dup != nil {
			_ = os.Remove(tmp)
			return answerDuplicate(w, dup, user)
		}
	}
	if err != nil {
		// Removed before answering, so a client that sees the rejection sees no file either.
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		res := writeError(w, err)
		res.name, res.size, res.user = u.Name, u.Size, user
		return res
	}
	s.remember(u)
	writeJSON(w, http.StatusAccepted, acceptBody{RequestID: u.ID, Upload: acceptPart{Name: u.Name, Size: u.Size}})
	return result{status: http.StatusAccepted, name: u.Name, size: u.Size, user: user, id: u.ID}
}

// remember adds u to the uploads kept in memory, forgetting the oldest beyond Config.KeepUploads.
func (s *Server) remember(u Upload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.uploads) >= s.cfg.KeepUploads {
		n := copy(s.uploads, s.uploads[len(s.uploads)-s.cfg.KeepUploads+1:])
		clear(s.uploads[n:]) // so the forgotten uploads' metadata can be collected
		s.uploads = s.uploads[:n]
	}
	s.uploads = append(s.uploads, u)
}

// receive reads the multipart body, streaming the "file" part into a temporary file in Dir, and
// fills u's Name, ContentType and Size. It returns the temporary file's path whenever one was
// created, also with an error: the caller removes it. Other parts are read and discarded, so the
// size limit covers the whole body.
func (s *Server) receive(r *http.Request, u *Upload) (tmp string, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return "", reject(http.StatusBadRequest, "request is not multipart/form-data: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tmp, s.bodyError("multipart body", err)
		}
		if part.FormName() != formField {
			if _, err := io.Copy(io.Discard, part); err != nil {
				return tmp, s.bodyError(fmt.Sprintf("part %q", part.FormName()), err)
			}
			continue
		}
		if tmp != "" {
			return tmp, reject(http.StatusBadRequest, "more than one part named %s", formField)
		}
		if u.Name, err = partFileName(part); err != nil {
			return tmp, err
		}
		if u.ContentType, err = s.partContentType(part); err != nil {
			return tmp, err
		}
		tmp, u.Size, err = s.spool(part)
		if err != nil {
			return tmp, err
		}
	}
	if tmp == "" {
		return "", reject(http.StatusBadRequest, "no part named %s", formField)
	}
	return tmp, nil
}

// spool copies part into a new temporary file in Dir.
func (s *Server) spool(part *multipart.Part) (string, int64, error) {
	f, err := os.CreateTemp(s.cfg.Dir, ".upload-*.part")
	if err != nil {
		return "", 0, fmt.Errorf("store upload: %w", err)
	}
	src := &readErrs{r: part}
	n, err := io.Copy(f, src)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	switch {
	case src.err != nil:
		return f.Name(), n, s.bodyError("part "+formField, src.err)
	case err != nil:
		return f.Name(), n, fmt.Errorf("store upload: %w", err)
	}
	return f.Name(), n, nil
}

// readErrs remembers the error its reader returned, so a copy can tell read errors (the
// client's) from write errors (ours).
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// bodyError classifies an error reading the request body: over the size limit is a 413, anything
// else (bad framing, client gone) a 400.
func (s *Server) bodyError(what string, err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return reject(http.StatusRequestEntityTooLarge, "upload is larger than the limit of %d bytes", s.cfg.MaxBytes)
	}
	return reject(http.StatusBadRequest, "read %s: %v", what, err)
}

// store moves the temporary file tmp to its final name, Dir/<received>-<sequence>-<name>, never
// over an existing file (a server restarted on the same Dir starts its sequence again).
func (s *Server) store(tmp string, received time.Time, name string) (string, error) {
	for {
		final := filepath.Join(s.cfg.Dir, fmt.Sprintf("%s-%06d-%s", received.Format(receivedFormat), s.seq.Add(1), name))
		err := os.Link(tmp, final)
		if err == nil {
			_ = os.Remove(tmp) // a leftover is only a hidden temporary file
			return final, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		// No hard links on this file system: rename, unless the name is taken.
		if _, err := os.Lstat(final); err == nil {
			continue
		}
		if err := os.Rename(tmp, final); err != nil {
			return "", fmt.Errorf("store upload: %w", err)
		}
		return final, nil
	}
}
