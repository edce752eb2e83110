// Package checkcmd implements `wasmcollector check`: whether a module and its sidecar are fit to
// ship, item by item, the way a vendor's CI asks before a release. The items come from
// [modulecheck]; this package reads the flags and prints the report.
package checkcmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/modulecheck"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Options are the flags and argument of check.
type Options struct {
	Factory        *cmdutil.Factory
	Module         string
	TOML           string
	Output         cmdutil.OutputFormat
	Timeout        time.Duration
	CacheDir       string
	CompileTimeout time.Duration
	// Fixtures maps a data source name to a SQLite database file (--fixture NAME=FILE):
	// collectors reading that source run against it. TimestampFormat is how its timestamp
	// columns are written; Until ends the sample slice (default now).
	Fixtures        map[string]string
	TimestampFormat string
	Until           string
	// Pub is a minisign public key file to verify the module's signature with (--pub).
	Pub string
}

// NewCmdCheck returns the check command; runF replaces the real run in tests when not nil.
func NewCmdCheck(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	var fixtures []string
	cmd := &cobra.Command{
		Use:   "check <module.wasm> [--toml <sidecar>] [--timeout <duration>] [--fixture <name=file>]... [-o json]",
		Short: "Check whether a module and its sidecar are fit to ship",
		Long: `Check a collector module the way a product will run it, and report one line per item:

  read, size     the file is readable and at most 64 MiB (warn over 8 MiB)
  compile        it is valid WebAssembly
  abi            it imports only wasmcollector_v1 and wasi_snapshot_preview1 functions, with the
                 right types, exports its memory, and is a reactor (not a WASI command)
  memory         its declared minimum memory fits the limit (64 MiB, or the sidecar's)
  sidecar        NAME.toml beside the module (or --toml) is a valid sidecar; a warning when it
                 declares no config collector (a product's registry provides one)
  exports        every collector's function is exported with type () -> i32
  startup        a fresh instance starts fast: the quickest empty-slice run (warn over 50ms)
  run <key>      each collector runs for an empty slice (since = until) and a sample slice (the
                 last hour, a day when daily; the slicing interval when shorter), under the default
                 limits and --timeout, and its output is valid: one JSON document, or a CSV header
                 and rows. Collectors that read data sources run only against fixture databases
                 the vendor names (--fixture NAME=FILE, SQLite; --timestamp-format as the
                 product's timestamp_format; --until to end the sample slice where the fixture
                 has data); otherwise they are not run (a warning). A CSV collector with
                 time_column has its rows checked by the slice guard: a row outside the slice
                 fails the run, naming the row, its value and the bounds.

  signature      NAME.wasm.minisig (as 'sign' writes it) is beside the module and verifies over
                 the module's and the sidecar's bytes, with --pub or collectors.toml's [trust]
                 keys (without a key, its name and sidecar claims are checked): key ID, trusted
                 comment and signing time; a warning when unsigned
  trust          when a collectors.toml is given (-c) or found as other commands find it, and
                 has [trust]: whether it accepts the signature for the module, by which key and
                 pattern

The sidecar is read by the registry alone, as if dropped into an empty modules directory; the
module is compiled and run by the real sandbox. Items that cannot be checked because an earlier
one failed are reported as SKIP. Exit 1 when an item fails, 0 otherwise.

-o json prints {module, sha256, passed, checks: [{name, status, detail}], signature: {file,
present, verified, problem, key_id, trusted_comment, signed_at, trust: {config, module, accepted,
key_name, pattern, problem}}}, status being pass, warn, fail or skip.`,
		Example: `  wasmcollector check build/modules/job_events.wasm
  wasmcollector check acme.wasm --toml deploy/acme.toml -o json
  wasmcollector check acme.wasm --timeout 30s`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Module = args[0]
			if opts.Timeout <= 0 {
				return cmdutil.BadInput("--timeout %s: must be more than 0", opts.Timeout)
			}
			if opts.CompileTimeout <= 0 {
				return cmdutil.BadInput("--compile-timeout %s: must be more than 0", opts.CompileTimeout)
			}
			opts.Fixtures = map[string]string{}
			for _, fx := range fixtures {
				name, file, ok := strings.Cut(fx, "=")
				if !ok || !modulecheck.ValidFixtureName(name) || file == "" {
					return cmdutil.BadInput("--fixture %q: want NAME=FILE, NAME a data source name", fx)
				}
				if _, err := os.Stat(file); err != nil {
					return cmdutil.BadInput("--fixture %s: %w", name, err)
				}
				opts.Fixtures[name] = file
			}
			if opts.TimestampFormat != "" && !slices.Contains(registry.TimestampFormats, opts.TimestampFormat) {
				return cmdutil.BadInput("--timestamp-format %q: must be one of %s", opts.TimestampFormat, strings.Join(registry.TimestampFormats, ", "))
			}
			if opts.Until != "" {
				if _, err := cmdutil.ParseTime("until", opts.Until); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(context.Background(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TOML, "toml", "", "the sidecar `file` (default: NAME.toml beside NAME.wasm)")
	fl.VarP(&opts.Output, "output", "o", "output format: {text|json}")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "deadline of each collector run (the collector's own timeout when shorter)")
	fl.StringVar(&opts.CacheDir, "cache-dir", "", "compilation cache `directory` (default: the runtime's)")
	fl.DurationVar(&opts.CompileTimeout, "compile-timeout", runtime.DefaultCompileTimeout, "bound on compiling the module, as [runtime] compile_timeout")
	fl.StringArrayVar(&fixtures, "fixture", nil, "run collectors reading data source NAME against this SQLite `NAME=FILE` (repeatable)")
	fl.StringVar(&opts.TimestampFormat, "timestamp-format", "", "how the fixtures' timestamp columns are written, as timestamp_format (default iso8601)")
	fl.StringVar(&opts.Until, "until", "", "end of the sample slice (RFC 3339; default now)")
	fl.StringVar(&opts.Pub, "pub", "", "minisign public key `file` to verify the module's signature with (besides collectors.toml's [trust] keys)")
	return cmd
}

// Run checks the module and prints the report; an item that failed makes it exit 1.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	until := time.Time{}
	if opts.Until != "" {
		until, _ = cmdutil.ParseTime("until", opts.Until) // checked with the flags
	} else {
		until = f.Clock().Truncate(time.Second)
	}
	trust, err := trustFor(f, opts)
	if err != nil {
		return err
	}
	rep, err := modulecheck.Check(ctx, modulecheck.Options{Trust: trust,
		Module: opts.Module, TOML: opts.TOML, Timeout: opts.Timeout, CacheDir: opts.CacheDir, CompileTimeout: opts.CompileTimeout,
		Fixtures: opts.Fixtures, TimestampFormat: opts.TimestampFormat, Until: until, Logger: f.Logger,
	})
	if err != nil {
		return cmdutil.Failed(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := cmdutil.WriteJSON(f.Stdout, rep); err != nil {
			return err
		}
	} else {
		writeText(f, rep)
	}
	if !rep.Passed {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailed}
	}
	return nil
}

func writeText(f *cmdutil.Factory, rep *modulecheck.Report) {
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	var failed []string
	warned := 0
	for _, c := range rep.Checks {
		fmt.Fprintf(f.Stdout, "%-4s  %-*s  %s\n", strings.ToUpper(c.Status), width, c.Name, c.Detail)
		switch c.Status {
		case modulecheck.StatusFail:
			failed = append(failed, c.Name)
		case modulecheck.StatusWarn:
			warned++
		}
	}
	name := filepath.Base(rep.Module)
	switch {
	case len(failed) > 0:
		fmt.Fprintf(f.Stdout, "%s: not fit to ship: %d failed (%s)\n", name, len(failed), strings.Join(failed, ", "))
	case warned > 0:
		fmt.Fprintf(f.Stdout, "%s: fit to ship, %d %s\n", name, warned, map[bool]string{true: "warning", false: "warnings"}[warned == 1])
	default:
		fmt.Fprintf(f.Stdout, "%s: fit to ship\n", name)
	}
}

// trustFor returns what the signature is verified against: --pub, and the [trust] keys of the
// collectors.toml found as other commands find it (-c, $WASMCOLLECTOR_CONFIG, ./collectors.toml,
// the system's). No file is no trust config; one that does not load is a warning item.
func trustFor(f *cmdutil.Factory, opts *Options) (*modulecheck.Trust, error) {
	t := &modulecheck.Trust{}
	if opts.Pub != "" {
		pub, err := signature.ReadPublicKey(opts.Pub)
		if err != nil {
			return nil, cmdutil.BadInput("--pub: %w", err)
		}
		t.PublicKeys = []string{pub.String()}
	}
	path := f.ConfigPath
	if path == "" {
		return t, nil
	}
	if _, err := os.Stat(path); err != nil {
		return t, nil
	}
	reg, err := registry.Load(path)
	if reg == nil {
		t.Problem = fmt.Sprintf("%s does not load, so its [trust] is not checked: %v", path, err)
		return t, nil
	}
	if !reg.Trust.Enabled {
		return t, nil
	}
	t.Config, t.Keys = path, reg.Trust.Keys
	t.Name = filepath.Base(opts.Module)
	if abs, err := filepath.Abs(opts.Module); err == nil {
		if rel, err := filepath.Rel(reg.Runtime.ModulesDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Name = filepath.ToSlash(rel)
		}
	}
	return t, nil
}
