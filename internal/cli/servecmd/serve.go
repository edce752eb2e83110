// Package servecmd implements `wasmcollector serve`: the long-running agent with its web page,
// metrics and health checks (package internal/serve).
package servecmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/serve"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Options are the flags of serve. Those of the [serve] table override it only when given:
// Changed says which were.
type Options struct {
	Factory       *cmdutil.Factory
	Listen        string
	Interval      time.Duration
	Cron          string
	Jitter        time.Duration
	Out           string
	BasicAuthFile string
	Now           string
	NoWatch       bool
	Record        string
	RecordOutput  bool
	RecordSecrets bool
	// Changed reports whether the flag of this name was given; nil means none was.
	Changed func(name string) bool
}

// changed reports whether the flag name was given.
func (o *Options) changed(name string) bool { return o.Changed != nil && o.Changed(name) }

// shutdownGrace bounds how long serve waits, once told to stop, for the running gather and the
// HTTP server to end: the bound is 2 s in all.
const shutdownGrace = 1500 * time.Millisecond

// NewCmdServe returns the serve command; runF replaces the real run in tests when not nil.
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "serve [--listen <addr>] [--interval <duration> | --cron <expr>] [--jitter <duration>] [--basic-auth-file <file>]",
		Short: "Run as a service: gather on a schedule and serve a web page, metrics and health checks",
		Long: `Keep running: gather now and then every --interval (plus a random delay up to --jitter), or at
the times of a --cron expression (five fields or @hourly, @daily, ...; "TZ=Europe/Paris 0 3 * * *"
for a zone other than the local one), one
gather at a time, under the same lock and bookkeeping as 'wasmcollector gather' (a round that
finds the lock held by another gather is skipped). The type is manual when [shipping] has a url,
else dry-run.

The schedule, address, password file and watching are set in collectors.toml's [serve] table
(interval, cron, jitter, listen, basic_auth_file, watch); each flag given overrides its key, and
--interval or --cron replaces the file's schedule, whichever kind it is. Without either: every
4h, on 127.0.0.1:9110.

Over HTTP on --listen (loopback by default):
  /          the collectors, the recent gathers and what each tarball held (a preview of its
             rows, read before it was sent), with a chart of rows and bytes per collector
  /metrics   Prometheus metrics
  /healthz   200 while the process runs
  /readyz    200 once the modules are compiled and the workers started, 503 while stopping

Hot reload: when collectors.toml or a file in the modules directory changes (or on SIGHUP), the
configuration is loaded again and each new or changed module compiled and checked in the
background, then swapped in between gathers. A module that fails is refused alone: the reason is
logged, shown on the page and counted by module, and its previous version keeps running (a new
module that fails is not added). A collectors.toml that does not load changes nothing. A new
[serve] schedule and basic_auth_file apply at once, new record settings from the next gather;
listen and watch need a restart, and the reload says so. --no-watch (or watch = false) leaves
only SIGHUP.

Record and replay: with --record DIR (or [serve] record_dir), each gather's invocations are
recorded into DIR/<gather's UTC start time>, which 'wasmcollector replay' takes as it is; the
page links each recent gather's records (a tar, or file by file). [serve] record = "failures"
keeps only the records of invocations that failed or were abandoned; record_keep_bytes (default
256MiB) and record_keep bound what is kept, the oldest gathers' records removed first.
--record-output and --record-secrets (record_output, record_secrets) are as for gather.

--basic-auth-file names a file whose first line is user:password; the page and /metrics then
require it (the probes do not). It is read again whenever it changes, so rotating the password
needs no restart; a new version that is broken keeps the previous credentials, and the log says
so. SIGTERM or SIGINT stops the running gather (what was shipped is
recorded; the next run collects the rest) and exits within 2 s.`,
		Example: `  wasmcollector serve
  wasmcollector serve --interval 1h --jitter 5m --listen 127.0.0.1:9110
  wasmcollector serve --cron "30 */4 * * *" --jitter 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Changed = cmd.Flags().Changed
			if opts.changed("cron") && opts.changed("interval") {
				return cmdutil.BadInput("--cron and --interval exclude each other")
			}
			if runF != nil {
				return runF(opts)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, opts)
		},
	}
	fl := cmd.Flags()
	// The defaults are the [serve] table's: a flag counts only when given.
	fl.StringVar(&opts.Listen, "listen", "", "`address` for the page, /metrics and the health checks (default [serve] listen, else "+registry.DefaultServeListen+")")
	fl.DurationVar(&opts.Interval, "interval", 0, "time between gathers (default [serve] interval or cron, else "+registry.Duration(registry.DefaultServeInterval).String()+")")
	fl.StringVar(&opts.Cron, "cron", "", "gather at these times instead of every --interval: a cron `expression` (\"0 */4 * * *\", @hourly; TZ=Zone prefix)")
	fl.DurationVar(&opts.Jitter, "jitter", 0, "delay each gather by a random `duration` up to this (default [serve] jitter, else 0)")
	fl.StringVar(&opts.Out, "out", "", "directory for the tarballs (default [gather] out_dir, \"out\")")
	fl.StringVar(&opts.BasicAuthFile, "basic-auth-file", "", "`file` holding user:password for the page and /metrics (default [serve] basic_auth_file)")
	fl.BoolVar(&opts.NoWatch, "no-watch", false, "do not reload when collectors.toml or the modules directory change (SIGHUP still reloads; default [serve] watch)")
	fl.StringVar(&opts.Record, "record", "", "record each gather's invocations into a directory of its own under `dir`, for wasmcollector replay (default [serve] record_dir, else none)")
	fl.BoolVar(&opts.RecordOutput, "record-output", false, "record the output's bytes, so a replay can show a diff (default [serve] record_output)")
	fl.BoolVar(&opts.RecordSecrets, "record-secrets", false, "record the values of the modules' environment variables (default [serve] record_secrets: names only)")
	fl.StringVar(&opts.Now, "now", "", "pretend the time is this (for tests and replays)")
	_ = fl.MarkHidden("now")
	return cmd
}

// settings are serve's settings once the flags given are applied over [serve].
type settings struct {
	timing           serve.Timing
	listen, authFile string
	watch            bool
	record           registry.RecordSettings
}

// resolve applies the flags given over sv, the registry's [serve] table (its defaults applied):
// flag, else file, else default. A flag's bad value is named by the flag; a combination that
// only the flags and the file together make bad names both.
func resolve(opts *Options, sv registry.ServeSettings) (s settings, err error) {
	s = settings{timing: serve.Timing{Interval: sv.Interval, Cron: sv.Cron, Jitter: sv.Jitter},
		listen: sv.Listen, authFile: sv.BasicAuthFile, watch: sv.Watch, record: sv.Record}
	intervalFrom, cronFrom := "[serve] interval", "[serve] cron"
	switch {
	case opts.changed("cron"):
		if _, err := registry.ParseCron(opts.Cron); err != nil {
			return s, cmdutil.BadInput("--cron %q: %w", opts.Cron, err)
		}
		s.timing.Cron, s.timing.Interval, cronFrom = opts.Cron, 0, "--cron"
	case opts.changed("interval"):
		if opts.Interval <= 0 {
			return s, cmdutil.BadInput("--interval %s: must be positive", opts.Interval)
		}
		s.timing.Cron, s.timing.Interval, intervalFrom = "", opts.Interval, "--interval"
	}
	jitterFrom := "[serve] jitter"
	if opts.changed("jitter") {
		if opts.Jitter < 0 {
			return s, cmdutil.BadInput("--jitter %s: must not be negative", opts.Jitter)
		}
		s.timing.Jitter, jitterFrom = opts.Jitter, "--jitter"
	}
	if t := s.timing; t.Interval > 0 && t.Jitter >= t.Interval {
		return s, cmdutil.BadInput("jitter %s (%s) must be less than the interval %s (%s)", t.Jitter, jitterFrom, t.Interval, intervalFrom)
	}
	if t := s.timing; t.Cron != "" {
		if msg := registry.CheckCronJitter(t.Cron, t.Jitter, time.Now()); msg != "" {
			return s, cmdutil.BadInput("jitter %s (%s) %s (%s)", t.Jitter, jitterFrom, msg, cronFrom)
		}
	}
	if opts.changed("listen") {
		s.listen = opts.Listen
	}
	if opts.changed("basic-auth-file") {
		s.authFile = opts.BasicAuthFile
	}
	if opts.changed("no-watch") {
		s.watch = !opts.NoWatch
	}
	if opts.changed("record") {
		if opts.Record == "" {
			s.record.Dir = "" // --record "" turns the file's recording off
		} else if s.record.Dir, err = filepath.Abs(opts.Record); err != nil {
			return s, cmdutil.BadInput("--record %q: %w", opts.Record, err)
		}
	}
	if opts.changed("record-output") {
		s.record.Output = opts.RecordOutput
	}
	if opts.changed("record-secrets") {
		s.record.Secrets = opts.RecordSecrets
	}
	return s, nil
}

// Run serves until ctx ends.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	log := f.Logger
	reg, err := f.Registry()
	if err != nil {
		return err
	}
	set, err := resolve(opts, reg.Serve)
	if err != nil {
		return err
	}
	// Re-read when it changes (each request checks), and moved by a reload to a changed [serve]
	// basic_auth_file: rotating the password needs no restart.
	auth, err := serve.OpenAuthFile(set.authFile, log)
	if err != nil {
		if opts.changed("basic-auth-file") {
			return cmdutil.BadInput("--basic-auth-file: %w", err)
		}
		return cmdutil.BadInput("[serve] basic_auth_file in %s: %w", reg.File, err)
	}
	now := f.Now
	if opts.Now != "" {
		t, err := cmdutil.ParseTime("now", opts.Now)
		if err != nil {
			return err
		}
		now = func() time.Time { return t }
	}
	hostOpts := &wasmcollector.Options{Logger: log, UserAgent: "wasmcollector/" + f.Version, Now: now}
	host := wasmcollector.New(reg, hostOpts)
	load := func() (*wasmcollector.Host, error) { return wasmcollector.Load(f.ConfigPath, hostOpts) }
	// After a reload, the flags still override the new [serve] table.
	timing := func(reg *registry.Registry) (serve.Timing, error) {
		s, err := resolve(opts, reg.Serve)
		return s.timing, err
	}
	onReload := func(reg *registry.Registry) {
		if s, err := resolve(opts, reg.Serve); err == nil {
			auth.SetPath(s.authFile)
		}
	}
	recording := func(reg *registry.Registry) (registry.RecordSettings, error) {
		s, err := resolve(opts, reg.Serve)
		return s.record, err
	}
	agent, err := serve.New(serve.Config{Host: host, Load: load, Timing: timing, OnReload: onReload, Recording: recording, OutDir: opts.Out, Logger: log, Now: now})
	if err != nil {
		host.Close()
		return cmdutil.BadInput("%w", err)
	}
	defer func() {
		if err := agent.Close(); err != nil {
			log.Warn("release the executor", "error", err)
		}
		log.Info("stopped")
	}()
	ln, err := net.Listen("tcp", set.listen)
	if err != nil {
		if opts.changed("listen") {
			return cmdutil.BadInput("--listen: %w", err)
		}
		return cmdutil.BadInput("[serve] listen in %s: %w", reg.File, err)
	}
	if !loopback(ln.Addr()) && set.authFile == "" {
		log.Warn("the page is reachable beyond this machine without a password: it shows what the collectors emit; set --basic-auth-file or listen on loopback", "listen", ln.Addr().String())
	}
	srv := &http.Server{Handler: agent.HandlerAuth(auth), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/", "schedule", agent.Timing().String())

	if set.watch {
		go func() {
			if err := agent.Watch(ctx, f.ConfigPath); err != nil {
				log.Warn("not watching the configuration; SIGHUP still reloads", "error", err)
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading")
				_ = agent.Reload(ctx)
			}
		}
	}()

	runErr := agent.Run(ctx)
	log.Info("stopping: the scheduler has ended, closing the HTTP server and the workers")
	shut, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cmdutil.Failed(fmt.Errorf("serve: %w", err))
	}
	if runErr != nil {
		return cmdutil.Failed(runErr)
	}
	return nil
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
