// Package cli is the wasmcollector command line: the root command, its global flags, and the
// mapping of errors to one-line messages and exit codes. Each subcommand lives in its own package
// (gather, serve, inspect, ingress, state, list, validate, run, replay, check, new, version, keygen, sign, verify) and gets its dependencies from a [cmdutil.Factory].
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/checkcmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/cli/gathercmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/ingresscmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/inspect"
	"github.com/wasmcollector/wasmcollector/internal/cli/list"
	"github.com/wasmcollector/wasmcollector/internal/cli/mancmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/newcmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/replaycmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/run"
	"github.com/wasmcollector/wasmcollector/internal/cli/servecmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/signcmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/statecmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/trustcmd"
	"github.com/wasmcollector/wasmcollector/internal/cli/validate"
	"github.com/wasmcollector/wasmcollector/internal/cli/version"
	"github.com/wasmcollector/wasmcollector/internal/iocount"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/wasmcollector/wasmcollector/internal/cli.Version=v1.2.3".
var Version = ""

func buildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// SystemConfig is the registry the CLI falls back to when neither --config nor
// $WASMCOLLECTOR_CONFIG names one and there is no collectors.toml in the working directory: where
// the packages install it.
var SystemConfig = "/etc/wasmcollector/collectors.toml"

// configPath picks the registry file: --config when given, then $WASMCOLLECTOR_CONFIG, then
// ./collectors.toml, then SystemConfig when it exists (else ./collectors.toml, whose absence
// the commands report).
func configPath(flag string, given bool) string {
	if given {
		return flag
	}
	if env := os.Getenv("WASMCOLLECTOR_CONFIG"); env != "" {
		return env
	}
	if _, err := os.Stat("collectors.toml"); err != nil {
		if _, err := os.Stat(SystemConfig); err == nil {
			return SystemConfig
		}
	}
	return "collectors.toml"
}

// Main runs the CLI with args (without the program name) and returns the exit code. It never
// panics and never prints a stack trace unless --debug is given. Questions (state reset) are
// answered on os.Stdin.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainIO(args, os.Stdin, stdout, stderr)
}

// MainIO is [Main] with the standard input given: nil reads nothing.
func MainIO(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// Results go through out, which remembers whether anything was written: an error in -o json
	// mode then goes where it does not follow a result document.
	out := &iocount.Writer{W: stdout}
	status := cmdutil.NewStatusLine(stderr)
	status.Width = func() int { return cmdutil.TerminalWidth(stderr) }
	f := &cmdutil.Factory{Stdout: out, Stderr: stderr, Stdin: stdin, Status: status, Version: buildVersion(), LogLevel: new(slog.LevelVar)}
	var logLevel string
	var debugFlag, started bool
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "wasmcollector: internal error: %v\n", r)
			if debugFlag {
				stderr.Write(debug.Stack())
			} else {
				fmt.Fprintln(stderr, "wasmcollector: run with --debug for details, and please report it")
			}
			code = cmdutil.ExitFailed
		}
	}()

	root := &cobra.Command{
		Use:   "wasmcollector <command> [flags]",
		Short: "Run sandboxed WebAssembly analytics collectors",
		Long: `wasmcollector runs analytics collectors that vendors ship as WebAssembly modules, each in a
sandbox with no files, network or environment, capped memory, CPU time and output. Collectors
are declared in collectors.toml (and in NAME.toml beside NAME.wasm in the modules directory).

` + cmdutil.ExitCodes,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       f.Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			started = true
			f.ConfigPath = configPath(f.ConfigPath, cmd.Flags().Changed("config"))
			level := slog.LevelInfo
			if debugFlag {
				level = slog.LevelDebug
			} else if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return cmdutil.BadInput("--log-level %q: must be debug, info, warn or error", logLevel)
			}
			pf := cmd.Root().PersistentFlags()
			f.LogLevelSet = debugFlag || pf.Changed("log-level")
			f.LogLevel.Set(level)
			// Through the status line: a log line never lands in the middle of gather's progress.
			f.Logger = slog.New(slog.NewTextHandler(status, &slog.HandlerOptions{Level: f.LogLevel}))
			return nil
		},
	}
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(stderr)
	root.SetVersionTemplate("wasmcollector {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.UsageError(err) })
	pf := root.PersistentFlags()
	pf.StringVarP(&f.ConfigPath, "config", "c", "", "registry `file`; default $WASMCOLLECTOR_CONFIG, else ./collectors.toml, else "+SystemConfig)
	pf.StringVar(&logLevel, "log-level", "info", "log level: {debug|info|warn|error}")
	pf.BoolVar(&debugFlag, "debug", false, "debug logging and full error details")

	root.AddCommand(
		gathercmd.NewCmdGather(f, nil),
		inspect.NewCmdInspect(f, nil),
		ingresscmd.NewCmdIngress(f),
		statecmd.NewCmdState(f),
		list.NewCmdList(f, nil),
		validate.NewCmdValidate(f, nil),
		run.NewCmdRun(f, nil),
		replaycmd.NewCmdReplay(f, nil),
		servecmd.NewCmdServe(f, nil),
		checkcmd.NewCmdCheck(f, nil),
		newcmd.NewCmdNew(f, nil),
		version.NewCmdVersion(f),
		signcmd.NewCmdKeygen(f),
		signcmd.NewCmdSign(f),
		signcmd.NewCmdVerify(f),
		trustcmd.NewCmdTrust(f),
		mancmd.NewCmdMan(f),
	)

	cmd, err := root.ExecuteC()
	if err == nil {
		return cmdutil.ExitOK
	}
	var silent *cmdutil.SilentError
	if errors.As(err, &silent) {
		return silent.Code
	}
	code = cmdutil.Code(err)
	if !started {
		code = cmdutil.ExitBadInput
	}
	printError(stderr, err)
	if !started || cmdutil.IsUsage(err) {
		// cobra refused the command line before any command ran (an unknown command, a bad
		// argument count or flag), or the error is a command-line error.
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	if wantsJSON(cmd, args) {
		// The error as a JSON object on stdout, after the line for people on stderr; on stderr
		// too when the command already printed its result on stdout (gather whose bookkeeping
		// could not be saved), so that stdout holds one document.
		w := io.Writer(out)
		if out.N > 0 {
			w = stderr
		}
		if werr := cmdutil.WriteErrorJSON(w, err, code); werr != nil {
			fmt.Fprintf(stderr, "wasmcollector: write the error as JSON: %v\n", werr)
		}
	}
	return code
}

// wantsJSON reports whether the command ran, or was meant to run, with -o json: its parsed flag
// says so, or, when cobra stopped before parsing it, the command line does.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if fl := cmd.Flags().Lookup("output"); fl != nil && fl.Changed {
			return fl.Value.String() == string(cmdutil.OutputJSON)
		}
	}
	return cmdutil.WantsJSON(args)
}

// printError prints one line per error: registry problems each on their own line, everything else
// as `wasmcollector: <error>`; control characters in messages are escaped.
func printError(w io.Writer, err error) {
	var problems registry.Problems
	if errors.As(err, &problems) {
		fmt.Fprintf(w, "wasmcollector: %s in the registry:\n", cmdutil.Count(len(problems), "problem", "problems"))
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", cmdutil.EscapeControl(p.Error()))
		}
		return
	}
	// One line, and nothing an untrusted name in the message could use to drive the terminal.
	msg := cmdutil.EscapeControl(strings.ReplaceAll(err.Error(), "\n", "; "))
	fmt.Fprintf(w, "wasmcollector: %s\n", msg)
}
