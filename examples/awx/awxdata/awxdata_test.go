//go:build !wasip1

package awxdata

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testUntil = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// hashSink hashes every value with its type, and counts the rows.
type hashSink struct {
	h      hash.Hash
	counts map[string]int64
	tables []string
}

func newHashSink() *hashSink { return &hashSink{h: sha256.New(), counts: map[string]int64{}} }

func (s *hashSink) Begin(t *Table) error {
	s.tables = append(s.tables, t.Name)
	fmt.Fprintf(s.h, "table %s\n", t.Name)
	return nil
}

func (s *hashSink) Rows(t *Table, rows [][]any) error {
	var b [8]byte
	for _, row := range rows {
		if len(row) != len(t.Columns) {
			return fmt.Errorf("%s: row of %d values for %d columns", t.Name, len(row), len(t.Columns))
		}
		for _, v := range row {
			switch x := v.(type) {
			case nil:
				s.h.Write([]byte{0})
			case int64:
				binary.LittleEndian.PutUint64(b[:], uint64(x))
				s.h.Write([]byte{1})
				s.h.Write(b[:])
			case float64:
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
				s.h.Write([]byte{2})
				s.h.Write(b[:])
			case string:
				fmt.Fprintf(s.h, "\x03%d:%s", len(x), x)
			case bool:
				fmt.Fprintf(s.h, "\x04%t", x)
			case time.Time:
				fmt.Fprintf(s.h, "\x05%s", FormatTime(x))
			default:
				return fmt.Errorf("%s: value of type %T", t.Name, v)
			}
		}
	}
	s.counts[t.Name] += int64(len(rows))
	return nil
}

func (s *hashSink) End(*Table) error { return nil }

func (s *hashSink) sum() string { return hex.EncodeToString(s.h.Sum(nil)) }

func generate(t *testing.T, o Options) *hashSink {
	t.Helper()
	s := newHashSink()
	require.NoError(t, Generate(o, s))
	return s
}

func TestGenerateIsDeterministic(t *testing.T) {
	o := Options{Scale: 2, Until: testUntil, Seed: 7}
	a, b := generate(t, o), generate(t, o)
	require.Equal(t, a.sum(), b.sum())
	require.Equal(t, a.counts, b.counts)

	o.Until = testUntil.In(time.FixedZone("X", 3600)) // the same instant in another zone
	assert.Equal(t, a.sum(), generate(t, o).sum())
	o.Seed = 8
	assert.NotEqual(t, a.sum(), generate(t, o).sum(), "another seed, other data")
	o.Seed, o.Until = 7, testUntil.Add(time.Hour)
	assert.NotEqual(t, a.sum(), generate(t, o).sum(), "another window, other data")
}

func TestGenerateTablesInOrder(t *testing.T) {
	s := generate(t, Options{Until: testUntil})
	var want []string
	for _, t := range Tables {
		want = append(want, t.Name)
	}
	assert.Equal(t, want, s.tables)
	for _, name := range want {
		assert.Positive(t, s.counts[name], name)
	}
}

// TestCountsPerScale checks the documented sizes: Scale 1 is 3 organizations, about 50 hosts, 20
// templates, 150 jobs and 5,000 events; events grow linearly, hosts and jobs with the square root.
func TestCountsPerScale(t *testing.T) {
	one := generate(t, Options{Scale: 1, Until: testUntil, Seed: 1}).counts
	t.Logf("scale 1: %v", one)
	assert.Equal(t, int64(3), one[Organization.Name])
	assert.InDelta(t, 55, one[Host.Name], 10)
	assert.InDelta(t, 21, one[UnifiedJobTemplate.Name], 5)
	assert.Equal(t, int64(150), one[UnifiedJob.Name])
	assert.InEpsilon(t, EventsPerScale, one[JobEvent.Name], 0.1)

	for _, scale := range []int{4, 16} {
		c := generate(t, Options{Scale: scale, Until: testUntil, Seed: 1}).counts
		t.Logf("scale %d: %v", scale, c)
		assert.InEpsilon(t, EventsPerScale*scale, c[JobEvent.Name], 0.1, "scale %d", scale)
		root := math.Sqrt(float64(scale))
		assert.InEpsilon(t, 150*root, c[UnifiedJob.Name], 0.01, "scale %d", scale)
		assert.InEpsilon(t, float64(one[Host.Name])*root, c[Host.Name], 0.2, "scale %d", scale)
	}
}

// TestPlanAtLargeScales checks the sizes of big datasets from their plan alone: the events are
// only counted, as the job plans say, not generated.
func TestPlanAtLargeScales(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, scale := range []int{100, 1000, 10000} {
		o, err := Options{Scale: scale, Until: testUntil, Seed: 1}.normalize()
		require.NoError(t, err)
		p := newPlan(o)
		var events float64
		for _, j := range p.jobs {
			if !j.hasEvents() {
				continue
			}
			n := float64(3 + j.tasks*(1+j.tpl.hosts))
			if j.outcome == outCanceled {
				n *= j.cancelFrac
			}
			events += n
		}
		root := math.Sqrt(float64(scale))
		t.Logf("scale %d: %d hosts, %d templates, %d jobs, ~%.0f events", scale, len(p.hosts), len(p.templates), len(p.jobs), events)
		assert.InEpsilon(t, EventsPerScale*scale, events, 0.1, "scale %d", scale)
		assert.InEpsilon(t, 55*root, len(p.hosts), 0.2, "scale %d", scale)
		assert.InEpsilon(t, 150*root, len(p.jobs), 0.01, "scale %d", scale)
	}
}

// rowSink keeps every row of every table.
type rowSink struct{ rows map[*Table][][]any }

func (s *rowSink) Begin(*Table) error { return nil }
func (s *rowSink) End(*Table) error   { return nil }
func (s *rowSink) Rows(t *Table, rows [][]any) error {
	if s.rows == nil {
		s.rows = map[*Table][][]any{}
	}
	s.rows[t] = append(s.rows[t], rows...)
	return nil
}

func colIndex(t *Table) map[string]int {
	m := map[string]int{}
	for i, c := range t.Columns {
		m[c.Name] = i
	}
	return m
}

// TestTimeWindow checks that every job and every event lies in (Until − Days, Until], that
// events sit inside their job's run and that event ids increase with time; and that NULLs
// appear where they should.
func TestTimeWindow(t *testing.T) {
	o := Options{Scale: 3, Until: testUntil.Add(123456 * time.Microsecond), Days: 10, Seed: 3}
	var s rowSink
	require.NoError(t, Generate(o, &s))
	lo, hi := o.Until.AddDate(0, 0, -o.Days), o.Until
	in := func(v any) bool {
		tm := v.(time.Time)
		return tm.After(lo) && !tm.After(hi)
	}

	jc := colIndex(UnifiedJob)
	type run struct{ started, finished any }
	jobs := map[int64]run{}
	statuses := map[string]int{}
	for _, r := range s.rows[UnifiedJob] {
		require.True(t, in(r[jc["created"]]), "job %v created %v", r[0], r[jc["created"]])
		for _, c := range []string{"started", "finished"} {
			if r[jc[c]] != nil {
				require.True(t, in(r[jc[c]]), "job %v %s %v", r[0], c, r[jc[c]])
			}
		}
		statuses[r[jc["status"]].(string)]++
		jobs[r[0].(int64)] = run{r[jc["started"]], r[jc["finished"]]}
	}
	assert.Positive(t, statuses["running"], "a job is running at Until: finished is NULL")
	assert.Positive(t, statuses["pending"], "a job is pending at Until: started is NULL")
	assert.Positive(t, statuses["successful"])
	assert.Positive(t, statuses["failed"])

	ec := colIndex(JobEvent)
	var prevID int64
	var prev time.Time
	var nullHosts, laterModified int
	for _, r := range s.rows[JobEvent] {
		id, created, modified := r[0].(int64), r[ec["created"]].(time.Time), r[ec["modified"]].(time.Time)
		require.True(t, in(created) && in(modified), "event %d: created %v modified %v", id, created, modified)
		require.Equal(t, prevID+1, id)
		require.False(t, created.Before(prev), "event %d is older than the one before", id)
		require.False(t, modified.Before(created), "event %d", id)
		prevID, prev = id, created
		if modified.After(created) {
			laterModified++
		}
		if r[ec["host_id"]] == nil {
			nullHosts++
			require.Equal(t, "", r[ec["host_name"]])
		}
		j, ok := jobs[r[ec["job_id"]].(int64)]
		require.True(t, ok, "event %d of an unknown job", id)
		require.NotNil(t, j.started)
		require.False(t, created.Before(j.started.(time.Time)), "event %d before its job started", id)
		if j.finished != nil {
			require.False(t, created.After(j.finished.(time.Time)), "event %d after its job finished", id)
		}
	}
	assert.Positive(t, nullHosts)
	assert.Positive(t, laterModified)
	assert.Less(t, laterModified, len(s.rows[JobEvent])/10)

	mc := colIndex(HostMetric)
	var inWindow int
	for _, r := range s.rows[HostMetric] {
		if in(r[mc["last_automation"]]) || r[mc["last_deleted"]] != nil && in(r[mc["last_deleted"]]) {
			inWindow++
		}
	}
	assert.Positive(t, inWindow)
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Until: time.Time{}},
		{Scale: -1, Until: testUntil},
		{Scale: maxScale + 1, Until: testUntil},
		{Days: -2, Until: testUntil},
		{Until: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
	} {
		assert.Error(t, Generate(o, newHashSink()), "%+v", o)
	}
}

func TestSchemas(t *testing.T) {
	for _, schema := range []string{SchemaSQLite, SchemaPostgres} {
		for _, tb := range Tables {
			assert.Contains(t, schema, "CREATE TABLE "+tb.Name+" (")
		}
		assert.Contains(t, schema, "CREATE INDEX main_jobevent_modified_idx ON main_jobevent (modified)")
		assert.Contains(t, schema, "end_time")
		assert.NotContains(t, schema, " end ")
	}
	assert.Contains(t, SchemaSQLite, "created TIMESTAMP NOT NULL")
	assert.Contains(t, SchemaPostgres, "created timestamptz NOT NULL")
	assert.Contains(t, SchemaSQLite, "failed BOOLEAN NOT NULL")
	assert.Contains(t, SchemaPostgres, "failed boolean NOT NULL")
}

func TestFormatTime(t *testing.T) {
	for _, tm := range []time.Time{testUntil, testUntil.Add(-time.Microsecond), time.Date(999, 1, 2, 3, 4, 5, 6000, time.FixedZone("Y", -7200))} {
		assert.Equal(t, tm.UTC().Format(TimeLayout), FormatTime(tm))
	}
}

func TestLoadSQLite(t *testing.T) {
	o := Options{Scale: 2, Until: testUntil, Seed: 5}
	want := generate(t, o).counts
	path := filepath.Join(t.TempDir(), "awx.db")
	var reports []Progress
	o.Progress = func(p Progress) { reports = append(reports, p) }
	start := time.Now()
	require.NoError(t, LoadSQLite(context.Background(), path, o))
	t.Logf("loaded scale 2 in %v", time.Since(start))

	done := map[string]int64{}
	for _, r := range reports {
		if r.Done {
			done[r.Table] = r.Rows
		}
	}
	assert.Equal(t, want, done, "a Done report per table with its rows")

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, tb := range Tables {
		var n int64
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+tb.Name).Scan(&n))
		assert.Equal(t, want[tb.Name], n, tb.Name)
	}

	// Timestamps are fixed-width text, booleans 0/1, and the window filter works on the text. (The
	// driver would turn a TIMESTAMP column into a time.Time: the CAST keeps the stored text.)
	var created, typ string
	var failed any
	require.NoError(t, db.QueryRow("SELECT CAST(created AS TEXT), typeof(created), failed FROM main_jobevent ORDER BY id LIMIT 1").Scan(&created, &typ, &failed))
	assert.Equal(t, "text", typ)
	assert.Len(t, created, len(TimeLayout))
	assert.Contains(t, []any{int64(0), int64(1), false, true}, failed)
	var bools int64
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM main_jobevent WHERE failed = TRUE OR failed = FALSE").Scan(&bools))
	assert.Equal(t, want[JobEvent.Name], bools)

	since, until := FormatTime(testUntil.Add(-24*time.Hour)), FormatTime(testUntil)
	var day, all int64
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM main_jobevent WHERE modified > ? AND modified <= ?", since, until).Scan(&day))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM main_jobevent WHERE modified > ? AND modified <= ?",
		FormatTime(testUntil.AddDate(0, 0, -28)), until).Scan(&all))
	assert.Positive(t, day)
	assert.Less(t, day, all)
	assert.Equal(t, want[JobEvent.Name], all, "every event in the window")

	var plan string
	require.NoError(t, db.QueryRow("EXPLAIN QUERY PLAN SELECT id FROM main_jobevent WHERE modified > ? AND modified <= ? ORDER BY id", since, until).Scan(new(int), new(int), new(int), &plan))
	assert.Contains(t, plan, "main_jobevent_modified_idx")

	err = LoadSQLite(context.Background(), path, o)
	require.ErrorContains(t, err, "already exists")
}

func TestLoadSQLiteCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "awx.db")
	ctx, cancel := context.WithCancel(context.Background())
	o := Options{Scale: 2, Until: testUntil, Progress: func(p Progress) {
		if strings.HasPrefix(p.Table, "main_unifiedjob") && p.Done {
			cancel()
		}
	}}
	require.ErrorIs(t, LoadSQLite(ctx, path, o), context.Canceled)
	assert.NoFileExists(t, path, "a failed load leaves no file")
}

type nopSink struct{}

func (nopSink) Begin(*Table) error         { return nil }
func (nopSink) Rows(*Table, [][]any) error { return nil }
func (nopSink) End(*Table) error           { return nil }

// BenchmarkGenerate measures the generator alone, per job event.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		require.NoError(b, Generate(Options{Scale: 10, Until: testUntil}, nopSink{}))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10*EventsPerScale), "ns/event")
}
