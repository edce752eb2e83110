package gather

import (
	"time"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
)

// Result is what a gather did, for the summary and `gather -o json`.
type Result struct {
	Type       hostfuncs.CollectionType `json:"collection_type"`
	Since      time.Time                `json:"since,omitzero"`
	Until      time.Time                `json:"until"`
	Started    time.Time                `json:"started"`
	Elapsed    time.Duration            `json:"elapsed_ns"`
	Collectors []*CollectorResult       `json:"collectors"`
	Tarballs   []*TarballResult         `json:"tarballs"`
	// StateSaved reports whether the bookkeeping was written (never for dry-run).
	StateSaved bool `json:"state_saved"`
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
