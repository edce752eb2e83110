package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// maxSleep caps one guest sleep: wazero's sleep cannot be interrupted (wazero #1809), so a guest
// must not be able to park the host past its deadline.
const maxSleep = 50 * time.Millisecond

// Call is one invocation of a collector export.
type Call struct {
	// Function is the export to call; it must have type () -> i32.
	Function string
	// Invocation is the host-side state: slice, params, output, limits. Required.
	Invocation *hostfuncs.Invocation
	// Timeout bounds instantiation, initialisation and the call together; 0 takes the engine
	// default.
	Timeout time.Duration
	// StdioLimit caps each of stdout and stderr kept; 0 takes the engine default.
	StdioLimit int64
	// MountFS, when set, is given each mount's file system (by its guest path) and returns the
	// one the guest sees: a recording wraps it, a replay replaces it with the recorded files.
	MountFS func(guest string, fsys fs.FS) fs.FS
	// Sys, when set, supplies the guest's clocks and random bytes: a recording wraps [HostSys],
	// a replay serves the recorded readings. Default the host's own.
	Sys Sys
}

// Result is what a finished invocation reports, whether it succeeded or not.
type Result struct {
	// Elapsed is the wall time from instantiation to close.
	Elapsed time.Duration
	// ReturnCode is the export's result, 0 if it never returned.
	ReturnCode int32
	// Stdout and Stderr are what the guest printed.
	Stdout, Stderr Captured
	// Output counts what the guest handed over.
	Output hostfuncs.Report
}

// ErrorKind classifies why an invocation failed, for summaries and status files.
type ErrorKind string

// Error kinds.
const (
	KindTimeout    ErrorKind = "timeout"     // the deadline passed; the instance was stopped
	KindCanceled   ErrorKind = "canceled"    // the caller's context was cancelled
	KindMemory     ErrorKind = "memory"      // the memory limit was reached
	KindTrap       ErrorKind = "trap"        // the guest trapped (panic, unreachable, bad access)
	KindBadPointer ErrorKind = "bad_pointer" // the guest passed a host function memory it does not have
	KindExit       ErrorKind = "exit"        // the guest called proc_exit
	KindFailed     ErrorKind = "failed"      // the guest reported failure (non-zero return or fail)
	KindRefused    ErrorKind = "refused"     // the host refused some of its output
	KindOutput     ErrorKind = "output"      // the host could not write the output
)

// InvocationError is a failed invocation. The instance is closed; the module stays usable.
type InvocationError struct {
	Module   string
	Function string
	Kind     ErrorKind
	Err      error
	// Stderr is the most telling line the guest printed on stderr, "" if none.
	Stderr string
}

func (e *InvocationError) Error() string {
	msg := fmt.Sprintf("module %s: function %s: %v", e.Module, e.Function, e.Err)
	if e.Stderr != "" && !strings.Contains(msg, e.Stderr) {
		msg += " (guest stderr: " + e.Stderr + ")"
	}
	return msg
}

func (e *InvocationError) Unwrap() error { return e.Err }

// Invoke runs one invocation in a fresh instance and closes it. The returned Result is never nil;
// on failure the error is an *InvocationError.
func (m *Module) Invoke(ctx context.Context, call Call) (*Result, error) {
	inv := call.Invocation
	if inv == nil {
		return &Result{}, errors.New("runtime: Call.Invocation is nil")
	}
	timeout := call.Timeout
	if timeout <= 0 {
		timeout = m.e.cfg.timeout
	}
	stdioLimit := call.StdioLimit
	if stdioLimit <= 0 {
		stdioLimit = m.e.cfg.stdioLimit
	}
	stdout := &capturedOutput{limit: stdioLimit}
	stderr := &capturedOutput{limit: stdioLimit}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = hostfuncs.WithInvocation(ctx, inv)
	// A restorable module starts from its snapshot once one was taken (snapshot.go).
	var snap *snapshot
	snapTried := false
	restore := m.c.restore
	if restore != nil {
		m.snapMu.Lock()
		snap, snapTried = m.snap, m.snapTried
		m.snapMu.Unlock()
	}
	mem := snap.memoryFor(m.limit)
	ctx = experimental.WithMemoryAllocator(ctx, mem)

	// The sandbox: nothing is granted but clocks, randomness and the two capped output streams.
	sleep := func(ns int64) { time.Sleep(min(time.Duration(ns), maxSleep)) }
	if s, ok := call.Sys.(Sleeper); ok {
		sleep = s.Nanosleep // a replay's clocks come from its record: nothing to wait for
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(stdout).
		WithStderr(stderr).
		WithNanosleep(sleep)
	// The clocks and randomness go through an instanceSys when a Sys replaces them, or when this
	// instance's initialisation may become the snapshot (which keeps what it read, sys.go);
	// otherwise straight to the host's, as cheap as wazero makes them.
	var isys *instanceSys
	if call.Sys != nil || (restore != nil && snap == nil && !snapTried) {
		isys = &instanceSys{src: call.Sys, init: true}
		if isys.src == nil {
			isys.src = hostSys{}
		}
		if restore != nil && snap == nil {
			isys.tap = &SysLog{}
		}
		mc = mc.WithWalltime(isys.walltime, walltimeResolution).
			WithNanotime(isys.nanotime, nanotimeResolution).
			WithRandSource(isys)
	} else {
		mc = mc.WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	}
	if m.c.hasInit && restore == nil {
		mc = mc.WithStartFunctions("_initialize")
	}
	// Granted mounts, read-only, each an os.Root so that neither ".." nor a symlink leads out.
	if len(m.mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for _, mt := range m.mounts {
			root, err := os.OpenRoot(mt.Host)
			if err != nil {
				return &Result{}, &InvocationError{Module: m.name, Function: call.Function, Kind: KindTrap,
					Err: fmt.Errorf("mount %s: %w", mt.Guest, err)}
			}
			defer root.Close()
			fsys := root.FS()
			if call.MountFS != nil {
				fsys = call.MountFS(mt.Guest, fsys)
			}
			fsc = fsc.WithFSMount(fsys, mt.Guest)
		}
		mc = mc.WithFSConfig(fsc)
	}
	for _, name := range m.env {
		if v, ok := m.lookup(name); ok {
			mc = mc.WithEnv(name, v)
		}
	}

	res := &Result{}
	start := time.Now()
	inst, err := m.c.sb.r.InstantiateModule(ctx, m.c.cm, mc)
	if err == nil {
		defer inst.Close(context.Background())
		if restore != nil {
			err = m.prepare(ctx, inst, snap, isys, call.Sys)
		}
	}
	if isys != nil {
		isys.init = false // what the guest reads from here on is the invocation's
	}
	if err == nil {
		var out []uint64
		if out, err = inst.ExportedFunction(call.Function).Call(ctx); err == nil {
			res.ReturnCode = int32(out[0])
		}
	}
	res.Elapsed = time.Since(start)
	res.Stdout, res.Stderr = stdout.captured(), stderr.captured()
	res.Output = inv.Report()
	m.logStdio(inv.Request().Key, res)

	if err != nil {
		kind, cause := m.classify(ctx, err, mem.wasRefused(), timeout)
		if msg := res.Output.FailMessage; msg != "" {
			// A guest that reported why before it trapped (an SDK's panic handler) said more
			// than the trap does.
			cause = fmt.Errorf("%w (guest reported: %s)", cause, clip(msg))
		}
		return res, &InvocationError{Module: m.name, Function: call.Function, Kind: kind, Err: cause, Stderr: res.Stderr.summary()}
	}
	inv.SetReturnCode(res.ReturnCode)
	if err := inv.Err(); err != nil {
		kind := KindFailed
		var refused *hostfuncs.RefusedError
		if errors.As(err, &refused) {
			kind = KindRefused
		}
		return res, &InvocationError{Module: m.name, Function: call.Function, Kind: kind, Err: err, Stderr: res.Stderr.summary()}
	}
	return res, nil
}

// prepare brings a fresh instance of the restorable variant to its initialised state: from the
// snapshot, or by initialising it (and keeping a snapshot of the result for the next ones).
// isys, when set, kept what the initialisation read; a Sys is told what the snapshot's did.
func (m *Module) prepare(ctx context.Context, inst api.Module, snap *snapshot, isys *instanceSys, sys Sys) error {
	if snap != nil {
		if sys != nil {
			sys.Restored(&snap.init)
		}
		return snap.restore(inst, m.c.restore.globals)
	}
	if err := m.c.restore.initialise(ctx, inst, m.c.hasInit); err != nil {
		return err
	}
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	if !m.snapTried {
		m.snapTried = true
		s, err := takeSnapshot(inst, m.c.restore.globals)
		if err != nil {
			m.e.log.Debug("no snapshot; instances initialise one by one", "module", m.name, "error", err)
			return nil
		}
		if isys != nil && isys.tap != nil {
			s.init = *isys.tap
		}
		m.snap = s
		m.e.keep(s)
	}
	return nil
}

// classify turns what wazero returned into a kind and a one-line cause (no wasm stack trace;
// that goes to the debug log).
func (m *Module) classify(ctx context.Context, err error, memoryRefused bool, timeout time.Duration) (ErrorKind, error) {
	m.e.log.Debug("guest error", "module", m.name, "error", err)
	var exit *sys.ExitError
	var bad *hostfuncs.TrapError
	var output *hostfuncs.OutputError
	// wazero reports a stop by the context as exit codes a guest can also pass to proc_exit; only
	// the context's own state tells them apart.
	switch {
	case errors.As(err, &exit) && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return KindTimeout, fmt.Errorf("timed out after %s", timeout)
	case errors.As(err, &exit) && ctx.Err() != nil:
		return KindCanceled, errors.New("canceled")
	case errors.As(err, &exit):
		return KindExit, fmt.Errorf("guest exited with code %d", exit.ExitCode())
	case errors.As(err, &bad):
		return KindBadPointer, bad
	case errors.As(err, &output):
		return KindOutput, output
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if memoryRefused {
		return KindMemory, fmt.Errorf("memory limit of %s reached (%s)", bytesize.Format(int64(m.limit)), first)
	}
	return KindTrap, errors.New(first)
}

func (m *Module) logStdio(key string, res *Result) {
	for _, s := range []struct {
		name string
		c    Captured
	}{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		if s.c.Text == "" && s.c.Dropped == 0 {
			continue
		}
		m.e.log.Info("guest output", "collector", key, "module", m.name, "source", "guest",
			"stream", s.name, "text", s.c.Text, "dropped_bytes", s.c.Dropped)
	}
}
