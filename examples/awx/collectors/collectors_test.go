//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// The collectors run natively here against the host's own data source layer (package
// datasource), on a generated database in SQLite and in PostgreSQL: every statement must give the
// same answer on both. The module itself, in WebAssembly, is run by the end-to-end tests.

func TestMain(m *testing.M) {
	code := testpg.Main(m)
	if sqliteDir != "" {
		_ = os.RemoveAll(sqliteDir)
	}
	os.Exit(code)
}

var (
	until = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	opts  = awxdata.Options{Scale: 1, Until: until, Seed: 1}

	sqliteOnce sync.Once
	sqliteDir  string
	sqlitePath string
	sqliteErr  error
)

// sqliteDB returns the path of the generated SQLite database, made once for all tests.
func sqliteDB(t *testing.T) string {
	sqliteOnce.Do(func() {
		if sqliteDir, sqliteErr = os.MkdirTemp("", "awx-collectors-*"); sqliteErr != nil {
			return
		}
		sqlitePath = filepath.Join(sqliteDir, "awx.db")
		sqliteErr = awxdata.LoadSQLite(context.Background(), sqlitePath, opts)
	})
	require.NoError(t, sqliteErr)
	return sqlitePath
}

// hostDB is the host's side of Query and StreamCSV for one invocation.
type hostDB struct {
	t     *testing.T
	src   *datasource.Source
	slice collector.SliceInfo
	csv   bytes.Buffer
}

func openSource(t *testing.T, driver datasource.Driver, dsn string) *datasource.Source {
	src, err := datasource.Open(context.Background(), datasource.Config{Name: "awx", Driver: driver, DSN: dsn})
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// sources returns the generated database as a SQLite and a PostgreSQL source.
func sources(t *testing.T) map[string]*datasource.Source {
	dsn := testpg.DSN(t)
	require.NoError(t, awxdata.LoadPostgres(context.Background(), dsn, opts))
	return map[string]*datasource.Source{
		"sqlite":   openSource(t, datasource.SQLite, sqliteDB(t)),
		"postgres": openSource(t, datasource.Postgres, testpg.ReadOnlyDSN(t, dsn)),
	}
}

func (h *hostDB) params(p map[string]any) map[string]any {
	out := map[string]any{"since": nil, "until": nil}
	if h.slice.HasSince {
		out["since"] = h.slice.Since
	}
	if h.slice.HasUntil {
		out["until"] = h.slice.Until
	}
	for k, v := range p {
		out[k] = v
	}
	return out
}

func (h *hostDB) Query(sql string, params map[string]any) (*collector.Result, error) {
	res := &collector.Result{}
	err := h.src.Query(context.Background(), sql, h.params(params), func(cols []datasource.Column) error {
		for _, c := range cols {
			res.Columns = append(res.Columns, collector.Column{Name: c.Name, Type: string(c.Type)})
		}
		return nil
	}, func(vals []any) error {
		res.Rows = append(res.Rows, slices.Clone(vals))
		return nil
	})
	return res, err
}

func (h *hostDB) StreamCSV(sql string, params map[string]any) (int64, error) {
	return h.src.StreamCSV(context.Background(), sql, h.params(params), &h.csv)
}

// records parses the CSV written so far: the header, then the rows.
func (h *hostDB) records(t *testing.T) [][]string {
	recs, err := csv.NewReader(bytes.NewReader(h.csv.Bytes())).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs, "a header at least")
	return recs
}

func slice(since, until time.Time) collector.SliceInfo {
	return collector.SliceInfo{Since: since, Until: until, HasSince: !since.IsZero(), HasUntil: !until.IsZero()}
}

// generated is the dataset the databases hold, row by row.
type generated map[string][][]any

func (g generated) Begin(*awxdata.Table) error { return nil }
func (g generated) End(*awxdata.Table) error   { return nil }
func (g generated) Rows(t *awxdata.Table, rows [][]any) error {
	g[t.Name] = append(g[t.Name], rows...)
	return nil
}

func generate(t *testing.T) generated {
	g := generated{}
	require.NoError(t, awxdata.Generate(opts, g))
	return g
}

func column(t *awxdata.Table, name string) int {
	i := slices.Index(t.ColumnNames(), name)
	if i < 0 {
		panic(name)
	}
	return i
}

func TestWindowSQL(t *testing.T) {
	s := slice(until.Add(-time.Hour), until)
	assert.Equal(t, "e.modified > @since AND e.modified <= @until", window("e.modified", s))
	assert.Contains(t, eventsTableSQL(s), "WHERE e.modified > @since AND e.modified <= @until\nORDER BY e.id")
	assert.Contains(t, unifiedJobsTableSQL(s),
		"WHERE ((j.created > @since AND j.created <= @until) OR (j.finished > @since AND j.finished <= @until))\n  AND j.launch_type <> 'sync'")

	open := slice(time.Time{}, until) // a first collection with no start
	assert.Equal(t, "e.modified <= @until", window("e.modified", open))
	assert.Contains(t, hostMetricTableSQL(open), "WHERE ((last_automation <= @until) OR (last_deleted <= @until))")

	none := collector.SliceInfo{}
	assert.NotContains(t, eventsTableSQL(none), "WHERE")
	assert.Contains(t, unifiedJobsTableSQL(none), "WHERE j.launch_type <> 'sync'")
	for _, q := range []string{eventsTableSQL(none), unifiedJobsTableSQL(none), hostMetricTableSQL(none)} {
		assert.NotContains(t, q, "@since")
	}
}

func marshal(t *testing.T, v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b)
}

func TestJSONCollectors(t *testing.T) {
	g := generate(t)
	docs := map[string]map[string]string{}
	for name, src := range sources(t) {
		h := &hostDB{t: t, src: src}
		docs[name] = map[string]string{}
		for key, collect := range map[string]func(db) (any, error){
			"config":           func(d db) (any, error) { return collectConfig(d) },
			"counts":           func(d db) (any, error) { return collectCounts(d) },
			"org_counts":       func(d db) (any, error) { return collectOrgCounts(d) },
			"inventory_counts": func(d db) (any, error) { return collectInventoryCounts(d) },
			"instance_info":    func(d db) (any, error) { return collectInstanceInfo(d) },
		} {
			doc, err := collect(h)
			require.NoError(t, err, "%s on %s", key, name)
			docs[name][key] = marshal(t, doc)
		}
	}
	for key, doc := range docs["sqlite"] {
		assert.JSONEq(t, doc, docs["postgres"][key], "%s: the same document from both databases", key)
	}
	docs["sqlite"]["config"] = strings.ReplaceAll(docs["sqlite"]["config"], "\n", "\n\t")
	t.Logf("config.json on SQLite:\n\t%s", docs["sqlite"]["config"])

	var config map[string]any
	require.NoError(t, json.Unmarshal([]byte(docs["sqlite"]["config"]), &config))
	assert.Len(t, config["install_uuid"], 36)
	assert.Len(t, config["instance_uuid"], 36)
	assert.Equal(t, "https://aap.example.com", config["tower_url_base"])
	assert.Equal(t, "24.6.1", config["tower_version"])
	assert.Equal(t, "enterprise", config["license_type"])
	assert.Equal(t, true, config["compliant"])
	assert.Equal(t, "traditional", config["platform"].(map[string]any)["type"])
	assert.Len(t, config["authentication_backends"], 2)
	assert.Equal(t, true, config["external_logger_enabled"])
	assert.Equal(t, "splunk", config["external_logger_type"])
	assert.Positive(t, config["automated_since"])
	assert.Positive(t, config["current_instances"])
	assert.Positive(t, config["automated_instances"])

	var counts map[string]any
	require.NoError(t, json.Unmarshal([]byte(docs["sqlite"]["counts"]), &counts))
	for key, table := range map[string]string{"organization": "main_organization", "team": "main_team",
		"user": "main_user", "inventory": "main_inventory", "host": "main_host",
		"inventory_source": "main_inventorysource", "instance": "main_instance"} {
		assert.EqualValues(t, len(g[table]), counts[key], key)
	}
	inventories := counts["inventories"].(map[string]any)
	assert.EqualValues(t, counts["inventory"], inventories["normal"].(float64)+inventories["smart"].(float64))
	assert.Positive(t, inventories["smart"])
	var running, pending, nonSync float64
	st, lt := column(awxdata.UnifiedJob, "status"), column(awxdata.UnifiedJob, "launch_type")
	for _, r := range g["main_unifiedjob"] {
		if r[lt] == "sync" {
			continue
		}
		nonSync++
		switch r[st] {
		case "running":
			running++
		case "pending":
			pending++
		}
	}
	assert.Equal(t, nonSync, counts["unified_job"])
	assert.Equal(t, running, counts["running_jobs"])
	assert.Equal(t, pending, counts["pending_jobs"])
	assert.Positive(t, counts["active_host_count"])
	assert.NotContains(t, counts, "job_event")

	var orgs map[string]struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(docs["sqlite"]["org_counts"]), &orgs))
	assert.Len(t, orgs, len(g["main_organization"]))
	assert.Equal(t, "Default", orgs["1"].Name)
	assert.True(t, strings.HasPrefix(docs["sqlite"]["org_counts"], "{\n  \"1\": {"), "ids in order")

	var invs map[string]struct {
		Kind       string
		Hosts      int
		Sources    int
		SourceList []struct {
			Name, Source string
			NumHosts     int `json:"num_hosts"`
		} `json:"source_list"`
	}
	require.NoError(t, json.Unmarshal([]byte(docs["sqlite"]["inventory_counts"]), &invs))
	hosts, sources := 0, 0
	for _, inv := range invs {
		hosts += inv.Hosts
		sources += len(inv.SourceList)
		assert.Equal(t, inv.Sources, len(inv.SourceList))
		if inv.Kind == "smart" {
			assert.Zero(t, inv.Hosts)
		}
	}
	assert.Equal(t, len(g["main_host"]), hosts)
	assert.Equal(t, len(g["main_inventorysource"]), sources)
	assert.Contains(t, docs["sqlite"]["inventory_counts"], `"source_list": []`)

	var instances map[string]struct {
		UUID              string
		NodeType          string  `json:"node_type"`
		Capacity          float64 `json:"capacity"`
		RemainingCapacity float64 `json:"remaining_capacity"`
		ConsumedCapacity  float64 `json:"consumed_capacity"`
	}
	require.NoError(t, json.Unmarshal([]byte(docs["sqlite"]["instance_info"]), &instances))
	assert.Len(t, instances, len(g["main_instance"]))
	for uuid, in := range instances {
		assert.Equal(t, uuid, in.UUID)
		assert.Equal(t, in.Capacity-in.ConsumedCapacity, in.RemainingCapacity)
	}
}

func TestCSVCollectors(t *testing.T) {
	g := generate(t)
	srcs := sources(t)
	start := until.AddDate(0, 0, -28)
	run := func(src *datasource.Source, s collector.SliceInfo, sql func(collector.SliceInfo) string) (int64, *hostDB) {
		h := &hostDB{t: t, src: src, slice: s}
		n, err := h.StreamCSV(sql(s), nil)
		require.NoError(t, err)
		require.Len(t, h.records(t), int(n)+1, "the header and n rows")
		return n, h
	}
	templates := func(collector.SliceInfo) string { return unifiedJobTemplateTableSQL }
	tables := map[string]func(collector.SliceInfo) string{
		"events_table": eventsTableSQL, "unified_jobs_table": unifiedJobsTableSQL,
		"host_metric_table": hostMetricTableSQL, "unified_job_template_table": templates,
	}

	// Consecutive 4-hour slices partition the window: every event is collected exactly once.
	totals := map[string]map[string]int64{}
	for name, src := range srcs {
		totals[name] = map[string]int64{}
		for since := start; since.Before(until); since = since.Add(4 * time.Hour) {
			s := slice(since, since.Add(4*time.Hour))
			for key, sql := range tables {
				if key == "unified_job_template_table" {
					continue
				}
				n, _ := run(src, s, sql)
				totals[name][key] += n
			}
		}
	}
	assert.Equal(t, totals["sqlite"], totals["postgres"])
	assert.EqualValues(t, len(g["main_jobevent"]), totals["sqlite"]["events_table"])
	assert.Positive(t, totals["sqlite"]["unified_jobs_table"])
	assert.Positive(t, totals["sqlite"]["host_metric_table"])

	// The bounds: (since, until] on the exact microsecond, on both databases.
	mod := column(awxdata.JobEvent, "modified")
	ev := g["main_jobevent"][len(g["main_jobevent"])/2]
	at := ev[mod].(time.Time)
	want := func(lo, hi time.Time) (n int64) {
		for _, r := range g["main_jobevent"] {
			if m := r[mod].(time.Time); m.After(lo) && !m.After(hi) {
				n++
			}
		}
		return n
	}
	for name, src := range srcs {
		n, _ := run(src, slice(at, at.Add(time.Hour)), eventsTableSQL)
		assert.Equal(t, want(at, at.Add(time.Hour)), n, "%s: since excludes", name)
		n, _ = run(src, slice(at.Add(-time.Hour), at), eventsTableSQL)
		assert.Equal(t, want(at.Add(-time.Hour), at), n, "%s: until includes", name)
		n, _ = run(src, slice(time.Time{}, until), eventsTableSQL)
		assert.EqualValues(t, len(g["main_jobevent"]), n, "%s: no since, everything up to until", name)
		n, _ = run(src, slice(start, until), templates)
		assert.EqualValues(t, len(g["main_unifiedjobtemplate"]), n, "%s: every template", name)
	}

	// Headers, and what is in the CSV.
	day := slice(until.Add(-24*time.Hour), until)
	headers := map[string]string{
		"events_table": "id,created,modified,job_created,uuid,parent_uuid,event,task_action,resolved_action," +
			"resolved_role,failed,changed,playbook,play,task,role,job_id,host_id,host_name,start,end,duration,warnings_count",
		"unified_jobs_table": "id,model,organization_id,organization_name,execution_environment_image,inventory_id," +
			"inventory_name,created,name,unified_job_template_id,unified_job_template_name,launch_type,status,failed," +
			"started,finished,elapsed,job_explanation,instance_group,ansible_version,forks",
		"host_metric_table": "id,hostname,first_automation,last_automation,last_deleted,deleted,automated_counter," +
			"deleted_counter,used_in_inventories",
		"unified_job_template_table": "id,model,execution_environment_image,created,modified,created_by_id," +
			"modified_by_id,name,current_job_id,last_job_id,last_job_failed,last_job_run,next_job_run,status",
	}
	// Task names with a double quote and with a comma, which the CSV must quote.
	var quoted, comma string
	for _, r := range g["main_jobevent"] {
		task := r[column(awxdata.JobEvent, "task")].(string)
		if strings.Contains(task, `"`) {
			quoted = task
		} else if strings.Contains(task, ",") {
			comma = task
		}
	}
	require.NotEmpty(t, quoted)
	require.NotEmpty(t, comma)
	for name, src := range srcs {
		for key, sql := range tables {
			_, h := run(src, day, sql)
			recs := h.records(t)
			assert.Equal(t, headers[key], strings.Join(recs[0], ","), "%s %s", name, key)
			ids := []int{}
			for _, r := range recs[1:] {
				id, err := strconv.Atoi(r[0])
				require.NoError(t, err)
				ids = append(ids, id)
			}
			assert.True(t, slices.IsSorted(ids), "%s %s: ordered by id", name, key)
		}
		_, h := run(src, slice(start, until), eventsTableSQL)
		out := h.csv.String()
		for _, name := range []string{quoted, comma} {
			want := `,"` + strings.ReplaceAll(name, `"`, `""`) + `",`
			assert.True(t, strings.Contains(out, want), "%s: %s in the CSV", name, want)
		}
		_, h = run(src, slice(start, until), unifiedJobsTableSQL)
		assert.False(t, strings.Contains(h.csv.String(), ",sync,"), "%s: no sync jobs", name)
	}
}
