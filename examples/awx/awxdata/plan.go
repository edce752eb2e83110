//go:build !wasip1

package awxdata

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// The plan is everything but the job events: a few thousand rows at Scale 1, hundreds of
// thousands at Scale 10,000. The events are drawn from it as they are emitted (events.go).

type org struct {
	id                int64
	name              string
	created, modified int64
}

type team struct {
	id, org int64
	name    string
	created int64
}

type user struct {
	id              int64
	username, email string
	org             int64
	superuser       bool
	created, login  int64
}

type inventory struct {
	id                int64
	name              string
	org               int64
	smart             bool
	env               env
	created, modified int64
	hosts             []int // indexes into plan.hosts
	sources           []*template
}

type host struct {
	id                int64
	name              string
	inv               *inventory
	enabled           bool
	created, modified int64
	lastJob           *job
}

// Template kinds (polymorphic_type) and the kind of job each launches.
const (
	kindJobTemplate     = "job_template"
	kindProject         = "project"
	kindInventorySource = "inventory_source"
	kindWorkflow        = "workflow_job_template"

	kindJob             = "job"
	kindProjectUpdate   = "project_update"
	kindInventoryUpdate = "inventory_update"
	kindWorkflowJob     = "workflow_job"
)

var jobKindOf = map[string]string{
	kindJobTemplate: kindJob, kindProject: kindProjectUpdate,
	kindInventorySource: kindInventoryUpdate, kindWorkflow: kindWorkflowJob,
}

type template struct {
	id                    int64
	name, kind            string
	org                   int64
	ee                    int // index into executionEnvironments, -1 for none
	created, modified     int64
	createdBy, modifiedBy int64
	scheduled             bool

	// Job templates.
	inv       *inventory
	playbook  int
	forks     int64
	hostOff   int     // first host of the inventory the template targets
	hosts     int     // how many consecutive hosts (its limit)
	baseTasks float64 // relative length of its runs

	// Inventory sources.
	source string
	srcInv *inventory

	// Derived from the jobs.
	current, last *job
	nextRun       int64
}

// Planned outcomes of a job that runs to the end of its life before Until.
const (
	outSuccess = iota
	outFailed
	outError
	outCanceled
)

type job struct {
	id          int64
	tpl         *template
	kind        string
	launch      string
	outcome     int
	status      string
	failed      bool
	created     int64
	delay       int64 // created → started
	duration    int64 // started → finished, when it gets there
	started     int64 // 0: not yet
	finished    int64 // 0: not yet
	explanation string

	// Jobs with events.
	seed       uint64
	tau        float64 // relative length, times the fitted factor gives the tasks
	tasks      int
	failHosts  int // failed jobs: hosts failing in the last task
	cancelTask int // canceled jobs: the task it was canceled in
	cancelFrac float64
	cancelAt   int64 // canceled jobs: no events from this time on
}

func (j *job) hasEvents() bool {
	return j.kind == kindJob && j.outcome != outError && j.started != 0
}

type metric struct {
	id                       int64
	hostname                 string
	first, last, lastDeleted int64
	automated, deletedCount  int64
	deleted                  bool
	inventories              int64
}

type instance struct {
	id                       int64
	uuid, hostname, nodeType string
	version                  string
	cpu                      float64
	memGiB                   int64
	cpuCap, memCap, capacity int64
	enabled, policy          bool
	consumed                 float64
	created                  int64
}

type plan struct {
	o            Options
	start, until int64 // the window (start, until]
	r            *rand.Rand

	orgs      []org
	teams     []team
	users     []user
	invs      []*inventory
	hosts     []*host
	hostLinks [][2]int64 // host id, inventory source id
	templates []*template
	jobs      []*job
	metrics   []metric
	instances []instance
	settings  [][2]string
}

// Streams of the master seed: each part of the plan draws from its own.
const (
	streamPlan  = 0x706c616e
	streamJobs  = 0x6a6f6273
	streamTimes = 0x74696d65
)

func newPlan(o Options) *plan {
	p := &plan{o: o, until: o.Until.UnixMicro()}
	p.start = p.until - int64(o.Days)*usDay
	p.r = rand.New(rand.NewPCG(o.Seed, streamPlan))
	s := float64(o.Scale)
	root, fourth := math.Sqrt(s), math.Sqrt(math.Sqrt(s))

	p.organizations(round(3 * fourth))
	p.people(round(20 * root))
	p.inventories(round(6*fourth), max(1, round(fourth)), round(50*root))
	p.templatesPlan(max(len(p.orgs), round(4*fourth)), round(12*root), max(1, round(2*fourth)))
	p.jobsPlan(round(150*root), int64(EventsPerScale)*int64(o.Scale))
	p.derive()
	p.hostMetrics()
	p.instancesPlan(min(3, 1+int(math.Log10(s))), round(2*fourth), round(fourth/2))
	p.settingsPlan()
	return p
}

func round(x float64) int { return int(math.Round(x)) }

// between returns a time in (lo, hi].
func (p *plan) between(lo, hi int64) int64 {
	if hi <= lo {
		return hi
	}
	return lo + 1 + p.r.Int64N(hi-lo)
}

// before returns a time between minDays and maxDays days before the window.
func (p *plan) before(minDays, maxDays int) int64 {
	return p.between(p.start-int64(maxDays)*usDay, p.start-int64(minDays)*usDay)
}

// inWindow returns a time in the window.
func (p *plan) inWindow() int64 { return p.between(p.start, p.until) }

func (p *plan) chance(x float64) bool { return p.r.Float64() < x }

// modifiedAfter returns created, or with probability x a later time in the window.
func (p *plan) modifiedAfter(created int64, x float64) int64 {
	if p.chance(x) {
		return p.between(max(created, p.start), p.until)
	}
	return created
}

func (p *plan) uuid() string { return formatUUID(p.r) }

func formatUUID(r *rand.Rand) string {
	const hex = "0123456789abcdef"
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	var b [36]byte
	j := 0
	for i := range 16 {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		var c byte
		if i < 8 {
			c = byte(hi >> (56 - 8*i))
		} else {
			c = byte(lo >> (56 - 8*(i-8)))
		}
		b[j], b[j+1] = hex[c>>4], hex[c&0xf]
		j += 2
	}
	return string(b[:])
}

func (p *plan) organizations(n int) {
	for i := range n {
		created := p.before(200, 900)
		p.orgs = append(p.orgs, org{id: int64(i + 1), name: orgName(i), created: created,
			modified: p.modifiedAfter(created, 0.2)})
	}
	slices.SortFunc(p.orgs, func(a, b org) int { return cmp.Compare(a.created, b.created) })
	for i := range p.orgs {
		p.orgs[i].id = int64(i + 1)
	}
	for _, o := range p.orgs {
		n := 1 + p.r.IntN(3)
		first := p.r.IntN(len(teamNames))
		for k := range n {
			p.teams = append(p.teams, team{org: o.id, name: teamNames[(first+k)%len(teamNames)],
				created: p.after(o.created)})
		}
	}
	slices.SortStableFunc(p.teams, func(a, b team) int { return cmp.Compare(a.created, b.created) })
	for i := range p.teams {
		p.teams[i].id = int64(i + 1)
	}
}

func (p *plan) randomOrg() int64 { return int64(1 + p.r.IntN(len(p.orgs))) }

// after returns a time between parent (when the object's parent was created) and a day before
// the window: objects are created after what they belong to, ids in creation order.
func (p *plan) after(parent int64) int64 { return p.between(parent, p.start-usDay) }

func (p *plan) people(n int) {
	// User 1 is the installation's admin, in no organization.
	p.users = append(p.users, user{id: 1, username: "admin", email: "admin@example.com",
		superuser: true, created: p.before(1000, 1100), login: p.inWindow()})
	seen := map[string]int{"admin": 1}
	for len(p.users) < n {
		name := firstNames[p.r.IntN(len(firstNames))] + "." + lastNames[p.r.IntN(len(lastNames))]
		seen[name]++
		if c := seen[name]; c > 1 {
			name = fmt.Sprintf("%s%d", name, c)
		}
		u := user{username: name, email: name + "@example.com", org: p.randomOrg(), superuser: p.chance(0.03)}
		u.created = p.after(p.orgs[u.org-1].created)
		switch x := p.r.Float64(); {
		case x < 0.15: // never logged in
		case x < 0.85:
			u.login = p.inWindow()
		default:
			u.login = p.between(u.created, p.start)
		}
		p.users = append(p.users, u)
	}
	slices.SortStableFunc(p.users[1:], func(a, b user) int { return cmp.Compare(a.created, b.created) })
	for i := range p.users {
		p.users[i].id = int64(i + 1)
	}
}

func (p *plan) inventories(normal, smart, hostPool int) {
	weights := make([]float64, normal)
	var sum float64
	for k := range normal {
		i := &inventory{org: int64(k%len(p.orgs) + 1), env: envs[p.r.IntN(len(envs))]}
		if k >= len(p.orgs) {
			i.org = p.randomOrg()
		}
		i.created = p.between(p.orgs[i.org-1].created, p.start-30*usDay)
		i.name = fmt.Sprintf("%s %s", i.env.title, regions[p.r.IntN(len(regions))])
		i.modified = p.modifiedAfter(i.created, 0.3)
		p.invs = append(p.invs, i)
		weights[k] = 0.5 + p.r.Float64()
		sum += weights[k]
	}
	for k := range smart {
		i := &inventory{org: p.randomOrg(), smart: true, name: smartInventoryNames[k%len(smartInventoryNames)]}
		i.created = p.after(p.orgs[i.org-1].created)
		i.modified = p.modifiedAfter(i.created, 0.3)
		p.invs = append(p.invs, i)
	}
	// Inventory names are unique per organization.
	names := map[string]int{}
	for _, i := range p.invs {
		key := fmt.Sprint(i.org, "\x00", i.name)
		names[key]++
		if c := names[key]; c > 1 {
			i.name = fmt.Sprintf("%s (%d)", i.name, c)
		}
	}
	slices.SortStableFunc(p.invs, func(a, b *inventory) int { return cmp.Compare(a.created, b.created) })
	for k, i := range p.invs {
		i.id = int64(k + 1)
	}

	// Hosts: the pool split over the normal inventories, numbered per environment, then about one
	// in ten also added to a second inventory (the same name: used_in_inventories 2).
	perEnv := map[string]int{}
	k := 0
	for _, i := range p.invs {
		if i.smart {
			continue
		}
		n := max(1, round(float64(hostPool)*weights[k]/sum))
		k++
		for range n {
			perEnv[i.env.name]++
			name := fmt.Sprintf("%s-%03d.%s.example.com", hostRoles[p.r.IntN(len(hostRoles))], perEnv[i.env.name], i.env.name)
			p.addHost(i, name)
		}
	}
	normals := p.invs[:0:0]
	for _, i := range p.invs {
		if !i.smart {
			normals = append(normals, i)
		}
	}
	if len(normals) > 1 {
		own := len(p.hosts)
		for h := range own {
			if !p.chance(0.1) {
				continue
			}
			src := p.hosts[h]
			dst := normals[p.r.IntN(len(normals))]
			if dst != src.inv {
				p.addHost(dst, src.name)
			}
		}
	}
	// Hosts the generator will delete keep their number: perEnv continues in hostMetrics.
	p.deletedNames(hostPool, perEnv)
}

func (p *plan) addHost(i *inventory, name string) {
	h := &host{id: int64(len(p.hosts) + 1), name: name, inv: i, enabled: !p.chance(0.05),
		created: p.after(i.created)}
	h.modified = p.modifiedAfter(h.created, 0.25)
	i.hosts = append(i.hosts, len(p.hosts))
	p.hosts = append(p.hosts, h)
}

// deletedNames adds the host metrics of hosts deleted during the window (they are no longer in
// main_host).
func (p *plan) deletedNames(hostPool int, perEnv map[string]int) {
	n := max(1, round(0.06*float64(hostPool)))
	for range n {
		e := envs[p.r.IntN(len(envs))]
		perEnv[e.name]++
		name := fmt.Sprintf("%s-%03d.%s.example.com", hostRoles[p.r.IntN(len(hostRoles))], perEnv[e.name], e.name)
		deletedAt := p.inWindow()
		last := p.between(deletedAt-40*usDay, deletedAt-usHour)
		p.metrics = append(p.metrics, metric{hostname: name, first: p.between(last-200*usDay, last),
			last: last, lastDeleted: deletedAt, automated: 1 + p.r.Int64N(50), deletedCount: 1, deleted: true})
	}
}

func (p *plan) randomUser() int64 { return int64(1 + p.r.IntN(len(p.users))) }

func (p *plan) templatesPlan(projects, jobTemplates, workflows int) {
	var ts []*template
	// newTemplate adds a template created after parent.
	newTemplate := func(kind, name string, orgID int64, ee int, parent int64) *template {
		t := &template{kind: kind, name: name, org: orgID, ee: ee, created: p.after(parent)}
		t.modified = p.modifiedAfter(t.created, 0.15)
		if t.modified == t.created && p.chance(0.5) {
			t.modified = p.between(t.created, p.start)
		}
		if kind != kindInventorySource || p.chance(0.5) {
			t.createdBy = p.randomUser()
			t.modifiedBy = t.createdBy
			if t.modified != t.created && p.chance(0.5) {
				t.modifiedBy = p.randomUser()
			}
		}
		ts = append(ts, t)
		return t
	}
	for k := range projects {
		name := projectNames[k%len(projectNames)]
		if k >= len(projectNames) {
			name = fmt.Sprintf("%s %d", name, k/len(projectNames)+1)
		}
		o := p.orgs[k%len(p.orgs)]
		t := newTemplate(kindProject, name, o.id, 0, o.created)
		t.scheduled = p.chance(0.3)
	}
	// Inventory sources: about half the normal inventories have one, some two.
	for _, i := range p.invs {
		if i.smart {
			continue
		}
		n := 0
		switch x := p.r.Float64(); {
		case x < 0.15:
			n = 2
		case x < 0.6:
			n = 1
		}
		for range n {
			kind := sourceKinds[p.r.IntN(len(sourceKinds))]
			t := newTemplate(kindInventorySource, fmt.Sprintf(kind.name, regions[p.r.IntN(len(regions))]), i.org, 0, i.created)
			t.source, t.srcInv, t.scheduled = kind.source, i, p.chance(0.6)
			i.sources = append(i.sources, t)
		}
	}
	normals := []*inventory{}
	for _, i := range p.invs {
		if !i.smart {
			normals = append(normals, i)
		}
	}
	names := map[string]int{}
	for range jobTemplates {
		inv := normals[p.r.IntN(len(normals))]
		pb := p.r.IntN(len(playbooks))
		name := fmt.Sprintf(playbooks[pb].template, inv.name)
		key := fmt.Sprint(inv.org, "\x00", name)
		names[key]++
		if c := names[key]; c > 1 {
			name = fmt.Sprintf("%s #%d", name, c)
		}
		t := newTemplate(kindJobTemplate, name, inv.org, p.r.IntN(len(executionEnvironments)), inv.created)
		t.inv, t.playbook, t.scheduled = inv, pb, p.chance(0.4)
		t.forks = []int64{0, 5, 10, 25, 50}[p.r.IntN(5)]
		n := len(inv.hosts)
		t.hosts = n
		if p.chance(0.5) {
			t.hosts = max(1, round(float64(n)*(0.3+0.6*p.r.Float64())))
		}
		t.hostOff = p.r.IntN(n)
		t.baseTasks = float64(len(playbooks[pb].tasks)) * (0.7 + 0.6*p.r.Float64())
	}
	for k := range workflows {
		name := fmt.Sprintf(workflowNames[k%len(workflowNames)], envs[p.r.IntN(len(envs))].title)
		if k >= len(workflowNames) {
			name = fmt.Sprintf("%s #%d", name, k/len(workflowNames)+1)
		}
		o := p.orgs[p.r.IntN(len(p.orgs))]
		t := newTemplate(kindWorkflow, name, o.id, -1, o.created)
		t.scheduled = p.chance(0.5)
	}
	slices.SortStableFunc(ts, func(a, b *template) int { return cmp.Compare(a.created, b.created) })
	for k, t := range ts {
		t.id = int64(k + 1)
	}
	p.templates = ts

	// Hosts found by the inventory sources.
	for _, i := range p.invs {
		for _, h := range i.hosts {
			if len(i.sources) == 0 || p.hosts[h].inv != i || p.chance(0.15) {
				continue
			}
			src := i.sources[p.r.IntN(len(i.sources))]
			p.hostLinks = append(p.hostLinks, [2]int64{p.hosts[h].id, src.id})
		}
	}
}

// pick returns one of ts, favouring the first ones (some templates run far more often).
func (p *plan) pick(ts []*template) *template {
	x := p.r.Float64()
	return ts[int(float64(len(ts))*x*x)]
}

func weighted[T any](r *rand.Rand, choices []T, weights []float64) T {
	x := r.Float64()
	for i, w := range weights {
		if x < w {
			return choices[i]
		}
		x -= w
	}
	return choices[len(choices)-1]
}

func (p *plan) jobsPlan(n int, events int64) {
	byKind := map[string][]*template{}
	for _, t := range p.templates {
		byKind[t.kind] = append(byKind[t.kind], t)
	}
	kinds := []string{kindJobTemplate, kindProject, kindInventorySource, kindWorkflow}
	weights := []float64{0.65, 0.12, 0.13, 0.10}
	if len(byKind[kindInventorySource]) == 0 {
		weights[0] += weights[2]
		weights[2] = 0
	}
	launches := map[string]struct {
		types   []string
		weights []float64
	}{
		kindJob:             {[]string{"manual", "scheduled", "relaunch", "callback", "workflow"}, []float64{0.40, 0.35, 0.05, 0.03, 0.17}},
		kindProjectUpdate:   {[]string{"sync", "manual", "scheduled"}, []float64{0.6, 0.2, 0.2}},
		kindInventoryUpdate: {[]string{"sync", "scheduled", "manual"}, []float64{0.4, 0.5, 0.1}},
		kindWorkflowJob:     {[]string{"manual", "scheduled"}, []float64{0.5, 0.5}},
	}
	r := rand.New(rand.NewPCG(p.o.Seed, streamJobs))
	for range n {
		tk := weighted(r, kinds, weights)
		j := &job{tpl: p.pick(byKind[tk]), kind: jobKindOf[tk], seed: r.Uint64()}
		l := launches[j.kind]
		j.launch = weighted(r, l.types, l.weights)
		risk := 0.5
		if j.kind == kindJob {
			risk = 1
		}
		j.outcome = weighted(r, []int{outError, outCanceled, outFailed, outSuccess},
			[]float64{0.02 * risk, 0.03 * risk, 0.09 * risk})
		j.delay = usSecond + r.Int64N(19*usSecond)
		switch j.kind {
		case kindJob:
			j.tau = j.tpl.baseTasks * (0.8 + 0.4*r.Float64())
			if j.outcome == outFailed {
				j.failHosts = 1 + r.IntN(min(3, j.tpl.hosts))
			}
			j.cancelFrac = r.Float64()
		case kindProjectUpdate:
			j.duration = 4*usSecond + r.Int64N(41*usSecond)
		case kindInventoryUpdate:
			j.duration = 8*usSecond + r.Int64N(232*usSecond)
		default:
			j.duration = usMinute + r.Int64N(29*usMinute)
		}
		switch j.outcome {
		case outError:
			j.duration = usSecond + r.Int64N(4*usSecond)
		case outCanceled:
			if j.kind != kindJob {
				j.duration = j.duration/10 + r.Int64N(j.duration/2)
			}
		}
		p.jobs = append(p.jobs, j)
	}
	p.fitTasks(events)
	for _, j := range p.jobs {
		if j.kind == kindJob {
			j.duration = j.schedule()
		}
	}

	// When they were created, spread over the window; then one job is still pending at Until and
	// one is running, whatever the scale.
	times := rand.New(rand.NewPCG(p.o.Seed, streamTimes))
	for _, j := range p.jobs {
		j.created = p.start + 1 + times.Int64N(p.until-p.start)
	}
	var candidates []*job
	for _, j := range p.jobs {
		if j.kind == kindJob && (j.outcome == outSuccess || j.outcome == outFailed) {
			candidates = append(candidates, j)
		}
	}
	if len(candidates) >= 2 {
		pending := candidates[times.IntN(len(candidates))]
		pending.created = p.until - usSecond/2
		running := candidates[times.IntN(len(candidates))]
		if c := p.until - running.delay - running.duration/2; running != pending && c > p.start {
			running.created = c
		}
	}
	slices.SortStableFunc(p.jobs, func(a, b *job) int { return cmp.Compare(a.created, b.created) })

	for k, j := range p.jobs {
		j.id = int64(k + 1)
		started := j.created + j.delay
		switch {
		case started > p.until:
			j.status = "pending"
			continue
		case started+j.duration > p.until:
			j.started, j.status = started, "running"
			continue
		}
		j.started, j.finished = started, started+j.duration
		j.status = [...]string{outSuccess: "successful", outFailed: "failed", outError: "error", outCanceled: "canceled"}[j.outcome]
		j.failed = j.outcome != outSuccess
		if j.outcome == outError {
			msg := errorExplanations[times.IntN(len(errorExplanations))]
			if strings.Contains(msg, "%") {
				msg = fmt.Sprintf(msg, j.tpl.name, max(1, j.id-1-times.Int64N(5)))
			}
			j.explanation = msg
		}
	}
}

// fitTasks chooses each job's number of tasks so that the events add up to about want.
func (p *plan) fitTasks(want int64) {
	// A run of T tasks on H hosts has 3 + T(1+H) events: playbook_on_start, play_start and
	// stats, then per task a task_start and one runner event per host. Canceled runs stop half
	// way on average.
	var fixed, per float64
	for _, j := range p.jobs {
		if j.kind != kindJob || j.outcome == outError {
			continue
		}
		share := 1.0
		if j.outcome == outCanceled {
			share = j.cancelFrac
		}
		fixed += 3 * share
		per += share * j.tau * float64(1+j.tpl.hosts)
	}
	if per == 0 {
		return
	}
	k := max(0, (float64(want)-fixed)/per)
	for range 4 { // the rounding to whole tasks (at least one) drifts: correct k a few times
		var got float64
		for _, j := range p.jobs {
			if j.kind != kindJob || j.outcome == outError {
				continue
			}
			j.tasks = max(1, round(k*j.tau))
			share := 1.0
			if j.outcome == outCanceled {
				share = j.cancelFrac
			}
			got += share * (3 + float64(j.tasks*(1+j.tpl.hosts)))
		}
		if got == 0 || math.Abs(got-float64(want)) < 0.001*float64(want) {
			break
		}
		k *= (float64(want) - fixed) / max(1, got-fixed)
	}
	for _, j := range p.jobs {
		if j.kind == kindJob && j.outcome == outCanceled {
			j.cancelTask = min(j.tasks-1, int(j.cancelFrac*float64(j.tasks)))
		}
	}
}

// schedule returns a job's run time from start to finish, drawing the same times as its events
// will, and sets cancelAt (relative to started) for a canceled job.
func (j *job) schedule() int64 {
	s := newSchedule(j)
	t := s.begin(0)
	for task := range j.tasks {
		length := s.taskLength()
		if j.outcome == outCanceled && task == j.cancelTask {
			j.cancelAt = t + int64(j.cancelFrac*float64(length))
			return j.cancelAt + usSecond
		}
		t += length + s.gap()
	}
	return t + s.finish()
}

// derive fills in what follows from the jobs: templates' current and last jobs, hosts' last jobs.
func (p *plan) derive() {
	for _, j := range p.jobs { // in id order, so the later job wins
		t := j.tpl
		switch {
		case j.finished != 0:
			if t.last == nil || j.finished > t.last.finished {
				t.last = j
			}
		default:
			t.current = j
		}
		if j.kind == kindJob && j.finished != 0 && j.outcome != outError {
			j.forHosts(p, func(h *host) {
				if h.lastJob == nil || j.finished > h.lastJob.finished {
					h.lastJob = j
				}
			})
		}
	}
	for _, t := range p.templates {
		if t.scheduled {
			t.nextRun = p.until + 10*usMinute + p.r.Int64N(24*usHour)
		}
	}
}

// forHosts calls f for each host the job runs on.
func (j *job) forHosts(p *plan, f func(*host)) {
	inv := j.tpl.inv
	for i := range j.tpl.hosts {
		f(p.hosts[inv.hosts[(j.tpl.hostOff+i)%len(inv.hosts)]])
	}
}

func (p *plan) hostMetrics() {
	type agg struct {
		first, last, count int64
		inventories        int64
	}
	byName := map[string]*agg{}
	var names []string
	for _, h := range p.hosts {
		a := byName[h.name]
		if a == nil {
			a = &agg{}
			byName[h.name] = a
			names = append(names, h.name)
		}
		a.inventories++
	}
	for _, j := range p.jobs {
		if j.kind != kindJob || j.finished == 0 || j.outcome == outError {
			continue
		}
		j.forHosts(p, func(h *host) {
			a := byName[h.name]
			if a.count == 0 || j.finished < a.first {
				a.first = j.finished
			}
			a.last = max(a.last, j.finished)
			a.count++
		})
	}
	for _, name := range names {
		a := byName[name]
		m := metric{hostname: name, inventories: a.inventories}
		switch {
		case a.count > 0:
			m.first, m.last, m.automated = a.first, a.last, a.count
			if p.chance(0.6) { // automated before the window too
				m.first = p.before(1, 300)
				m.automated += 1 + p.r.Int64N(200)
				if p.chance(0.08) { // deleted once, then added back
					m.lastDeleted = p.between(m.first, p.start)
					m.deletedCount = 1
				}
			}
		case p.chance(0.7): // automated only before the window
			m.last = p.before(1, 120)
			m.first = p.between(m.last-300*usDay, m.last)
			m.automated = 1 + p.r.Int64N(100)
		default:
			continue
		}
		p.metrics = append(p.metrics, m)
	}
	// A host metric is created when its host is first automated.
	slices.SortStableFunc(p.metrics, func(a, b metric) int {
		return cmp.Or(cmp.Compare(a.first, b.first), strings.Compare(a.hostname, b.hostname))
	})
	for k := range p.metrics {
		p.metrics[k].id = int64(k + 1)
	}
}

func (p *plan) instancesPlan(control, execution, hop int) {
	add := func(nodeType, hostname string) {
		in := instance{id: int64(len(p.instances) + 1), uuid: p.uuid(), hostname: hostname,
			nodeType: nodeType, version: "24.6.1", enabled: true, policy: true, created: p.before(10, 500)}
		in.cpu = []float64{4, 8, 16}[p.r.IntN(3)]
		in.memGiB = []int64{16, 32, 64}[p.r.IntN(3)]
		if nodeType == "hop" {
			in.policy = false
		} else {
			in.cpuCap = int64(in.cpu) * 4
			in.memCap = (in.memGiB*1024 - 2048) / 100
			in.capacity = max(in.cpuCap, in.memCap)
		}
		p.instances = append(p.instances, in)
	}
	if control == 1 {
		add("hybrid", "aap.example.com")
	} else {
		for k := range control {
			add("control", fmt.Sprintf("aap-ctrl-%02d.example.com", k+1))
		}
	}
	firstExec := len(p.instances)
	for k := range execution {
		add("execution", fmt.Sprintf("aap-exec-%02d.example.com", k+1))
	}
	for k := range hop {
		add("hop", fmt.Sprintf("aap-hop-%02d.example.com", k+1))
	}
	if execution >= 4 { // one execution node drained for maintenance, one a release behind
		p.instances[firstExec+execution-1].enabled = false
		p.instances[firstExec+execution-2].version = "24.6.0"
	}
	// Running jobs use capacity: min(forks, hosts) + 1 each, spread over the execution nodes.
	runners := p.instances[:max(1, firstExec)]
	if execution > 0 {
		runners = p.instances[firstExec : firstExec+execution]
	}
	for _, j := range p.jobs {
		if j.status == "running" && j.kind == kindJob {
			forks := j.tpl.forks
			if forks == 0 {
				forks = 5
			}
			runners[j.id%int64(len(runners))].consumed += float64(min(forks, int64(j.tpl.hosts)) + 1)
		}
	}
}

func (p *plan) settingsPlan() {
	hosts := map[string]bool{}
	for _, h := range p.hosts {
		hosts[h.name] = true
	}
	licensed := int64(math.Ceil(float64(len(hosts))*1.2/100) * 100)
	expires := p.until/usSecond + 200*86400
	license := struct {
		LicenseType          string `json:"license_type"`
		SubscriptionName     string `json:"subscription_name"`
		SKU                  string `json:"sku"`
		SupportLevel         string `json:"support_level"`
		Usage                string `json:"usage"`
		ProductName          string `json:"product_name"`
		ValidKey             bool   `json:"valid_key"`
		Satellite            bool   `json:"satellite"`
		PoolID               string `json:"pool_id"`
		SubscriptionID       int64  `json:"subscription_id"`
		AccountNumber        string `json:"account_number"`
		InstanceCount        int64  `json:"instance_count"`
		LicenseDate          int64  `json:"license_date"`
		Trial                bool   `json:"trial"`
		GracePeriodRemaining int64  `json:"grace_period_remaining"`
		TimeRemaining        int64  `json:"time_remaining"`
		DateWarning          bool   `json:"date_warning"`
		DateExpired          bool   `json:"date_expired"`
	}{
		LicenseType: "enterprise",
		SubscriptionName: fmt.Sprintf("Red Hat Ansible Automation Platform, Premium (%d Managed Nodes)",
			licensed),
		SKU: "MCT3695", SupportLevel: "Premium", Usage: "Production",
		ProductName: "Red Hat Ansible Automation Platform", ValidKey: true,
		PoolID: strings.ReplaceAll(p.uuid(), "-", ""), SubscriptionID: 10_000_000 + p.r.Int64N(90_000_000),
		AccountNumber: fmt.Sprint(1_000_000 + p.r.Int64N(9_000_000)), InstanceCount: licensed,
		LicenseDate: expires, GracePeriodRemaining: 200*86400 + 30*86400, TimeRemaining: 200 * 86400,
	}
	platform := map[string]any{
		"system": "Linux", "dist": []string{"Red Hat Enterprise Linux", "9.4", "Plow"},
		"release": "5.14.0-427.42.1.el9_4.x86_64", "type": "traditional",
	}
	vals := map[string]any{
		"INSTALL_UUID":                         p.uuid(),
		"SYSTEM_UUID":                          p.instances[0].uuid,
		"TOWER_URL_BASE":                       "https://aap.example.com",
		"LICENSE":                              license,
		"SUBSCRIPTION_NAME":                    license.SubscriptionName,
		"SUBSCRIPTION_USAGE_MODEL":             "unique_managed_hosts",
		"PLATFORM":                             platform,
		"AUTHENTICATION_BACKENDS":              []string{"awx.sso.backends.LDAPBackend", "awx.main.backends.AWXModelBackend"},
		"LOG_AGGREGATOR_ENABLED":               true,
		"LOG_AGGREGATOR_TYPE":                  "splunk",
		"LOG_AGGREGATOR_LEVEL":                 "INFO",
		"LOG_AGGREGATOR_LOGGERS":               []string{"awx", "activity_stream", "job_events", "system_tracking", "broadcast_websocket"},
		"PENDO_TRACKING_STATE":                 "off",
		"INSIGHTS_TRACKING_STATE":              true,
		"AUTOMATION_ANALYTICS_GATHER_INTERVAL": 14400,
		"AUTOMATION_ANALYTICS_LAST_GATHER":     nil,
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, err := json.Marshal(vals[k])
		if err != nil {
			panic(err) // static values
		}
		p.settings = append(p.settings, [2]string{k, string(b)})
	}
}

// rows returns the rows of one of the small tables.
func (p *plan) rows(t *Table) [][]any {
	var out [][]any
	add := func(v ...any) { out = append(out, v) }
	switch t {
	case Organization:
		for _, o := range p.orgs {
			add(o.id, o.name, ts(o.created), ts(o.modified))
		}
	case Team:
		for _, x := range p.teams {
			add(x.id, x.name, x.org, ts(x.created))
		}
	case User:
		for _, u := range p.users {
			add(u.id, u.username, u.email, nullInt(u.org), u.superuser, ts(u.created), nullTime(u.login))
		}
	case Inventory:
		for _, i := range p.invs {
			kind := ""
			if i.smart {
				kind = "smart"
			}
			add(i.id, i.name, i.org, kind, ts(i.created), ts(i.modified))
		}
	case Host:
		for _, h := range p.hosts {
			var last int64
			if h.lastJob != nil {
				last = h.lastJob.id
			}
			add(h.id, h.name, h.inv.id, h.enabled, ts(h.created), ts(h.modified), nullInt(last))
		}
	case InventorySource:
		for _, t := range p.templates {
			if t.kind == kindInventorySource {
				add(t.id, t.srcInv.id, t.name, t.source)
			}
		}
	case HostInventorySources:
		for k, l := range p.hostLinks {
			add(int64(k+1), l[0], l[1])
		}
	case UnifiedJobTemplate:
		for _, t := range p.templates {
			ee := ""
			if t.ee >= 0 {
				ee = executionEnvironments[t.ee].image
			}
			var current, last, lastRun int64
			status, lastFailed := "never updated", false
			if t.last != nil {
				last, lastRun, lastFailed, status = t.last.id, t.last.finished, t.last.failed, t.last.status
			}
			if t.current != nil {
				current, status = t.current.id, t.current.status
			}
			add(t.id, t.name, t.kind, t.org, nullText(ee), ts(t.created), ts(t.modified),
				nullInt(t.createdBy), nullInt(t.modifiedBy), nullInt(current), nullInt(last),
				nullTime(lastRun), lastFailed, nullTime(t.nextRun), status)
		}
	case UnifiedJob:
		for _, j := range p.jobs {
			out = append(out, p.jobRow(j))
		}
	case HostMetric:
		for _, m := range p.metrics {
			add(m.id, m.hostname, ts(m.first), ts(m.last), nullTime(m.lastDeleted), m.automated,
				m.deletedCount, m.deleted, m.inventories)
		}
	case Instance:
		for _, in := range p.instances {
			add(in.id, in.uuid, in.hostname, in.version, in.capacity, in.cpu, in.memGiB<<30, in.cpuCap,
				in.memCap, in.enabled, in.policy, in.nodeType, in.consumed, ts(in.created))
		}
	case Setting:
		for k, s := range p.settings {
			add(int64(k+1), s[0], s[1])
		}
	default:
		panic("awxdata: no rows for " + t.Name)
	}
	return out
}

func (p *plan) jobRow(j *job) []any {
	t := j.tpl
	var inv int64
	ee, ig, ansible, forks := "", "", "", int64(0)
	switch j.kind {
	case kindJob:
		inv, forks, ig = t.inv.id, t.forks, "default"
	case kindInventoryUpdate:
		inv, ig = t.srcInv.id, "controlplane"
	case kindProjectUpdate:
		ig = "controlplane"
	}
	if j.kind != kindWorkflowJob {
		e := executionEnvironments[max(0, t.ee)]
		ee, ansible = e.image, e.ansible
	}
	elapsed := 0.0
	if j.finished != 0 {
		elapsed = float64(j.finished-j.started) / float64(usSecond)
	}
	modified := max(j.created, j.started, j.finished)
	return []any{j.id, t.id, t.name, j.kind, j.launch, j.status, j.failed, t.org, nullInt(inv),
		nullText(ee), nullText(ig), forks, ansible, ts(j.created), ts(modified),
		nullTime(j.started), nullTime(j.finished), elapsed, j.explanation}
}
