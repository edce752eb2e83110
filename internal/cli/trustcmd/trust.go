// Package trustcmd implements `wasmcollector trust accept`: the operator's deliberate
// acceptance of a signed module older than the newest one accepted (rollback protection, see
// registry.CheckDowngrades).
package trustcmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/registry"
)

// NewCmdTrust returns the trust command and its subcommand accept.
func NewCmdTrust(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Manage what signed modules are accepted (rollback protection)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdAccept(f))
	return cmd
}

func newCmdAccept(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "accept MODULE",
		Short: "Accept a signed module older than the newest one accepted for its name",
		Long: `gather and serve remember, per module, the signing time of the newest signature they have
accepted (signatures.json in [gather] state_dir), and refuse a module signed before it: an
older release the vendor signed too, put back by whoever can write the modules directory, is a
possible downgrade to a known-buggy version (problem code "downgrade").

accept MODULE (its name as validate and list show it, such as awx.wasm) makes the signature of
the module now on disk the newest accepted, so that it runs: the deliberate rollback. Its
signature must verify against [trust]. A running serve picks it up on its next reload (SIGHUP).`,
		Example: `  wasmcollector trust accept awx.wasm`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			reg, err := f.Registry()
			if err != nil {
				return err
			}
			before, accepted, err := registry.AcceptSigning(reg, args[0])
			if err != nil {
				return cmdutil.BadInput("trust accept: %w", err)
			}
			was := "none recorded"
			if !before.IsZero() {
				was = before.UTC().Format(time.RFC3339)
			}
			if accepted.IsZero() {
				fmt.Fprintf(f.Stdout, "%s: its signature carries no signing time; the record for it is removed (it was %s)\n", args[0], was)
				return nil
			}
			fmt.Fprintf(f.Stdout, "%s: accepted the signature made at %s (the newest accepted was %s)\n", args[0], accepted.UTC().Format(time.RFC3339), was)
			return nil
		},
	}
}
