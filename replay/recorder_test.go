package replay

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecorderFailuresOnly: with FailuresOnly, the record of an invocation the gather settles
// as a success is removed (whether it settles before or after its record is done) and its room
// given back to the cap; a failure's stays, as does one never settled; the summary counts what
// is kept and what was removed. Without it, Settle removes nothing.
func TestRecorderFailuresOnly(t *testing.T) {
	since := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	run := func(t *testing.T, failuresOnly bool) (*Recorder, map[string]string) {
		dir := filepath.Join(t.TempDir(), "rec")
		r, err := NewRecorder(dir, Options{FailuresOnly: failuresOnly, MaxBytes: 1 << 20})
		require.NoError(t, err)
		r.SetParallelism(5) // all five are in flight at once
		paths := map[string]string{}
		begin := func(name string, at time.Time) Spec {
			spec, ok := r.Begin(name, "fn", at)
			require.True(t, ok)
			require.NoError(t, os.WriteFile(spec.Path, make([]byte, 1000), 0o600))
			paths[name] = spec.Path
			return spec
		}
		ok1 := begin("ok", since)
		failed := begin("failed", since)
		early := begin("early", since)
		unsettled := begin("unsettled", since)
		ok2 := begin("ok", since.Add(time.Hour)) // the same key, another slice: a failure
		r.Settle("early", since, nil)            // before its record is done
		for _, s := range []Spec{ok1, failed, early, unsettled, ok2} {
			r.Done(s, Info{Path: s.Path, Bytes: 1000, Complete: true}, nil)
		}
		r.Settle("ok", since, nil)
		r.Settle("failed", since, errors.New("trap"))
		r.Settle("ok", since.Add(time.Hour), errors.New("rows outside the slice"))
		r.Settle("nobody", since, nil) // not recorded: nothing to do
		return r, paths
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	t.Run("failures only", func(t *testing.T) {
		r, paths := run(t, true)
		require.False(t, exists(paths["early"]))
		require.True(t, exists(paths["failed"]))
		require.True(t, exists(paths["unsettled"]), "never settled: abandoned, kept")
		s := r.Summary()
		require.Equal(t, 3, s.Records)
		require.Equal(t, int64(3000), s.Bytes)
		require.Equal(t, 2, s.Discarded)
		require.Empty(t, s.Errors)
		r.mu.Lock()
		require.Equal(t, int64(3000), r.used, "the room of the records removed is given back")
		r.mu.Unlock()
		ents, err := os.ReadDir(filepath.Dir(paths["failed"]))
		require.NoError(t, err)
		require.Len(t, ents, 3)
	})
	t.Run("all", func(t *testing.T) {
		r, paths := run(t, false)
		for name, p := range paths {
			require.True(t, exists(p), name)
		}
		s := r.Summary()
		require.Equal(t, 5, s.Records)
		require.Zero(t, s.Discarded)
	})
}
