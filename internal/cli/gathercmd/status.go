package gathercmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/state"
)

// Status is the document [gather] status_file holds: what the last `gather` run did.
type Status struct {
	// Time is when the run ended.
	Time time.Time `json:"time"`
	// Result is "ok", "failed" (some collectors or uploads failed: Gather says which), "skipped"
	// (nothing to do: another gather holds the lock, exit 4; the minimum interval has not
	// passed, or nothing is new since the last gather, exit 0: Reason says which), or "error"
	// (the gather did not run or stopped: Error says why).
	Result string `json:"result"`
	// ExitCode is the command's exit code (see `wasmcollector --help`).
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Tarballs counts the run's tarballs by fate: kept, shipped, failed, pending.
	Tarballs map[string]int `json:"tarballs"`
	// Gather is what `gather -o json` prints; absent when the gather did not run.
	Gather *gather.Result `json:"gather,omitempty"`
}

// writeStatus replaces the status file with what a run did: written beside it and renamed, so a
// reader sees the previous document or this one, never half of one.
func writeStatus(path string, now time.Time, res *gather.Result, runErr error) error {
	st := Status{Time: now, Result: "ok", ExitCode: cmdutil.Code(runErr), Tarballs: map[string]int{}, Gather: res}
	var silent *cmdutil.SilentError
	var skip *skipped
	switch {
	case errors.As(runErr, &skip):
		st.Result, st.Reason = "skipped", skip.reason.Error()
	case errors.Is(runErr, state.ErrLocked): // by hand: an error on the terminal, nothing ran
		st.Result, st.Reason = "skipped", runErr.Error()
	case runErr == nil:
	case errors.As(runErr, &silent) && res != nil:
		st.Result = "failed"
	default:
		st.Result, st.Error = "error", runErr.Error()
	}
	if res != nil {
		for _, t := range res.Tarballs {
			st.Tarballs[t.Fate]++
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
