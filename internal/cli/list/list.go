// Package list implements `wasmcollector list`: every registered collector, as a table or JSON.
package list

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Options are the flags of list.
type Options struct {
	Factory *cmdutil.Factory
	Output  cmdutil.OutputFormat
}

// NewCmdList returns the list command; runF replaces the real run in tests when not nil.
func NewCmdList(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the registered collectors",
		Long: `List every collector that collectors.toml and the sidecars in its modules directory declare,
in gathering order: key, version, format, module, slicing, shipping group and description.
Collectors of a disabled module (its sidecar has problems, or its signature does not verify
while [trust] requires one) are listed last, marked disabled; those of a module a gather would
refuse as a downgrade (signed before the newest signature accepted for it) are marked refused,
and the module's line says why (the signing record is read, never written). With [trust] in collectors.toml,
a SIGNED BY column says who signed each module (or unsigned, invalid signature).
Then, when there are sidecars, each module's grants (from collectors.toml) and its sidecar's
requests.`,
		Example: `  wasmcollector list
  wasmcollector list -o json | jq '.[].key'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().VarP(&opts.Output, "output", "o", "output format: {text|json}")
	return cmd
}

// Entry is one collector in `list -o json`.
type Entry struct {
	Key                  string `json:"key"`
	Version              string `json:"version"`
	Format               string `json:"format"`
	Config               bool   `json:"config"`
	Module               string `json:"module"`
	Function             string `json:"function"`
	Slicing              string `json:"slicing"`
	ShippingGroup        string `json:"shipping_group"`
	FullSyncIntervalDays int    `json:"full_sync_interval_days,omitempty"`
	Description          string `json:"description"`
	Source               string `json:"source"`
	// Disabled is set when the collector's module is disabled: it does not run.
	Disabled bool `json:"disabled,omitempty"`
	// Refused says why a gather would refuse the collector's module as a downgrade (it was signed
	// before the newest signature accepted for it); the module is Disabled too.
	Refused string `json:"refused,omitempty"`
	// Signature is the module's signature status (verified, unsigned, invalid) and SignedBy who
	// signed it ("Acme Inc. (key …)"); both omitted when collectors.toml has no [trust].
	Signature string `json:"signature,omitempty"`
	SignedBy  string `json:"signed_by,omitempty"`
	// Granted is what collectors.toml grants the module; Requested what its sidecar asks for
	// (only for modules with a sidecar).
	Granted   *cmdutil.Access `json:"granted,omitempty"`
	Requested *cmdutil.Access `json:"requested,omitempty"`
}

// Entries converts a registry to list entries: its collectors, then those of disabled modules.
func Entries(reg *registry.Registry) []Entry {
	out := make([]Entry, 0, len(reg.Collectors))
	add := func(c *registry.Collector, disabled bool) {
		e := Entry{
			Key: c.Key, Version: c.Version, Format: string(c.Format), Config: c.Config,
			Function: c.Function, Slicing: c.Slicing.String(), ShippingGroup: c.ShippingGroup,
			FullSyncIntervalDays: c.FullSyncIntervalDays, Description: c.Description,
			Source: fmt.Sprintf("%s:%d", c.Source.File, c.Source.Line), Disabled: disabled,
		}
		if disabled {
			e.Refused = refusedReason(reg, c.Module)
		}
		if m := c.Module; m != nil {
			e.Module = m.Name
			if s := m.Signature; s != nil {
				e.Signature, e.SignedBy = s.Status, s.Signer()
			}
			if m.Sidecar != "" && !disabled {
				g, r := cmdutil.Granted(m), cmdutil.Requested(m)
				e.Granted, e.Requested = &g, &r
			}
		}
		out = append(out, e)
	}
	for _, c := range reg.Collectors {
		add(c, false)
	}
	for _, d := range reg.Disabled {
		for _, c := range d.Collectors {
			add(c, true)
		}
	}
	return out
}

// refusedReason is the downgrade problem's message of m, a disabled module, or "".
func refusedReason(reg *registry.Registry, m *registry.Module) string {
	for _, d := range reg.Disabled {
		if m != nil && d.Name == m.Name && len(d.Problems) > 0 && d.Problems[0].Code == registry.CodeDowngrade {
			return d.Problems[0].Message
		}
	}
	return ""
}

// Run lists the collectors.
func Run(opts *Options) error {
	reg, err := opts.Factory.Registry()
	if err != nil {
		return err
	}
	// Rollback protection, read only: the modules a gather would refuse as a downgrade are
	// listed as refused. A record that cannot be read stops gathers, not the listing.
	refused, err := registry.PendingDowngrades(reg)
	if err != nil && opts.Factory.Logger != nil {
		opts.Factory.Logger.Warn("rollback protection: the signing record cannot be read; downgrades are not shown, and gathers refuse to run until it is repaired", "error", err)
	}
	reg = reg.WithoutModules(refused)
	entries := Entries(reg)
	if opts.Output == cmdutil.OutputJSON {
		return cmdutil.WriteJSON(opts.Factory.Stdout, entries)
	}
	tw := tabwriter.NewWriter(opts.Factory.Stdout, 0, 4, 2, ' ', 0)
	// Who signed each module, when signatures are checked ([trust]).
	signed, signedHead := func(Entry) string { return "" }, ""
	if reg.Trust.Enabled {
		signed = func(e Entry) string { return "\t" + e.SignedBy }
		signedHead = "\tSIGNED BY"
	}
	fmt.Fprintln(tw, "KEY\tVERSION\tFORMAT\tMODULE\tSLICING\tGROUP\tDESCRIPTION"+signedHead)
	for _, e := range entries {
		key := e.Key
		if e.Config {
			key += " (config)"
		}
		switch {
		case e.Refused != "":
			key += " (refused)"
		case e.Disabled:
			key += " (disabled)"
		}
		slicing := e.Slicing
		if e.FullSyncIntervalDays > 0 {
			slicing += fmt.Sprintf(", full sync %dd", e.FullSyncIntervalDays)
		}
		module := e.Module
		if e.Function != e.Key {
			module += ":" + e.Function
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", key, e.Version, e.Format, module, slicing,
			e.ShippingGroup, strings.ReplaceAll(e.Description, "\n", " "), signed(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return modules(opts.Factory.Stdout, reg)
}

// modules prints, when there are sidecars, each module's grants and requests, and the disabled
// modules.
func modules(w io.Writer, reg *registry.Registry) error {
	var rows []string
	for _, m := range reg.Modules {
		if m.Sidecar != "" {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s", m.Name, cmdutil.Granted(m), cmdutil.Requested(m)))
		}
	}
	for _, d := range reg.Disabled {
		if d.Problems[0].Code == registry.CodeDowngrade {
			// The reason is long: the last cell, so that it does not widen the column.
			rows = append(rows, fmt.Sprintf("%s\trefused: %s", d.Name, d.Problems[0].Message))
			continue
		}
		where := d.Sidecar
		if d.Sidecar == "" || d.Problems[0].Field == "signature" {
			where = d.Problems[0].File // the module's own problem: its signature
		}
		rows = append(rows, fmt.Sprintf("%s\tdisabled: %s in %s (wasmcollector validate)\t", d.Name, cmdutil.Count(len(d.Problems), "problem", "problems"), where))
	}
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nMODULE\tGRANTED (collectors.toml)\tREQUESTED (sidecar)")
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	return tw.Flush()
}
