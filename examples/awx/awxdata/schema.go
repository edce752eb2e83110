//go:build !wasip1

// Package awxdata is the example product behind the AWX collectors: a small automation platform's
// database (AWX's table and column names, trimmed to what the collectors read), a deterministic
// generator of realistic data for it, and loaders for SQLite and PostgreSQL.
//
// The same options always give the same rows, byte for byte, and every time lies in the window
// (Until − Days, Until]. [Generate] streams the rows table by table to a [Sink], so memory does not
// grow with the number of job events; [LoadSQLite] and [LoadPostgres] are the two loaders the
// generator CLI (examples/awx/gen) uses.
//
// # Dialects
//
// The two schemas have the same tables, columns and indexes, so one SQL text runs on both:
// timestamps are timestamptz on PostgreSQL and TEXT in the fixed format [TimeLayout] on SQLite
// (declared TIMESTAMP), booleans are boolean on PostgreSQL and 0/1 on SQLite (declared BOOLEAN).
// main_jobevent's "end" is end_time, a name neither database reserves.
package awxdata

import (
	"fmt"
	"strings"
)

// TimeLayout is how timestamps are stored on SQLite: UTC, always six fraction digits, so that
// comparing the text orders the times.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// ColType is a column's type, independent of the dialect.
type ColType int

// The column types. Row values are int64, float64, string, bool and time.Time (UTC), or nil for
// NULL in a nullable column.
const (
	Int ColType = iota
	Float
	Text
	Bool
	Timestamp
)

// Column is one column of a table.
type Column struct {
	Name     string
	Type     ColType
	Nullable bool
}

// Table is one table: its first column, id, is the primary key.
type Table struct {
	Name    string
	Columns []Column
	// Indexes lists the indexed columns, one index each.
	Indexes []string
}

// ColumnNames returns the table's column names in order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

func col(name string, typ ColType) Column  { return Column{Name: name, Type: typ} }
func null(name string, typ ColType) Column { return Column{Name: name, Type: typ, Nullable: true} }

// The tables, in the order Generate emits them (main_jobevent, by far the biggest, last).
var (
	Organization = &Table{Name: "main_organization", Columns: []Column{
		col("id", Int), col("name", Text), col("created", Timestamp), col("modified", Timestamp),
	}}
	Team = &Table{Name: "main_team", Columns: []Column{
		col("id", Int), col("name", Text), col("organization_id", Int), col("created", Timestamp),
	}, Indexes: []string{"organization_id"}}
	User = &Table{Name: "main_user", Columns: []Column{
		col("id", Int), col("username", Text), col("email", Text), null("organization_id", Int),
		col("is_superuser", Bool), col("created", Timestamp), null("last_login", Timestamp),
	}, Indexes: []string{"organization_id"}}
	Inventory = &Table{Name: "main_inventory", Columns: []Column{
		col("id", Int), col("name", Text), col("organization_id", Int), col("kind", Text),
		col("created", Timestamp), col("modified", Timestamp),
	}}
	Host = &Table{Name: "main_host", Columns: []Column{
		col("id", Int), col("name", Text), col("inventory_id", Int), col("enabled", Bool),
		col("created", Timestamp), col("modified", Timestamp), null("last_job_id", Int),
	}, Indexes: []string{"inventory_id"}}
	InventorySource = &Table{Name: "main_inventorysource", Columns: []Column{
		col("id", Int), col("inventory_id", Int), col("name", Text), col("source", Text),
	}, Indexes: []string{"inventory_id"}}
	// HostInventorySources links hosts to the inventory sources that found them (AWX's many to many
	// table of the same name).
	HostInventorySources = &Table{Name: "main_host_inventory_sources", Columns: []Column{
		col("id", Int), col("host_id", Int), col("inventorysource_id", Int),
	}, Indexes: []string{"inventorysource_id"}}
	UnifiedJobTemplate = &Table{Name: "main_unifiedjobtemplate", Columns: []Column{
		col("id", Int), col("name", Text), col("polymorphic_type", Text), col("organization_id", Int),
		null("execution_environment", Text), col("created", Timestamp), col("modified", Timestamp),
		null("created_by", Int), null("modified_by", Int), null("current_job_id", Int),
		null("last_job_id", Int), null("last_job_run", Timestamp), col("last_job_failed", Bool),
		null("next_job_run", Timestamp), col("status", Text),
	}}
	UnifiedJob = &Table{Name: "main_unifiedjob", Columns: []Column{
		col("id", Int), col("unified_job_template_id", Int), col("name", Text),
		col("polymorphic_type", Text), col("launch_type", Text), col("status", Text),
		col("failed", Bool), col("organization_id", Int), null("inventory_id", Int),
		null("execution_environment", Text), null("instance_group", Text), col("forks", Int),
		col("ansible_version", Text), col("created", Timestamp), col("modified", Timestamp),
		null("started", Timestamp), null("finished", Timestamp), col("elapsed", Float),
		col("job_explanation", Text),
	}, Indexes: []string{"created", "finished"}}
	HostMetric = &Table{Name: "main_hostmetric", Columns: []Column{
		col("id", Int), col("hostname", Text), col("first_automation", Timestamp),
		col("last_automation", Timestamp), null("last_deleted", Timestamp),
		col("automated_counter", Int), col("deleted_counter", Int), col("deleted", Bool),
		col("used_in_inventories", Int),
	}, Indexes: []string{"last_automation", "last_deleted"}}
	Instance = &Table{Name: "main_instance", Columns: []Column{
		col("id", Int), col("uuid", Text), col("hostname", Text), col("version", Text),
		col("capacity", Int), col("cpu", Float), col("memory", Int), col("cpu_capacity", Int),
		col("mem_capacity", Int), col("enabled", Bool), col("managed_by_policy", Bool),
		col("node_type", Text), col("consumed_capacity", Float), col("created", Timestamp),
	}}
	// Setting holds the installation's settings, each value JSON-encoded as AWX stores them.
	Setting = &Table{Name: "conf_setting", Columns: []Column{
		col("id", Int), col("key", Text), col("value", Text),
	}}
	JobEvent = &Table{Name: "main_jobevent", Columns: []Column{
		col("id", Int), col("created", Timestamp), col("modified", Timestamp),
		col("job_created", Timestamp), col("uuid", Text), null("parent_uuid", Text),
		col("event", Text), col("task_action", Text), col("resolved_action", Text),
		col("resolved_role", Text), col("failed", Bool), col("changed", Bool), col("playbook", Text),
		col("play", Text), col("task", Text), col("role", Text), col("job_id", Int),
		null("host_id", Int), col("host_name", Text), null("start", Timestamp),
		null("end_time", Timestamp), null("duration", Float), col("warnings_count", Int),
		col("counter", Int),
	}, Indexes: []string{"modified"}}
)

// Tables lists every table in the order Generate emits them.
var Tables = []*Table{
	Organization, Team, User, Inventory, Host, InventorySource, HostInventorySources,
	UnifiedJobTemplate, UnifiedJob, HostMetric, Instance, Setting, JobEvent,
}

type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) typeName(c Column) string {
	if d == sqlite {
		return [...]string{Int: "INTEGER", Float: "REAL", Text: "TEXT", Bool: "BOOLEAN", Timestamp: "TIMESTAMP"}[c.Type]
	}
	return [...]string{Int: "bigint", Float: "double precision", Text: "text", Bool: "boolean", Timestamp: "timestamptz"}[c.Type]
}

// createTable returns t's CREATE TABLE statement; with pk false the id column is not yet the primary
// key (PostgreSQL loads faster when it is added after the rows, see addPrimaryKey).
func (d dialect) createTable(t *Table, pk bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", t.Name)
	for i, c := range t.Columns {
		fmt.Fprintf(&b, "    %s %s", c.Name, d.typeName(c))
		switch {
		case i == 0 && pk:
			b.WriteString(" PRIMARY KEY")
		case !c.Nullable:
			b.WriteString(" NOT NULL")
		}
		if i < len(t.Columns)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(")")
	return b.String()
}

func addPrimaryKey(t *Table) string {
	return fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", t.Name, t.Columns[0].Name)
}

// createIndexes returns t's CREATE INDEX statements.
func createIndexes(t *Table) []string {
	var out []string
	for _, c := range t.Indexes {
		out = append(out, fmt.Sprintf("CREATE INDEX %s_%s_idx ON %s (%s)", t.Name, c, t.Name, c))
	}
	return out
}

func (d dialect) schema() string {
	var b strings.Builder
	for _, t := range Tables {
		b.WriteString(d.createTable(t, true))
		b.WriteString(";\n")
		for _, s := range createIndexes(t) {
			b.WriteString(s)
			b.WriteString(";\n")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// SchemaSQLite and SchemaPostgres are the complete DDL (tables, then each table's indexes) of the
// two dialects. The loaders run the same statements, creating the indexes after the rows.
var (
	SchemaSQLite   = sqlite.schema()
	SchemaPostgres = postgres.schema()
)
