//go:build wasip1

// Command counts is an example wasmcollector module with one JSON collector, counts, that reports
// object counts shaped like AWX's counts collector. The numbers are synthetic but deterministic: a
// PCG generator with a fixed seed, scaled by the scale parameter. See README.md.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/modules/counts.wasm ./examples/counts
package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport counts
func counts() int32 { return collector.Run(collectCounts) }

const (
	maxScale = 1_000_000
	seed     = 0x636f756e7473 // "counts"
)

// document is the counts.json the collector emits.
type document struct {
	Organization         int         `json:"organization"`
	Team                 int         `json:"team"`
	User                 int         `json:"user"`
	Inventory            int         `json:"inventory"`
	Inventories          inventories `json:"inventories"`
	Credential           int         `json:"credential"`
	Project              int         `json:"project"`
	JobTemplate          int         `json:"job_template"`
	WorkflowJobTemplate  int         `json:"workflow_job_template"`
	Host                 int         `json:"host"`
	Schedule             int         `json:"schedule"`
	NotificationTemplate int         `json:"notification_template"`
	UnifiedJob           int         `json:"unified_job"`
	ActiveHostCount      int         `json:"active_host_count"`
	ActiveSessions       int         `json:"active_sessions"`
	RunningJobs          int         `json:"running_jobs"`
	PendingJobs          int         `json:"pending_jobs"`
	Since                *time.Time  `json:"since,omitempty"`
	Until                *time.Time  `json:"until,omitempty"`
}

type inventories struct {
	Normal int `json:"normal"`
	Smart  int `json:"smart"`
}

func collectCounts() error {
	scale := 1
	if v, ok := collector.Param("scale"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxScale {
			return fmt.Errorf("counts: parameter scale is %q, want an integer from 1 to %d", v, maxScale)
		}
		scale = n
	}
	doc := generate(scale)
	s := collector.Slice()
	if s.HasSince {
		doc.Since = &s.Since
	}
	if s.HasUntil {
		doc.Until = &s.Until
	}
	return collector.EmitJSON(doc)
}

// generate derives every count from scale and one fixed-seed PCG stream, so the same scale always
// gives the same document.
func generate(scale int) document {
	r := rand.New(rand.NewPCG(seed, uint64(scale)))
	// between returns a number in [lo, hi] times scale.
	between := func(lo, hi int) int { return scale * (lo + r.IntN(hi-lo+1)) }

	var d document
	d.Organization = between(2, 4)
	d.Team = d.Organization * (2 + r.IntN(4))
	d.User = d.Team*(5+r.IntN(10)) + r.IntN(10)
	d.Inventories = inventories{Normal: between(8, 15), Smart: between(1, 3)}
	d.Inventory = d.Inventories.Normal + d.Inventories.Smart
	d.Credential = between(20, 40)
	d.Project = between(5, 12)
	d.JobTemplate = d.Project * (3 + r.IntN(5))
	d.WorkflowJobTemplate = between(2, 6)
	d.Host = between(180, 260)
	d.ActiveHostCount = d.Host - r.IntN(d.Host/10+1)
	d.Schedule = d.JobTemplate/3 + r.IntN(5)
	d.NotificationTemplate = between(1, 5)
	d.UnifiedJob = d.JobTemplate * (40 + r.IntN(80))
	d.ActiveSessions = d.User/20 + r.IntN(5)
	d.RunningJobs = r.IntN(3*scale + 1)
	d.PendingJobs = r.IntN(2*scale + 1)
	return d
}
