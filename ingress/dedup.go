package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Headers that carry a payload identifier. wasmcollector sends the tarball's SHA-256 in both;
// the real ingress takes x-rh-insights-request-id as its request id.
const (
	idempotencyKeyHeader = "Idempotency-Key"
	requestIDHeader      = "X-Rh-Insights-Request-Id"
)

// maxKeyLen bounds the payload identifier: a longer one is refused (400), so the index stays
// small and two long identifiers cannot be confused.
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
	return k
}

// storeOnce stores the upload in tmp as s.store does and gives it its ID, unless it repeats
// one already stored: an upload whose payload identifier was stored before with the same content
// (SHA-256) returns that upload's entry, and the caller answers it 202 as before and stores
// nothing; the identifier reused for other content is a 422. An upload without an identifier is
// never a repeat: identical bytes may be two legitimate uploads. The check and the store happen
// under s.dedupMu, so two copies arriving together are not both stored; the hash is computed
// before. With Config.KeepDuplicates every upload is stored.
func (s *Server) storeOnce(r *http.Request, tmp string, received time.Time, u *Upload) (*dedupEntry, error) {
	key := payloadKey(r)
	if len(key) > maxKeyLen {
		return nil, reject(http.StatusBadRequest, "payload identifier of %d bytes is longer than %d", len(key), maxKeyLen)
	}
	if s.cfg.KeepDuplicates || key == "" {
		path, err := s.store(tmp, received, u.Name)
		u.Path, u.ID = path, newID()
		return nil, err
	}
	sum, err := fileSum(tmp)
	if err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	if e, ok := s.dedup.byKey[key]; ok {
		if e.sum != sum {
			return nil, reject(http.StatusUnprocessableEntity,
				"payload identifier %q was used before for other content (sha256 %s, now %s)", key, e.sum, sum)
		}
		return &e, nil
	}
	if u.Path, err = s.store(tmp, received, u.Name); err != nil {
		return nil, err
	}
	u.ID = newID()
	if s.dedup.byKey == nil {
		s.dedup = dedupIndex{byKey: map[string]dedupEntry{}}
	}
	s.dedup.byKey[key] = dedupEntry{id: u.ID, sum: sum, name: u.Name, size: u.Size}
	return nil, nil
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
