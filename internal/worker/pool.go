package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	wcruntime "github.com/wasmcollector/wasmcollector/runtime"
)

// Config configures a Pool. The zero value is usable: workers are this executable, one per CPU.
type Config struct {
	// Command is the worker's command line; default the binary named by $WASMCOLLECTOR_WORKER_BINARY,
	// else this executable, with [Arg].
	Command []string
	// Size is the most workers alive at once; default runtime.NumCPU().
	Size int
	// Logger receives worker events (starts, kills, deaths) and, by default, guest logs.
	Logger *slog.Logger
}

// Pool runs jobs in worker processes, at most Size at once. A worker that passes a deadline is
// killed with its process group and replaced by a fresh one for the next job; a worker that dies
// fails only the job it ran. Pool is safe for concurrent use; Close it when done.
type Pool struct {
	cfg Config
	log *slog.Logger
	sem chan struct{}

	mu     sync.Mutex
	idle   []*proc
	closed bool

	started, killed, died atomic.Int64
}

// NewPool returns a pool; no worker starts before the first job.
func NewPool(cfg Config) *Pool {
	if cfg.Size <= 0 {
		cfg.Size = runtime.NumCPU()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Pool{cfg: cfg, log: log, sem: make(chan struct{}, cfg.Size)}
}

// Size returns the most workers the pool runs at once.
func (p *Pool) Size() int { return p.cfg.Size }

// Stats counts worker processes over the pool's life.
type Stats struct {
	Started int64 // processes started
	Killed  int64 // killed at a deadline or cancellation
	Died    int64 // ended on their own while serving (crash, OOM kill)
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{Started: p.started.Load(), Killed: p.killed.Load(), Died: p.died.Load()}
}

// Close stops every idle worker. Jobs still running end when their workers are released.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, w := range idle {
		w.stop()
	}
	return nil
}

// ErrWorker marks a job that failed because its worker process failed: it could not start, it
// died, or it broke the protocol. Use errors.Is.
var ErrWorker = errors.New("worker process failed")

// Run runs job in a worker. Streamed output is written to out (required for OutputStream jobs);
// guest and worker log records go to log. It returns the worker's Result. A job the worker could
// not finish (deadline, cancellation, death) returns a Result whose Error says why; the error
// return is for a job that never reached a worker (ctx done while waiting, pool closed).
func (p *Pool) Run(ctx context.Context, job *Job, out io.Writer, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = p.log
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-p.sem }()
	var res *Result
	var healthy bool
	for attempt := 0; ; attempt++ {
		w, err := p.get()
		if err != nil {
			return nil, err
		}
		var served bool
		res, healthy, served = w.run(ctx, job, out, log)
		if !served && attempt == 0 && ctx.Err() == nil {
			// An idle worker that died meanwhile (the OOM killer, an operator's kill) ended
			// before it answered anything: the job goes to a fresh worker instead of failing.
			p.log.Warn("an idle worker had ended; starting a fresh one", "error", res.Error.Message)
			p.died.Add(1)
			w.stop()
			continue
		}
		p.release(w, healthy)
		return res, nil
	}
}

// release returns a healthy worker to the pool and stops any other.
func (p *Pool) release(w *proc, healthy bool) {
	if healthy {
		p.put(w)
	} else {
		switch w.end {
		case endKilled:
			p.killed.Add(1)
		case endDied:
			p.died.Add(1)
		}
		w.stop()
	}
}

func (p *Pool) get() (*proc, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("worker pool is closed")
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w, nil
	}
	p.mu.Unlock()
	w, err := p.start()
	if err != nil {
		return nil, fmt.Errorf("%w: start: %w", ErrWorker, err)
	}
	p.started.Add(1)
	return w, nil
}

func (p *Pool) put(w *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go w.stop()
		return
	}
	p.idle = append(p.idle, w)
}

// Prestart starts n workers ahead of the first job (at most Size), so that the first invocations
// do not wait for process start-up.
func (p *Pool) Prestart(n int) error {
	n = min(n, p.cfg.Size)
	var ws []*proc
	for range n {
		w, err := p.start()
		if err != nil {
			for _, w := range ws {
				w.stop()
			}
			return fmt.Errorf("%w: start: %w", ErrWorker, err)
		}
		p.started.Add(1)
		ws = append(ws, w)
	}
	for _, w := range ws {
		p.put(w)
	}
	return nil
}

// BinaryEnv names the environment variable that may name another binary to run workers: a product
// that embeds the host but cannot be re-executed points it at the wasmcollector command, and the
// tests point it at a build without the race detector, as operators run it.
const BinaryEnv = "WASMCOLLECTOR_WORKER_BINARY"

// startTimeout bounds a worker's start-up, up to its handshake.
const startTimeout = 30 * time.Second

// proc is one worker process.
type proc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	frames  chan frame // from the reader goroutine; closed at EOF or a protocol error
	readErr error      // why frames closed; read after it is closed
	stderr  *tailBuffer
	end     endReason

	finished sync.Once
	waitErr  error // how the process ended, once finished
}

type endReason int

const (
	endNone endReason = iota
	endKilled
	endDied
)

type frame struct {
	typ     byte
	payload []byte
}

func (p *Pool) start() (*proc, error) {
	argv := p.cfg.Command
	if len(argv) == 0 {
		exe := os.Getenv(BinaryEnv)
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return nil, err
			}
		}
		argv = []string{exe, Arg}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// An empty environment: granted variables travel in the job, to the guest only.
	cmd.Env = []string{}
	cmd.Dir = "/"
	prepare(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w := &proc{cmd: cmd, in: in, frames: make(chan frame, 16), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(stdout, 64<<10)
	// A worker that does not even say hello in time (a wrong binary waiting on stdin) is killed.
	t := time.AfterFunc(startTimeout, func() { kill(cmd.Process.Pid) })
	line, err := r.ReadString('\n')
	t.Stop()
	if err != nil || line != handshake {
		kill(cmd.Process.Pid)
		cmd.Wait()
		if err == nil {
			err = fmt.Errorf("handshake %q, want %q (a worker of another version?)", clip(line), strings.TrimSpace(handshake))
		}
		return nil, fmt.Errorf("%s: %w%s", argv[0], err, w.stderr.suffix())
	}
	go w.read(r)
	return w, nil
}

// read turns the worker's stdout into frames. Frames are copied: the worker is not trusted to
// keep to a size, so each is capped.
func (w *proc) read(r *bufio.Reader) {
	defer close(w.frames)
	var buf []byte
	for {
		typ, payload, err := readFrame(r, &buf, maxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.readErr = err
			}
			return
		}
		if typ != frameOutput && len(payload) > maxControlFrame {
			w.readErr = fmt.Errorf("%w: control frame of %d bytes", errFrameTooLarge, len(payload))
			return
		}
		w.frames <- frame{typ: typ, payload: bytes.Clone(payload)}
	}
}

// stop ends the worker: closing its stdin lets it exit; a worker that does not within 2 s is
// killed. It returns once the process is reaped.
func (w *proc) stop() {
	w.finished.Do(func() {
		w.in.Close()
		t := time.AfterFunc(2*time.Second, func() { kill(w.cmd.Process.Pid) })
		for range w.frames { // until the worker's stdout ends
		}
		t.Stop()
		w.waitErr = w.cmd.Wait()
	})
}

// run sends job and serves the worker's frames until its result, a deadline, cancellation or the
// worker's end. healthy reports whether the worker can take another job; served whether it
// answered anything for this job (a worker that died before that may have been dead already).
func (w *proc) run(ctx context.Context, job *Job, out io.Writer, log *slog.Logger) (res *Result, healthy, served bool) {
	fail := func(ei *ErrorInfo) (*Result, bool, bool) {
		if res == nil {
			res = &Result{}
		}
		res.Error = ei
		return res, false, served
	}
	b, err := json.Marshal(job)
	if err != nil {
		return fail(&ErrorInfo{Class: classHost, Message: fmt.Sprintf("encode job: %v", err)})
	}
	if len(b) > maxFrame {
		return fail(&ErrorInfo{Class: classHost, Message: fmt.Sprintf("job of %d bytes is over the %d-byte frame limit", len(b), maxFrame)})
	}
	start := time.Now()
	if err := writeFrame(w.in, frameJob, b); err != nil {
		return fail(w.died(job, "send job", err))
	}
	loaded := false
	deadline := time.NewTimer(job.CompileTimeout)
	defer deadline.Stop()
	var outErr error
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return fail(w.died(job, "", w.readErr))
			}
			served = true
			switch f.typ {
			case frameLoaded:
				if loaded {
					return fail(w.broken(job, "a second loaded frame"))
				}
				loaded = true
				deadline.Reset(job.Timeout)
				start = time.Now()
			case frameLog:
				var rec logRecord
				if json.Unmarshal(f.payload, &rec) != nil || len(rec.Attrs)%2 != 0 {
					return fail(w.broken(job, "an invalid log record"))
				}
				args := make([]any, 0, len(rec.Attrs))
				for _, a := range rec.Attrs {
					args = append(args, a)
				}
				log.Log(ctx, rec.Level, rec.Msg, args...)
			case frameOutput:
				if job.Output.Kind != OutputStream || out == nil {
					return fail(w.broken(job, "output frames for a job whose output it writes itself"))
				}
				if outErr == nil {
					outErr = writeStream(out, f.payload)
				}
				if outErr != nil {
					// The caller's writer failed (disk full): the invocation fails as it would
					// in-process, and the worker, which keeps writing, is stopped.
					w.kill()
					return fail(&ErrorInfo{Class: classInvocation, Kind: wcruntime.KindOutput, Module: job.Module.Name,
						Function: job.Function, Message: (&outputError{outErr}).Error()})
				}
			case frameResult:
				res = &Result{}
				if err := json.Unmarshal(f.payload, res); err != nil {
					return fail(w.broken(job, "an invalid result"))
				}
				if err := checkResult(job, res); err != nil {
					return fail(w.broken(job, err.Error()))
				}
				if res.Elapsed <= 0 {
					res.Elapsed = time.Since(start)
				}
				return res, true, true
			default:
				return fail(w.broken(job, fmt.Sprintf("an unknown frame %q", f.typ)))
			}
		case <-deadline.C:
			served = true // a worker that was alive to be killed; a retry would only wait again
			w.kill()
			if !loaded {
				return fail(&ErrorInfo{Class: classModule, Module: job.Module.Name, ModuleKind: wcruntime.ModuleCompileTimeout,
					Message: fmt.Sprintf("compilation did not finish within %s (compile_timeout); the worker compiling it was killed", job.CompileTimeout)})
			}
			return fail(&ErrorInfo{Class: classInvocation, Kind: wcruntime.KindTimeout, Module: job.Module.Name, Function: job.Function,
				Message: fmt.Sprintf("timed out after %s (worker killed)", job.Timeout)})
		case <-ctx.Done():
			w.kill()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fail(&ErrorInfo{Class: classInvocation, Kind: wcruntime.KindTimeout, Module: job.Module.Name, Function: job.Function,
					Message: "timed out (the caller's deadline passed; worker killed)"})
			}
			return fail(&ErrorInfo{Class: classInvocation, Kind: wcruntime.KindCanceled, Module: job.Module.Name, Function: job.Function,
				Message: "canceled (worker killed)"})
		}
	}
}

// writeStream replays the writes of one output frame on out, one Write each.
func writeStream(out io.Writer, p []byte) error {
	for len(p) > 0 {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return errors.New("malformed output frame from the worker")
		}
		if _, err := out.Write(p[k : k+int(n)]); err != nil {
			return err
		}
		p = p[k+int(n):]
	}
	return nil
}

type outputError struct{ err error }

func (e *outputError) Error() string { return "write output: " + e.err.Error() }

// checkResult validates a worker's result as the host validates guest memory: only what the job
// allows.
func checkResult(job *Job, res *Result) error {
	if res.Error != nil {
		switch res.Error.Class {
		case classModule:
			if !slices.Contains(wcruntime.ModuleErrorKinds, res.Error.ModuleKind) {
				return fmt.Errorf("a module error of unknown kind %q", res.Error.ModuleKind)
			}
			for _, fe := range res.Error.Functions {
				if res.Error.ModuleKind != wcruntime.ModuleExport || fe == nil || !slices.Contains(job.Module.Functions, fe.Function) {
					return errors.New("a module error blaming a function the job did not name")
				}
			}
		case classInvocation, classHost:
		default:
			return fmt.Errorf("an unknown error class %q", res.Error.Class)
		}
	}
	if job.Output.Kind != OutputSplit && len(res.Parts) > 0 {
		return errors.New("output parts for a streamed job")
	}
	return nil
}

func (w *proc) kill() {
	w.end = endKilled
	kill(w.cmd.Process.Pid)
}

// broken kills a worker that broke the protocol.
func (w *proc) broken(job *Job, what string) *ErrorInfo {
	w.kill()
	w.end = endDied
	return &ErrorInfo{Class: classHost, Module: job.Module.Name, Function: job.Function,
		Message: fmt.Sprintf("%v: the worker sent %s; it was killed", ErrWorker, what)}
}

// died reports a worker that ended while serving job, naming the cause as the OS reports it.
func (w *proc) died(job *Job, doing string, ioErr error) *ErrorInfo {
	w.end = endDied
	w.stop()
	err := w.waitErr
	cause, signal := "exited", ""
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			signal = st.Signal().String()
			cause = "was killed by signal " + signal
		} else {
			cause = fmt.Sprintf("exited with code %d", ee.ExitCode())
		}
	} else if err != nil {
		cause = err.Error()
	}
	msg := fmt.Sprintf("%v: it %s", ErrWorker, cause)
	if doing != "" {
		msg = fmt.Sprintf("%v: %s: %v; it %s", ErrWorker, doing, ioErr, cause)
	} else if ioErr != nil {
		msg += " (" + ioErr.Error() + ")"
	}
	tail := w.stderr.String()
	kind := wcruntime.KindTrap
	if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") {
		kind = wcruntime.KindMemory
		msg += "; it ran out of memory (its data limit is the module's memory limit plus " + fmt.Sprint(dataOverhead>>20) + " MiB)"
	}
	return &ErrorInfo{Class: classInvocation, Kind: kind, Module: job.Module.Name, Function: job.Function,
		Message: msg, Stderr: wcruntime.Summary(tail), Signal: signal}
}

// tailBuffer keeps the first max bytes of a worker's stderr (a Go fatal error starts with its
// reason) and counts the rest.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     bytes.Buffer
	dropped int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	room := t.max - t.buf.Len()
	if room < len(p) {
		t.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	t.buf.Write(p)
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

func (t *tailBuffer) suffix() string {
	if s := wcruntime.Summary(t.String()); s != "" {
		return " (worker stderr: " + s + ")"
	}
	return ""
}

func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
