// Package replaycmd implements `wasmcollector replay`, and the --record flags of gather and run.
package replaycmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/replay"
)

// Options are the flags and argument of replay.
type Options struct {
	Factory        *cmdutil.Factory
	Path           string
	Module         string
	Output         cmdutil.OutputFormat
	Show           int
	CacheDir       string
	CompileTimeout time.Duration
}

// NewCmdReplay returns the replay command; runF replaces the real run in tests when not nil.
func NewCmdReplay(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "replay <record|dir> [--module <new.wasm>] [-o json]",
		Short: "Run a recorded invocation again, without its database, and compare the output",
		Long: `Run an invocation recorded with gather --record or run --record again, with no database and no
network: every data call is answered from the record (a call that was not recorded fails,
naming the statement), the slice, parameters, environment and mount reads are the recorded ones.
The guest's clocks and randomness are served from the record too; a guest that reads more than
was recorded gets clocks that go on from the last recorded value and random bytes from a source
seeded from the record, and the report says it read beyond the record (a version 1 record has
none: the guest reads this host's). The output is compared with the recorded one: identical, or
a diff (CSV by row, matched by the first column; JSON by key path). The diff needs the output's
bytes in the record (--record-output); without them only the sha256 is compared.

Give a directory to replay every record in it (*.jsonl.gz). --module runs another module, such
as a new version, against the recorded inputs: a vendor's regression test on real data.

A recorded failure (a timeout, a trap, the memory limit, a worker killed or crashed: its record
is finalised by the host and says how it ended) is replayed under the recorded limits; the report
says how each ended and whether the failure was reproduced.

Exit codes: 0 every replay identical: the same outcome (ok, or failed with the same kind, such as
a reproduced timeout) and the same output; 1 a replay differs (output, outcome, or a data call the
record cannot answer); 2 bad input (a record that is corrupt, truncated, incomplete or of
another format version; a module that cannot be loaded).`,
		Example: `  wasmcollector replay ./rec/0003-org_counts.jsonl.gz
  wasmcollector replay ./rec --module ./awx-2.0.wasm -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(context.Background(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Module, "module", "", "run this `module` instead of the recorded one")
	fl.VarP(&opts.Output, "output", "o", "output format: {text|json}")
	fl.IntVar(&opts.Show, "show", 20, "list at most `n` changes per record (counts are always whole)")
	fl.StringVar(&opts.CacheDir, "cache-dir", "", "compilation cache `dir` (default the user's cache directory)")
	fl.DurationVar(&opts.CompileTimeout, "compile-timeout", 0, "bound on compiling the module (default the runtime's)")
	return cmd
}

// Report is the JSON output of replay.
type Report struct {
	Records   []*replay.Outcome `json:"records"`
	Identical int               `json:"identical"`
	Different int               `json:"different"`
	Errors    []FileError       `json:"errors,omitempty"`
}

// FileError is a record that could not be replayed.
type FileError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// Run replays.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	files, err := recordFiles(opts.Path)
	if err != nil {
		return err
	}
	if opts.Module != "" {
		if st, err := os.Stat(opts.Module); err != nil || !st.Mode().IsRegular() {
			return cmdutil.BadInput("--module %s: not a readable file", opts.Module)
		}
	}
	r, err := replay.NewReplayer(ctx, replay.ReplayOptions{Module: opts.Module, Logger: f.Logger, MaxDiffLines: max(opts.Show, 1),
		CacheDir: opts.CacheDir, CompileTimeout: opts.CompileTimeout})
	if err != nil {
		return err
	}
	defer r.Close()
	rep := &Report{Records: []*replay.Outcome{}}
	for _, file := range files {
		out, err := r.Replay(ctx, file)
		if err != nil {
			rep.Errors = append(rep.Errors, FileError{File: file, Error: err.Error()})
			continue
		}
		rep.Records = append(rep.Records, out)
		if out.Identical {
			rep.Identical++
		} else {
			rep.Different++
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := cmdutil.WriteJSON(f.Stdout, rep); err != nil {
			return err
		}
	} else {
		printReport(f.Stdout, rep, opts.Show)
	}
	switch {
	case len(rep.Errors) > 0:
		if opts.Output == cmdutil.OutputJSON || len(files) > 1 {
			return &cmdutil.SilentError{Code: cmdutil.ExitBadInput}
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitBadInput, Err: errors.New(rep.Errors[0].Error)}
	case rep.Different > 0:
		return &cmdutil.SilentError{Code: cmdutil.ExitFailed}
	}
	return nil
}

// recordFiles is the record, or the records in a directory.
func recordFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, cmdutil.BadInput("%v", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.jsonl.gz"))
	if err != nil {
		return nil, cmdutil.BadInput("%v", err)
	}
	if len(files) == 0 {
		return nil, cmdutil.BadInput("%s holds no records (*.jsonl.gz)", path)
	}
	sort.Strings(files)
	return files, nil
}

func printReport(w io.Writer, rep *Report, show int) {
	for _, o := range rep.Records {
		status := "identical"
		switch {
		case !o.Identical:
			status = "DIFFERENT"
		case o.RecordedError != "":
			status = "reproduced " + orUnknown(o.RecordedKind) // the same failure
		}
		fmt.Fprintf(w, "%s: %s %s: %s (%s, sha256 %s)\n", filepath.Base(o.File), o.Key, window(o), status,
			bytesize.Approx(o.Bytes), short(o.SHA256))
		if o.RecordedError != "" || o.Error != "" {
			// How each ended: a vendor replays a customer's timeout or crash to see it again.
			verdict := "reproduced"
			if !o.SameOutcome {
				verdict = "NOT reproduced"
			}
			finalised := ""
			if o.RecordedFinalized {
				finalised = " (its worker ended before closing the record; the host finalised it)"
			}
			fmt.Fprintf(w, "  recorded: %s%s\n  replayed: %s — %s\n", ended(o.RecordedKind, o.RecordedError), finalised,
				ended(o.Kind, o.Error), verdict)
		}
		switch {
		case !o.Sys.Recorded:
			fmt.Fprintf(w, "  clock and randomness: not in this record (format version 1): the guest read this host's\n")
		case o.Sys.BeyondRecord:
			// Not a difference in itself: a new module may read more; the output says the rest.
			fmt.Fprintf(w, "  clock and randomness: read beyond the record: %s (clocks went on from the last recorded value, random bytes from a source seeded from the record)\n", o.Sys.Beyond)
			if o.Sys.Stopped != "" {
				fmt.Fprintf(w, "    the recording kept no more: %s\n", cmdutil.EscapeControl(o.Sys.Stopped))
			}
		}
		if o.Logs.Recorded && !o.Logs.Match {
			// Informational: a log line may carry what a replay cannot reproduce.
			fmt.Fprintf(w, "  log lines: differ from the recorded ones (%d replayed, %d recorded; the output decides identical)\n",
				o.Logs.Lines, o.Logs.RecordedLines)
		}
		if o.Identical {
			continue
		}
		if o.Module != o.RecordedModule {
			fmt.Fprintf(w, "  module %s replayed in place of the recorded %s\n", short(o.Module), short(o.RecordedModule))
		}
		if o.RecordedSHA256 != "" && o.SHA256 != o.RecordedSHA256 {
			fmt.Fprintf(w, "  output: %s, sha256 %s; recorded %s, sha256 %s\n", bytesize.Approx(o.Bytes), short(o.SHA256),
				bytesize.Approx(o.RecordedBytes), short(o.RecordedSHA256))
		}
		for _, q := range o.NotRecorded {
			fmt.Fprintf(w, "  %s\n", cmdutil.EscapeControl(q))
		}
		if o.DiffUnavailable != "" {
			fmt.Fprintf(w, "  no diff: %s\n", o.DiffUnavailable)
		}
		if d := o.Diff; d != nil {
			fmt.Fprintf(w, "  diff: %s\n", d.Summary())
			if d.HeaderBefore != nil {
				fmt.Fprintf(w, "    header: %s\n         -> %s\n", strings.Join(d.HeaderBefore, ","), strings.Join(d.HeaderAfter, ","))
			}
			for i, c := range d.Changes {
				if i >= show {
					break
				}
				switch c.Kind {
				case "added":
					fmt.Fprintf(w, "    + %s: %s\n", c.Key, cmdutil.EscapeControl(c.After))
				case "removed":
					fmt.Fprintf(w, "    - %s: %s\n", c.Key, cmdutil.EscapeControl(c.Before))
				default:
					cols := ""
					if len(c.Columns) > 0 {
						cols = " [" + strings.Join(c.Columns, ",") + "]"
					}
					fmt.Fprintf(w, "    ~ %s%s: %s -> %s\n", c.Key, cols, cmdutil.EscapeControl(c.Before), cmdutil.EscapeControl(c.After))
				}
			}
			if d.Truncated || len(d.Changes) > show {
				fmt.Fprintf(w, "    … (-o json, or --show, lists more)\n")
			}
			if d.Note != "" {
				fmt.Fprintf(w, "    note: %s\n", d.Note)
			}
		}
		if len(o.Redacted) > 0 {
			fmt.Fprintf(w, "  environment not recorded (the guest saw it empty): %s\n", strings.Join(o.Redacted, ", "))
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "%s: cannot replay: %s\n", filepath.Base(e.File), cmdutil.EscapeControl(e.Error))
	}
	fmt.Fprintf(w, "replayed %d: %d identical, %d different", len(rep.Records), rep.Identical, rep.Different)
	if len(rep.Errors) > 0 {
		fmt.Fprintf(w, ", %d not replayable", len(rep.Errors))
	}
	fmt.Fprintln(w)
}

func window(o *replay.Outcome) string {
	if o.Until.IsZero() {
		return "(no slice)"
	}
	return "(" + o.Since.Format(time.RFC3339) + ", " + o.Until.Format(time.RFC3339) + "]"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// ended says how an invocation ended: "ok", or its failure's kind and message.
func ended(kind, msg string) string {
	if msg == "" {
		return "ok"
	}
	return orUnknown(kind) + ": " + cmdutil.EscapeControl(msg)
}

func orUnknown(kind string) string {
	if kind == "" {
		return "failed" // a record written before kinds were recorded
	}
	return kind
}

// RecordFlags are the --record flags of gather and run.
type RecordFlags struct {
	Path    string
	Secrets bool
	Output  bool
	MaxSize string
}

// Add adds the flags; what is "DIR" for gather, "FILE" for run.
func (r *RecordFlags) Add(fl *pflag.FlagSet, what string) {
	fl.StringVar(&r.Path, "record", "", "record every invocation (inputs and output) into `"+what+"`, for wasmcollector replay")
	fl.BoolVar(&r.Secrets, "record-secrets", false, "record the values of the modules' environment variables (default: names only)")
	fl.BoolVar(&r.Output, "record-output", false, "record the output's bytes, not only its sha256, so a replay can show a diff")
	fl.StringVar(&r.MaxSize, "record-max-size", "256MiB", "cap of the recording (compressed), e.g. 64MiB")
}

func (r *RecordFlags) options() (replay.Options, error) {
	n, err := bytesize.Parse(r.MaxSize)
	if err != nil || n <= 0 {
		return replay.Options{}, cmdutil.BadInput("--record-max-size %q: want a size such as 64MiB", r.MaxSize)
	}
	return replay.Options{Secrets: r.Secrets, Output: r.Output, MaxBytes: n}, nil
}

// Dir returns the recorder of a gather, nil without --record.
func (r *RecordFlags) Dir() (*replay.Recorder, error) {
	if r.Path == "" {
		return nil, nil
	}
	o, err := r.options()
	if err != nil {
		return nil, err
	}
	rec, err := replay.NewRecorder(r.Path, o)
	if err != nil {
		return nil, cmdutil.BadInput("--record: %w", err)
	}
	return rec, nil
}

// File returns the recorder of a run, nil without --record.
func (r *RecordFlags) File() (*replay.Recorder, error) {
	if r.Path == "" {
		return nil, nil
	}
	o, err := r.options()
	if err != nil {
		return nil, err
	}
	rec, err := replay.NewFileRecorder(r.Path, o)
	if err != nil {
		return nil, cmdutil.BadInput("--record: %w", err)
	}
	return rec, nil
}

// PrintSummary says what a recording wrote and whether its cap cut it short.
func PrintSummary(w io.Writer, rec *replay.Recorder) {
	if rec == nil {
		return
	}
	s := rec.Summary()
	fmt.Fprintf(w, "recorded %s into %s: %s (cap %s)\n", cmdutil.Count(s.Records, "invocation", "invocations"), s.Path,
		bytesize.Approx(s.Bytes), bytesize.Exact(s.MaxBytes))
	if s.CapReached() {
		fmt.Fprintf(w, "recording reached its cap of %s: %s not recorded, %s stopped short (raise --record-max-size)\n",
			bytesize.Exact(s.MaxBytes), cmdutil.Count(s.Skipped, "invocation", "invocations"), cmdutil.Count(s.Incomplete, "record", "records"))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "recording failed: %s\n", cmdutil.EscapeControl(e))
	}
}
