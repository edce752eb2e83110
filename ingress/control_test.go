package ingress

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestControlOverHTTP drives a demo through the control endpoints: set failures, see them, list
// the uploads.
func TestControlOverHTTP(t *testing.T) {
	s := newTestServer(t, Config{}, nil)
	name, tarball := packTarball(t)
	client := s.ts.Client()

	resp, err := client.Post(s.url+"/_fail?n=2&mode=503", "", nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "answer %s", b)
	require.JSONEq(t, `{"n": 2, "mode": "503"}`, string(b))

	// Control requests do not use up failures.
	list := func() []map[string]any {
		resp, err := client.Get(s.url + "/_uploads")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var out []map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	require.Equal(t, []map[string]any{}, list(), "an empty list, not null")

	for range 2 {
		status, _, _ := s.upload(t, name, tarball, nil)
		require.Equal(t, http.StatusServiceUnavailable, status)
	}
	status, _, body := s.upload(t, name, tarball, nil)
	require.Equal(t, http.StatusAccepted, status)
	var accepted acceptBody
	require.NoError(t, json.Unmarshal(body, &accepted))

	got := list()
	require.Len(t, got, 1)
	u := s.Uploads()[0]
	require.Equal(t, map[string]any{
		"id": accepted.RequestID, "name": name, "path": u.Path, "size": float64(len(tarball)),
		"content_type": payloadType, "received": u.Received.Format("2006-01-02T15:04:05.999999999Z07:00"), "user": "",
		"manifest": []any{
			map[string]any{"file": "events.csv", "version": "1.2"},
			map[string]any{"file": "info.json", "version": "1.0"},
			map[string]any{"file": "config.json", "version": "1.0"},
			map[string]any{"file": "data_collection_status.csv", "version": "1.0"},
		},
		"manifest_count": float64(4),
		"member_count":   float64(5),
		"members": []any{
			map[string]any{"name": "./events.csv", "size": float64(u.Members[0].Size)},
			map[string]any{"name": "./info.json", "size": float64(u.Members[1].Size)},
			map[string]any{"name": "./config.json", "size": float64(u.Members[2].Size)},
			map[string]any{"name": "./data_collection_status.csv", "size": float64(u.Members[3].Size)},
			map[string]any{"name": "./manifest.json", "size": float64(u.Members[4].Size)},
		},
	}, got[0])
}

// TestControlRequests calls ServeHTTP directly to play clients from other addresses.
func TestControlRequests(t *testing.T) {
	const fail, uploads = DefaultPath + "/_fail", DefaultPath + "/_uploads"
	tests := []struct {
		name    string
		remote  string
		method  string
		target  string
		status  int
		body    string // the exact answer when 200, a part of the reason otherwise
		pending int    // failures pending afterwards
		mode    FailMode
	}{
		{name: "set from IPv4 loopback", remote: "127.0.0.1:40000", method: http.MethodPost, target: fail + "?n=3&mode=drop",
			status: http.StatusOK, body: `{"n":3,"mode":"drop"}`, pending: 3, mode: FailDrop},
		{name: "set from IPv6 loopback", remote: "[::1]:40000", method: http.MethodPost, target: fail + "?n=1&mode=hang",
			status: http.StatusOK, body: `{"n":1,"mode":"hang"}`, pending: 1, mode: FailHang},
		{name: "n defaults to 1", remote: "127.0.0.2:1", method: http.MethodPost, target: fail + "?mode=500",
			status: http.StatusOK, body: `{"n":1,"mode":"500"}`, pending: 1, mode: FailStatus500},
		{name: "n 0 clears", remote: "127.0.0.1:1", method: http.MethodPost, target: fail + "?n=0&mode=503",
			status: http.StatusOK, body: `{"n":0,"mode":"503"}`, pending: 0, mode: FailStatus503},
		{name: "list from loopback", remote: "[::1]:40000", method: http.MethodGet, target: uploads,
			status: http.StatusOK, body: `[]`},
		{name: "set from elsewhere", remote: "192.0.2.7:40000", method: http.MethodPost, target: fail + "?n=3&mode=drop",
			status: http.StatusForbidden, body: DefaultPath + "/_fail is only served to loopback clients"},
		{name: "set from elsewhere, IPv6", remote: "[2001:db8::1]:40000", method: http.MethodPost, target: fail + "?mode=drop",
			status: http.StatusForbidden, body: "only served to loopback clients"},
		{name: "list from elsewhere", remote: "10.1.2.3:40000", method: http.MethodGet, target: uploads,
			status: http.StatusForbidden, body: DefaultPath + "/_uploads is only served to loopback clients"},
		{name: "get on fail", remote: "127.0.0.1:1", method: http.MethodGet, target: fail + "?mode=drop",
			status: http.StatusMethodNotAllowed, body: "method GET is not allowed on " + fail + ": use POST"},
		{name: "post on list", remote: "127.0.0.1:1", method: http.MethodPost, target: uploads,
			status: http.StatusMethodNotAllowed, body: "use GET"},
		{name: "no mode", remote: "127.0.0.1:1", method: http.MethodPost, target: fail + "?n=2",
			status: http.StatusBadRequest, body: `mode "" is not one of 500, 503, drop, hang`},
		{name: "unknown mode", remote: "127.0.0.1:1", method: http.MethodPost, target: fail + "?mode=slow",
			status: http.StatusBadRequest, body: `mode "slow" is not one of 500, 503, drop, hang`},
		{name: "negative n", remote: "127.0.0.1:1", method: http.MethodPost, target: fail + "?n=-1&mode=500",
			status: http.StatusBadRequest, body: `n "-1" is not a count from 0 to 1000000`},
		{name: "n not a number", remote: "127.0.0.1:1", method: http.MethodPost, target: fail + "?n=two&mode=500",
			status: http.StatusBadRequest, body: `n "two" is not a count`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{Dir: t.TempDir()})
			require.NoError(t, err)
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)

			if tt.status == http.StatusOK {
				require.Equal(t, tt.status, w.Code, "answer %s", w.Body)
				require.JSONEq(t, tt.body, w.Body.String())
			} else {
				requireRejected(t, w.Code, w.Body.Bytes(), tt.status, tt.body)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			require.Equal(t, tt.pending, s.failN)
			if tt.pending > 0 {
				require.Equal(t, tt.mode, s.failMode)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"127.255.0.1:80", true},
		{"[::1]:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"::1", true},
		{"192.0.2.1:80", false},
		{"[2001:db8::1]:80", false},
		{"localhost:80", false}, // RemoteAddr holds addresses, never names
		{"", false},
		{"pipe", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			require.Equal(t, tt.ok, loopback(tt.addr))
		})
	}
}
