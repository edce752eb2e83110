package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDir returns the directory the CLI keeps its state in when the registry sets no
// gather.state_dir: $XDG_STATE_HOME/wasmcollector, or ~/.local/state/wasmcollector when
// XDG_STATE_HOME is unset or not absolute (the XDG Base Directory specification says to ignore a
// relative value). It creates nothing.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "wasmcollector"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state: no default directory (XDG_STATE_HOME is not set): %w", err)
	}
	return filepath.Join(home, ".local", "state", "wasmcollector"), nil
}
