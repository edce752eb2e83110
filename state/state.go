package state

import (
	"context"
	"errors"
	"maps"
	"time"
)

// State is the bookkeeping a gather reads before it starts and writes when it ends.
//
// A State is a plain value; [State.Clone] copies it deeply. It is not safe for concurrent
// modification.
type State struct {
	// LastGather is when the last manual or scheduled gather ran; the zero time means never.
	LastGather time.Time
	// Entries maps a collector key to the end of the last window shipped for it, and
	// "<key>_full" to when the last full sync of that key finished. [Store.Load] never returns
	// it nil.
	Entries map[string]time.Time
}

// Clone returns a deep copy of s; its Entries is never nil.
func (s State) Clone() State {
	c := State{LastGather: s.LastGather, Entries: make(map[string]time.Time, len(s.Entries))}
	maps.Copy(c.Entries, s.Entries)
	return c
}

// Reset forgets key: it removes the entries key and key+"_full", so that the next gather
// collects that key from the start of its window. Key "" forgets everything: every entry and
// the last gather. It is what `wasmcollector state reset [KEY]` does.
func (s *State) Reset(key string) {
	if key == "" {
		s.LastGather = time.Time{}
		s.Entries = map[string]time.Time{}
		return
	}
	delete(s.Entries, key)
	delete(s.Entries, key+FullSuffix)
}

// FullSuffix is appended to a collector key to name the entry recording the key's last full
// sync.
const FullSuffix = "_full"

// Store persists a [State].
//
// It exists so that a product can keep the bookkeeping where it keeps its own data; [FileStore]
// is the default. An implementation needs to support one gather at a time only: gathers are
// serialised by a [Locker] before they touch the Store.
type Store interface {
	// Load returns the saved state, or an empty State (non-nil Entries) when nothing was saved
	// yet.
	Load(ctx context.Context) (State, error)
	// Save replaces the saved state with s. It must be atomic: after a failure or a crash, Load
	// returns either the old state or s.
	Save(ctx context.Context, s State) error
}

// Locker keeps two gathers from overlapping; upstream uses a Postgres advisory lock for the same
// purpose (upstream-behaviour.md 3.2).
type Locker interface {
	// TryLock takes the lock without waiting; it returns an error matching [ErrLocked] when
	// another holder has it. On success the caller must call unlock once done; unlock may be
	// called more than once.
	TryLock(ctx context.Context) (unlock func() error, err error)
}

// ErrLocked is returned, wrapped, by [Locker.TryLock] when another gather holds the lock.
// Callers test for it with errors.Is.
var ErrLocked = errors.New("state: another gather holds the lock")
