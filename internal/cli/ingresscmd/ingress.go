// Package ingresscmd implements `wasmcollector ingress`: the local ingress receiver, for
// development, demos and tests.
package ingresscmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/ingress"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/secret"
)

// Options are the flags of ingress.
type Options struct {
	Factory         *cmdutil.Factory
	Listen          string
	Dir             string
	Path            string
	User            string
	PasswordEnv     string
	PasswordFile    string
	RequireIdentity bool
	ContentTypes    []string
	UploadTypes     []string
	MaxSize         string
	KeepUploads     int
	MaxConns        int
	HeaderTimeout   time.Duration
	MinUploadRate   string
	IdleTimeout     time.Duration
	FailNext        int
	FailMode        string
	TLSCert, TLSKey string
	ClientCA        string
	KeepDuplicates  bool
}

// NewCmdIngress returns the ingress command.
func NewCmdIngress(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "ingress --listen <addr> --dir <dir> [flags]",
		Short: "Run a local ingress that receives tarballs like the cloud one",
		Long: `Run a small HTTP server that behaves like the cloud ingress, for development, demos and tests.
It checks each upload as the real service does: credentials (HTTP Basic with --user and a password
from --password-env or --password-file, or an x-rh-identity header with --require-identity), the
part's content type (as the real service: application/vnd.redhat.<service>.<category>+tgz with the
service one of --upload-types, by default wasmcollector's own; AWX sends service "tower"), a size limit (100 MB, like the real service), and that the file is a readable
tar.gz whose manifest.json lists its members. It stores what it accepts in --dir and answers 202;
anything else gets a 4xx with the reason. An upload repeating the payload identifier of one it
stored (Idempotency-Key or x-rh-insights-request-id; wasmcollector sends the tarball's sha256) is
answered with the same 202 and not stored again, unless --keep-duplicates.

To watch retries, make it fail the next uploads: --fail-next 2 --fail-mode 503 (or 500, drop, hang),
or while it runs: curl -X POST 'http://ADDR/api/ingress/v1/upload/_fail?n=2&mode=drop'.
GET .../_uploads lists what it stored. Both answer loopback clients only.

Slow or idle clients cannot starve it: a client has --header-timeout to send its request header
and must keep its body up with --min-upload-rate on average; at --max-conns connections (lowered to
fit the open-file limit) a new client closes the connection that has waited longest without a
request in progress. It remembers the newest --keep-uploads uploads (for .../_uploads); a tarball
over the read limits (10,000 members, 1 KiB names, 4 GiB uncompressed, ...) is answered 413.

With --tls-cert and --tls-key it serves HTTPS; with --client-ca as well it requires client
certificates signed by that CA (mutual TLS). It runs until interrupted.`,
		Example: `  wasmcollector ingress --listen 127.0.0.1:8080 --dir ./received
  DEMO_PASSWORD=s3cret wasmcollector ingress --listen 127.0.0.1:8080 --dir ./received --user demo --password-env DEMO_PASSWORD`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "`address` to listen on")
	fl.StringVar(&opts.Dir, "dir", "received", "`directory` for accepted uploads")
	fl.StringVar(&opts.Path, "path", ingress.DefaultPath, "upload `path`")
	fl.StringVar(&opts.User, "user", "", "require HTTP Basic with this user name")
	fl.StringVar(&opts.PasswordEnv, "password-env", "", "environment `variable` holding the Basic password")
	fl.StringVar(&opts.PasswordFile, "password-file", "", "`file` holding the Basic password")
	fl.BoolVar(&opts.RequireIdentity, "require-identity", false, "require an x-rh-identity header (either this or Basic satisfies)")
	fl.StringSliceVar(&opts.UploadTypes, "upload-types", []string{ingress.DefaultUploadType}, "`services` the part content type may name, as the real ingress's INGRESS_VALID_UPLOAD_TYPES (e.g. tower,advisor)")
	fl.StringSliceVar(&opts.ContentTypes, "content-type", nil, "accept exactly these part content `types` instead of --upload-types")
	fl.StringVar(&opts.MaxSize, "max-size", "100MB", "largest upload accepted")
	fl.IntVar(&opts.KeepUploads, "keep-uploads", ingress.DefaultKeepUploads, "remember the newest `n` uploads in memory (their files all stay in --dir)")
	fl.IntVar(&opts.MaxConns, "max-conns", ingress.DefaultMaxConns, "most connections open at once (lowered to fit the open-file limit)")
	fl.DurationVar(&opts.HeaderTimeout, "header-timeout", ingress.DefaultReadHeaderTimeout, "time a client has to send its request header")
	fl.StringVar(&opts.MinUploadRate, "min-upload-rate", "256KiB", "slowest average rate of a request body, per second, after --header-timeout of grace")
	fl.DurationVar(&opts.IdleTimeout, "idle-timeout", ingress.DefaultIdleTimeout, "time a kept-alive connection may wait for its next request")
	fl.IntVar(&opts.FailNext, "fail-next", 0, "fail the next `n` uploads on purpose")
	fl.StringVar(&opts.FailMode, "fail-mode", "503", "how to fail them: {500|503|drop|hang}")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `file`")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "PEM key `file` of --tls-cert")
	fl.StringVar(&opts.ClientCA, "client-ca", "", "require client certificates signed by this PEM CA `file`")
	fl.BoolVar(&opts.KeepDuplicates, "keep-duplicates", false, "store every copy of a repeated upload (default: a repeat of a stored payload identifier is answered 202 and not stored)")
	return cmd
}

// Run serves until ctx is done.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	maxBytes, err := bytesize.Parse(opts.MaxSize)
	if err != nil {
		return cmdutil.BadInput("--max-size: %w", err)
	}
	minRate, err := bytesize.Parse(opts.MinUploadRate)
	if err != nil {
		return cmdutil.BadInput("--min-upload-rate: %w", err)
	}
	if minRate <= 0 || opts.MaxConns <= 0 || opts.HeaderTimeout <= 0 || opts.IdleTimeout <= 0 || opts.KeepUploads <= 0 {
		return cmdutil.BadInput("--min-upload-rate, --max-conns, --header-timeout, --idle-timeout and --keep-uploads must be positive")
	}
	password, err := secret.Ref{Env: opts.PasswordEnv, File: opts.PasswordFile}.Resolve()
	if err != nil {
		return cmdutil.BadInput("password: %w", err)
	}
	if opts.User != "" && password == "" {
		return cmdutil.BadInput("--user needs a password: --password-env or --password-file")
	}
	srv, err := ingress.New(ingress.Config{
		Dir: opts.Dir, Path: opts.Path, MaxBytes: maxBytes, Username: opts.User, Password: password,
		RequireIdentity: opts.RequireIdentity, UploadTypes: opts.UploadTypes, ContentTypes: opts.ContentTypes, KeepUploads: opts.KeepUploads,
		Logger: f.Logger, KeepDuplicates: opts.KeepDuplicates,
	})
	if err != nil {
		return cmdutil.BadInput("%w", err)
	}
	defer srv.Close()
	if opts.FailNext > 0 {
		mode := ingress.FailMode(opts.FailMode)
		switch mode {
		case ingress.FailStatus500, ingress.FailStatus503, ingress.FailDrop, ingress.FailHang:
		default:
			return cmdutil.BadInput("--fail-mode %q: must be 500, 503, drop or hang", opts.FailMode)
		}
		srv.FailNext(opts.FailNext, mode)
	}
	tlsConfig, err := serverTLS(opts)
	if err != nil {
		return cmdutil.BadInput("%w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return cmdutil.Failed(fmt.Errorf("listen %s: %w", opts.Listen, err))
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	hs, err := srv.HTTPServer(ingress.HTTPLimits{
		MaxConns: opts.MaxConns, ReadHeaderTimeout: opts.HeaderTimeout, MinUploadRate: minRate, IdleTimeout: opts.IdleTimeout,
	})
	if err != nil {
		_ = ln.Close()
		return cmdutil.BadInput("%w", err)
	}
	f.Logger.Info("ingress listening", "url", scheme+"://"+ln.Addr().String()+opts.Path, "dir", opts.Dir, "max_conns", hs.MaxConns())
	// The address on stdout, for scripts that start it on port 0.
	fmt.Fprintf(f.Stdout, "%s://%s%s\n", scheme, ln.Addr(), opts.Path)
	done := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			done <- hs.ServeTLS(ln, tlsConfig)
			return
		}
		done <- hs.Serve(ln)
	}()
	select {
	case err := <-done:
		return cmdutil.Failed(err)
	case <-ctx.Done():
	}
	srv.Close() // releases hanging requests, so Shutdown does not wait for them
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cmdutil.Failed(err)
	}
	return nil
}

func serverTLS(opts *Options) (*tls.Config, error) {
	if opts.TLSCert == "" && opts.TLSKey == "" {
		if opts.ClientCA != "" {
			return nil, errors.New("--client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if opts.ClientCA != "" {
		pem, err := os.ReadFile(opts.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca %s: no certificates found", opts.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
