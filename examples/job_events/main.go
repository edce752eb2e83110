//go:build wasip1

// Command job_events is an example wasmcollector module with one CSV collector, job_events, that
// produces synthetic Ansible job events shaped like AWX's events_table. The rows are a pure function
// of the slice: events sit on a fixed global time grid, so consecutive slices partition them
// exactly. See README.md.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/modules/job_events.wasm ./examples/job_events
package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport job_events
func jobEvents() int32 { return collector.Run(collectJobEvents) }

const (
	defaultEventsPerHour = 600
	usPerHour            = 3_600_000_000
	// maxEventsPerHour puts grid points one microsecond apart, the resolution of the timestamps.
	maxEventsPerHour = usPerHour

	// Every job has the same shape: playbook_on_start, playbook_on_play_start, tasksPerJob tasks
	// (playbook_on_task_start, then one runner event per host), playbook_on_stats.
	hostsPerJob  = 4
	tasksPerJob  = 6
	taskBlock    = 1 + hostsPerJob
	firstTask    = 2
	eventsPerJob = firstTask + tasksPerJob*taskBlock + 1
	statsEvent   = eventsPerJob - 1
	inventory    = 240 // host ids 1..inventory

	// Seeds of the independent random streams; changing one changes every row.
	seedJob   = 0x6a6f625f65766e74
	seedEvent = 0x6576656e745f6f6b
	seedUUID  = 0x757569645f763421
)

var columns = []string{
	"id", "created", "modified", "job_created", "uuid", "parent_uuid", "event", "task_action",
	"failed", "changed", "playbook", "play", "task", "role", "job_id", "host_id", "host_name", "duration",
}

// Task names include commas and double quotes on purpose: the host must quote them.
var tasks = []struct{ name, action, role string }{
	{"Gathering Facts", "gather_facts", ""},
	{"Install packages: nginx, openssl", "ansible.builtin.dnf", "nginx"},
	{`Render "nginx.conf" from template`, "ansible.builtin.template", "nginx"},
	{"Ensure nginx is started, enabled", "ansible.builtin.service", "nginx"},
	{`Create user "deploy"`, "ansible.builtin.user", "common"},
	{`Copy SSH keys, set "authorized_keys"`, "ansible.posix.authorized_key", "common"},
	{`Set sysctl "vm.swappiness" = 10`, "ansible.posix.sysctl", "common"},
	{"Open firewall ports 80, 443", "ansible.posix.firewalld", ""},
	{"Run database migrations", "ansible.builtin.command", "app"},
	{"Check health endpoint", "ansible.builtin.uri", "app"},
	{`Debug: print "release", version`, "ansible.builtin.debug", ""},
	{"Apply security updates", "ansible.builtin.dnf", "patching"},
	{"Reboot if required", "ansible.builtin.reboot", "patching"},
	{`Dump database "inventory", compress`, "community.postgresql.postgresql_db", "backup"},
}

var playbooks = []struct{ file, play string }{
	{"site.yml", "Configure web servers"},
	{"deploy_app.yml", `Deploy application, "blue" slot`},
	{"patch_servers.yml", "Apply security patches"},
	{"db_backup.yml", "Back up databases"},
}

var hostRoles = [...]string{"web", "app", "db", "lb"}

func collectJobEvents() error {
	perHour := int64(defaultEventsPerHour)
	if v, ok := collector.Param("events_per_hour"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxEventsPerHour {
			return fmt.Errorf("job_events: parameter events_per_hour is %q, want an integer from 1 to %d", v, maxEventsPerHour)
		}
		perHour = n
	}

	s := collector.Slice()
	if !s.HasUntil {
		s.Until = time.Now().UTC()
	}
	if !s.HasSince {
		s.Since = s.Until.Add(-time.Hour)
	}

	// Grid point k is at k*step since the Unix epoch; the slice (since, until] holds k in [first, last].
	stepUs := usPerHour / perHour
	stepNs := stepUs * 1000
	first := floorDiv(s.Since.UnixNano(), stepNs) + 1
	last := floorDiv(s.Until.UnixNano(), stepNs)

	w := collector.NewCSV()
	if err := w.Header(columns...); err != nil {
		return err
	}
	g := newGenerator(stepUs)
	for k := first; k <= last; k++ {
		g.event(w, k)
		if err := w.EndRow(); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	collector.Infof("job_events: %d events in %v, one every %dµs", w.Rows(), s, stepUs)
	return nil
}

// job is what all events of one job share, drawn from the job's own random stream.
type job struct {
	playbook  int
	firstHost int64
	firstTask int
	created   []byte   // job_created, formatted
	startUUID [36]byte // uuid of the playbook_on_start event
	playUUID  [36]byte // uuid of the playbook_on_play_start event
}

// generator writes events. Rows are a pure function of the event id; the generator only caches
// what consecutive events share (the job, the current task's uuid, the date) to keep the per-row
// cost low, since this collector doubles as the benchmark guest.
type generator struct {
	stepUs  int64
	jobID   int64
	job     job
	taskID  int64 // id of the playbook_on_task_start whose uuid is in task
	task    [36]byte
	day     int64  // Unix day whose "YYYY-MM-DDT" prefix is in date
	date    []byte // "YYYY-MM-DDT" of day
	scratch []byte
}

func newGenerator(stepUs int64) *generator {
	return &generator{stepUs: stepUs, jobID: math.MinInt64, taskID: math.MinInt64, day: math.MinInt64}
}

// jobFor returns job j, drawing it when it is not the cached one.
func (g *generator) jobFor(j int64) *job {
	if j == g.jobID {
		return &g.job
	}
	var r rand.PCG
	r.Seed(seedJob, mix(uint64(j)))
	x, y := r.Uint64(), r.Uint64()
	start := j * eventsPerJob
	g.jobID = j
	g.job.playbook = int(x % uint64(len(playbooks)))
	g.job.firstHost = 1 + int64((x>>16)%(inventory-hostsPerJob+1))
	g.job.firstTask = int((x >> 32) % uint64(len(tasks)))
	// The job was created 2 to 29 seconds before its first event.
	g.job.created = appendTimestamp(g.job.created[:0], start*g.stepUs-int64(2+y%28)*1_000_000)
	appendUUID(g.job.startUUID[:0], start)
	appendUUID(g.job.playUUID[:0], start+1)
	return &g.job
}

// taskUUID returns the uuid of the playbook_on_task_start event id.
func (g *generator) taskUUID(id int64) []byte {
	if id != g.taskID {
		appendUUID(g.task[:0], id)
		g.taskID = id
	}
	return g.task[:]
}

// appendCreated appends the event time us like appendTimestamp, reusing the cached date.
func (g *generator) appendCreated(b []byte, us int64) []byte {
	const usPerDay = 86_400_000_000
	day := floorDiv(us, usPerDay)
	if day != g.day {
		g.day = day
		g.date = appendTimestamp(g.date[:0], day*usPerDay)[:len("2006-01-02T")]
	}
	b = append(b, g.date...)
	rest := us - day*usPerDay
	sec := int(rest / 1_000_000)
	b = appendDigits(b, sec/3600, 2)
	b = append(b, ':')
	b = appendDigits(b, sec/60%60, 2)
	b = append(b, ':')
	b = appendDigits(b, sec%60, 2)
	b = append(b, '.')
	b = appendDigits(b, int(rest%1_000_000), 6)
	return append(b, 'Z')
}

// outcome is a runner event's result, drawn from the event's own random stream.
type outcome struct {
	event           string
	failed, changed bool
	durationMs      int64
}

func outcomeOf(k int64) outcome {
	var r rand.PCG
	r.Seed(seedEvent, mix(uint64(k)))
	x := r.Uint64()
	o := outcome{durationMs: 20 + int64((x>>32)%4000)}
	switch p := x % 1000; {
	case p < 15:
		o.event, o.failed = "runner_on_failed", true
	case p < 25:
		o.event, o.failed, o.durationMs = "runner_on_unreachable", true, 10_000+o.durationMs
	case p < 125:
		o.event, o.durationMs = "runner_on_skipped", 1+o.durationMs%5
	default:
		o.event, o.changed = "runner_on_ok", (x>>20)%1000 < 300
	}
	return o
}

// event writes the fields of event k (without ending the row).
func (g *generator) event(w *collector.CSV, k int64) {
	j := floorDiv(k, eventsPerJob)
	i := k - j*eventsPerJob
	jb := g.jobFor(j)
	pb := playbooks[jb.playbook]
	start := j * eventsPerJob // id of the job's playbook_on_start event

	w.FieldInt(k) // id
	g.scratch = g.appendCreated(g.scratch[:0], k*g.stepUs)
	w.FieldBytes(g.scratch)  // created
	w.FieldBytes(g.scratch)  // modified
	w.FieldBytes(jb.created) // job_created
	g.scratch = appendUUID(g.scratch[:0], k)
	w.FieldBytes(g.scratch) // uuid

	switch {
	case i == 0:
		w.FieldNull() // parent_uuid
		w.Field("playbook_on_start")
		g.common(w, "", false, false, pb.file, "", "", "", j)
		g.noHost(w)
		w.FieldNull() // duration
	case i == 1:
		w.FieldBytes(jb.startUUID[:])
		w.Field("playbook_on_play_start")
		g.common(w, "", false, false, pb.file, pb.play, "", "", j)
		g.noHost(w)
		w.FieldNull()
	case i == statsEvent:
		failed, changed := false, false
		for b := int64(0); b < tasksPerJob; b++ {
			for h := int64(1); h <= hostsPerJob; h++ {
				o := outcomeOf(start + firstTask + b*taskBlock + h)
				failed, changed = failed || o.failed, changed || o.changed
			}
		}
		w.FieldBytes(jb.startUUID[:])
		w.Field("playbook_on_stats")
		g.common(w, "", failed, changed, pb.file, pb.play, "", "", j)
		g.noHost(w)
		g.scratch = appendSeconds(g.scratch[:0], statsEvent*g.stepUs/1000)
		w.FieldBytes(g.scratch)
	default:
		block := (i - firstTask) / taskBlock
		pos := (i - firstTask) % taskBlock
		t := tasks[(jb.firstTask+int(block))%len(tasks)]
		if pos == 0 {
			w.FieldBytes(jb.playUUID[:])
			w.Field("playbook_on_task_start")
			g.common(w, t.action, false, false, pb.file, pb.play, t.name, t.role, j)
			g.noHost(w)
			w.FieldNull()
			return
		}
		o := outcomeOf(k)
		w.FieldBytes(g.taskUUID(k - pos)) // the task's playbook_on_task_start
		w.Field(o.event)
		g.common(w, t.action, o.failed, o.changed, pb.file, pb.play, t.name, t.role, j)
		host := jb.firstHost + pos - 1
		w.FieldInt(host)
		g.scratch = appendHostName(g.scratch[:0], host)
		w.FieldBytes(g.scratch)
		g.scratch = appendSeconds(g.scratch[:0], o.durationMs)
		w.FieldBytes(g.scratch)
	}
}

// common writes task_action … job_id.
func (g *generator) common(w *collector.CSV, action string, failed, changed bool, playbook, play, task, role string, jobID int64) {
	w.Field(action)
	w.FieldBool(failed)
	w.FieldBool(changed)
	w.Field(playbook)
	w.Field(play)
	w.Field(task)
	w.Field(role)
	w.FieldInt(jobID)
}

// noHost writes host_id and host_name of an event that is not about a host: AWX stores no host id
// and an empty name.
func (g *generator) noHost(w *collector.CSV) {
	w.FieldNull()
	w.Field("")
}

// floorDiv is a / b rounded towards minus infinity (b > 0), so the grid extends before the epoch.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// mix is the splitmix64 finaliser: it spreads consecutive ids over the whole seed space.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// appendTimestamp appends the Unix microsecond time us as RFC 3339 in UTC with exactly six
// fraction digits, 2025-03-01T12:00:06.000000Z, without going through time.Format.
func appendTimestamp(b []byte, us int64) []byte {
	t := time.UnixMicro(us).UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends v (>= 0) in decimal, zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 || i > len(d)-width {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[i:]...)
}

// appendSeconds appends a millisecond duration as seconds with three decimals, 1.250.
func appendSeconds(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	return appendDigits(b, int(ms%1000), 3)
}

// appendHostName appends the host's name, web-012.example.com; the role prefix follows the id.
func appendHostName(b []byte, id int64) []byte {
	b = append(b, hostRoles[id%int64(len(hostRoles))]...)
	b = append(b, '-')
	b = appendDigits(b, int(id), 3)
	return append(b, ".example.com"...)
}

const hexDigits = "0123456789abcdef"

// appendUUID appends event k's UUID, a version 4 UUID drawn from its own stream, as 8-4-4-4-12 hex.
func appendUUID(b []byte, k int64) []byte {
	var r rand.PCG
	r.Seed(seedUUID, mix(uint64(k)))
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}
