package wasmcollector

import (
	"context"
	"fmt"

	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/state"
)

// Bookkeeping is where a gather's state and lock live: a [state.FileStore] or a
// [state.PGStore].
type Bookkeeping interface {
	state.Store
	state.Locker
	// Where says where, for people: a directory or "postgres (cluster lock …)".
	Where() string
	// Close releases the store's connections.
	Close() error
}

// State opens the registry's bookkeeping: [state] driver = "postgres", or the file store in
// [gather] state_dir (default the user's state directory). The caller closes it.
func (h *Host) State(ctx context.Context) (Bookkeeping, error) {
	if st := h.reg.State; st.Driver == "postgres" {
		dsn, password, err := executor.ResolveDSN(st.DSN, st.DSNEnv, st.DSNFile, st.PasswordEnv, st.PasswordFile)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("[state] %w", err)}
		}
		s, err := state.OpenPostgres(ctx, dsn, password, st.LockName)
		if err != nil {
			return nil, err
		}
		return pgBookkeeping{s, st.LockName}, nil
	}
	dir := h.reg.Gather.StateDir
	if dir == "" {
		var err error
		if dir, err = state.DefaultDir(); err != nil {
			return nil, &ConfigError{fmt.Errorf("state directory: %w (set [gather] state_dir)", err)}
		}
	}
	return fileBookkeeping{state.NewFileStore(dir)}, nil
}

type fileBookkeeping struct{ *state.FileStore }

func (b fileBookkeeping) Where() string { return b.Dir }
func (fileBookkeeping) Close() error    { return nil }

type pgBookkeeping struct {
	*state.PGStore
	lock string
}

func (b pgBookkeeping) Where() string { return fmt.Sprintf("postgres (cluster lock %q)", b.lock) }
