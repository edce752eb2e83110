package worker

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/tomlparam"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/replay"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Arg is the first argument of a worker process: the host re-executes its own binary with it.
const Arg = "__wasmcollector-worker"

// A binary that links this package becomes a worker when started with [Arg], before its main (or
// a test binary's TestMain) runs: every binary that can start workers can also be one, so the
// wasmcollector command, a product embedding the host and every test binary serve workers
// without wiring of their own.
func init() {
	if IsWorker() {
		Main()
	}
}

// IsWorker reports whether this process was started as a worker.
func IsWorker() bool { return len(os.Args) > 1 && os.Args[1] == Arg }

// Main serves jobs on stdin/stdout until the host closes stdin, then exits. It never returns.
// The package's init calls it in a process started with [Arg].
func Main() {
	restrict() // OS limits and privileges, before any guest code can run
	w := &child{
		out:     bufio.NewWriterSize(os.Stdout, 64<<10),
		modules: map[string]*runtime.Module{},
		sources: map[string]*datasource.Source{},
	}
	err := w.serve(context.Background(), os.Stdin)
	w.close()
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is the worker side: one engine, the modules and data sources it has opened, and the
// stream to the host. It serves one job at a time.
type child struct {
	mu  sync.Mutex // guards out: guest logs, output and the result come from one goroutine, data-source logs may not
	out *bufio.Writer

	eng       *runtime.Engine
	engineCfg Engine
	modules   map[string]*runtime.Module    // by the JSON of their spec
	sources   map[string]*datasource.Source // by the JSON of their config
}

func (w *child) serve(ctx context.Context, in io.Reader) error {
	if _, err := w.out.WriteString(handshake); err != nil {
		return err
	}
	if err := w.out.Flush(); err != nil {
		return err
	}
	r := bufio.NewReaderSize(in, 64<<10)
	var buf []byte
	for {
		typ, payload, err := readFrame(r, &buf, maxFrame)
		if err != nil {
			return err
		}
		if typ != frameJob {
			return fmt.Errorf("unexpected frame %q from the host", typ)
		}
		var job Job
		if err := json.Unmarshal(payload, &job); err != nil {
			return fmt.Errorf("decode job: %w", err)
		}
		res := w.run(ctx, &job)
		if err := w.send(frameResult, res); err != nil {
			return err
		}
		w.mu.Lock()
		err = w.out.Flush()
		w.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func (w *child) close() {
	for _, s := range w.sources {
		s.Close()
	}
	if w.eng != nil {
		w.eng.Close(context.Background())
	}
}

func (w *child) send(typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return writeFrame(w.out, typ, b)
}

// flush pushes what was written so far to the host: the Loaded frame must not wait in a buffer
// while the deadline that follows it runs.
func (w *child) flush() {
	w.mu.Lock()
	w.out.Flush()
	w.mu.Unlock()
}

func (w *child) run(ctx context.Context, job *Job) *Result {
	res := &Result{}
	// The data limit covers compiling too: a module whose compilation eats memory ends this worker.
	setMemoryBudget(job.Module.MemoryLimit)
	logger := slog.New(&frameHandler{w: w})
	eng, err := w.engine(ctx, job.Engine, logger)
	if err != nil {
		res.Error = &ErrorInfo{Class: classHost, Message: err.Error()}
		return res
	}
	mod, err := w.load(ctx, eng, job.Module)
	if err != nil {
		var me *runtime.ModuleError
		if errors.As(err, &me) {
			res.Error = &ErrorInfo{Class: classModule, Module: me.Module, Message: me.Err.Error(), ModuleKind: me.Kind, Functions: me.Functions}
		} else {
			res.Error = &ErrorInfo{Class: classHost, Message: err.Error()}
		}
		return res
	}
	res.SHA256 = mod.SHA256()
	if err := w.send(frameLoaded, struct{}{}); err != nil {
		res.Error = &ErrorInfo{Class: classHost, Message: err.Error()}
		return res
	}
	w.flush()
	if job.CompileOnly {
		return res
	}

	granted, err := w.dataSources(ctx, job.DataSources, logger)
	if err != nil {
		res.Error = &ErrorInfo{Class: classHost, Message: err.Error()}
		return res
	}
	req := hostfuncs.Request{
		Key: job.Request.Key, Format: job.Request.Format, Since: job.Request.Since, Until: job.Request.Until,
		FullSync: job.Request.FullSync, CollectionType: job.Request.CollectionType,
		Params: tomlparam.Decode(job.Request.Params), Limits: job.Request.Limits, Logger: logger, DataSources: granted,
	}
	var split *packaging.Splitter
	var stream *streamWriter
	switch job.Output.Kind {
	case OutputSplit:
		split = packaging.NewSplitter(job.Output.Dir, job.Output.Name, job.Output.MaxBytes)
		if job.Output.Compress != nil {
			split.CompressParts(*job.Output.Compress)
		}
		req.Output = split
	default:
		stream = &streamWriter{w: w}
		req.Output = stream
	}
	call := runtime.Call{Function: job.Function, Timeout: job.Timeout, StdioLimit: job.StdioLimit}
	var rec *replay.Invocation
	if job.Record != nil {
		rec, err = replay.Start(*job.Record, recordHeader(job, req, mod))
		if err != nil {
			res.RecordError = err.Error()
		} else {
			req.DataSources, req.Output, call.MountFS, call.Sys = rec.Sources(req.DataSources), rec.Output(req.Output), rec.MountFS, rec.Sys()
			req.Logger = rec.Logger(req.Logger)
		}
	}
	call.Invocation = hostfuncs.NewInvocation(req)
	// The host kills this process at the deadline; the context's own deadline is a second line
	// that lets host functions (a query, a sleep) stop on their own first.
	ctx, cancel := context.WithTimeout(ctx, job.Timeout)
	defer cancel()
	out, err := mod.Invoke(ctx, call)
	if rec != nil {
		// Closed before the stream is flushed: the output's bytes are all in it already.
		rec.Stdio(out.Stdout.Text, out.Stderr.Text)
		info, rerr := rec.Close(out.Output, out.ReturnCode, err)
		res.Record = &info
		if rerr != nil {
			res.RecordError = rerr.Error()
		}
	}
	if stream != nil {
		if ferr := stream.flush(); ferr != nil && err == nil {
			err = &runtime.InvocationError{Module: mod.Name(), Function: job.Function, Kind: runtime.KindOutput, Err: ferr}
		}
	}
	if split != nil {
		if err == nil {
			res.Parts, err = split.Close()
			if err != nil {
				err = &runtime.InvocationError{Module: mod.Name(), Function: job.Function, Kind: runtime.KindOutput, Err: err}
			}
		} else {
			split.Abort()
		}
	}
	res.Elapsed, res.ReturnCode, res.Stdout, res.Stderr = out.Elapsed, out.ReturnCode, out.Stdout, out.Stderr
	res.Report = Report{Rows: out.Output.Rows, Bytes: out.Output.Bytes, JSONDocuments: out.Output.JSONDocuments,
		LogDropped: out.Output.LogDropped, FailMessage: out.Output.FailMessage}
	var refused *hostfuncs.RefusedError
	if errors.As(out.Output.Refused, &refused) {
		res.Report.Refused = refused
	}
	if err != nil {
		var ie *runtime.InvocationError
		if errors.As(err, &ie) {
			res.Error = &ErrorInfo{Class: classInvocation, Kind: ie.Kind, Module: ie.Module, Function: ie.Function,
				Message: ie.Err.Error(), Stderr: ie.Stderr}
		} else {
			res.Error = &ErrorInfo{Class: classHost, Message: err.Error()}
		}
	}
	return res
}

// engine returns the worker's engine, made on the first job. The interrupt flag is off: the host
// kills this process at the deadline instead.
func (w *child) engine(ctx context.Context, cfg Engine, log *slog.Logger) (*runtime.Engine, error) {
	if w.eng != nil {
		if cfg != w.engineCfg {
			return nil, errors.New("one worker serves one engine configuration")
		}
		return w.eng, nil
	}
	rc := runtime.NewConfig().WithInterruptCheck(false).WithLogger(log).
		WithCompileTimeout(24 * time.Hour) // the host's deadline applies, by killing this process
	if cfg.NoCache {
		rc = rc.WithoutCache()
	} else if cfg.CacheDir != "" {
		rc = rc.WithCacheDir(cfg.CacheDir)
	}
	eng, err := runtime.New(ctx, rc)
	if err != nil {
		return nil, err
	}
	w.eng, w.engineCfg = eng, cfg
	return eng, nil
}

// load loads a module once per worker (a worker lives for one gather, as the in-process
// executor's loaded modules do).
func (w *child) load(ctx context.Context, eng *runtime.Engine, spec ModuleSpec) (*runtime.Module, error) {
	key, _ := json.Marshal(spec)
	if m := w.modules[string(key)]; m != nil {
		return m, nil
	}
	env := make([]string, 0, len(spec.Env))
	for name := range spec.Env {
		env = append(env, name)
	}
	m, err := eng.Load(ctx, runtime.ModuleSpec{
		Name: spec.Name, Path: spec.Path, SHA256: spec.SHA256, MemoryLimit: spec.MemoryLimit,
		Functions: spec.Functions, Mounts: spec.Mounts, Env: env,
		LookupEnv: func(name string) (string, bool) { v, ok := spec.Env[name]; return v, ok },
	})
	if err != nil {
		return nil, err
	}
	w.modules[string(key)] = m
	return m, nil
}

// dataSources opens the granted data sources, keeping each open for later jobs.
func (w *child) dataSources(ctx context.Context, cfgs []datasource.Config, log *slog.Logger) (map[string]hostfuncs.DataSource, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	out := make(map[string]hostfuncs.DataSource, len(cfgs))
	for _, cfg := range cfgs {
		key, _ := json.Marshal(cfg)
		src := w.sources[string(key)]
		if src == nil {
			var err error
			cfg.Logger = log // its warnings reach the host's log
			if src, err = datasource.Open(ctx, cfg); err != nil {
				return nil, err
			}
			w.sources[string(key)] = src
		}
		out[cfg.Name] = datasource.Granted(src)
	}
	return out, nil
}

// streamWriter sends the guest's output to the host in frames of up to 64 KiB, keeping each
// Write's bounds (the splitter's one-row-per-Write contract).
type streamWriter struct {
	w   *child
	buf []byte
}

const streamFrameBytes = 64 << 10

func (s *streamWriter) Write(p []byte) (int, error) {
	if len(s.buf) > 0 && len(s.buf)+len(p)+binary.MaxVarintLen64 > streamFrameBytes {
		if err := s.flush(); err != nil {
			return 0, err
		}
	}
	s.buf = binary.AppendUvarint(s.buf, uint64(len(p)))
	s.buf = append(s.buf, p...)
	return len(p), nil
}

func (s *streamWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	s.w.mu.Lock()
	err := writeFrame(s.w.out, frameOutput, s.buf)
	s.w.mu.Unlock()
	s.buf = s.buf[:0]
	return err
}

// frameHandler is a slog.Handler that sends records to the host, which logs them with its own
// handler.
type frameHandler struct {
	w     *child
	attrs []string
}

func (h *frameHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *frameHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: append([]string(nil), h.attrs...)}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs = append(rec.Attrs, a.Key, a.Value.Resolve().String())
		return true
	})
	// Sent at once, not when the invocation ends: an operator watching a hanging collector must
	// see what it said (guest logs are capped by max_log_bytes, so flushing each costs little).
	if err := h.w.send(frameLog, rec); err != nil {
		return err
	}
	h.w.flush()
	return nil
}

func (h *frameHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &frameHandler{w: h.w, attrs: append([]string(nil), h.attrs...)}
	for _, a := range attrs {
		n.attrs = append(n.attrs, a.Key, a.Value.Resolve().String())
	}
	return n
}

func (h *frameHandler) WithGroup(string) slog.Handler { return h }

// recordHeader describes the job's invocation for its record.
func recordHeader(job *Job, req hostfuncs.Request, mod *runtime.Module) replay.Header {
	var mounts []string
	for _, m := range job.Module.Mounts {
		mounts = append(mounts, m.Guest)
	}
	return replay.NewHeader(req, replay.ModuleInfo{Name: job.Module.Name, Path: job.Module.Path, Source: job.Module.Source, SHA256: mod.SHA256(),
		Function: job.Function, MemoryLimit: job.Module.MemoryLimit}, job.Module.Env, mounts, job.Timeout, job.StdioLimit)
}
