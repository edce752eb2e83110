//go:build wasip1

// Command dbprobe is a test guest for the data-source functions.
//
//	probe     JSON: runs each statement of param statements (a JSON array) with collector.Query on
//	          the source of param source and reports, per statement, the error or the row count.
//	stream    CSV: collector.StreamCSV of param sql on param source (a write here must fail the
//	          invocation).
//	rowwise   CSV: the events of main_jobevent with id above param after, paged through
//	          collector.Query and written row by row with the SDK: the slow path the benchmark
//	          compares with stream.
//	rows      CSV: collector.QueryRows of param sql on param source, each row copied to the output
//	          with CSV.CopyRow: the row cursor path; then one log line and one stderr line say
//	          how many.
//	transform CSV: collector.StreamCSVTransform of param sql with the column operations of param
//	          spec (a JSON array of collector.ColumnOp).
//	scan      JSON: collector.QueryRows of param sql, every value scanned into *any and described
//	          (Go type and exact value), plus the typed getters' view, as {"rows": [[…]]}.
//	query_then JSON: collector.Query of param sql, then what param then says: "spin" loops
//	          forever without calling the host (only the deadline ends it), "panic" traps;
//	          anything else emits {"rows": n}. A failure after an answer, for record/replay.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

func source() string {
	if s, ok := collector.Param("source"); ok {
		return s
	}
	return "awx"
}

//go:wasmexport probe
func probe() int32 {
	return collector.Run(func() error {
		raw, _ := collector.Param("statements")
		var statements []string
		if err := json.Unmarshal([]byte(raw), &statements); err != nil {
			return err
		}
		var results []map[string]any
		for _, sql := range statements {
			r := map[string]any{"sql": sql}
			if res, err := collector.Query(source(), sql, nil); err != nil {
				r["error"] = err.Error()
			} else {
				r["rows"] = len(res.Rows)
				if len(res.Rows) == 1 && len(res.Columns) == 1 {
					r["value"] = res.Rows[0][0]
				}
			}
			results = append(results, r)
		}
		return collector.EmitJSON(map[string]any{"results": results})
	})
}

//go:wasmexport stream
func stream() int32 {
	return collector.Run(func() error {
		sql, _ := collector.Param("sql")
		_, err := collector.StreamCSV(source(), sql, nil)
		return err
	})
}

const eventColumns = `id, created, modified, job_created, uuid, parent_uuid, event, task_action, resolved_action,
  resolved_role, failed, changed, playbook, play, task, role, job_id, host_id, host_name, start, end_time, duration, warnings_count`

//go:wasmexport rowwise
func rowwise() int32 {
	return collector.Run(func() error {
		after := int64(0)
		if v, ok := collector.Param("after"); ok {
			after, _ = strconv.ParseInt(v, 10, 64)
		}
		w := collector.NewCSV()
		header := false
		for {
			res, err := collector.Query(source(), "SELECT "+eventColumns+" FROM main_jobevent WHERE id > @after ORDER BY id LIMIT 5000",
				map[string]any{"after": after})
			if err != nil {
				return err
			}
			if !header {
				names := make([]string, len(res.Columns))
				for i, c := range res.Columns {
					names[i] = c.Name
				}
				if err := w.Header(names...); err != nil {
					return err
				}
				header = true
			}
			if len(res.Rows) == 0 {
				return w.Flush()
			}
			for _, row := range res.Rows {
				if err := w.Values(row...); err != nil {
					return err
				}
			}
			after = res.Rows[len(res.Rows)-1][0].(int64)
		}
	})
}

//go:wasmexport rows
func rows() int32 {
	return collector.Run(func() error {
		sql, _ := collector.Param("sql")
		rows, err := collector.QueryRows(source(), sql, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		names := make([]string, len(rows.Columns()))
		for i, c := range rows.Columns() {
			names[i] = c.Name
		}
		w := collector.NewCSV()
		if err := w.Header(names...); err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			if err := w.CopyRow(rows); err != nil {
				return err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Log lines for record/replay to compare: one through the log host function, one on
		// stderr.
		collector.Infof("rows: copied %d rows", n)
		fmt.Fprintf(os.Stderr, "rows done: %d\n", n)
		return w.Flush()
	})
}

//go:wasmexport scan
func scan() int32 {
	return collector.Run(func() error {
		sql, _ := collector.Param("sql")
		rows, err := collector.QueryRows(source(), sql, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		var out [][]string
		dest := make([]any, len(rows.Columns()))
		vals := make([]any, len(dest))
		for i := range dest {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = Describe(v)
				// The typed getters must agree with Scan.
				var got any
				switch v.(type) {
				case int64:
					got = rows.Int64(i)
				case float64:
					got = rows.Float64(i)
				case bool:
					got = rows.Bool(i)
				case time.Time:
					got = rows.Time(i)
				case string:
					got = string(rows.Text(i))
				case []byte:
					got = append([]byte{}, rows.Text(i)...)
				}
				if v != nil && Describe(got) != row[i] {
					return fmt.Errorf("column %d: getter gives %s, Scan %s", i, Describe(got), row[i])
				}
				if rows.IsNull(i) != (v == nil) {
					return fmt.Errorf("column %d: IsNull disagrees with Scan", i)
				}
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return collector.EmitJSON(map[string]any{"rows": out})
	})
}

// Describe names a value's Go type and its exact value; the e2e test describes the data source's
// own values the same way.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int64:
		return "int64:" + strconv.FormatInt(x, 10)
	case float64:
		return "float64:" + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "string:" + strconv.Quote(x)
	case bool:
		return "bool:" + strconv.FormatBool(x)
	case time.Time:
		return "time:" + x.Format(time.RFC3339Nano)
	case []byte:
		return "bytes:" + hex.EncodeToString(x)
	}
	return fmt.Sprintf("unexpected %T", v)
}

//go:wasmexport transform
func transform() int32 {
	return collector.Run(func() error {
		sql, _ := collector.Param("sql")
		raw, _ := collector.Param("spec")
		var ops []collector.ColumnOp
		if err := json.Unmarshal([]byte(raw), &ops); err != nil {
			return err
		}
		_, err := collector.StreamCSVTransform(source(), sql, nil, ops...)
		return err
	})
}

var sink int

//go:wasmexport query_then
func queryThen() int32 {
	then, _ := collector.Param("then")
	rows := 0
	rc := collector.Run(func() error {
		sql, _ := collector.Param("sql")
		res, err := collector.Query(source(), sql, nil)
		if err != nil {
			return err
		}
		rows = len(res.Rows)
		switch then {
		case "spin":
			for i := 0; ; i++ {
				sink += i
			}
		case "panic":
			return nil
		}
		return collector.EmitJSON(map[string]any{"rows": rows})
	})
	if then == "panic" && rc == 0 {
		// Outside collector.Run, which would turn the panic into a reported failure: a trap.
		var m map[string]int
		m["boom"] = rows // assignment to entry in nil map
	}
	return rc
}
