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
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/serve"
)

// Options are the flags of serve.
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
}

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

Over HTTP on --listen (loopback by default):
  /          the collectors, the recent gathers and what each tarball held (a preview of its
             rows, read before it was sent), with a chart of rows and bytes per collector
  /metrics   Prometheus metrics
  /healthz   200 while the process runs
  /readyz    200 once the modules are compiled and the workers started, 503 while stopping

Hot reload: when collectors.toml or a file in the modules directory changes (or on SIGHUP), the
configuration is loaded again and every module compiled and checked in the background; the new
set is swapped in between gathers only if all pass, otherwise the error is logged, shown on the
page and counted, and the previous modules keep running. --no-watch leaves only SIGHUP.

--basic-auth-file names a file whose first line is user:password; the page and /metrics then
require it (the probes do not). SIGTERM or SIGINT stops the running gather (what was shipped is
recorded; the next run collects the rest) and exits within 2 s.`,
		Example: `  wasmcollector serve
  wasmcollector serve --interval 1h --jitter 5m --listen 127.0.0.1:9110
  wasmcollector serve --cron "30 */4 * * *" --jitter 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Cron != "" && cmd.Flags().Changed("interval") {
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
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:9110", "`address` for the page, /metrics and the health checks")
	fl.DurationVar(&opts.Interval, "interval", 4*time.Hour, "time between gathers")
	fl.StringVar(&opts.Cron, "cron", "", "gather at these times instead of every --interval: a cron `expression` (\"0 */4 * * *\", @hourly; TZ=Zone prefix)")
	fl.DurationVar(&opts.Jitter, "jitter", 0, "delay each gather by a random `duration` up to this")
	fl.StringVar(&opts.Out, "out", "", "directory for the tarballs (default [gather] out_dir, \"out\")")
	fl.StringVar(&opts.BasicAuthFile, "basic-auth-file", "", "`file` holding user:password for the page and /metrics")
	fl.BoolVar(&opts.NoWatch, "no-watch", false, "do not reload when collectors.toml or the modules directory change (SIGHUP still reloads)")
	fl.StringVar(&opts.Now, "now", "", "pretend the time is this (for tests and replays)")
	_ = fl.MarkHidden("now")
	return cmd
}

// Run serves until ctx ends.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	log := f.Logger
	var schedule func(time.Time) time.Time
	if opts.Cron != "" {
		// robfig/cron's parser: the standard five fields, @hourly-style descriptors and a TZ=
		// prefix, well tested; only its parser is used, the agent keeps its own loop.
		sched, err := cron.ParseStandard(opts.Cron)
		if err != nil {
			return cmdutil.BadInput("--cron %q: %w", opts.Cron, err)
		}
		schedule = sched.Next
	} else if opts.Interval <= 0 {
		return cmdutil.BadInput("--interval %s: must be positive", opts.Interval)
	}
	if opts.Jitter < 0 {
		return cmdutil.BadInput("--jitter %s: must not be negative", opts.Jitter)
	}
	var auth *serve.BasicAuth
	if opts.BasicAuthFile != "" {
		var err error
		if auth, err = serve.ReadBasicAuthFile(opts.BasicAuthFile); err != nil {
			return cmdutil.BadInput("--basic-auth-file: %w", err)
		}
	}
	now := f.Now
	if opts.Now != "" {
		t, err := cmdutil.ParseTime("now", opts.Now)
		if err != nil {
			return err
		}
		now = func() time.Time { return t }
	}
	reg, err := f.Registry()
	if err != nil {
		return err
	}
	hostOpts := &wasmcollector.Options{Logger: log, UserAgent: "wasmcollector/" + f.Version, Now: now}
	host := wasmcollector.New(reg, hostOpts)
	load := func() (*wasmcollector.Host, error) { return wasmcollector.Load(f.ConfigPath, hostOpts) }
	agent, err := serve.New(serve.Config{Host: host, Load: load, Interval: opts.Interval, Schedule: schedule, Jitter: opts.Jitter, OutDir: opts.Out, Logger: log, Now: now})
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
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return cmdutil.BadInput("--listen: %w", err)
	}
	if !loopback(ln.Addr()) && auth == nil {
		log.Warn("the page is reachable beyond this machine without a password: it shows what the collectors emit; set --basic-auth-file or listen on loopback", "listen", ln.Addr().String())
	}
	srv := &http.Server{Handler: agent.Handler(auth), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/", "interval", opts.Interval, "jitter", opts.Jitter)

	if !opts.NoWatch {
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
