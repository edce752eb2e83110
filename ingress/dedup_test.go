package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func requestID(t *testing.T, body []byte) string {
	t.Helper()
	var a acceptBody
	require.NoError(t, json.Unmarshal(body, &a), "answer %s", body)
	return a.RequestID
}

// TestDedup: a repeat of an upload with the same payload identifier and content is answered as
// the first one was and stores nothing; other content under that identifier is refused; with
// KeepDuplicates every copy is stored; without an identifier nothing is deduplicated.
func TestDedup(t *testing.T) {
	name, tarball := packTarball(t)
	sum := sha256.Sum256(tarball)
	id := hex.EncodeToString(sum[:])
	other := tarGz(t, member{"manifest.json", "{}"})
	withHeader := func(h, v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(h, v) }
	}
	tests := []struct {
		name       string
		cfg        Config
		first      func(*http.Request)
		second     func(*http.Request)
		body2      []byte
		wantStatus int
		wantStored int
		sameID     bool
	}{
		{name: "idempotency key repeated", first: withHeader("Idempotency-Key", `"`+id+`"`), second: withHeader("Idempotency-Key", `"`+id+`"`),
			body2: tarball, wantStatus: 202, wantStored: 1, sameID: true},
		{name: "request id repeated", first: withHeader("X-Rh-Insights-Request-Id", id), second: withHeader("x-rh-insights-request-id", id),
			body2: tarball, wantStatus: 202, wantStored: 1, sameID: true},
		{name: "same key, other content", first: withHeader("Idempotency-Key", id), second: withHeader("Idempotency-Key", id),
			body2: other, wantStatus: 422, wantStored: 1},
		{name: "identifier over 256 bytes", first: withHeader("Idempotency-Key", id), second: withHeader("Idempotency-Key", strings.Repeat("k", 257)),
			body2: tarball, wantStatus: 400, wantStored: 1},
		{name: "no identifier: identical bytes stored twice", body2: tarball, wantStatus: 202, wantStored: 2},
		{name: "dedup off", cfg: Config{KeepDuplicates: true}, first: withHeader("Idempotency-Key", id), second: withHeader("Idempotency-Key", id),
			body2: tarball, wantStatus: 202, wantStored: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.cfg, nil)
			status, _, body1 := s.upload(t, name, tarball, tt.first)
			require.Equal(t, http.StatusAccepted, status, "answer %s", body1)
			status, _, body2 := s.upload(t, name, tt.body2, tt.second)
			require.Equal(t, tt.wantStatus, status, "answer %s", body2)
			require.Len(t, s.Uploads(), tt.wantStored)
			require.Len(t, dirNames(t, s.dir), tt.wantStored, "files in Dir")
			if tt.sameID {
				require.Equal(t, requestID(t, body1), requestID(t, body2), "a repeat gets the first answer")
				lines := s.log.lines(t)
				require.Contains(t, lines[len(lines)-1]["reason"], "duplicate of an upload already stored")
			}
			switch tt.wantStatus {
			case http.StatusUnprocessableEntity:
				require.Contains(t, errorDetail(t, body2).Detail, "was used before for other content")
			case http.StatusBadRequest:
				require.Equal(t, "payload identifier of 257 bytes is longer than 256", errorDetail(t, body2).Detail)
			}
		})
	}
}

// TestDedupHammer: copies of one upload sent together are stored once.
func TestDedupHammer(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	const n = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, _, body := s.upload(t, name, tarball, func(r *http.Request) { r.Header.Set("Idempotency-Key", "k1") })
			if status == http.StatusAccepted {
				ids[i] = requestID(t, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Len(t, s.Uploads(), 1)
	require.Len(t, dirNames(t, s.dir), 1)
	for i := range n {
		require.Equal(t, s.Uploads()[0].ID, ids[i], "copy %d got the first answer", i)
	}
}
