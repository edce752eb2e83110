// Package statecmd implements `wasmcollector state show` and `state reset`: the bookkeeping.
package statecmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
)

// NewCmdState returns the state command with its subcommands.
func NewCmdState(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state <command>",
		Short: "Show or reset the bookkeeping: last gather and each key's last shipped window",
		Long: `The bookkeeping says where each collector's next window starts: the end of the last window
whose data reached the ingress. It lives in [gather] state_dir (default
$XDG_STATE_HOME/wasmcollector or ~/.local/state/wasmcollector). Dry-runs never change it.`,
	}
	cmd.AddCommand(newCmdShow(f), newCmdReset(f))
	return cmd
}

// Doc is the document `state show -o json` prints.
type Doc struct {
	Dir        string               `json:"where"`
	LastGather time.Time            `json:"last_gather,omitzero"`
	Entries    map[string]time.Time `json:"entries"`
	Pending    []PendingDoc         `json:"pending"`
}

// PendingDoc is one pending tarball in Doc: recorded before it was sent, not yet absorbed.
type PendingDoc struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Shipped bool   `json:"shipped"`
}

func newCmdShow(f *cmdutil.Factory) *cobra.Command {
	var output cmdutil.OutputFormat
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the last gather and every key's entry",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			reg, err := f.Registry()
			if err != nil {
				return err
			}
			store, err := f.OpenState(context.Background(), reg)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Load(context.Background())
			if err != nil {
				return cmdutil.Failed(err)
			}
			pending := []PendingDoc{}
			for _, p := range st.Pending {
				pending = append(pending, PendingDoc{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Size: p.Size, Shipped: p.Shipped})
			}
			if output == cmdutil.OutputJSON {
				return cmdutil.WriteJSON(f.Stdout, Doc{Dir: store.Where(), LastGather: st.LastGather, Entries: st.Entries, Pending: pending})
			}
			fmt.Fprintf(f.Stdout, "state in %s\n", store.Where())
			if st.LastGather.IsZero() {
				fmt.Fprintln(f.Stdout, "last gather: never")
			} else {
				fmt.Fprintf(f.Stdout, "last gather: %s\n", st.LastGather.UTC().Format(time.RFC3339Nano))
			}
			keys := make([]string, 0, len(st.Entries))
			for k := range st.Entries {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, p := range pending {
				what := "pending: the next gather re-sends it"
				if p.Shipped {
					what = "shipped; waits for an earlier slice of its keys"
				}
				fmt.Fprintf(f.Stdout, "tarball %s (%s): %s\n", p.Name, p.Path, what)
			}
			if len(keys) == 0 {
				return nil
			}
			fmt.Fprintln(f.Stdout)
			tw := tabwriter.NewWriter(f.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSHIPPED UNTIL")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\n", k, st.Entries[k].UTC().Format(time.RFC3339Nano))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().VarP(&output, "output", "o", "output format: {text|json}")
	return cmd
}

func newCmdReset(f *cmdutil.Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset [<key>] [--yes]",
		Short: "Forget a key's entry (and its full-sync entry), or everything",
		Long: `Forget a key's entry and its <key>_full entry, so the next gather collects that key from the
last gather (or the whole max window); without a key, forget everything, including the last
gather. Pending tarballs are kept: they hold data collected and not yet acknowledged, and the
next gather re-sends them. It takes the gather lock, so it never races a running gather.

Forgetting everything asks first on a terminal; --yes answers for you, and is required when the
standard input is not a terminal (a script, cron): without it the command refuses (exit 2).`,
		Example: `  wasmcollector state reset job_events
  wasmcollector state reset
  wasmcollector state reset --yes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			ctx := context.Background()
			reg, err := f.Registry()
			if err != nil {
				return err
			}
			store, err := f.OpenState(ctx, reg)
			if err != nil {
				return err
			}
			defer store.Close()
			if len(args) == 0 && !yes {
				// Asked before taking the lock: no gather waits on a person.
				if err := confirm(f, store.Where()); err != nil {
					return err
				}
			}
			unlock, err := store.TryLock(ctx)
			if err != nil {
				return &cmdutil.ExitError{Code: cmdutil.ExitLockHeld, Err: err}
			}
			defer unlock()
			st, err := store.Load(ctx)
			if err != nil {
				return cmdutil.Failed(err)
			}
			key := ""
			if len(args) == 1 {
				key = args[0]
				if _, ok := st.Entries[key]; !ok {
					if _, full := st.Entries[key+"_full"]; !full {
						return cmdutil.BadInput("state has no entry for %q (state show lists them)", key)
					}
				}
			}
			st.Reset(key)
			if err := store.Save(ctx, st); err != nil {
				return cmdutil.Failed(err)
			}
			if key == "" {
				fmt.Fprintln(f.Stdout, "state reset: every entry and the last gather forgotten")
			} else {
				fmt.Fprintf(f.Stdout, "state reset: %s forgotten\n", key)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "forget everything without asking")
	return cmd
}

// confirm asks on the terminal whether to forget every entry in where. Without a terminal to ask
// on it refuses, naming --yes, as a command-line error (exit 2); an answer other than y or yes
// leaves everything as it was (exit 1).
func confirm(f *cmdutil.Factory, where string) error {
	if f.Stdin == nil || !cmdutil.IsTerminal(f.Stdin) {
		return cmdutil.UsageError(errors.New("state reset without a key forgets every entry and the last gather: " +
			"pass --yes to confirm (standard input is not a terminal, so it cannot ask)"))
	}
	fmt.Fprintf(f.Stderr, "Forget every entry and the last gather in %s? The next gather then collects the whole max window. [y/N] ", where)
	answer, err := bufio.NewReader(f.Stdin).ReadString('\n')
	if err != nil && answer == "" {
		fmt.Fprintln(f.Stderr)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return cmdutil.Failed(errors.New("state reset: not confirmed; nothing changed"))
}
