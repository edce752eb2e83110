package gather_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/packaging"
)

// interruptingShipper delivers like dirShipper and then cancels the gather's context, as a
// SIGINT arriving right after the ingress accepted an upload.
type interruptingShipper struct {
	*dirShipper
	cancel context.CancelFunc
}

func (s *interruptingShipper) Ship(ctx context.Context, t *packaging.Tarball) error {
	err := s.dirShipper.Ship(ctx, t)
	s.cancel()
	return err
}

// TestInterruptAfterAcceptedUpload: the gather is interrupted right after its first upload was
// accepted. The bookkeeping is saved anyway (the save does not use the cancelled context), so the
// next run neither re-sends nor re-collects that slice.
func TestInterruptAfterAcceptedUpload(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := gather.Gather(ctx, gather.Options{
		Registry: e.reg, Executor: e.exec, Type: hostfuncs.Manual, OutDir: e.out, Store: e.store, Locker: e.store,
		Shipper: &interruptingShipper{ship, cancel}, Since: start, Now: func() time.Time { return e.now }, Logger: quiet,
	})
	require.ErrorIs(t, err, context.Canceled)
	st, err := e.store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, start.Add(time.Hour), st.Entries["events"], "the accepted slice is recorded")
	assert.Empty(t, st.Pending)
	sent, err := os.ReadDir(ship.dir)
	require.NoError(t, err)
	require.Len(t, sent, 1)

	res, err := e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	for _, tb := range res.Tarballs {
		assert.False(t, tb.Resent, "%s: nothing is pending", tb.Name)
	}
	assert.Equal(t, start.Add(time.Hour), res.Collectors[1].Since)
	rows := shippedRows(t, ship.dir)
	assert.Len(t, rows, int(e.now.Sub(start)/time.Minute))
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

// TestPendingFileDamaged: a pending tarball whose file changed (or vanished) since it was
// recorded cannot be re-sent as recorded: it is dropped, and its window is collected again.
func TestPendingFileDamaged(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir(), fail: map[int]bool{1: true}}
	res, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) { o.Since = start })
	require.NoError(t, err)
	require.Equal(t, gather.FatePending, res.Tarballs[1].Fate)
	require.NoError(t, os.WriteFile(res.Tarballs[1].Path, []byte("not what was recorded"), 0o644))

	ship.fail = nil
	res, err = e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	require.True(t, res.Failed(), "the damaged tarball is reported")
	assert.Equal(t, gather.FateFailed, res.Tarballs[0].Fate)
	assert.Contains(t, res.Tarballs[0].Error, "cannot be re-sent")
	assert.Equal(t, start.Add(time.Hour), res.Collectors[1].Since, "its window is collected again")
	assert.NoFileExists(t, filepath.Join(e.out, gather.PendingDir, res.Tarballs[0].Name))
	rows := shippedRows(t, ship.dir)
	assert.Len(t, rows, int(e.now.Sub(start)/time.Minute))
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

// TestPendingBlocksNewCollection: while a pending tarball cannot be delivered, a gather sends
// nothing else and collects nothing new; once it is, the gather goes on from where it stopped.
func TestPendingBlocksNewCollection(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir(), fail: map[int]bool{1: true}}
	_, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) { o.Since = start })
	require.NoError(t, err)

	down := &dirShipper{dir: ship.dir, fail: map[int]bool{0: true, 1: true, 2: true}}
	e.now = e.now.Add(time.Hour)
	res, err := e.gather(hostfuncs.Manual, down, nil)
	require.NoError(t, err)
	require.True(t, res.Failed())
	assert.Empty(t, res.Collectors, "nothing new is collected")
	require.Len(t, res.Tarballs, 1)
	assert.Equal(t, gather.FatePending, res.Tarballs[0].Fate)
	assert.Equal(t, 1, down.n, "one attempt, then the gather stops")

	res, err = e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	rows := shippedRows(t, ship.dir)
	assert.Len(t, rows, int(e.now.Sub(start)/time.Minute))
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}

// TestPendingPathOutsideRefused: a pending record whose path leads out of OutDir/pending (an
// edited state file) is neither sent nor removed; the record is dropped and its window collected
// again.
func TestPendingPathOutsideRefused(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	e := eventsRegistry(t, "")
	ship := &dirShipper{dir: t.TempDir(), fail: map[int]bool{1: true}}
	_, err := e.gather(hostfuncs.Manual, ship, func(o *gather.Options) { o.Since = start })
	require.NoError(t, err)
	st, err := e.store.Load(context.Background())
	require.NoError(t, err)
	require.Len(t, st.Pending, 1)
	secret := filepath.Join(t.TempDir(), "secret.tar.gz")
	data, err := os.ReadFile(st.Pending[0].Path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(secret, data, 0o600)) // same bytes, so the digest matches
	st.Pending[0].Path = secret
	require.NoError(t, e.store.Save(context.Background(), st))

	ship.fail = nil
	res, err := e.gather(hostfuncs.Manual, ship, nil)
	require.NoError(t, err)
	assert.Equal(t, gather.FateFailed, res.Tarballs[0].Fate)
	assert.Contains(t, res.Tarballs[0].Error, "the file is left alone")
	assert.FileExists(t, secret)
	rows := shippedRows(t, ship.dir)
	assert.Len(t, rows, int(e.now.Sub(start)/time.Minute))
	for id, n := range rows {
		assert.Equal(t, 1, n, "row %s shipped %d times", id, n)
	}
}
