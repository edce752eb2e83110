package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Headers that carry a payload identifier. wasmcollector sends the tarball's SHA-256 in both;
// the real ingress takes x-rh-insights-request-id as its request id.
const (
	idempotencyKeyHeader = "Idempotency-Key"
	requestIDHeader      = "X-Rh-Insights-Request-Id"
)

// maxKeyLen bounds the identifier kept per upload.
const maxKeyLen = 256

// dedupIndex remembers what was stored by payload identifier, for the server's lifetime. It is
// guarded by Server.dedupMu.
type dedupIndex struct {
	byKey map[string]dedupEntry
}

// dedupEntry is a stored upload as a repeat is answered.
type dedupEntry struct {
	id, sum, name string
	size          int64
}

// payloadKey returns the request's payload identifier: Idempotency-Key (unquoted), else
// x-rh-insights-request-id; "" when there is none.
func payloadKey(r *http.Request) string {
	k := strings.Trim(strings.TrimSpace(r.Header.Get(idempotencyKeyHeader)), `"`)
	if k == "" {
		k = strings.TrimSpace(r.Header.Get(requestIDHeader))
	}
	if len(k) > maxKeyLen {
		k = k[:maxKeyLen]
	}
	return k
}

// deduplicate looks the upload in tmp up by its payload identifier: a repeat with the same
// content (SHA-256) returns the first upload's entry (the caller answers it 202 as before and
// stores nothing); an identifier reused for other content is a 422. An upload without an
// identifier is never a repeat: identical bytes may be two legitimate uploads. The caller holds
// s.dedupMu until it called remember, so that two copies arriving together are not both stored.
// With Config.KeepDuplicates it does nothing.
func (s *Server) deduplicate(r *http.Request, tmp string) (dup *dedupEntry, key, sum string, err error) {
	if key = payloadKey(r); s.cfg.KeepDuplicates || key == "" {
		return nil, "", "", nil
	}
	if sum, err = fileSum(tmp); err != nil {
		return nil, "", "", fmt.Errorf("store upload: %w", err)
	}
	if e, ok := s.dedup.byKey[key]; ok {
		if e.sum != sum {
			return nil, key, sum, reject(http.StatusUnprocessableEntity,
				"payload identifier %q was used before for other content (sha256 %s, now %s)", key, e.sum, sum)
		}
		return &e, key, sum, nil
	}
	return nil, key, sum, nil
}

// remember records a stored upload; the caller holds s.dedupMu.
func (s *Server) remember(key, sum string, u *Upload) {
	if key == "" {
		return
	}
	if s.dedup.byKey == nil {
		s.dedup = dedupIndex{byKey: map[string]dedupEntry{}}
	}
	s.dedup.byKey[key] = dedupEntry{id: u.ID, sum: sum, name: u.Name, size: u.Size}
}

// answerDuplicate answers a repeat exactly as its first copy was answered.
func answerDuplicate(w http.ResponseWriter, e *dedupEntry, user string) result {
	writeJSON(w, http.StatusAccepted, acceptBody{RequestID: e.id, Upload: acceptPart{Name: e.name, Size: e.size}})
	return result{status: http.StatusAccepted, name: e.name, size: e.size, user: user, id: e.id,
		reason: "duplicate of an upload already stored (sha256 " + e.sum + "); nothing stored"}
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
