// Package run implements `wasmcollector run`: one collector, one slice, output to stdout or a file.
// It is the vendor's development loop: the same sandbox and limits as a gather, no packaging.
package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/cli/replaycmd"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Options are the flags and argument of run.
type Options struct {
	Factory  *cmdutil.Factory
	Key      string
	Since    string
	Until    string
	Params   []string
	Out      string
	Function string
	FullSync bool
	Record   replaycmd.RecordFlags
}

// NewCmdRun returns the run command; runF replaces the real run in tests when not nil.
func NewCmdRun(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "run <key> [--since <time>] [--until <time>] [--param <name>=<value>]... [--out <file>]",
		Short: "Run one collector for one slice and print its output",
		Long: `Run one collector, in the same sandbox and under the same limits as a gather, and write its
JSON document or CSV (header and rows) to stdout, or to --out. Nothing is packaged, shipped or
entered in the bookkeeping: this is the loop for writing and debugging a collector. --record FILE
keeps what the host gave the collector and what it produced, for wasmcollector replay. The guest's log lines,
stdout and stderr go to stderr.

The slice is (--since, --until]. --until defaults to now; --since defaults to one slice before
--until (the collector's slicing interval, or a day for daily and unsliced collectors). The config
collector gets no slice unless you give one. Times are RFC 3339 or plain dates, in UTC.

With [trust], a module a gather would refuse as a downgrade (signed before the newest signature
accepted for it) does not run either: run reads the signing record and never writes it.`,
		Example: `  wasmcollector run counts
  wasmcollector run job_events --since 2026-11-25T00:00:00Z --until 2026-11-25T04:00:00Z
  wasmcollector run job_events --param events_per_hour=60 --out events.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Key = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(context.Background(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Since, "since", "", "start of the slice, exclusive (RFC 3339 or date, UTC)")
	fl.StringVar(&opts.Until, "until", "", "end of the slice, inclusive (default now)")
	fl.StringArrayVar(&opts.Params, "param", nil, "override a TOML parameter, as `name=value` (repeatable)")
	fl.StringVar(&opts.Out, "out", "", "write the output to `file` instead of stdout")
	fl.StringVar(&opts.Function, "function", "", "pick the entry with this export when several entries share the key")
	fl.BoolVar(&opts.FullSync, "full-sync", false, "tell the collector this is a full sync")
	opts.Record.Add(fl, "file")
	return cmd
}

// Run runs the collector.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	rec, err := opts.Record.File()
	if err != nil {
		return err
	}
	reg, err := f.Registry()
	if err != nil {
		return err
	}
	// Rollback protection, read only (run is not the bookkeeping): a module a gather would
	// refuse as a downgrade is disabled here too, so its collectors do not run.
	refused, err := registry.PendingDowngrades(reg)
	if err != nil {
		return cmdutil.Failed(fmt.Errorf("rollback protection: %w", err))
	}
	host := wasmcollector.New(reg.WithoutModules(refused), &wasmcollector.Options{Logger: f.Logger, UserAgent: "wasmcollector/" + f.Version, Now: f.Now})
	defer host.Close()
	var since, until time.Time
	if opts.Until != "" {
		if until, err = cmdutil.ParseTime("until", opts.Until); err != nil {
			return err
		}
	}
	if opts.Since != "" {
		if since, err = cmdutil.ParseTime("since", opts.Since); err != nil {
			return err
		}
	}
	params, err := overrideParams(opts.Params)
	if err != nil {
		return err
	}
	out, err := openOutput(f.Stdout, opts.Out)
	if err != nil {
		return err
	}
	// The same executor as gather: a worker process unless [runtime] isolation = "in-process".
	res, err := host.Run(ctx, wasmcollector.RunOptions{
		Key: opts.Key, Function: opts.Function, Since: since, Until: until, FullSync: opts.FullSync,
		Params: params, Output: out, Record: rec,
	})
	defer replaycmd.PrintSummary(f.Stderr, rec)
	var ce *wasmcollector.CollectorError
	switch {
	case errors.As(err, &ce) && ce.Disabled != nil && ce.Disabled.Problems[0].Code == registry.CodeDowngrade:
		out.finish(false)
		return cmdutil.Failed(fmt.Errorf("collector %q does not run: its module %s is refused (rollback protection): %s",
			ce.Key, ce.Disabled.Name, ce.Disabled.Problems.Error()))
	case errors.As(err, &ce) && ce.Disabled != nil:
		out.finish(false)
		return cmdutil.Failed(fmt.Errorf("collector %q does not run: its module %s is disabled by problems in its sidecar (wasmcollector validate):\n%s",
			ce.Key, ce.Disabled.Name, ce.Disabled.Problems.Error()))
	case errors.As(err, &ce):
		out.finish(false)
		if ce.Function != "" {
			return cmdutil.BadInput("%s", ce.Error())
		}
		return cmdutil.BadInput("%s (wasmcollector list shows them)", ce.Error())
	case errors.Is(err, wasmcollector.ErrEmptySlice):
		out.finish(false)
		return cmdutil.BadInput("--since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	case res == nil:
		out.finish(false)
		return cmdutil.Failed(err)
	}
	c := res.Collector
	if err == nil && c.Format == registry.FormatJSON && res.Report.JSONDocuments == 1 {
		_, err = out.Write([]byte("\n"))
	}
	if cerr := out.finish(err == nil); err == nil {
		err = cerr
	}
	summarize(f.Stderr, c, res.Since, res.Until, res.Outcome, err)
	if err != nil {
		return cmdutil.Failed(fmt.Errorf("collector %q: %w", c.Key, err))
	}
	return nil
}

// overrideParams returns the --param overrides of the TOML params; a value is read as a TOML value
// when it is one (42, true, [1, 2]) and as a string otherwise.
func overrideParams(overrides []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range overrides {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, cmdutil.BadInput("--param %q: want name=value", kv)
		}
		var doc struct{ V any }
		if _, err := toml.Decode("V = "+raw, &doc); err == nil {
			out[name] = doc.V
		} else {
			out[name] = raw
		}
	}
	return out, nil
}

// output buffers what the guest writes; for --out it writes a temporary file that replaces the
// target only when the collector succeeded, so a failed run never leaves a half file behind.
type output struct {
	*bufio.Writer
	file   *os.File
	target string
}

func openOutput(stdout io.Writer, path string) (*output, error) {
	if path == "" {
		return &output{Writer: bufio.NewWriterSize(stdout, 64<<10)}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, cmdutil.BadInput("--out: %w", err)
	}
	return &output{Writer: bufio.NewWriterSize(tmp, 64<<10), file: tmp, target: path}, nil
}

func (o *output) finish(ok bool) error {
	err := o.Flush()
	if o.file == nil {
		return err
	}
	err = errors.Join(err, o.file.Close())
	if ok && err == nil {
		return os.Rename(o.file.Name(), o.target)
	}
	os.Remove(o.file.Name())
	return err
}

func summarize(w io.Writer, c *registry.Collector, since, until time.Time, res gather.Outcome, err error) {
	window := "no slice"
	if !until.IsZero() {
		window = "(" + since.Format(time.RFC3339) + ", " + until.Format(time.RFC3339) + "]"
	}
	status := "ok"
	if err != nil {
		status = "failed"
		var ie *runtime.InvocationError
		if errors.As(err, &ie) && ie.Kind != runtime.KindFailed { // not "failed: failed"
			status = "failed: " + string(ie.Kind)
		}
	}
	what := cmdutil.Count(int(res.Report.Rows), "row", "rows")
	if c.Format == registry.FormatJSON {
		what = cmdutil.Count(res.Report.JSONDocuments, "document", "documents")
	}
	fmt.Fprintf(w, "%s %s: %s, %s, %s in %s\n", c.Key, window, status, what,
		bytesize.Approx(res.Report.Bytes), res.Elapsed.Round(time.Millisecond))
}
