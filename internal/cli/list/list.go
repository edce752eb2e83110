// Package list implements `wasmcollector list`: every registered collector, as a table or JSON.
package list

import (
	"fmt"
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
in gathering order: key, version, format, module, slicing, shipping group and description.`,
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
}

// Entries converts a registry to list entries.
func Entries(reg *registry.Registry) []Entry {
	out := make([]Entry, 0, len(reg.Collectors))
	for _, c := range reg.Collectors {
		e := Entry{
			Key: c.Key, Version: c.Version, Format: string(c.Format), Config: c.Config,
			Function: c.Function, Slicing: c.Slicing.String(), ShippingGroup: c.ShippingGroup,
			FullSyncIntervalDays: c.FullSyncIntervalDays, Description: c.Description,
			Source: fmt.Sprintf("%s:%d", c.Source.File, c.Source.Line),
		}
		if c.Module != nil {
			e.Module = c.Module.Name
		}
		out = append(out, e)
	}
	return out
}

// Run lists the collectors.
func Run(opts *Options) error {
	reg, err := opts.Factory.Registry()
	if err != nil {
		return err
	}
	entries := Entries(reg)
	if opts.Output == cmdutil.OutputJSON {
		return cmdutil.WriteJSON(opts.Factory.Stdout, entries)
	}
	tw := tabwriter.NewWriter(opts.Factory.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVERSION\tFORMAT\tMODULE\tSLICING\tGROUP\tDESCRIPTION")
	for _, e := range entries {
		key := e.Key
		if e.Config {
			key += " (config)"
		}
		slicing := e.Slicing
		if e.FullSyncIntervalDays > 0 {
			slicing += fmt.Sprintf(", full sync %dd", e.FullSyncIntervalDays)
		}
		module := e.Module
		if e.Function != e.Key {
			module += ":" + e.Function
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", key, e.Version, e.Format, module, slicing,
			e.ShippingGroup, strings.ReplaceAll(e.Description, "\n", " "))
	}
	return tw.Flush()
}
