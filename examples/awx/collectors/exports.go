//go:build wasip1

package main

import collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"

// The exports, one per collector, named as the keys in awx.toml.

//go:wasmexport config
func config() int32 {
	return collector.Run(func() error { return emitJSON(collectConfig(sourceParam())) })
}

//go:wasmexport counts
func counts() int32 {
	return collector.Run(func() error { return emitJSON(collectCounts(sourceParam())) })
}

//go:wasmexport org_counts
func orgCounts() int32 {
	return collector.Run(func() error { return emitJSON(collectOrgCounts(sourceParam())) })
}

//go:wasmexport inventory_counts
func inventoryCounts() int32 {
	return collector.Run(func() error { return emitJSON(collectInventoryCounts(sourceParam())) })
}

//go:wasmexport instance_info
func instanceInfo() int32 {
	return collector.Run(func() error { return emitJSON(collectInstanceInfo(sourceParam())) })
}

//go:wasmexport events_table
func eventsTable() int32 {
	return collector.Run(func() error {
		s := collector.Slice()
		return streamTable(sourceParam(), "events_table", eventsTableSQL(s), s)
	})
}

//go:wasmexport unified_jobs_table
func unifiedJobsTable() int32 {
	return collector.Run(func() error {
		s := collector.Slice()
		return streamTable(sourceParam(), "unified_jobs_table", unifiedJobsTableSQL(s), s)
	})
}

//go:wasmexport host_metric_table
func hostMetricTable() int32 {
	return collector.Run(func() error {
		s := collector.Slice()
		return streamTable(sourceParam(), "host_metric_table", hostMetricTableSQL(s), s)
	})
}

//go:wasmexport unified_job_template_table
func unifiedJobTemplateTable() int32 {
	return collector.Run(func() error {
		return streamTable(sourceParam(), "unified_job_template_table", unifiedJobTemplateTableSQL, collector.Slice())
	})
}

// emitJSON emits a collector's document, or returns its error.
func emitJSON[T any](doc T, err error) error {
	if err != nil {
		return err
	}
	return collector.EmitJSON(doc)
}
