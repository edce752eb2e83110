package state

import (
	"context"
	"errors"
	"maps"
	"slices"
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
	// Pending lists the tarballs recorded before they were sent and not yet absorbed into
	// Entries, in the order they were recorded. See [Pending].
	Pending []Pending
}

// Pending is a tarball recorded in the bookkeeping before it is sent (design.md "Nothing is
// lost, nothing is sent twice"). Until the ingress acknowledges it, every gather re-sends the
// file at Path byte for byte under Name, and never collects its slices again. Once acknowledged
// (Shipped) it stays listed until Entries has advanced past all its slices: it may hold a later
// slice of a key whose earlier slice is still pending.
type Pending struct {
	// Name is the tarball's name, as uploaded.
	Name string
	// Path is where the file is kept until it is acknowledged, on durable storage.
	Path string
	// SHA256 is the hex SHA-256 of the file: its identifier towards the ingress, and the check
	// that the file re-sent is the file recorded.
	SHA256 string
	// Size is the file's size in bytes.
	Size int64
	// Shipped reports that the ingress acknowledged the tarball.
	Shipped bool
	// Slices lists the collector slices whose data the tarball holds: the keys it advances.
	Slices []PendingSlice
}

// PendingSlice is one collector slice's data, or one part of it, in a [Pending] tarball.
type PendingSlice struct {
	// Key is the collector key; Since and Until its slice, (Since, Until].
	Key          string
	Since, Until time.Time
	// Part is this part's number, 1 to Parts, when the slice's data was split over several
	// tarballs; a slice advances its key only once all its parts are shipped.
	Part, Parts int
}

// Clone returns a deep copy of s; its Entries is never nil.
func (s State) Clone() State {
	c := State{LastGather: s.LastGather, Entries: make(map[string]time.Time, len(s.Entries))}
	maps.Copy(c.Entries, s.Entries)
	for _, p := range s.Pending {
		p.Slices = slices.Clone(p.Slices)
		c.Pending = append(c.Pending, p)
	}
	return c
}

// Reset forgets key: it removes the entries key and key+"_full", so that the next gather
// collects that key from the start of its window. Key "" forgets everything: every entry and
// the last gather. Pending tarballs are kept either way: they hold data collected and not yet
// acknowledged, which would otherwise be lost. It is what `wasmcollector state reset [KEY]` does.
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
