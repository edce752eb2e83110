package state

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSigningTimes: the signing record round-trips, is replaced atomically with nothing left
// behind, is written only when it changes, and concurrent updates (gather and serve's reload)
// lose none.
func TestSigningTimes(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "state"))
	m, err := s.SigningTimes()
	require.NoError(t, err)
	assert.Empty(t, m, "no file is an empty record")

	t1 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	require.NoError(t, s.UpdateSigningTimes(func(m map[string]time.Time) error {
		m["awx.wasm"] = t1
		return nil
	}))
	m, err = s.SigningTimes()
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"awx.wasm": t1}, m)
	data, err := os.ReadFile(filepath.Join(s.Dir, "signatures.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"version": 1, "modules": {"awx.wasm": "2026-11-20T09:00:00Z"}}`, string(data))
	info, err := os.Stat(filepath.Join(s.Dir, "signatures.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// No change, no write (the file's inode stays).
	require.NoError(t, s.UpdateSigningTimes(func(m map[string]time.Time) error { m["awx.wasm"] = t1; return nil }))
	info2, err := os.Stat(filepath.Join(s.Dir, "signatures.json"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(info, info2))

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, NewFileStore(s.Dir).UpdateSigningTimes(func(m map[string]time.Time) error {
				m[string(rune('a'+i))+".wasm"] = t1.Add(time.Duration(i) * time.Second)
				return nil
			}))
		}()
	}
	wg.Wait()
	m, err = s.SigningTimes()
	require.NoError(t, err)
	assert.Len(t, m, 21, "no update lost")
	leftovers, err := filepath.Glob(filepath.Join(s.Dir, ".*tmp*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

// TestSigningTimesDamaged: a damaged record is an error naming the file and what is wrong, never
// an empty record (which would switch rollback protection off), and an update does not replace it.
func TestSigningTimesDamaged(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "unexpected end of file"},
		{"not JSON", "{", "unexpected end of file"},
		{"no version", `{"modules": {}}`, `want "version": 1`},
		{"other version", `{"version": 2, "modules": {}}`, `want "version": 1`},
		{"unknown field", `{"version": 1, "modules": {}, "x": 1}`, `unknown field "x"`},
		{"bad time", `{"version": 1, "modules": {"a.wasm": "yesterday"}}`, `modules["a.wasm"]: invalid time "yesterday"`},
		{"wrong type", `{"version": 1, "modules": {"a.wasm": 5}}`, "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewFileStore(t.TempDir())
			name := filepath.Join(s.Dir, "signatures.json")
			require.NoError(t, os.WriteFile(name, []byte(tc.data), 0o600))
			_, err := s.SigningTimes()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "state: read "+name+": ")
			assert.Contains(t, err.Error(), tc.want)
			err = s.UpdateSigningTimes(func(m map[string]time.Time) error { m["b.wasm"] = time.Now(); return nil })
			require.Error(t, err)
			data, _ := os.ReadFile(name)
			assert.Equal(t, tc.data, string(data), "left as it was")
		})
	}
}
