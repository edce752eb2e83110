package wasmcollector

import (
	"context"
	"time"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/replay"
)

// Why a collector runs, as guests read it with collection_type.
const (
	// DryRun keeps the tarballs in the output directory and records nothing.
	DryRun = hostfuncs.DryRun
	// Manual ships every tarball, then advances the bookkeeping over what the ingress accepted.
	Manual = hostfuncs.Manual
	// Scheduled is Manual run by a timer.
	Scheduled = hostfuncs.Scheduled
)

// GatherOptions say what one gather does. The zero value is a dry run of every collector over the
// window the bookkeeping gives, into [gather] out_dir.
type GatherOptions struct {
	// Type is DryRun (the default), Manual or Scheduled.
	Type hostfuncs.CollectionType
	// Since and Until bound the window; zero values take the bookkeeping's and now.
	Since, Until time.Time
	// Subset runs only these collector keys (the config collector always runs).
	Subset []string
	// OutDir is where tarballs are written; default [gather] out_dir.
	OutDir string
	// MinInterval skips the gather (gather.ErrTooSoon) when the last one is more recent.
	MinInterval time.Duration
	// Progress, when set, is called before each invocation.
	Progress func(gather.Progress)
	// Shipper replaces the uploader [shipping] describes (Manual and Scheduled only).
	Shipper gather.Shipper
	// License replaces the [license] file check.
	License gather.LicenseChecker
	// Store replaces the bookkeeping [state] describes. The host does not close it.
	Store Bookkeeping
	// Record, when set, records every invocation (what the host gave the guest and what it
	// produced) into the recorder's directory, for `wasmcollector replay`; its Summary says
	// what was written. See package replay. The gather tells it how each invocation went
	// ([replay.Recorder.Settle]), so that one recording only failures keeps only theirs.
	Record *replay.Recorder
}

// Gather runs every collector for its window, packs what they emit into tarballs and, unless it
// is a dry run, ships them and records what the ingress accepted. The result lists every
// collector and tarball; a collector that failed is in it with its error, and the gather goes on
// (Result.Failed reports it). The error is for what stopped the gather as a whole: errors.Is
// finds gather.ErrTooSoon, gather.ErrNothingNew, gather.ErrNotLicensed, gather.ErrShippingNotConfigured,
// gather.ErrBadSubset, gather.ErrStateNotSaved (with a result), state.ErrLocked, and a
// *ConfigError for a setting that cannot be used.
func (h *Host) Gather(ctx context.Context, opts GatherOptions) (*gather.Result, error) {
	if opts.Type == "" {
		opts.Type = DryRun
	}
	if opts.OutDir == "" {
		opts.OutDir = h.reg.Gather.OutDir
	}
	store := opts.Store
	if store == nil {
		s, err := h.State(ctx)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		store = s
	}
	shipper := opts.Shipper
	if shipper == nil && opts.Type != DryRun {
		s, err := shipperFromRegistry(h.reg, h.ua, h.log)
		if err != nil {
			return nil, &ConfigError{err}
		}
		shipper = s
	}
	license := opts.License
	if license == nil {
		license = licenseFromRegistry(h.reg)
	}
	exec, err := h.Executor(ctx)
	if err != nil {
		return nil, err
	}
	var settled func(gather.Settled)
	if opts.Record != nil {
		rec := opts.Record
		settled = func(s gather.Settled) { rec.Settle(s.Collector, s.Since, s.Err) }
		if p, ok := exec.(interface{ Parallelism() int }); ok {
			opts.Record.SetParallelism(p.Parallelism())
		}
		ctx = replay.WithRecorder(ctx, opts.Record)
		defer func() {
			if err := opts.Record.Finish(); err != nil {
				h.log.Warn("recording", "error", err)
			}
		}()
	}
	return gather.Gather(ctx, gather.Options{
		Registry: h.reg, Executor: exec, Type: opts.Type,
		Since: opts.Since, Until: opts.Until, Subset: opts.Subset, OutDir: opts.OutDir,
		Store: store, Locker: store, License: license, Shipper: shipper,
		FailedKeep: h.reg.Shipping.FailedKeep, MinInterval: opts.MinInterval,
		Now: h.now, Logger: h.log, Progress: opts.Progress, Settled: settled,
	})
}

// ConfigError is a setting of the registry that cannot be used as it is: a secret whose variable
// is not set, a file that cannot be read. The registry loaded, so it is not a registry.Problem;
// the CLI exits with its bad-input code for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Shipper returns the shipper a gather of this host uses when [GatherOptions.Shipper] is nil:
// the one [shipping] configures. A caller wraps it to watch what is sent (serve previews each
// tarball before it leaves).
func (h *Host) Shipper() (gather.Shipper, error) {
	s, err := shipperFromRegistry(h.reg, h.ua, h.log)
	if err != nil {
		return nil, &ConfigError{err}
	}
	return s, nil
}
