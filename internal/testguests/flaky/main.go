//go:build wasip1

// Command flaky is a test guest for gather: collectors whose success, output and timing the test
// controls through params, so bookkeeping and crash tests can make one chosen slice fail or hang.
//
//	events     CSV: one row per minute of its slice (id = Unix minute, at = RFC 3339); fails when
//	           its slice starts at a time listed in param fail_at (comma-separated RFC 3339), and
//	           hangs (sleeps until killed or timed out) when it starts at param hang_at, after
//	           logging "hanging" at warn level.
//	info       JSON: {"since", "until", "full_sync"}; fails when param fail = true.
//	big        CSV: param rows rows of param width bytes each (default 1000 × 100), for size tests.
package main

import (
	"strconv"
	"strings"
	"time"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport events
func events() int32 {
	return collector.Run(func() error {
		s := collector.Slice()
		since := s.Since.Format(time.RFC3339)
		if v, ok := collector.Param("fail_at"); ok && contains(v, since) {
			collector.Fail("told to fail the slice starting " + since)
			return nil
		}
		if v, ok := collector.Param("hang_at"); ok && v == since {
			collector.Warnf("hanging in the slice starting %s", since)
			for {
				time.Sleep(10 * time.Millisecond)
			}
		}
		w := collector.NewCSV()
		if err := w.Header("id", "at", "full_sync"); err != nil {
			return err
		}
		first := s.Since.Truncate(time.Minute).Add(time.Minute)
		for t := first; !t.After(s.Until); t = t.Add(time.Minute) {
			if err := w.Row(strconv.FormatInt(t.Unix()/60, 10), t.Format(time.RFC3339), strconv.FormatBool(s.FullSync)); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}

func contains(list, v string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}

//go:wasmexport info
func info() int32 {
	return collector.Run(func() error {
		if v, _ := collector.Param("fail"); v == "true" {
			collector.Fail("told to fail")
			return nil
		}
		s := collector.Slice()
		return collector.EmitJSON(map[string]any{"since": s.Since, "until": s.Until, "full_sync": s.FullSync})
	})
}

//go:wasmexport big
func big() int32 {
	return collector.Run(func() error {
		rows, width := 1000, 100
		if v, ok := collector.Param("rows"); ok {
			rows, _ = strconv.Atoi(v)
		}
		if v, ok := collector.Param("width"); ok {
			width, _ = strconv.Atoi(v)
		}
		w := collector.NewCSV()
		if err := w.Header("n", "pad"); err != nil {
			return err
		}
		pad := strings.Repeat("x", max(width-12, 1))
		for i := range rows {
			if err := w.Row(strconv.Itoa(1_000_000_000+i), pad); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}
