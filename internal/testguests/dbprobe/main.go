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
package main

import (
	"encoding/json"
	"strconv"

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
