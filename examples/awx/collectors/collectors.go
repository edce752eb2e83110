// Command collectors is the awx.wasm module: AWX's analytics collectors, reading the example
// product's database (examples/awx/awxdata) through a wasmcollector data source. It exports nine
// collectors, declared in examples/awx/awx.toml:
//
//   - JSON: config, counts, org_counts, inventory_counts, instance_info (small queries, shaped in Go)
//   - CSV: events_table, unified_jobs_table, host_metric_table, unified_job_template_table (one
//     statement each, streamed by the host straight into the CSV output)
//
// Every statement is plain SQL that runs unchanged on SQLite and PostgreSQL: no casts, no date
// functions, no string aggregation (done in Go instead), booleans compared with = TRUE/FALSE,
// and time windows through the host's @since and @until. Each collector reads the data source
// named by its parameter source (default "awx").
//
// The exports are in exports.go (GOOS=wasip1 only); this file and the others build everywhere,
// so the SQL and the shaping of the documents are tested natively against both databases.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/modules/awx.wasm ./examples/awx/collectors
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

// defaultSource is the data source the collectors read when no source parameter names another.
const defaultSource = "awx"

// db is the product database as a collector sees it: the host's data source (dataSource), or a
// test double.
type db interface {
	Query(sql string, params map[string]any) (*collector.Result, error)
	StreamCSV(sql string, params map[string]any) (int64, error)
}

// dataSource is a data source granted to the collector, by name.
type dataSource string

func (s dataSource) Query(q string, params map[string]any) (*collector.Result, error) {
	return collector.Query(string(s), q, params)
}

func (s dataSource) StreamCSV(q string, params map[string]any) (int64, error) {
	return collector.StreamCSV(string(s), q, params)
}

// sourceParam returns the data source named by the collector's source parameter.
func sourceParam() dataSource {
	if s, ok := collector.Param("source"); ok && s != "" {
		return dataSource(s)
	}
	return defaultSource
}

// ---- JSON collectors ----

// configCountsSQL counts what the license compares: hosts under management now, hosts ever
// automated (and since when), and the version of the control plane.
const configCountsSQL = `SELECT
  (SELECT COUNT(DISTINCT name) FROM main_host WHERE enabled = TRUE) AS current_instances,
  (SELECT COUNT(*) FROM main_hostmetric WHERE deleted = FALSE) AS automated_instances,
  (SELECT MIN(first_automation) FROM main_hostmetric WHERE deleted = FALSE) AS automated_since,
  (SELECT MAX(version) FROM main_instance WHERE node_type IN ('control', 'hybrid')) AS tower_version`

// configDoc is config.json, with the keys of AWX's config collector (version 1.6).
type configDoc struct {
	Platform               map[string]any `json:"platform"`
	InstallUUID            string         `json:"install_uuid"`
	InstanceUUID           string         `json:"instance_uuid"`
	TowerURLBase           string         `json:"tower_url_base"`
	TowerVersion           string         `json:"tower_version"`
	LicenseType            string         `json:"license_type"`
	LicenseDate            int64          `json:"license_date"`
	SubscriptionName       string         `json:"subscription_name"`
	SKU                    string         `json:"sku"`
	SupportLevel           string         `json:"support_level"`
	Usage                  string         `json:"usage"`
	ProductName            string         `json:"product_name"`
	ValidKey               bool           `json:"valid_key"`
	Satellite              bool           `json:"satellite"`
	PoolID                 string         `json:"pool_id"`
	SubscriptionID         int64          `json:"subscription_id"`
	AccountNumber          string         `json:"account_number"`
	CurrentInstances       int64          `json:"current_instances"`
	AutomatedInstances     int64          `json:"automated_instances"`
	AutomatedSince         *int64         `json:"automated_since"`
	Trial                  bool           `json:"trial"`
	GracePeriodRemaining   int64          `json:"grace_period_remaining"`
	Compliant              bool           `json:"compliant"`
	DateWarning            bool           `json:"date_warning"`
	DateExpired            bool           `json:"date_expired"`
	SubscriptionUsageModel string         `json:"subscription_usage_model"`
	FreeInstances          int64          `json:"free_instances"`
	TotalLicensedInstances int64          `json:"total_licensed_instances"`
	LicenseExpiry          int64          `json:"license_expiry"`
	PendoTracking          string         `json:"pendo_tracking"`
	AuthenticationBackends []string       `json:"authentication_backends"`
	LoggingAggregators     []string       `json:"logging_aggregators"`
	ExternalLoggerEnabled  bool           `json:"external_logger_enabled"`
	ExternalLoggerType     *string        `json:"external_logger_type"`
}

// license is the LICENSE setting.
type license struct {
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
}

// collectConfig reads the settings (conf_setting, JSON values) and the license counts.
func collectConfig(d db) (*configDoc, error) {
	r, err := d.Query("SELECT key, value FROM conf_setting ORDER BY id", nil)
	if err != nil {
		return nil, fmt.Errorf("config: settings: %w", err)
	}
	settings := map[string][]byte{}
	for _, row := range r.Maps() {
		settings[asString(row["key"])] = []byte(asString(row["value"]))
	}
	// setting decodes a setting into v; a missing or malformed one leaves v as it is.
	setting := func(key string, v any) {
		if b, ok := settings[key]; ok {
			_ = json.Unmarshal(b, v)
		}
	}
	c, err := d.Query(configCountsSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("config: counts: %w", err)
	}
	if len(c.Rows) != 1 {
		return nil, fmt.Errorf("config: counts: %d rows", len(c.Rows))
	}
	counts := c.Maps()[0]

	var lic license
	lic.LicenseType = "UNLICENSED"
	setting("LICENSE", &lic)
	doc := &configDoc{
		Platform:               map[string]any{},
		TowerVersion:           asString(counts["tower_version"]),
		LicenseType:            lic.LicenseType,
		LicenseDate:            lic.LicenseDate,
		SubscriptionName:       lic.SubscriptionName,
		SKU:                    lic.SKU,
		SupportLevel:           lic.SupportLevel,
		Usage:                  lic.Usage,
		ProductName:            lic.ProductName,
		ValidKey:               lic.ValidKey,
		Satellite:              lic.Satellite,
		PoolID:                 lic.PoolID,
		SubscriptionID:         lic.SubscriptionID,
		AccountNumber:          lic.AccountNumber,
		CurrentInstances:       asInt(counts["current_instances"]),
		AutomatedInstances:     asInt(counts["automated_instances"]),
		Trial:                  lic.Trial,
		GracePeriodRemaining:   lic.GracePeriodRemaining,
		DateWarning:            lic.DateWarning,
		DateExpired:            lic.DateExpired,
		TotalLicensedInstances: lic.InstanceCount,
		LicenseExpiry:          lic.TimeRemaining,
		AuthenticationBackends: []string{},
		LoggingAggregators:     []string{},
	}
	doc.FreeInstances = max(0, lic.InstanceCount-doc.CurrentInstances)
	doc.Compliant = lic.ValidKey && !lic.DateExpired && doc.CurrentInstances <= lic.InstanceCount
	if t, ok := asTime(counts["automated_since"]); ok {
		s := t.Unix()
		doc.AutomatedSince = &s
	}
	setting("PLATFORM", &doc.Platform)
	setting("INSTALL_UUID", &doc.InstallUUID)
	setting("SYSTEM_UUID", &doc.InstanceUUID)
	setting("TOWER_URL_BASE", &doc.TowerURLBase)
	setting("SUBSCRIPTION_USAGE_MODEL", &doc.SubscriptionUsageModel)
	setting("PENDO_TRACKING_STATE", &doc.PendoTracking)
	setting("AUTHENTICATION_BACKENDS", &doc.AuthenticationBackends)
	setting("LOG_AGGREGATOR_LOGGERS", &doc.LoggingAggregators)
	setting("LOG_AGGREGATOR_ENABLED", &doc.ExternalLoggerEnabled)
	setting("LOG_AGGREGATOR_TYPE", &doc.ExternalLoggerType)
	return doc, nil
}

// countsSQL counts the objects of every table but main_jobevent (counting tens of millions of
// events on every gather is what the events_table collector avoids) in one statement; each
// column n_<key> becomes <key> in counts.json, inventory_normal and inventory_smart become
// inventories.normal and inventories.smart.
const countsSQL = `SELECT
  (SELECT COUNT(*) FROM main_organization) AS n_organization,
  (SELECT COUNT(*) FROM main_team) AS n_team,
  (SELECT COUNT(*) FROM main_user) AS n_user,
  (SELECT COUNT(*) FROM main_inventory) AS n_inventory,
  (SELECT COUNT(*) FROM main_inventory WHERE kind = '') AS n_inventory_normal,
  (SELECT COUNT(*) FROM main_inventory WHERE kind = 'smart') AS n_inventory_smart,
  (SELECT COUNT(*) FROM main_inventorysource) AS n_inventory_source,
  (SELECT COUNT(*) FROM main_host) AS n_host,
  (SELECT COUNT(*) FROM main_unifiedjobtemplate WHERE polymorphic_type = 'project') AS n_project,
  (SELECT COUNT(*) FROM main_unifiedjobtemplate WHERE polymorphic_type = 'job_template') AS n_job_template,
  (SELECT COUNT(*) FROM main_unifiedjobtemplate WHERE polymorphic_type = 'workflow_job_template') AS n_workflow_job_template,
  (SELECT COUNT(*) FROM main_unifiedjob WHERE launch_type <> 'sync') AS n_unified_job,
  (SELECT COUNT(*) FROM main_hostmetric WHERE deleted = FALSE) AS n_host_metric,
  (SELECT COUNT(*) FROM main_instance) AS n_instance,
  (SELECT COUNT(DISTINCT name) FROM main_host WHERE enabled = TRUE) AS n_active_host_count,
  (SELECT COUNT(*) FROM main_unifiedjob WHERE launch_type <> 'sync' AND status = 'running') AS n_running_jobs,
  (SELECT COUNT(*) FROM main_unifiedjob WHERE launch_type <> 'sync' AND status = 'pending') AS n_pending_jobs`

func collectCounts(d db) (map[string]any, error) {
	r, err := d.Query(countsSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	if len(r.Rows) != 1 {
		return nil, fmt.Errorf("counts: %d rows", len(r.Rows))
	}
	doc := map[string]any{}
	inventories := map[string]int64{}
	for i, c := range r.Columns {
		key, n := strings.TrimPrefix(c.Name, "n_"), asInt(r.Rows[0][i])
		if kind, ok := strings.CutPrefix(key, "inventory_"); ok && (kind == "normal" || kind == "smart") {
			inventories[kind] = n
			continue
		}
		doc[key] = n
	}
	doc["inventories"] = inventories
	return doc, nil
}

const orgCountsSQL = `SELECT o.id, o.name,
  (SELECT COUNT(*) FROM main_user u WHERE u.organization_id = o.id) AS users,
  (SELECT COUNT(*) FROM main_team t WHERE t.organization_id = o.id) AS teams
FROM main_organization o
ORDER BY o.id`

func collectOrgCounts(d db) (object, error) {
	r, err := d.Query(orgCountsSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("org_counts: %w", err)
	}
	doc := object{}
	for _, row := range r.Maps() {
		doc = append(doc, member{strconv.FormatInt(asInt(row["id"]), 10), object{
			{"name", asString(row["name"])},
			{"users", asInt(row["users"])},
			{"teams", asInt(row["teams"])},
		}})
	}
	return doc, nil
}

const inventoryCountsSQL = `SELECT i.id, i.name, i.kind,
  (SELECT COUNT(*) FROM main_host h WHERE h.inventory_id = i.id) AS hosts,
  (SELECT COUNT(*) FROM main_inventorysource s WHERE s.inventory_id = i.id) AS sources
FROM main_inventory i
ORDER BY i.id`

const inventorySourcesSQL = `SELECT s.inventory_id, s.name, s.source,
  (SELECT COUNT(*) FROM main_host_inventory_sources hs WHERE hs.inventorysource_id = s.id) AS num_hosts
FROM main_inventorysource s
ORDER BY s.inventory_id, s.id`

// collectInventoryCounts reports each inventory with its sources, AWX's inventory_counts: the
// source lists are assembled here rather than aggregated in SQL, which has no portable way to.
func collectInventoryCounts(d db) (object, error) {
	src, err := d.Query(inventorySourcesSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory_counts: sources: %w", err)
	}
	sources := map[int64][]object{}
	for _, row := range src.Maps() {
		inv := asInt(row["inventory_id"])
		sources[inv] = append(sources[inv], object{
			{"name", asString(row["name"])},
			{"source", asString(row["source"])},
			{"num_hosts", asInt(row["num_hosts"])},
		})
	}
	inv, err := d.Query(inventoryCountsSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory_counts: %w", err)
	}
	doc := object{}
	for _, row := range inv.Maps() {
		id := asInt(row["id"])
		list := sources[id]
		if list == nil {
			list = []object{}
		}
		doc = append(doc, member{strconv.FormatInt(id, 10), object{
			{"name", asString(row["name"])},
			{"kind", asString(row["kind"])},
			{"hosts", asInt(row["hosts"])},
			{"sources", asInt(row["sources"])},
			{"source_list", list},
		}})
	}
	return doc, nil
}

const instanceInfoSQL = `SELECT uuid, version, capacity, cpu, memory, managed_by_policy, enabled,
  consumed_capacity, node_type
FROM main_instance
ORDER BY id`

func collectInstanceInfo(d db) (object, error) {
	r, err := d.Query(instanceInfoSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("instance_info: %w", err)
	}
	doc := object{}
	for _, row := range r.Maps() {
		capacity, consumed := asInt(row["capacity"]), asFloat(row["consumed_capacity"])
		uuid := asString(row["uuid"])
		doc = append(doc, member{uuid, object{
			{"uuid", uuid},
			{"version", asString(row["version"])},
			{"capacity", capacity},
			{"cpu", asFloat(row["cpu"])},
			{"memory", asInt(row["memory"])},
			{"managed_by_policy", asBool(row["managed_by_policy"])},
			{"enabled", asBool(row["enabled"])},
			{"consumed_capacity", consumed},
			{"remaining_capacity", float64(capacity) - consumed},
			{"node_type", asString(row["node_type"])},
		}})
	}
	return doc, nil
}

// ---- CSV collectors ----

// window returns the condition "column in the slice", (since, until], leaving out an unset bound
// ("" when both are).
func window(column string, s collector.SliceInfo) string {
	var c []string
	if s.HasSince {
		c = append(c, column+" > @since")
	}
	if s.HasUntil {
		c = append(c, column+" <= @until")
	}
	return strings.Join(c, " AND ")
}

// where joins conditions with AND into a WHERE clause, empty ones left out.
func where(conds ...string) string {
	var c []string
	for _, x := range conds {
		if x != "" {
			c = append(c, x)
		}
	}
	if len(c) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(c, "\n  AND ")
}

// either is "((a) OR (b))"; empty when a or b is (a slice without bounds: no condition).
func either(a, b string) string {
	if a == "" || b == "" {
		return ""
	}
	return "((" + a + ") OR (" + b + "))"
}

// eventsTableSQL selects AWX's events_table columns for the events modified in the slice. AWX
// pulls task_action, start, end, duration and the warnings from the event_data JSON; here they
// are columns.
func eventsTableSQL(s collector.SliceInfo) string {
	return `SELECT e.id, e.created, e.modified, e.job_created, e.uuid, e.parent_uuid, e.event,
  e.task_action, e.resolved_action, e.resolved_role, e.failed, e.changed, e.playbook, e.play,
  e.task, e.role, e.job_id, e.host_id, e.host_name, e.start, e.end_time AS "end", e.duration,
  e.warnings_count
FROM main_jobevent e` + where(window("e.modified", s)) + `
ORDER BY e.id`
}

// unifiedJobsTableSQL selects the jobs created or finished in the slice, but not the project and
// inventory updates run as part of another job (launch_type sync), with their organization,
// inventory and template names.
func unifiedJobsTableSQL(s collector.SliceInfo) string {
	return `SELECT j.id, j.polymorphic_type AS model, j.organization_id, o.name AS organization_name,
  j.execution_environment AS execution_environment_image, j.inventory_id,
  i.name AS inventory_name, j.created, j.name, j.unified_job_template_id,
  t.name AS unified_job_template_name, j.launch_type, j.status, j.failed, j.started,
  j.finished, j.elapsed, j.job_explanation, j.instance_group, j.ansible_version, j.forks
FROM main_unifiedjob j
LEFT JOIN main_organization o ON o.id = j.organization_id
LEFT JOIN main_inventory i ON i.id = j.inventory_id
LEFT JOIN main_unifiedjobtemplate t ON t.id = j.unified_job_template_id` +
		where(either(window("j.created", s), window("j.finished", s)), "j.launch_type <> 'sync'") + `
ORDER BY j.id`
}

// hostMetricTableSQL selects the host metrics automated or deleted in the slice.
func hostMetricTableSQL(s collector.SliceInfo) string {
	return `SELECT id, hostname, first_automation, last_automation, last_deleted, deleted,
  automated_counter, deleted_counter, used_in_inventories
FROM main_hostmetric` + where(either(window("last_automation", s), window("last_deleted", s))) + `
ORDER BY id`
}

// unifiedJobTemplateTableSQL is every template, whatever the slice.
const unifiedJobTemplateTableSQL = `SELECT id, polymorphic_type AS model,
  execution_environment AS execution_environment_image, created, modified,
  created_by AS created_by_id, modified_by AS modified_by_id, name, current_job_id, last_job_id,
  last_job_failed, last_job_run, next_job_run, status
FROM main_unifiedjobtemplate
ORDER BY id`

// streamTable streams one statement's result into the collector's CSV output.
func streamTable(d db, key, sql string, s collector.SliceInfo) error {
	n, err := d.StreamCSV(sql, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	collector.Infof("%s: %d rows in %v", key, n, s)
	return nil
}

// ---- values ----

// The host types each value by its column (see collector.Result). A column computed by an
// expression (MIN, COUNT) has no declared type on SQLite, so these accept every form a value
// may arrive in.

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// object is a JSON object that keeps its members in order (AWX's documents list ids in order).
type object []member

type member struct {
	key   string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
