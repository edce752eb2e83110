package gather

import (
	"fmt"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/registry"
)

// Result is what a gather did, for the summary and `gather -o json`.
type Result struct {
	Type hostfuncs.CollectionType `json:"collection_type"`
	// Isolation is how the collectors ran: "process" or "in-process".
	Isolation  string             `json:"isolation"`
	Since      time.Time          `json:"since,omitzero"`
	Until      time.Time          `json:"until"`
	Started    time.Time          `json:"started"`
	Elapsed    time.Duration      `json:"elapsed_ns"`
	Collectors []*CollectorResult `json:"collectors"`
	Tarballs   []*TarballResult   `json:"tarballs"`
	// StateSaved reports whether the bookkeeping was written (never for dry-run).
	StateSaved bool `json:"state_saved"`
	// HostPeakRSS is this process's peak resident memory at the end of the gather, in bytes; it
	// does not count worker processes, where guests run under their own limits.
	HostPeakRSS int64 `json:"host_peak_rss_bytes,omitempty"`
}

// CollectorResult sums up one collector entry.
type CollectorResult struct {
	Key          string `json:"key"`
	Format       string `json:"format"`
	Status       string `json:"status"` // ok, failed, partial (some slices failed), empty (no slices)
	Slices       int    `json:"slices"`
	FailedSlices int    `json:"failed_slices"`
	// SkippedSlices did not run because an earlier slice failed in a gather that ships; the
	// next run collects them.
	SkippedSlices int           `json:"skipped_slices"`
	FullSync      bool          `json:"full_sync,omitempty"`
	Since         time.Time     `json:"since,omitzero"`
	Until         time.Time     `json:"until,omitzero"`
	Rows          int64         `json:"rows"`
	Bytes         int64         `json:"bytes"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	Error         string        `json:"error,omitempty"` // the first failure
}

// Fates of a tarball (D6).
const (
	FateKept    = "kept"    // dry-run: left in the output directory
	FateShipped = "shipped" // accepted by the ingress and deleted
	FateFailed  = "failed"  // not accepted and not to be re-sent; its window is collected again
	// FatePending: recorded and sent, but not acknowledged (no answer, a 5xx, the gather was
	// interrupted); kept in OutDir/pending, the next run re-sends it byte for byte.
	FatePending = "pending"
)

// TarballResult is one tarball and what became of it.
type TarballResult struct {
	Name     string   `json:"name"`
	Path     string   `json:"path,omitempty"` // where it is now, "" once deleted
	Group    string   `json:"group"`
	Size     int64    `json:"size"`
	DataSize int64    `json:"data_size"`
	Files    []string `json:"files"`
	Fate     string   `json:"fate"`
	Error    string   `json:"error,omitempty"`
	// Resent marks a tarball an earlier run recorded as pending and this one re-sent.
	Resent bool `json:"resent,omitempty"`
}

// Failed reports whether a collector or an upload failed.
func (r *Result) Failed() bool {
	for _, c := range r.Collectors {
		if c.Status == "failed" || c.Status == "partial" {
			return true
		}
	}
	for _, t := range r.Tarballs {
		if t.Fate == FateFailed || t.Fate == FatePending {
			return true
		}
	}
	return false
}

// record sums up a collector entry once its slices ran.
func (g *gatherer) record(r *collectorRun) {
	cr := &CollectorResult{Key: r.c.Key, Format: string(r.c.Format), Slices: len(r.slices), FullSync: r.fullSync, Status: "ok"}
	for _, s := range r.slices {
		if s.skipped {
			cr.SkippedSlices++
			continue
		}
		if !s.ok {
			cr.FailedSlices++
			if cr.Error == "" && s.err != nil {
				cr.Error = s.err.Error()
			}
		}
		cr.Rows += s.report.Rows
		cr.Bytes += s.report.Bytes
		cr.Elapsed += s.finished.Sub(s.started)
	}
	if n := len(r.slices); n > 0 && !r.c.Config {
		cr.Since, cr.Until = r.slices[0].slice.Since, r.slices[n-1].slice.Until
	}
	switch {
	case len(r.slices) == 0:
		cr.Status = "empty"
	case cr.FailedSlices == len(r.slices):
		cr.Status = "failed"
	case cr.FailedSlices > 0 || cr.SkippedSlices > 0:
		cr.Status = "partial"
	}
	g.result.Collectors = append(g.result.Collectors, cr)
}

// recordDisabled records the collectors of modules the registry disabled (their sidecar has
// problems, see [registry.DisabledModule]) as failed: they did not run, and the gather says so
// rather than leaving them out. With a subset, only those in it.
func (g *gatherer) recordDisabled() {
	want := map[string]bool{}
	for _, k := range g.opts.Subset {
		want[k] = true
	}
	for _, d := range g.reg.Disabled {
		first, _, _ := strings.Cut(d.Problems[0].Error(), "\n")
		msg := fmt.Sprintf("module %s is disabled: %s", d.Name, first)
		if n := len(d.Problems) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more problems)", n)
		}
		msg += "; wasmcollector validate shows them all"
		var keys []string
		for _, c := range d.Collectors {
			if len(want) > 0 && !want[c.Key] {
				continue
			}
			keys = append(keys, c.Key)
			g.result.Collectors = append(g.result.Collectors, &CollectorResult{Key: c.Key, Format: string(c.Format), Status: "failed", Error: msg})
		}
		if len(keys) > 0 {
			g.log.Error("collectors not run: their module is disabled", "module", d.Name, "collectors", keys, "problem", first)
		}
	}
}

// disabledCollectors returns the disabled collectors with key.
func disabledCollectors(reg *registry.Registry, key string) []*registry.Collector {
	var out []*registry.Collector
	for _, d := range reg.Disabled {
		for _, c := range d.Collectors {
			if c.Key == key {
				out = append(out, c)
			}
		}
	}
	return out
}
