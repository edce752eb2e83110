//go:build wasip1

// Command csvbench is the benchmark guest for the CSV path: it emits `rows` (a param) rows of
// job_events' shape through the Go SDK with as little work of its own as possible, so that a
// benchmark measures the SDK, the host function and the host's CSV encoder, not row generation.
package main

import (
	"strconv"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

var header = []string{"id", "created", "modified", "job_created", "uuid", "parent_uuid", "event",
	"task_action", "failed", "changed", "playbook", "play", "task", "role", "job_id", "host_id", "host_name", "duration"}

//go:wasmexport rows
func rows() int32 {
	return collector.Run(func() error {
		n := int64(1000)
		if v, ok := collector.Param("rows"); ok {
			n, _ = strconv.ParseInt(v, 10, 64)
		}
		w := collector.NewCSV()
		if err := w.Header(header...); err != nil {
			return err
		}
		var id []byte
		for i := range n {
			id = strconv.AppendInt(id[:0], 299260801+i, 10)
			if err := w.Row(string(id), "2026-11-25T00:00:06.000000Z", "2026-11-25T00:00:06.000000Z",
				"2026-11-24T23:59:18.000000Z", "b7ea40c5-3ed1-4752-9c95-6af28a0b0f36", "09e5cd0c-dd03-4824-93dd-6788e12d5d32",
				"runner_on_ok", "ansible.posix.authorized_key", "false", "false", "patch_servers.yml",
				"Apply security patches", `Copy SSH keys, set "authorized_keys"`, "common", "9068509", "7",
				"lb-007.example.com", "2.866"); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}
