package runtime

import (
	"crypto/rand"
	"time"
	_ "unsafe" // go:linkname: the monotonic clock wazero's WithSysNanotime reads
)

// Sys supplies the clocks and random bytes of one invocation's guest in place of the host's own
// ([Call.Sys]): a recording passes the host's on and keeps them, a replay serves recorded ones.
// The runtime calls it on the goroutine that runs the guest, one call at a time. init is true
// while the instance initialises (its start function and _initialize), false once the export
// runs: what initialisation read belongs to the module's starting state, which a restorable
// module shares between invocations through its snapshot (see [Sys.Restored]).
type Sys interface {
	// Walltime returns the wall clock in nanoseconds since the Unix epoch (WASI clock_time_get,
	// realtime).
	Walltime(init bool) int64
	// Nanotime returns the monotonic clock in nanoseconds from an arbitrary start (WASI
	// clock_time_get, monotonic). It must never decrease.
	Nanotime(init bool) int64
	// Read fills p with random bytes (WASI random_get).
	Read(init bool, p []byte) error
	// Restored says the instance starts from the snapshot of an initialisation that read init
	// (see [SysLog]): no reading with init true follows. Called before the export runs.
	Restored(init *SysLog)
}

// Sleeper is a [Sys] that also takes the guest's sleeps (WASI poll_oneoff's clock timeouts),
// which otherwise wait on the host's clock, at most 50 ms at a time (the guest sleeps again if
// its clock says it must). A replay implements it: its clocks come from a record, so a sleep
// need not wait, only move the clocks on where the record has run out. The invocation's timeout
// still runs on the host's clock.
type Sleeper interface {
	// Nanosleep is a sleep of ns nanoseconds.
	Nanosleep(ns int64)
}

// SysLog is what one initialisation of a module read from its clocks and randomness, in order:
// a restorable module keeps it with its snapshot, since every instance restored from it starts
// from the state those readings produced.
type SysLog struct {
	// Wall and Mono are the wall-clock (ns since the epoch) and monotonic (ns) readings.
	Wall, Mono []int64
	// Rand are the random bytes, concatenated.
	Rand []byte
	// Truncated says initialisation read more than [MaxInitSysLog] bytes' worth: the rest is
	// not kept.
	Truncated bool
}

// MaxInitSysLog bounds a [SysLog] (8 bytes a clock reading, 1 a random byte): a guest that spins
// on its clock while it initialises cannot make the host keep more.
const MaxInitSysLog = 64 << 10

func (l *SysLog) room(n int) bool {
	if l.Truncated {
		return false
	}
	if 8*(len(l.Wall)+len(l.Mono))+len(l.Rand)+n > MaxInitSysLog {
		l.Truncated = true
		return false
	}
	return true
}

//go:linkname hostNanotime runtime.nanotime
func hostNanotime() int64

// hostSys is the host's clocks and randomness: what WithSysWalltime, WithSysNanotime and
// crypto/rand give a guest, the same values the unrecorded path hands it.
type hostSys struct{}

// HostSys returns the clocks and randomness the runtime gives a guest when a [Call] has no Sys
// (the wall clock, the Go runtime's monotonic clock, crypto/rand): a recording wraps it.
func HostSys() Sys { return hostSys{} }

func (hostSys) Walltime(bool) int64 { return time.Now().UnixNano() }

func (hostSys) Nanotime(bool) int64 { return hostNanotime() }

func (hostSys) Read(_ bool, p []byte) error {
	_, err := rand.Read(p)
	return err
}

func (hostSys) Restored(*SysLog) {}

// Clock resolutions, as WithSysWalltime and WithSysNanotime declare them (clock_res_get is a
// constant: nothing to record).
const (
	walltimeResolution = 1000 // 1 µs
	nanotimeResolution = 1
)

// instanceSys routes one instance's readings to its Sys, and keeps what its initialisation read
// when a snapshot is to be taken of it.
type instanceSys struct {
	src  Sys
	init bool
	tap  *SysLog // non-nil: initialisation's readings are kept here, for the snapshot
}

func (s *instanceSys) walltime() (sec int64, nsec int32) {
	ns := s.src.Walltime(s.init)
	if s.init && s.tap != nil && s.tap.room(8) {
		s.tap.Wall = append(s.tap.Wall, ns)
	}
	// Floor division keeps 0 <= nsec < 1e9 for a (replayed, hostile) time before the epoch;
	// wazero's WalltimeNanos gives the guest sec*1e9+nsec = ns back (as WASI's unsigned
	// timestamp, like any clock would).
	sec, rem := ns/1e9, ns%1e9
	if rem < 0 {
		sec, rem = sec-1, rem+1e9
	}
	return sec, int32(rem)
}

func (s *instanceSys) nanotime() int64 {
	ns := s.src.Nanotime(s.init)
	if s.init && s.tap != nil && s.tap.room(8) {
		s.tap.Mono = append(s.tap.Mono, ns)
	}
	return ns
}

// Read implements io.Reader for WithRandSource; wazero reads with io.ReadAtLeast.
func (s *instanceSys) Read(p []byte) (int, error) {
	if err := s.src.Read(s.init, p); err != nil {
		return 0, err
	}
	if s.init && s.tap != nil && s.tap.room(len(p)) {
		s.tap.Rand = append(s.tap.Rand, p...)
	}
	return len(p), nil
}
