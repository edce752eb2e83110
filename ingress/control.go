package ingress

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxFailN bounds n in <Path>/_fail, a typo guard.
const maxFailN = 1_000_000

// failBody is the answer of <Path>/_fail.
type failBody struct {
	N    int      `json:"n"`
	Mode FailMode `json:"mode"`
}

// controlFail serves POST <Path>/_fail?n=<count>&mode=<mode>.
func (s *Server) controlFail(w http.ResponseWriter, r *http.Request) result {
	if res, ok := s.controlGate(w, r, http.MethodPost); !ok {
		return res
	}
	q := r.URL.Query()
	n := 1
	if v := q.Get("n"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 0 || n > maxFailN {
			return writeError(w, reject(http.StatusBadRequest, "n %q is not a count from 0 to %d", v, maxFailN))
		}
	}
	mode := FailMode(q.Get("mode"))
	if !mode.valid() {
		names := make([]string, len(failModes))
		for i, m := range failModes {
			names[i] = string(m)
		}
		return writeError(w, reject(http.StatusBadRequest, "mode %q is not one of %s", mode, strings.Join(names, ", ")))
	}
	s.FailNext(n, mode)
	writeJSON(w, http.StatusOK, failBody{N: n, Mode: mode})
	return result{status: http.StatusOK, reason: "fail next " + strconv.Itoa(n) + " uploads: " + string(mode)}
}

// controlList serves GET <Path>/_uploads.
func (s *Server) controlList(w http.ResponseWriter, r *http.Request) result {
	if res, ok := s.controlGate(w, r, http.MethodGet); !ok {
		return res
	}
	writeJSON(w, http.StatusOK, s.Uploads())
	return result{status: http.StatusOK}
}

// controlGate checks a control request's method and that it comes from a loopback address.
func (s *Server) controlGate(w http.ResponseWriter, r *http.Request, method string) (result, bool) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		return writeError(w, reject(http.StatusMethodNotAllowed, "method %s is not allowed on %s: use %s", r.Method, r.URL.Path, method)), false
	}
	if !loopback(r.RemoteAddr) {
		return writeError(w, reject(http.StatusForbidden, "%s is only served to loopback clients", r.URL.Path)), false
	}
	return result{}, true
}

// loopback reports whether addr, a RemoteAddr "host:port", is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// uploadJSON is how <Path>/_uploads shows an [Upload]: snake_case keys.
type uploadJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Path          string         `json:"path"`
	Size          int64          `json:"size"`
	ContentType   string         `json:"content_type"`
	Received      time.Time      `json:"received"`
	User          string         `json:"user"`
	Manifest      []manifestJSON `json:"manifest"`
	ManifestCount int            `json:"manifest_count"`
	Members       []memberJSON   `json:"members"`
	MemberCount   int            `json:"member_count"`
}

type manifestJSON struct {
	File    string `json:"file"`
	Version string `json:"version"`
}

type memberJSON struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// MarshalJSON encodes u with snake_case keys, as <Path>/_uploads lists it:
//
//	{"id": "…", "name": "…", "path": "…", "size": 1234, "content_type": "…",
//	 "received": "2025-01-02T03:04:05.123Z", "user": "…",
//	 "manifest": [{"file": "config.json", "version": "1.0"}, …], "manifest_count": 3,
//	 "members": [{"name": "./config.json", "size": 24}, …], "member_count": 4}
//
// manifest and members list what [Upload] kept (see [MaxListedBytes]); the counts are the
// tarball's.
func (u Upload) MarshalJSON() ([]byte, error) {
	v := uploadJSON{
		ID: u.ID, Name: u.Name, Path: u.Path, Size: u.Size, ContentType: u.ContentType,
		Received: u.Received, User: u.User, ManifestCount: u.ManifestCount, MemberCount: u.MemberCount,
		Manifest: make([]manifestJSON, len(u.Manifest)),
		Members:  make([]memberJSON, len(u.Members)),
	}
	for i, e := range u.Manifest {
		v.Manifest[i] = manifestJSON{File: e.File, Version: e.Version}
	}
	for i, m := range u.Members {
		v.Members[i] = memberJSON{Name: m.Name, Size: m.Size}
	}
	return json.Marshal(v)
}
