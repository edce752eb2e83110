// Package wasmcollector is the front door for products that embed the collector host: load a
// registry (collectors.toml and the sidecars beside its modules), then gather, run one collector,
// or read the bookkeeping, in a few lines and with typed results.
//
//	host, err := wasmcollector.Load("/etc/product/collectors.toml", nil) // or LoadFS from an embed.FS
//	if err != nil {
//		return err // a registry.Problems listing every problem, file:line: field: message
//	}
//	defer host.Close()
//	res, err := host.Gather(ctx, wasmcollector.GatherOptions{Type: wasmcollector.DryRun})
//
// [Check] needs no registry: it answers whether a module and its sidecar are fit to ship.
//
// A [Host] owns the executor that runs guests (worker processes unless [runtime] isolation =
// "in-process"), so one Host serves many gathers and runs: modules are compiled once, workers are
// reused. It is safe for concurrent use, but the bookkeeping lets one gather at a time proceed
// (a second one fails with [state.ErrLocked]).
//
// The packages underneath are public for what they model: [registry] (the TOML), [gather] (the
// algorithm: windows, slices, packaging, delivery), [runtime] (the sandbox), [hostfuncs] (the ABI),
// datasource, [packaging], [shipping], [state], [modulecheck] (a module's fitness to ship) and
// ingress (a test double of the cloud service). Wiring them from a registry happens here.
//
// A product that runs guests in worker processes must let the worker run: the host re-executes
// its own binary, whose init serves the job (see internal/worker), or the binary named by
// $WASMCOLLECTOR_WORKER_BINARY.
package wasmcollector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Options configure a [Host]. The zero value is usable.
type Options struct {
	// Logger receives the host's logs and the guests' log lines. Default: slog.Default().
	Logger *slog.Logger
	// UserAgent is sent with every upload. Default "wasmcollector".
	UserAgent string
	// Now is the clock gathers and runs read. Default time.Now.
	Now func() time.Time
}

// Host runs the collectors of one registry. Make it with [Load]; Close it when done.
type Host struct {
	reg  *registry.Registry
	log  *slog.Logger
	ua   string
	now  func() time.Time
	once sync.Once // starts the executor on first use

	exec      gather.Executor
	closeExec func() error
	execErr   error
}

// Load reads the registry at path (collectors.toml; relative paths in it resolve against its
// directory) and returns a host for it. Problems in the root file fail the load with a
// [registry.Problems] listing all of them; a module whose sidecar has problems is left out (see
// [registry.DisabledModule]) and logged as a warning. opts may be nil.
func Load(path string, opts *Options) (*Host, error) {
	reg, err := registry.Load(path)
	if err != nil {
		return nil, err
	}
	h := New(reg, opts)
	for _, d := range reg.Disabled {
		h.log.Warn("module disabled: its sidecar has problems (wasmcollector validate shows them)",
			"module", d.Name, "sidecar", d.Sidecar, "problems", d.Problems.Error())
	}
	return h, nil
}

// New returns a host for a registry already loaded. The host keeps a copy of reg
// ([registry.Registry.Clone]): what the caller does to reg afterwards does not reach it. opts may
// be nil.
func New(reg *registry.Registry, opts *Options) *Host {
	reg = reg.Clone()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.UserAgent == "" {
		o.UserAgent = "wasmcollector"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Host{reg: reg, log: o.Logger, ua: o.UserAgent, now: o.Now}
}

// WithRegistry returns a new host for reg with the options h was made with (logger, user agent,
// clock), keeping a copy of reg as [New] does. The hosts share nothing: the new one starts its
// own executor on first use, and closing either leaves the other running. A long-running agent
// builds its next host this way when the configuration changes.
func (h *Host) WithRegistry(reg *registry.Registry) *Host {
	return New(reg, &Options{Logger: h.log, UserAgent: h.ua, Now: h.now})
}

// Registry returns a copy of the registry the host runs: changing it changes nothing the host
// does.
func (h *Host) Registry() *registry.Registry { return h.reg.Clone() }

// Executor returns the host's executor, starting it on first use: gathers and runs share it.
func (h *Host) Executor(ctx context.Context) (gather.Executor, error) {
	h.once.Do(func() {
		h.exec, h.closeExec, h.execErr = executor.New(ctx, h.reg, h.log)
	})
	return h.exec, h.execErr
}

// Close stops the executor's workers and closes the data sources it opened.
func (h *Host) Close() error {
	h.once.Do(func() { h.execErr = errors.New("wasmcollector: host is closed") })
	if h.closeExec != nil {
		return h.closeExec()
	}
	return nil
}
