// Package gathercmd implements `wasmcollector gather`: the main job. (The package is not called
// gather so that it can import the gather package under its own name.)
package gathercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/cli/replaycmd"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/state"
)

// Options are the flags of gather.
type Options struct {
	Factory     *cmdutil.Factory
	DryRun      bool
	Manual      bool
	Scheduled   bool
	Since       string
	Until       string
	Subset      []string
	Out         string
	Interval    time.Duration
	MinInterval time.Duration
	Now         string
	Output      cmdutil.OutputFormat
	Record      replaycmd.RecordFlags
}

// NewCmdGather returns the gather command; runF replaces the real run in tests when not nil.
func NewCmdGather(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "gather [--dry-run|--manual|--scheduled] [--since <time>] [--until <time>] [--subset <key>,...] [--out <dir>]",
		Short: "Run every collector for its window and pack the output into tarballs",
		Long: `Run the registered collectors for the right time window and pack what they emit into .tar.gz
packages (with manifest.json and data_collection_status.csv), then keep or ship them.

The window ends at --until (default now) and starts at --since, or else, for each collector, where
its last shipped data ended, never more than [gather] max_window (default 28 days) back. Sliced
collectors run once per slice. Order: the config collector, then JSON collectors, then CSV ones.

  --dry-run     write the tarballs to --out and record nothing (the default when [shipping] has
                no url)
  --manual      ship every tarball, then advance the bookkeeping over what the ingress accepted
  --scheduled   as --manual, quiet unless something fails (warnings only, each once): for
                cron and systemd timers; exit 4, quietly, when another gather holds the lock

Without --since and --until, a gather less than a minute after the last one has nothing new: it
says so, ships nothing and exits 0. --subset runs only the named keys (the config collector
always runs). Times are RFC 3339 or plain dates, UTC.`,
		Example: `  wasmcollector gather --dry-run --out ./out
  wasmcollector gather --since 2026-11-01 --until 2026-11-02 --subset job_events -o json
  wasmcollector gather --scheduled`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.DryRun, "dry-run", false, "keep the tarballs in --out, record nothing")
	fl.BoolVar(&opts.Manual, "manual", false, "ship the tarballs and advance the bookkeeping")
	fl.BoolVar(&opts.Scheduled, "scheduled", false, "as --manual, quiet unless something fails")
	fl.StringVar(&opts.Since, "since", "", "start of the window, exclusive (RFC 3339 or date, UTC)")
	fl.StringVar(&opts.Until, "until", "", "end of the window, inclusive (default now)")
	fl.StringSliceVar(&opts.Subset, "subset", nil, "only these `keys` (comma-separated; config always runs)")
	fl.StringVar(&opts.Out, "out", "", "directory for the tarballs (default [gather] out_dir, \"out\")")
	fl.DurationVar(&opts.Interval, "interval", 0, "keep running and gather every `duration` (e.g. 4h) until stopped")
	fl.DurationVar(&opts.MinInterval, "min-interval", 0, "skip the run when the last gather is more recent than `duration`: nodes on one timer gather once per interval")
	fl.StringVar(&opts.Now, "now", "", "pretend the time is this (for tests and replays)")
	_ = fl.MarkHidden("now")
	fl.VarP(&opts.Output, "output", "o", "output format: {text|json}")
	opts.Record.Add(fl, "dir")
	return cmd
}

// Run gathers, once or every --interval.
func Run(ctx context.Context, opts *Options) error {
	if opts.Interval <= 0 {
		return runOnce(ctx, opts)
	}
	if opts.Since != "" || opts.Until != "" {
		return cmdutil.BadInput("--interval gathers up to now each time: drop --since and --until")
	}
	if opts.Record.Path != "" {
		return cmdutil.BadInput("--record records one gather: drop --interval")
	}
	log := opts.Factory.Logger
	for {
		err := runOnce(ctx, opts)
		var skip *skipped
		switch code := cmdutil.Code(err); {
		case code == cmdutil.ExitBadInput:
			return err
		case errors.As(err, &skip):
			// nothing to do this round (--scheduled: the lock was held); runOnce said why
		case errors.Is(err, state.ErrLocked):
			log.Info("another gather holds the lock; skipping this round", "next_in", opts.Interval)
		case err != nil && ctx.Err() == nil:
			log.Error("gather round failed", "error", err, "next_in", opts.Interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Interval):
		}
	}
}

// skipped ends a run that had nothing to do: another gather holds the lock, the minimum
// interval has not passed, or there is nothing new. The status file says "skipped"; the exit
// code is its own (4 for the lock, else 0) and nothing is printed as an error.
type skipped struct {
	code   int
	reason error
}

func (s *skipped) Error() string { return s.reason.Error() }

// Unwrap gives errors.Is the reason (state.ErrLocked…) and the CLI its exit code.
func (s *skipped) Unwrap() []error {
	return []error{s.reason, &cmdutil.SilentError{Code: s.code}}
}

// SkipDoc is what `gather -o json` prints when the gather did not run because there was
// nothing to do: nothing new, the minimum interval has not passed, or (--scheduled, exit 4)
// another gather holds the lock.
type SkipDoc struct {
	Skipped bool   `json:"skipped"`
	Reason  string `json:"reason"`
}

func runOnce(ctx context.Context, opts *Options) (err error) {
	f := opts.Factory
	if n := btoi(opts.DryRun) + btoi(opts.Manual) + btoi(opts.Scheduled); n > 1 {
		return cmdutil.BadInput("--dry-run, --manual and --scheduled exclude each other")
	}
	if opts.Scheduled {
		// Quiet on success: warnings and errors only, each once (a guest's INFO lines and the
		// per-tarball lines are not shown), unless --log-level asks for more.
		defer f.Quiet()()
	}
	reg, err := f.Registry()
	if err != nil {
		return err
	}
	var res *gather.Result
	if path := reg.Gather.StatusFile; path != "" {
		defer func() {
			if werr := writeStatus(path, f.Clock(), res, err); werr != nil {
				f.Logger.Error("write the status file", "path", path, "error", werr)
			}
		}()
	}
	// Rollback protection: a module signed before the newest signature accepted for it does
	// not run (its collectors are reported failed); the others' signing times are recorded.
	if reg, _, err = registry.CheckDowngrades(reg); err != nil {
		return cmdutil.Failed(fmt.Errorf("rollback protection: %w", err))
	}
	var since, until time.Time
	if opts.Since != "" {
		if since, err = cmdutil.ParseTime("since", opts.Since); err != nil {
			return err
		}
	}
	if opts.Until != "" {
		if until, err = cmdutil.ParseTime("until", opts.Until); err != nil {
			return err
		}
	}
	typ := hostfuncs.DryRun
	switch {
	case opts.Manual:
		typ = hostfuncs.Manual
	case opts.Scheduled:
		typ = hostfuncs.Scheduled
	case !opts.DryRun && reg.Shipping.URL != "":
		typ = hostfuncs.Manual
	}
	out := opts.Out
	if out == "" {
		out = reg.Gather.OutDir
	}
	now := f.Now
	if opts.Now != "" {
		t, err := cmdutil.ParseTime("now", opts.Now)
		if err != nil {
			return err
		}
		now = func() time.Time { return t }
	}
	host := wasmcollector.New(reg, &wasmcollector.Options{Logger: f.Logger, UserAgent: "wasmcollector/" + f.Version, Now: now})
	defer func() {
		if err := host.Close(); err != nil {
			f.Logger.Warn("release the executor", "error", err)
		}
	}()
	g := wasmcollector.GatherOptions{Type: typ, Since: since, Until: until, Subset: opts.Subset, OutDir: out, MinInterval: opts.MinInterval}
	if g.Record, err = opts.Record.Dir(); err != nil {
		return err
	}
	if g.Record != nil {
		// After the summary; on stderr when stdout is the JSON result.
		w := f.Stdout
		if opts.Output == cmdutil.OutputJSON {
			w = f.Stderr
		}
		defer replaycmd.PrintSummary(w, g.Record)
	}
	var bar *progressLine
	if typ != hostfuncs.Scheduled && f.Status != nil && cmdutil.IsTerminal(f.Stderr) {
		bar = &progressLine{status: f.Status, now: time.Now}
		g.Progress = bar.show
	}
	res, err = host.Gather(ctx, g)
	bar.clear()
	switch {
	case errors.Is(err, gather.ErrTooSoon), errors.Is(err, gather.ErrNothingNew),
		typ == hostfuncs.Scheduled && errors.Is(err, state.ErrLocked):
		// Nothing to do, which is not a failure. A held lock means another node (or process)
		// is doing this round's work: for a timer, exit 4 as the README says (the systemd unit
		// has SuccessExitStatus=4), quietly; by hand it is an error (below). The reason goes
		// on stdout, as the result, except from a quiet scheduled run, which logs it at info
		// (--log-level info shows it).
		code := cmdutil.ExitOK
		if errors.Is(err, state.ErrLocked) {
			code = cmdutil.ExitLockHeld
		}
		switch {
		case opts.Output == cmdutil.OutputJSON:
			if werr := cmdutil.WriteJSON(f.Stdout, SkipDoc{Skipped: true, Reason: err.Error()}); werr != nil {
				return werr
			}
		case typ == hostfuncs.Scheduled:
			f.Logger.Info("not gathering", "reason", err)
		default:
			fmt.Fprintf(f.Stdout, "%s\n", cmdutil.EscapeControl(err.Error()))
		}
		return &skipped{code: code, reason: err}
	case err != nil && !(res != nil && errors.Is(err, gather.ErrStateNotSaved)):
		return classify(err)
	}
	switch {
	case opts.Output == cmdutil.OutputJSON:
		if err := cmdutil.WriteJSON(f.Stdout, res); err != nil {
			return err
		}
	case typ != hostfuncs.Scheduled || res.Failed():
		Summary(f.Stdout, res, out)
	}
	if err != nil { // the bookkeeping could not be saved: say so after the summary
		return classify(err)
	}
	if res.Failed() {
		return &cmdutil.SilentError{Code: cmdutil.ExitPartial}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// classify maps what stopped a gather to its exit code.
func classify(err error) error {
	var ce *wasmcollector.ConfigError
	switch {
	case errors.As(err, &ce):
		return cmdutil.BadInput("%w", err)
	case errors.Is(err, gather.ErrBadInterval), errors.Is(err, gather.ErrBadSubset):
		return &cmdutil.ExitError{Code: cmdutil.ExitBadInput, Err: err}
	case errors.Is(err, state.ErrLocked):
		return &cmdutil.ExitError{Code: cmdutil.ExitLockHeld, Err: err}
	case errors.Is(err, gather.ErrStateNotSaved):
		return &cmdutil.ExitError{Code: cmdutil.ExitPartial, Err: err}
	case errors.Is(err, context.Canceled):
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Err: errors.New("gather: interrupted; what was shipped is recorded, the next run re-sends what is pending and collects the rest")}
	}
	return cmdutil.Failed(err)
}

// Summary prints what a gather did: a line, then collectors, then tarballs.
func Summary(w io.Writer, res *gather.Result, out string) {
	window := "until " + res.Until.Format(time.RFC3339)
	if !res.Since.IsZero() {
		window = "(" + res.Since.Format(time.RFC3339) + ", " + res.Until.Format(time.RFC3339) + "]"
	}
	fmt.Fprintf(w, "gather %s %s: %d collectors, %d tarballs in %s (%s)\n\n", res.Type, window,
		len(res.Collectors), len(res.Tarballs), out, res.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLLECTOR\tSTATUS\tSLICES\tROWS\tBYTES\tTIME\tWINDOW")
	for _, c := range res.Collectors {
		rows := "-"
		if c.Format == "csv" {
			rows = fmt.Sprint(c.Rows)
		}
		slices := fmt.Sprint(c.Slices)
		if c.FailedSlices > 0 {
			slices = fmt.Sprintf("%d (%d failed)", c.Slices, c.FailedSlices)
		}
		win := "-"
		if !c.Until.IsZero() {
			win = c.Since.Format(time.RFC3339) + " .. " + c.Until.Format(time.RFC3339)
			if c.FullSync {
				win += " (full sync)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Key, c.Status, slices, rows,
			bytesize.Approx(c.Bytes), c.Elapsed.Round(time.Millisecond), win)
	}
	tw.Flush()
	for _, c := range res.Collectors {
		if c.Error != "" {
			fmt.Fprintf(w, "  %s: %s\n", c.Key, c.Error)
		}
	}
	if len(res.Tarballs) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARBALL\tFATE\tSIZE\tDATA\tFILES")
		for i, t := range res.Tarballs {
			if n := len(res.Tarballs); n > maxListed && i >= maxListed/2 && i < n-maxListed/2 {
				if i == maxListed/2 {
					fmt.Fprintf(tw, "… %d more (-o json lists them all)\t\t\t\t\n", n-maxListed/2*2)
				}
				continue
			}
			name := t.Name
			if t.Path != "" {
				name = filepath.Join(filepath.Dir(t.Path), t.Name)
			}
			fate := t.Fate
			if t.Resent {
				fate += " (re-sent)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, fate, bytesize.Approx(t.Size),
				bytesize.Approx(t.DataSize), strings.Join(t.Files, " "))
		}
		tw.Flush()
		for _, t := range res.Tarballs {
			if t.Error != "" {
				fmt.Fprintf(w, "  %s: %s\n", t.Name, t.Error)
			}
		}
	}
}

// maxListed is how many tarballs the text summary lists before it elides the middle.
const maxListed = 12

// progressLine shows gather's progress as the status line of a terminal's standard error, with
// an estimate of the time left once an invocation has finished.
type progressLine struct {
	status *cmdutil.StatusLine
	now    func() time.Time
	start  time.Time
}

func (p *progressLine) show(ev gather.Progress) {
	if p.start.IsZero() {
		p.start = p.now()
	}
	slice := ""
	if ev.Slices > 1 {
		slice = fmt.Sprintf(" slice %d/%d", ev.Slice, ev.Slices)
	}
	line := fmt.Sprintf("[%d/%d] %s%s, %s so far", ev.Done+1, ev.Total, cmdutil.EscapeControl(ev.Collector), slice,
		cmdutil.Count(ev.TarballsSoFar, "tarball", "tarballs"))
	if eta := cmdutil.ETA(p.now().Sub(p.start), ev.Done, ev.Total); eta != "" {
		line += ", " + eta
	}
	p.status.Set(line)
}

func (p *progressLine) clear() {
	if p != nil {
		p.status.Clear()
	}
}
