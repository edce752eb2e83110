// Package inspect implements `wasmcollector inspect`: what a tarball holds.
package inspect

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/packaging"
)

// Options are the flags and arguments of inspect.
type Options struct {
	Factory  *cmdutil.Factory
	Tarballs []string
	Output   cmdutil.OutputFormat
}

// NewCmdInspect returns the inspect command; runF replaces the real run in tests when not nil.
func NewCmdInspect(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "inspect <tarball>...",
		Short: "Show what tarballs hold: members, manifest, collection status",
		Long: `Open each tarball and show its members with their sizes, its manifest.json (file → version) and
its data_collection_status.csv rows. It reads no registry.

A tarball is untrusted input: names and fields with control characters, escape sequences, newlines
or invalid UTF-8 are printed quoted with Go's escapes ("a\x1b[31m"), and a tarball over the read
limits (10,000 members, 1 KiB names, 8 KiB of PAX records per member, 16 MiB manifest or status
file, 4 GiB uncompressed) is refused with the limit named.`,
		Example: `  wasmcollector inspect out/analytics-2026-11-26-170000+0000-0.tar.gz
  wasmcollector inspect out/*.tar.gz -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Tarballs = args
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().VarP(&opts.Output, "output", "o", "output format: {text|json}")
	return cmd
}

// Tarball is one tarball in `inspect -o json`.
type Tarball struct {
	Path     string          `json:"path"`
	Members  []Member        `json:"members"`
	Manifest []ManifestEntry `json:"manifest"`
	Status   []StatusRow     `json:"status"`
}

// Member is a file in the tarball.
type Member struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// ManifestEntry is one line of manifest.json.
type ManifestEntry struct {
	File    string `json:"file"`
	Version string `json:"version"`
}

// StatusRow is one row of data_collection_status.csv; its times are in RFC 3339, UTC (the file
// has them as Python prints them).
type StatusRow struct {
	CollectionStart string `json:"collection_start"`
	Since           string `json:"since"`
	Until           string `json:"until"`
	FileName        string `json:"file_name"`
	Status          string `json:"status"`
	Elapsed         string `json:"elapsed"`
}

func convert(path string, c *packaging.Contents) Tarball {
	t := Tarball{Path: path, Members: []Member{}, Manifest: []ManifestEntry{}, Status: []StatusRow{}}
	for _, m := range c.Members {
		t.Members = append(t.Members, Member{m.Name, m.Size})
	}
	for _, m := range c.Manifest {
		t.Manifest = append(t.Manifest, ManifestEntry{m.File, m.Version})
	}
	for _, r := range c.Status {
		row := StatusRow(r)
		row.CollectionStart, row.Since, row.Until = rfc3339(row.CollectionStart), rfc3339(row.Since), rfc3339(row.Until)
		t.Status = append(t.Status, row)
	}
	return t
}

// pyTimeLayout reads the times of data_collection_status.csv, Python's str() of a datetime
// ("2026-11-25 00:00:00+00:00", "2026-11-25 00:00:00.531620+00:00").
const pyTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// rfc3339 returns a time of the status file in RFC 3339, in UTC, as every other command prints
// times; a value that is not such a time (a tarball is untrusted input) is returned as written.
func rfc3339(s string) string {
	t, err := time.Parse(pyTimeLayout, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Run inspects the tarballs.
func Run(opts *Options) error {
	f := opts.Factory
	var all []Tarball
	for _, path := range opts.Tarballs {
		c, err := packaging.ReadTarball(path)
		if err != nil {
			return cmdutil.Failed(fmt.Errorf("inspect %s: %w", path, err))
		}
		all = append(all, convert(path, c))
	}
	if opts.Output == cmdutil.OutputJSON {
		return cmdutil.WriteJSON(f.Stdout, all)
	}
	for i, t := range all {
		if i > 0 {
			fmt.Fprintln(f.Stdout)
		}
		fmt.Fprintf(f.Stdout, "%s\n\n", cmdutil.Printable(t.Path))
		tw := tabwriter.NewWriter(f.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tSIZE\tVERSION")
		versions := map[string]string{}
		for _, m := range t.Manifest {
			versions["./"+m.File] = m.Version
		}
		for _, m := range t.Members {
			v := versions[m.Name]
			if v == "" {
				v = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", cmdutil.Printable(m.Name), m.Size, cmdutil.Printable(v))
		}
		tw.Flush()
		fmt.Fprintln(f.Stdout)
		tw = tabwriter.NewWriter(f.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tSTATUS\tSINCE\tUNTIL\tSTARTED\tELAPSED")
		for _, s := range t.Status {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cmdutil.Printable(s.FileName), cmdutil.Printable(s.Status),
				dash(s.Since), dash(s.Until), cmdutil.Printable(s.CollectionStart), cmdutil.Printable(s.Elapsed))
		}
		tw.Flush()
	}
	return nil
}

// dash returns s ready to print, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return cmdutil.Printable(s)
}
