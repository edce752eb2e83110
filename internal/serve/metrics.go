package serve

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/worker"
	"github.com/wasmcollector/wasmcollector/shipping"
)

// metrics are serve's Prometheus metrics, in a registry of their own (not the global one, so
// that two agents in one test process do not collide).
type metrics struct {
	reg *prometheus.Registry

	gathers        *prometheus.CounterVec
	lastSuccess    prometheus.Gauge
	gatherDuration prometheus.Histogram
	invocations    *prometheus.CounterVec
	failures       *prometheus.CounterVec
	rows           *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	tarballs       *prometheus.CounterVec
	pending        prometheus.Gauge
	uploads        *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	recordMetrics
}

// workerStats is what a process executor tells about its worker pool.
type workerStats interface{ WorkerStats() worker.Stats }

func newMetrics(workers func() (worker.Stats, bool)) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.gathers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_gathers_total",
		Help: "Gathers by result: ok, partial (some collectors or uploads failed), failed, skipped (another gather held the lock).",
	}, []string{"result"})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmcollector_last_successful_gather_timestamp_seconds",
		Help: "Unix time the last gather without failures ended; 0 before the first.",
	})
	m.gatherDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "wasmcollector_gather_duration_seconds",
		Help:    "How long each gather took.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2.5, 12),
	})
	m.invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_collector_invocations_total",
		Help: "Collector invocations (one per slice), by collector key.",
	}, []string{"collector"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_collector_failures_total",
		Help: "Failed collector invocations (slices), by collector key.",
	}, []string{"collector"})
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_collector_rows_total",
		Help: "CSV rows emitted, by collector key.",
	}, []string{"collector"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_collector_bytes_total",
		Help: "Bytes emitted (uncompressed), by collector key.",
	}, []string{"collector"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmcollector_collector_duration_seconds",
		Help:    "Time a collector took over all its slices in one gather, by collector key.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
	}, []string{"collector"})
	m.tarballs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_tarballs_total",
		Help: "Tarballs by fate: shipped, failed, pending (kept to re-send), kept (dry-run).",
	}, []string{"fate"})
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmcollector_tarballs_pending",
		Help: "Tarballs waiting in the bookkeeping to be re-sent, after the last gather.",
	})
	m.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_uploads_total",
		Help: "Tarball uploads by outcome: accepted, the last HTTP status the ingress answered when it refused, or error (no answer).",
	}, []string{"status"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_upload_attempts_total",
		Help: "Upload requests, retries included, by the HTTP status the ingress answered, or, with no answer, by class: tls, timeout, canceled, redirect, network.",
	}, []string{"code"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmcollector_reloads_total",
		Help: "Configuration reloads by result: ok (all swapped in), partial (some modules refused, their previous versions keep running, the rest swapped in) or failed (nothing changed).",
	}, []string{"result"})
	m.reg.MustRegister(m.reloads, m.gathers, m.lastSuccess, m.gatherDuration, m.invocations, m.failures,
		m.rows, m.bytes, m.duration, m.tarballs, m.pending, m.uploads, m.attempts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, ev := range []struct {
		name, help string
		get        func(worker.Stats) int64
	}{
		{"started", "Worker processes started (a restart after a kill or crash counts here too).", func(s worker.Stats) int64 { return s.Started }},
		{"killed", "Worker processes killed at a deadline or cancellation.", func(s worker.Stats) int64 { return s.Killed }},
		{"died", "Worker processes that ended on their own while serving (crash, OOM kill).", func(s worker.Stats) int64 { return s.Died }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wasmcollector_worker_processes_" + ev.name + "_total", Help: ev.help,
		}, func() float64 {
			s, ok := workers()
			if !ok {
				return 0
			}
			return float64(ev.get(s))
		}))
	}
	m.recordMetrics = newRecordMetrics(m.reg)
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	for _, r := range []string{"ok", "partial", "failed", "skipped"} {
		m.gathers.WithLabelValues(r)
	}
	return m
}

// observe counts one gather's result.
func (m *metrics) observe(res *gather.Result) {
	for _, c := range res.Collectors {
		m.invocations.WithLabelValues(c.Key).Add(float64(c.Slices))
		m.failures.WithLabelValues(c.Key).Add(float64(c.FailedSlices))
		m.rows.WithLabelValues(c.Key).Add(float64(c.Rows))
		m.bytes.WithLabelValues(c.Key).Add(float64(c.Bytes))
		m.duration.WithLabelValues(c.Key).Observe(c.Elapsed.Seconds())
	}
	for _, t := range res.Tarballs {
		m.tarballs.WithLabelValues(t.Fate).Inc()
	}
}

// upload counts one upload's outcome.
func (m *metrics) upload(err error) {
	var ue *shipping.UploadError
	switch {
	case err == nil:
		m.uploads.WithLabelValues("accepted").Inc()
	case errors.As(err, &ue) && ue.StatusCode != 0:
		m.uploads.WithLabelValues(strconv.Itoa(ue.StatusCode)).Inc()
	default:
		m.uploads.WithLabelValues("error").Inc()
	}
}

// attempt counts one upload request by its outcome.
func (m *metrics) attempt(a shipping.Attempt) {
	m.attempts.WithLabelValues(a.Outcome()).Inc()
}
