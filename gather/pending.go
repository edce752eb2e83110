package gather

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/shipping"
	"github.com/wasmcollector/wasmcollector/state"
)

// ErrStateNotSaved is returned, wrapped with the store's error, when the bookkeeping could not be
// written: the gather stopped shipping at once, and every tarball not yet acknowledged stays in
// OutDir/pending. The CLI exits 3. Use errors.Is.
var ErrStateNotSaved = errors.New("gather: the bookkeeping could not be saved, so shipping stopped")

// PendingDir is the folder of OutDir where tarballs wait, recorded in the bookkeeping, until the
// ingress acknowledges them. Unlike the staging directory it is never cleaned of recorded files.
const PendingDir = "pending"

// saveTimeout bounds one save of the bookkeeping. A save runs even when the gather's context
// was cancelled (an interrupt right after an accepted upload must still record it).
const saveTimeout = 30 * time.Second

// partRef is what a packaging.Collection's Ref holds: the slice and which of its parts it is.
type partRef struct {
	s    *sliceRun
	part int // 1-based
}

// save writes st, bounded by saveTimeout and not by ctx: what was shipped must be recorded even
// when the gather is being interrupted.
func (g *gatherer) save(ctx context.Context, st state.State) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := g.opts.Store.Save(sctx, st); err != nil {
		g.saveErr = fmt.Errorf("%w (unacknowledged tarballs stay in %s): %w", ErrStateNotSaved,
			filepath.Join(g.opts.OutDir, PendingDir), err)
		return g.saveErr
	}
	return nil
}

// recordPending moves t into OutDir/pending, flushed to disk, and returns its pending record: name,
// path, sha256, and the slices (parts) whose data it holds.
func (g *gatherer) recordPending(t *packaging.Tarball) (state.Pending, error) {
	dir := filepath.Join(g.opts.OutDir, PendingDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return state.Pending{}, err
	}
	sum, err := fileSHA256(t.Path)
	if err != nil {
		return state.Pending{}, err
	}
	dst := filepath.Join(dir, t.Name)
	// Link, then remove: unlike rename, link never replaces a file already there.
	if err := os.Link(t.Path, dst); err != nil {
		return state.Pending{}, fmt.Errorf("move %s to %s: %w", t.Name, dir, err)
	}
	if err := os.Remove(t.Path); err != nil {
		return state.Pending{}, err
	}
	if err := syncDir(dir); err != nil {
		return state.Pending{}, err
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return state.Pending{}, err
	}
	t.Path, t.SHA256 = abs, sum
	p := state.Pending{Name: t.Name, Path: abs, SHA256: sum, Size: t.Size}
	for _, c := range t.Collections {
		ref, ok := c.Ref.(*partRef)
		if !ok || c.Failed || c.Path == "" {
			continue // a failed collection advances nothing: its window is collected again
		}
		p.Slices = append(p.Slices, state.PendingSlice{Key: c.Key, Since: c.Since, Until: c.Until, Part: ref.part, Parts: ref.s.parts})
	}
	return p, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir flushes dir's entries, so a moved file is still there after a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory (EINVAL); there is nothing more to do on them.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// rejected reports whether the ingress refused the tarball's content, so that sending the same
// bytes again cannot succeed: 400, 413, 415 and 422. Anything else (no answer, 5xx, 429, but also
// 401 or 403, which a fixed configuration cures) leaves the tarball pending.
func rejected(err error) bool {
	var ue *shipping.UploadError
	if !errors.As(err, &ue) || ue.Err != nil {
		return false
	}
	switch ue.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// inPendingDir reports whether path is a file directly in OutDir/pending: a re-send reads only
// there and a dropped record's file is removed only from there, whatever the bookkeeping says.
func (g *gatherer) inPendingDir(path string) bool {
	dir, err := filepath.Abs(filepath.Join(g.opts.OutDir, PendingDir))
	return err == nil && filepath.Dir(filepath.Clean(path)) == dir
}

// reserved reports whether a new tarball must not take name: a pending record or a file in
// OutDir/pending has it.
func (g *gatherer) reserved(name string) bool {
	if g.pendingIndex(name) >= 0 {
		return true
	}
	_, err := os.Lstat(filepath.Join(g.opts.OutDir, PendingDir, name))
	return err == nil
}

// pendingIndex returns the index of the record named name in g.pending, or -1.
func (g *gatherer) pendingIndex(name string) int {
	return slices.IndexFunc(g.pending, func(p state.Pending) bool { return p.Name == name })
}

// resend re-sends the pending tarballs of earlier runs, byte for byte under the same name, before
// anything is collected. It returns false when one of them could not be delivered: the gather
// then collects nothing new (the ingress is not taking data; collecting more would only pile up
// pending tarballs). A tarball whose file is gone or changed is dropped from the record, so that
// its window is collected again.
func (g *gatherer) resend(ctx context.Context) (bool, error) {
	g.removeOrphans()
	ok := true
	for _, p := range slices.Clone(g.pending) {
		if p.Shipped {
			continue
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		tr := &TarballResult{Name: p.Name, Path: p.Path, Size: p.Size, Fate: FatePending, Resent: true}
		g.result.Tarballs = append(g.result.Tarballs, tr)
		if !ok { // the ingress is not answering: the rest waits for the next run
			tr.Error = "not sent: an earlier pending tarball was not acknowledged"
			continue
		}
		inside := g.inPendingDir(p.Path)
		var sum string
		var err error
		if !inside {
			err = fmt.Errorf("not in %s (the bookkeeping was edited?); the file is left alone", filepath.Join(g.opts.OutDir, PendingDir))
		} else if sum, err = fileSHA256(p.Path); err == nil && sum != p.SHA256 {
			err = fmt.Errorf("sha256 %s, recorded %s", sum, p.SHA256)
		}
		if err != nil {
			tr.Fate, tr.Error, tr.Path = FateFailed, fmt.Sprintf("pending tarball %s cannot be re-sent: %v", p.Path, err), ""
			g.log.Error("a pending tarball cannot be re-sent; its window will be collected again", "tarball", p.Name, "error", err)
			if inside {
				os.Remove(p.Path)
			}
			g.pending = slices.Delete(g.pending, g.pendingIndex(p.Name), g.pendingIndex(p.Name)+1)
			if err := g.save(ctx, g.bookkeeping(false)); err != nil {
				return false, err
			}
			continue
		}
		t := &packaging.Tarball{Path: p.Path, Name: p.Name, Size: p.Size, SHA256: p.SHA256}
		if _, err := g.ship(ctx, t, tr); err != nil {
			return false, err
		}
		// A rejected tarball is dropped (its window is collected again); one not answered
		// stops the gather from collecting anything new.
		ok = tr.Fate != FatePending
	}
	g.base = g.bookkeeping(false)
	return ok, nil
}

// ship sends one recorded tarball and records what came of it: acknowledged (the record is
// marked shipped and the file removed), rejected for its content (the record is dropped and the
// file moved to failed/: its window is collected again), or not answered (it stays pending). It
// returns whether the tarball was acknowledged, and an error only when the bookkeeping could not
// be saved.
func (g *gatherer) ship(ctx context.Context, t *packaging.Tarball, tr *TarballResult) (bool, error) {
	err := g.opts.Shipper.Ship(ctx, t)
	i := g.pendingIndex(t.Name)
	switch {
	case err == nil:
		tr.Fate, tr.Error = FateShipped, ""
		if i >= 0 {
			g.pending[i].Shipped = true
		}
		for _, c := range t.Collections {
			if ref, ok := c.Ref.(*partRef); ok {
				ref.s.shipped++
			}
		}
		if err := g.save(ctx, g.bookkeeping(false)); err != nil {
			return true, err
		}
		if err := os.Remove(t.Path); err != nil {
			g.log.Warn("remove shipped tarball", "tarball", t.Path, "error", err)
		} else {
			tr.Path = ""
		}
		return true, nil
	case rejected(err):
		tr.Fate, tr.Error = FateFailed, err.Error()
		tr.Path = g.keepFailed(t)
		if i >= 0 {
			g.pending = slices.Delete(g.pending, i, i+1)
		}
		g.stopShipped(t)
		g.log.Error("the ingress rejected the tarball; its window will be collected again", "tarball", t.Name, "error", err)
		return false, g.save(ctx, g.bookkeeping(false))
	default:
		tr.Fate, tr.Error, tr.Path = FatePending, err.Error(), t.Path
		g.stopShipped(t)
		g.log.Error("upload failed; the tarball stays pending and the next run re-sends it", "tarball", t.Name, "error", err)
		return false, nil
	}
}

// stopShipped stops the collectors whose data is in t (see collectorRun.stopped).
func (g *gatherer) stopShipped(t *packaging.Tarball) {
	for _, c := range t.Collections {
		if ref, ok := c.Ref.(*partRef); ok {
			g.stop(ref.s.run)
		}
	}
}

// removeOrphans removes files in OutDir/pending that the bookkeeping does not list: tarballs
// moved there by a run whose record could not be saved. Their windows did not advance, so they
// are collected again.
func (g *gatherer) removeOrphans() {
	dir := filepath.Join(g.opts.OutDir, PendingDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if slices.ContainsFunc(g.pending, func(p state.Pending) bool { return p.Path == path || p.Name == e.Name() }) {
			continue
		}
		g.log.Warn("removing a tarball the bookkeeping does not list; its window is collected again", "path", path)
		os.Remove(path)
	}
}

// pendingGroup is one slice of a key across the pending records: which parts are recorded and
// which of them were acknowledged.
type pendingGroup struct {
	since, until    time.Time
	parts           int
	recorded, acked map[int]bool
}

// pendingGroups returns key's slices in the pending records, in time order.
func pendingGroups(pending []state.Pending, key string) []*pendingGroup {
	var out []*pendingGroup
	for _, p := range pending {
		for _, s := range p.Slices {
			if s.Key != key {
				continue
			}
			i := slices.IndexFunc(out, func(g *pendingGroup) bool { return g.since.Equal(s.Since) && g.until.Equal(s.Until) })
			if i < 0 {
				out = append(out, &pendingGroup{since: s.Since, until: s.Until, parts: s.Parts, recorded: map[int]bool{}, acked: map[int]bool{}})
				i = len(out) - 1
			}
			out[i].recorded[s.Part] = true
			if p.Shipped {
				out[i].acked[s.Part] = true
			}
		}
	}
	slices.SortFunc(out, func(a, b *pendingGroup) int { return cmp.Or(a.since.Compare(b.since), a.until.Compare(b.until)) })
	return out
}

// covered returns the end of key's slices held by pending records, all parts recorded: the
// next collection of key starts there, so a window is never collected twice. Zero when none.
func covered(pending []state.Pending, key string) time.Time {
	var end time.Time
	for _, g := range pendingGroups(pending, key) {
		if len(g.recorded) < g.parts {
			break // part of it was never recorded: that slice is collected again
		}
		if g.until.After(end) {
			end = g.until
		}
	}
	return end
}

// absorb advances st's entries over the pending slices the ingress acknowledged, in time order
// per key up to the first one not acknowledged, and then drops the records wholly behind their
// keys' entries.
func absorb(st *state.State) {
	keys := map[string]bool{}
	for _, p := range st.Pending {
		for _, s := range p.Slices {
			keys[s.Key] = true
		}
	}
	for key := range keys {
		for _, g := range pendingGroups(st.Pending, key) {
			if len(g.acked) < g.parts {
				break
			}
			if g.until.After(st.Entries[key]) {
				st.Entries[key] = g.until
			}
		}
	}
	st.Pending = slices.DeleteFunc(st.Pending, func(p state.Pending) bool {
		if !p.Shipped {
			return false
		}
		for _, s := range p.Slices {
			if s.Until.After(st.Entries[s.Key]) {
				return false
			}
		}
		return true
	})
}

// unacknowledgedFrom returns the start of key's earliest slice in a pending record the ingress
// has not acknowledged; the key must not advance past it. Zero when there is none.
func unacknowledgedFrom(pending []state.Pending, key string) time.Time {
	var from time.Time
	for _, p := range pending {
		if p.Shipped {
			continue
		}
		for _, s := range p.Slices {
			if s.Key == key && (from.IsZero() || s.Since.Before(from)) {
				from = s.Since
			}
		}
	}
	return from
}
