package serve

import (
	"bytes"
	"os"
	"sync"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// lockedBuffer is a log sink safe for the agent's goroutines and the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
