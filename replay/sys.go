package replay

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/wasmcollector/wasmcollector/runtime"
)

// The guest's clocks and randomness (WASI clock_time_get and random_get) are recorded as three
// streams per phase (initialisation, the call): wall-clock readings and monotonic readings, each
// as the signed varint deltas from the stream's previous reading (the first from 0), and the
// random bytes as they were. See doc.go, "Clocks and randomness".

// sysLine is a "sys" line: readings of one phase since the previous line of that phase, or, with
// Stopped, the point after which no more were recorded.
type sysLine struct {
	Init    bool    `json:"init,omitempty"`
	Wall    *string `json:"wall,omitempty"` // base64 of the varint deltas
	Mono    *string `json:"mono,omitempty"`
	Rand    *string `json:"rand,omitempty"` // base64 of the bytes
	Stopped string  `json:"stopped,omitempty"`
}

// SysRecord is the clock readings and random bytes a record holds; nil in a version 1 record.
type SysRecord struct {
	// Init is what the module's initialisation read (for a module restored from a snapshot, the
	// initialisation the snapshot was taken after); Call what the invocation itself read.
	Init, Call SysStream
}

// SysStream is one phase's readings, in the order the guest got them.
type SysStream struct {
	// Wall are the wall-clock readings (ns since the epoch), Mono the monotonic ones (ns).
	Wall, Mono []int64
	// Rand are the random bytes, concatenated.
	Rand []byte
	// Stopped says the recording kept no readings after these, and why (its bound).
	Stopped string
}

// maxSysBytes bounds the encoded readings of one record (a quarter of its cap at most): a guest
// reading its clock in a hot loop cannot make the record grow without limit or crowd out the
// data calls.
const maxSysBytes = 1 << 20

// sysChunk is how many encoded bytes wait before they are written as a line.
const sysChunk = 4 << 10

// sysRecorder is the runtime.Sys of a recorded invocation: it hands the guest the host's
// readings and records them.
type sysRecorder struct {
	w     *writer
	host  runtime.Sys
	mu    sync.Mutex
	bound int
	used  int
	stop  bool // the bound was reached, or the record stopped
	ph    [2]sysPending
}

// sysPending is one phase's readings not yet written, and the values the next deltas start from.
type sysPending struct {
	lastWall, lastMono int64
	wall, mono, rand   []byte
}

func phase(init bool) int {
	if init {
		return 1
	}
	return 0
}

func newSysRecorder(w *writer, maxBytes int64) *sysRecorder {
	return &sysRecorder{w: w, host: runtime.HostSys(), bound: int(min(maxSysBytes, maxBytes/4))}
}

// room reports whether n more encoded bytes may be recorded; at the bound it writes what is
// pending and the line saying readings stop here. s.mu is held.
func (s *sysRecorder) room(n int) bool {
	if s.stop {
		return false
	}
	if s.used+n > s.bound {
		s.emitLocked()
		s.w.write(kindSys, &sysLine{Stopped: fmt.Sprintf("the guest's clock and random readings reached the record's bound of %d bytes", s.bound)})
		s.stop = true
		return false
	}
	s.used += n
	return true
}

// appendDelta records clock reading v in buf as a varint delta from *last, when the bound has
// room; it counts the bytes the varint took, not its maximum. s.mu is held.
func (s *sysRecorder) appendDelta(buf *[]byte, last *int64, v int64) bool {
	if !s.room(binary.MaxVarintLen64) {
		return false
	}
	n := len(*buf)
	*buf = binary.AppendVarint(*buf, v-*last)
	s.used -= binary.MaxVarintLen64 - (len(*buf) - n)
	*last = v
	return true
}

func (s *sysRecorder) pending() int {
	n := 0
	for i := range s.ph {
		n += len(s.ph[i].wall) + len(s.ph[i].mono) + len(s.ph[i].rand)
	}
	return n
}

func (s *sysRecorder) added() {
	if s.pending() >= sysChunk {
		s.emitLocked()
	}
}

func (s *sysRecorder) Walltime(init bool) int64 {
	v := s.host.Walltime(init)
	s.mu.Lock()
	p := &s.ph[phase(init)]
	if s.appendDelta(&p.wall, &p.lastWall, v) {
		s.added()
	}
	s.mu.Unlock()
	return v
}

func (s *sysRecorder) Nanotime(init bool) int64 {
	v := s.host.Nanotime(init)
	s.mu.Lock()
	p := &s.ph[phase(init)]
	if s.appendDelta(&p.mono, &p.lastMono, v) {
		s.added()
	}
	s.mu.Unlock()
	return v
}

func (s *sysRecorder) Read(init bool, b []byte) error {
	if err := s.host.Read(init, b); err != nil {
		return err
	}
	s.mu.Lock()
	if s.room(len(b)) {
		p := &s.ph[phase(init)]
		p.rand = append(p.rand, b...)
		s.added()
	}
	s.mu.Unlock()
	return nil
}

// Restored records what the snapshot's initialisation read as this invocation's initialisation:
// a replay initialises with it, and so starts from the same state.
func (s *sysRecorder) Restored(init *runtime.SysLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.ph[1]
	for _, v := range init.Wall {
		if !s.appendDelta(&p.wall, &p.lastWall, v) {
			return
		}
	}
	for _, v := range init.Mono {
		if !s.appendDelta(&p.mono, &p.lastMono, v) {
			return
		}
	}
	if !s.room(len(init.Rand)) {
		return
	}
	p.rand = append(p.rand, init.Rand...)
	s.emitLocked()
	if init.Truncated {
		s.w.write(kindSys, &sysLine{Init: true, Stopped: fmt.Sprintf("the module's initialisation read more than the %d bytes' worth of readings its snapshot keeps", runtime.MaxInitSysLog)})
	}
	s.w.flush()
}

// emit writes the pending readings; the writer's periodic flush and every answer's flush call it
// first, so that what a killed worker leaves holds the readings made before.
func (s *sysRecorder) emit() {
	s.mu.Lock()
	s.emitLocked()
	s.mu.Unlock()
}

func (s *sysRecorder) emitLocked() {
	for i := len(s.ph) - 1; i >= 0; i-- { // initialisation first: it came first
		p := &s.ph[i]
		if len(p.wall)+len(p.mono)+len(p.rand) == 0 {
			continue
		}
		l := &sysLine{Init: i == 1, Wall: b64(p.wall), Mono: b64(p.mono), Rand: b64(p.rand)}
		if !s.w.write(kindSys, l) {
			s.stop = true // the record stopped at its cap: nothing more goes in
		}
		p.wall, p.mono, p.rand = p.wall[:0], p.mono[:0], p.rand[:0]
	}
}

func b64(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

// decodeSysLine adds a sys line's readings to st; last are the stream's previous values.
func decodeSysLine(l *sysLine, st *SysStream) error {
	if st.Stopped != "" && (l.Wall != nil || l.Mono != nil || l.Rand != nil) {
		return errors.New("readings after the line that stopped them")
	}
	var err error
	if st.Wall, err = decodeDeltas(l.Wall, st.Wall); err != nil {
		return fmt.Errorf("wall: %w", err)
	}
	if st.Mono, err = decodeDeltas(l.Mono, st.Mono); err != nil {
		return fmt.Errorf("mono: %w", err)
	}
	if l.Rand != nil {
		b, err := base64.StdEncoding.DecodeString(*l.Rand)
		if err != nil {
			return fmt.Errorf("rand: %w", err)
		}
		st.Rand = append(st.Rand, b...)
	}
	if l.Stopped != "" {
		st.Stopped = l.Stopped
	}
	return nil
}

func decodeDeltas(s *string, vals []int64) ([]int64, error) {
	if s == nil {
		return vals, nil
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		return vals, err
	}
	var last int64
	if len(vals) > 0 {
		last = vals[len(vals)-1]
	}
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return vals, errors.New("bad varint")
		}
		b = b[n:]
		last += d
		vals = append(vals, last)
	}
	return vals, nil
}

// SysCounts counts clock readings and random bytes.
type SysCounts struct {
	Wall      int64 `json:"wall,omitempty"`
	Mono      int64 `json:"mono,omitempty"`
	RandBytes int64 `json:"rand_bytes,omitempty"`
}

func (c SysCounts) zero() bool { return c == SysCounts{} }

// String says the counts in words.
func (c SysCounts) String() string {
	return fmt.Sprintf("%d wall-clock and %d monotonic readings, %d random bytes", c.Wall, c.Mono, c.RandBytes)
}

// SysOutcome says how a replayed guest's clocks and randomness were served.
type SysOutcome struct {
	// Recorded is false for a version 1 record, which holds none: the guest read the replaying
	// host's real clocks and randomness, as before records had them.
	Recorded bool `json:"recorded"`
	// Served counts what the guest got from the record.
	Served SysCounts `json:"served"`
	// BeyondRecord says the guest read more than the record holds (a changed module, or a
	// recording that stopped at its bound: Stopped); Beyond counts those readings. Clocks then
	// continue from the last recorded value with the replaying host's elapsed time, random bytes
	// come from a source seeded from the record (the same in every replay).
	BeyondRecord bool      `json:"beyond_record"`
	Beyond       SysCounts `json:"beyond,omitzero"`
	// Unread counts recorded readings the guest did not ask for.
	Unread SysCounts `json:"unread,omitzero"`
	// Stopped is why the recording kept no more readings, "" if it kept them all.
	Stopped string `json:"stopped,omitempty"`
}

// sysPlayer is the runtime.Sys of a replay: it serves the recorded readings in order, and goes
// on sensibly past them.
type sysPlayer struct {
	rec  *SysRecord
	host runtime.Sys
	mu   sync.Mutex
	pos  [2]struct{ wall, mono, rand int }
	// The last values the guest got, in any phase: clocks continue from them.
	lastWall, lastMono int64
	// While past the record: the clock's value and the host's monotonic time when it ran out.
	wallBase, wallHost0 int64
	monoBase, monoHost0 int64
	wallOut, monoOut    bool
	rng                 *rand.ChaCha8
	served, beyond      SysCounts
	// slept is how long the guest slept: a replay does not wait, and its clocks past the
	// record count the sleeps as elapsed.
	slept int64
}

// Nanosleep does not wait: within the record the guest reads the recorded clocks, which already
// moved on by what the recorded sleep took; past it, the clocks move on by ns. So a replay of a
// guest that sleeps serves the same readings without the wait (runtime.Sleeper).
func (p *sysPlayer) Nanosleep(ns int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slept += max(ns, 0)
}

// now is the host's monotonic time, with the guest's sleeps counted as elapsed.
func (p *sysPlayer) now(init bool) int64 {
	return p.host.Nanotime(init) + p.slept
}

func newSysPlayer(rec *Record) *sysPlayer {
	// The seed is the record's own: its module, key, slice and random bytes. Two replays of one
	// record read the same bytes past it.
	h := sha256.New()
	fmt.Fprintf(h, "wasmcollector replay rand\x00%s\x00%s\x00%d\x00", rec.Header.Module.SHA256, rec.Header.Key, rec.Header.Since.UnixNano())
	h.Write(rec.Sys.Init.Rand)
	h.Write(rec.Sys.Call.Rand)
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	p := &sysPlayer{rec: rec.Sys, host: runtime.HostSys(), rng: rand.NewChaCha8(seed)}
	// With no wall-clock reading recorded, a guest that reads one past the record starts from
	// when the invocation was recorded.
	p.lastWall = rec.Header.Recorded.UnixNano()
	return p
}

func (p *sysPlayer) stream(init bool) *SysStream {
	if init {
		return &p.rec.Init
	}
	return &p.rec.Call
}

func (p *sysPlayer) Walltime(init bool) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, pos := p.stream(init), &p.pos[phase(init)]
	if pos.wall < len(st.Wall) {
		v := st.Wall[pos.wall]
		pos.wall++
		p.served.Wall++
		p.lastWall, p.wallOut = v, false
		return v
	}
	p.beyond.Wall++
	now := p.now(init)
	if !p.wallOut {
		p.wallOut, p.wallBase, p.wallHost0 = true, p.lastWall, now
	}
	p.lastWall = p.wallBase + max(0, now-p.wallHost0)
	return p.lastWall
}

func (p *sysPlayer) Nanotime(init bool) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, pos := p.stream(init), &p.pos[phase(init)]
	if pos.mono < len(st.Mono) {
		v := st.Mono[pos.mono]
		pos.mono++
		p.served.Mono++
		p.monoOut = false
		// The monotonic clock never goes back, whatever a (hostile) record says.
		p.lastMono = max(p.lastMono, v)
		return p.lastMono
	}
	p.beyond.Mono++
	now := p.now(init)
	if !p.monoOut {
		p.monoOut, p.monoBase, p.monoHost0 = true, p.lastMono, now
	}
	p.lastMono = max(p.lastMono, p.monoBase+max(0, now-p.monoHost0))
	return p.lastMono
}

func (p *sysPlayer) Read(init bool, b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, pos := p.stream(init), &p.pos[phase(init)]
	n := copy(b, st.Rand[pos.rand:])
	pos.rand += n
	p.served.RandBytes += int64(n)
	if n < len(b) {
		p.rng.Read(b[n:])
		p.beyond.RandBytes += int64(len(b) - n)
	}
	return nil
}

// Restored: the replayer keys its loaded modules by the record's initialisation readings, so a
// snapshot restored here was initialised with them.
func (p *sysPlayer) Restored(*runtime.SysLog) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The record's initialisation readings went into the snapshot: count them as served.
	pos := &p.pos[1]
	pos.wall, pos.mono, pos.rand = len(p.rec.Init.Wall), len(p.rec.Init.Mono), len(p.rec.Init.Rand)
	p.served.Wall += int64(pos.wall)
	p.served.Mono += int64(pos.mono)
	p.served.RandBytes += int64(pos.rand)
	if n := len(p.rec.Init.Mono); n > 0 {
		p.lastMono = max(p.lastMono, p.rec.Init.Mono[n-1])
	}
	if n := len(p.rec.Init.Wall); n > 0 {
		p.lastWall = p.rec.Init.Wall[n-1]
	}
}

// outcome is what the player served.
func (p *sysPlayer) outcome() SysOutcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := SysOutcome{Recorded: true, Served: p.served, Beyond: p.beyond, BeyondRecord: !p.beyond.zero()}
	for i, st := range []*SysStream{&p.rec.Call, &p.rec.Init} {
		pos := p.pos[i]
		o.Unread.Wall += int64(len(st.Wall) - pos.wall)
		o.Unread.Mono += int64(len(st.Mono) - pos.mono)
		o.Unread.RandBytes += int64(len(st.Rand) - pos.rand)
		if st.Stopped != "" && o.Stopped == "" {
			o.Stopped = st.Stopped
		}
	}
	return o
}

// initKey identifies the initialisation readings of a record, for the replayer's module cache.
func (r *SysRecord) initKey() string {
	if r == nil {
		return "host"
	}
	h := sha256.New()
	for _, vals := range [][]int64{r.Init.Wall, r.Init.Mono} {
		h.Write(binary.AppendUvarint(nil, uint64(len(vals))))
		for _, v := range vals {
			h.Write(binary.AppendVarint(nil, v))
		}
	}
	h.Write(r.Init.Rand)
	return fmt.Sprintf("%x", h.Sum(nil))
}
