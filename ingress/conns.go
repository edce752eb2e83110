package ingress

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimiter caps the connections of a listener: see [HTTPLimits.MaxConns]. The HTTP server
// reports each connection's state to setState; a connection that is new (its first request
// header not yet read) or idle (between requests) can be evicted to make room, a connection in a
// request cannot.
type connLimiter struct {
	max int

	mu     sync.Mutex
	cond   *sync.Cond // signalled when a connection is released
	conns  map[*limitedConn]struct{}
	peak   int  // most connections held at once, for tests
	closed bool // the listener is closed: Accept stops waiting for room
}

func newConnLimiter(maxConns int) *connLimiter {
	l := &connLimiter{max: maxConns, conns: map[*limitedConn]struct{}{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// limitedListener is a listener whose Accept keeps within its limiter's cap.
type limitedListener struct {
	net.Listener
	l *connLimiter
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

// Accept accepts a connection, then makes room for it: by closing the connection that has waited
// longest without a request in progress, or, when every one is in a request, by waiting for one
// to end. Waiting here leaves later clients in the kernel's accept queue.
func (ll *limitedListener) Accept() (net.Conn, error) {
	c, err := ll.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := ll.l
	lc := &limitedConn{Conn: c, l: l, state: http.StateNew, since: time.Now()}
	l.mu.Lock()
	for len(l.conns) >= l.max {
		if l.closed {
			l.mu.Unlock()
			_ = c.Close()
			return nil, net.ErrClosed
		}
		if victim := l.oldestWaiting(); victim != nil {
			l.releaseLocked(victim)
			// Closed outside the lock: the close ends the server's read, which reports
			// StateClosed to setState, which takes the lock.
			l.mu.Unlock()
			_ = victim.Conn.Close()
			l.mu.Lock()
			continue
		}
		l.cond.Wait()
	}
	l.conns[lc] = struct{}{}
	l.peak = max(l.peak, len(l.conns))
	l.mu.Unlock()
	return lc, nil
}

// Close closes the listener and ends an Accept waiting for room.
func (ll *limitedListener) Close() error {
	ll.l.mu.Lock()
	ll.l.closed = true
	ll.l.cond.Broadcast()
	ll.l.mu.Unlock()
	return ll.Listener.Close()
}

// oldestWaiting returns the connection without a request in progress that has been so the
// longest, or nil. Called with l.mu held.
func (l *connLimiter) oldestWaiting() *limitedConn {
	var oldest *limitedConn
	for c := range l.conns {
		if (c.state == http.StateNew || c.state == http.StateIdle) && (oldest == nil || c.since.Before(oldest.since)) {
			oldest = c
		}
	}
	return oldest
}

// releaseLocked forgets c, once, and wakes an Accept waiting for room. Called with l.mu held.
func (l *connLimiter) releaseLocked(c *limitedConn) {
	if _, ok := l.conns[c]; ok {
		delete(l.conns, c)
		l.cond.Signal()
	}
}

// setState is the HTTP server's ConnState hook. Under TLS the server sees a *tls.Conn over the
// limitedConn.
func (l *connLimiter) setState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		l.releaseLocked(lc)
	default:
		lc.state, lc.since = state, time.Now()
	}
}

// stats returns the connections held now and the most held at once.
func (l *connLimiter) stats() (open, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns), l.peak
}

// limitedConn is a connection counted by a connLimiter.
type limitedConn struct {
	net.Conn
	l *connLimiter
	// state and since are guarded by l.mu: the connection's last state and when it entered it.
	state http.ConnState
	since time.Time
}

// Close releases the connection's place and closes it.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
