//go:build !wasip1

package awxdata

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// A job's events: playbook_on_start, playbook_on_play_start, then per task a
// playbook_on_task_start followed by one runner event per host (as the hosts finish, in time
// order), then playbook_on_stats. Tasks run one after the other (the linear strategy); a task
// takes longer the more fork batches its hosts need. Every job draws its times from its own
// schedule stream and its events from its own event stream, so the plan can compute a job's
// duration up front and the events can be generated later, one at a time.

// schedule draws a job's times, in the same order for the plan (job.schedule) and the events.
type schedule struct {
	r                  *rand.Rand
	batches            int64
	pbStart, playStart int64
}

func newSchedule(j *job) *schedule {
	forks := j.tpl.forks
	if forks == 0 {
		forks = 5 // AWX's default
	}
	return &schedule{r: rand.New(rand.NewPCG(j.seed, 1)), batches: (int64(j.tpl.hosts) + forks - 1) / forks}
}

// begin sets the times of playbook_on_start and play_start for a job started at started and
// returns the start of its first task.
func (s *schedule) begin(started int64) int64 {
	s.pbStart = started + 1500*usMilli + s.r.Int64N(2500*usMilli) // the execution environment starts
	s.playStart = s.pbStart + 5*usMilli + s.r.Int64N(45*usMilli)
	return s.playStart + 100*usMilli + s.r.Int64N(200*usMilli)
}

// taskLength draws how long the next task takes, mostly a few seconds per fork batch.
func (s *schedule) taskLength() int64 {
	u := s.r.Float64()
	return s.batches * (400*usMilli + int64(4600*float64(usMilli)*u*u))
}

// gap draws the pause after a task, before the next task (or the stats).
func (s *schedule) gap() int64 { return 100*usMilli + s.r.Int64N(300*usMilli) }

// finish draws the time from playbook_on_stats to the job's end.
func (s *schedule) finish() int64 { return 500*usMilli + s.r.Int64N(1000*usMilli) }

type event struct {
	created, modified int64
	uuid, parent      string // parent "" is NULL
	kind              string
	task              *task
	failed, changed   bool
	host              int // index into plan.hosts; -1: none
	start, end        int64
	hasDuration       bool
	warnings          int64
	order             int
}

const (
	stStart = iota
	stPlay
	stTask
	stHosts
	stStats
	stDone
)

// eventIter generates one job's events in time order; cur is the next one.
type eventIter struct {
	p                                 *plan
	j                                 *job
	jobCreated                        time.Time
	s                                 *schedule
	r                                 *rand.Rand
	limit                             int64 // no events at or after this time
	state, task                       int
	taskStart, taskLen                int64
	pending                           []event
	next                              int
	counter                           int64
	startUUID, playUUID, taskUUID     string
	anyChanged                        bool
	cur                               event
	done                              bool
	playbook                          *playbook
	hostCount, hostOff, inventorySize int
}

func newEventIter(p *plan, j *job) *eventIter {
	it := &eventIter{p: p, j: j, jobCreated: ts(j.created), s: newSchedule(j),
		r: rand.New(rand.NewPCG(j.seed, 2)), limit: p.until + 1, playbook: &playbooks[j.tpl.playbook],
		hostCount: j.tpl.hosts, hostOff: j.tpl.hostOff, inventorySize: len(j.tpl.inv.hosts)}
	if j.outcome == outCanceled && j.finished != 0 {
		it.limit = j.started + j.cancelAt
	}
	it.taskStart = it.s.begin(j.started)
	it.advance()
	return it
}

// modified returns created, or for about one event in fifty a later time (the event was updated,
// so an incremental collection sees it again), never after Until.
func (it *eventIter) modified(created int64) int64 {
	if it.r.Float64() < 0.02 {
		return min(created+usSecond+it.r.Int64N(6*usHour), it.p.until)
	}
	return created
}

func (it *eventIter) advance() {
	for {
		switch it.state {
		case stStart:
			it.startUUID = formatUUID(it.r)
			it.cur = event{created: it.s.pbStart, uuid: it.startUUID, kind: "playbook_on_start", host: -1}
			it.state = stPlay
		case stPlay:
			it.playUUID = formatUUID(it.r)
			it.cur = event{created: it.s.playStart, uuid: it.playUUID, parent: it.startUUID,
				kind: "playbook_on_play_start", host: -1}
			it.state = stTask
		case stTask:
			if it.task == it.j.tasks {
				it.state = stStats
				continue
			}
			it.taskLen = it.s.taskLength()
			it.taskUUID = formatUUID(it.r)
			tk := &it.playbook.tasks[it.task%len(it.playbook.tasks)]
			it.cur = event{created: it.taskStart, uuid: it.taskUUID, parent: it.playUUID,
				kind: "playbook_on_task_start", task: tk, host: -1}
			it.hostEvents(tk)
			it.state = stHosts
		case stHosts:
			if it.next == len(it.pending) {
				it.taskStart += it.taskLen + it.s.gap()
				it.task++
				it.state = stTask
				continue
			}
			it.cur = it.pending[it.next]
			it.next++
			it.anyChanged = it.anyChanged || it.cur.changed
			if it.cur.created >= it.limit {
				it.finish()
				return
			}
			it.counter++
			return
		case stStats:
			it.cur = event{created: it.taskStart, uuid: formatUUID(it.r), parent: it.startUUID,
				kind: "playbook_on_stats", host: -1, failed: it.j.outcome == outFailed,
				changed: it.anyChanged, start: it.s.pbStart, end: it.taskStart, hasDuration: true}
			it.state = stDone
		default:
			it.finish()
			return
		}
		it.cur.modified = it.modified(it.cur.created)
		if it.cur.created >= it.limit {
			it.finish()
			return
		}
		it.counter++
		return
	}
}

func (it *eventIter) finish() {
	it.done = true
	it.pending = nil
}

// hostEvents draws the runner events of the task starting at taskStart, in time order.
func (it *eventIter) hostEvents(tk *task) {
	r, j := it.r, it.j
	last := it.task == j.tasks-1
	it.pending, it.next = it.pending[:0], 0
	for i := range it.hostCount {
		h := j.tpl.inv.hosts[(it.hostOff+i)%it.inventorySize]
		off := int64(float64(it.taskLen) * (0.05 + 0.95*r.Float64()))
		end := it.taskStart + off
		e := event{task: tk, host: h, end: end, start: end - int64(float64(off)*(0.2+0.8*r.Float64())),
			created: end + r.Int64N(20*usMilli), parent: it.taskUUID, hasDuration: true, order: i}
		switch {
		case j.outcome == outFailed && last && i < j.failHosts:
			e.failed, e.kind = true, "runner_on_failed"
			if r.Float64() < 0.2 {
				e.kind = "runner_on_unreachable"
			}
		case r.Float64() < 0.08:
			e.kind = "runner_on_skipped"
		default:
			e.kind = "runner_on_ok"
			x := r.Float64()
			e.changed = tk.changes && x < 0.7 || x < 0.05
		}
		if r.Float64() < 0.02 {
			e.warnings = 1
		}
		e.uuid = formatUUID(r)
		e.modified = it.modified(e.created)
		it.pending = append(it.pending, e)
	}
	slices.SortFunc(it.pending, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.order, b.order))
	})
}

const eventColumns = 24

// row appends the current event as row id to buf (eventColumns values).
func (it *eventIter) row(id int64, buf []any) []any {
	e := &it.cur
	var action, resolved, resolvedRole, taskName, role, play string
	if e.task != nil {
		action, resolved, resolvedRole = e.task.action, e.task.resolvedAction, e.task.resolvedRole
		taskName, role = e.task.name, e.task.role
	}
	if e.kind != "playbook_on_start" {
		play = it.playbook.play
	}
	var hostID, hostName any = nil, ""
	if e.host >= 0 {
		h := it.p.hosts[e.host]
		hostID, hostName = h.id, h.name
	}
	var start, end, duration any
	if e.hasDuration {
		start, end = ts(e.start), ts(e.end)
		duration = float64(e.end-e.start) / float64(usSecond)
	}
	return append(buf, id, ts(e.created), ts(e.modified), it.jobCreated, e.uuid, nullText(e.parent),
		e.kind, action, resolved, resolvedRole, e.failed, e.changed, it.playbook.file, play, taskName,
		role, it.j.id, hostID, hostName, start, end, duration, e.warnings, it.counter)
}

// events generates every job event in time order (ids increase with time), in batches.
func (p *plan) events(emit func([][]any) error) error {
	var h iterHeap
	for _, j := range p.jobs {
		if j.hasEvents() {
			if it := newEventIter(p, j); !it.done {
				h = append(h, it)
			}
		}
	}
	h.init()
	var id int64
	rows := make([][]any, 0, BatchSize)
	vals := make([]any, 0, BatchSize*eventColumns)
	for len(h) > 0 {
		it := h[0]
		id++
		n := len(vals)
		vals = it.row(id, vals)
		rows = append(rows, vals[n:len(vals):len(vals)])
		if len(rows) == BatchSize {
			if err := emit(rows); err != nil {
				return err
			}
			rows = make([][]any, 0, BatchSize)
			vals = make([]any, 0, BatchSize*eventColumns)
		}
		it.advance()
		if it.done {
			h.pop()
		} else {
			h.fix0()
		}
	}
	if len(rows) > 0 {
		return emit(rows)
	}
	return nil
}

// iterHeap is a min-heap of event iterators by their next event's time, then job id.
type iterHeap []*eventIter

func (h iterHeap) less(a, b int) bool {
	x, y := h[a], h[b]
	if x.cur.created != y.cur.created {
		return x.cur.created < y.cur.created
	}
	return x.j.id < y.j.id
}

func (h iterHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h iterHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h iterHeap) fix0() { h.down(0) }

func (h *iterHeap) pop() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	old[n] = nil
	*h = old[:n]
	h.down(0)
}
