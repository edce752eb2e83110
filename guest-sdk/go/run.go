package collector

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Run runs a collector and returns the result its export must return: 0 on success, 1 on failure.
// A collector export is a function with no parameters and an int32 result:
//
//	//go:wasmexport job_events
//	func jobEvents() int32 { return collector.Run(collectJobEvents) }
//
// When fn returns an error, Run reports err.Error() to the host with fail and returns 1. When fn
// panics, Run recovers, logs the stack at LevelError, reports "panic: <value>" and returns 1. When fn
// returns nil but a [CSV] writer made with [NewCSV] during the call still holds rows that were never
// flushed, Run fails the invocation too: it does not flush for you, because a collector that forgot
// [CSV.Flush] must not ship a file with rows missing.
//
// The export's result is not the last word: the host records the invocation as failed whenever it
// refused output, or fail was called, even if Run returns 0 (hostfuncs/ABI.md).
func Run(fn func() error) int32 {
	writers.Lock()
	writers.list = nil
	writers.Unlock()
	return run(fn, Fail)
}

// run is Run with the fail function injected, for tests.
func run(fn func() error, fail func(string)) (code int32) {
	defer func() {
		if r := recover(); r != nil {
			Log(LevelError, fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack()))
			fail(fmt.Sprintf("panic: %v", r))
			code = 1
		}
	}()
	if err := fn(); err != nil {
		msg := err.Error()
		if msg == "" {
			msg = "collector returned an error with no message"
		}
		fail(msg)
		return 1
	}
	if err := checkFlushed(); err != nil {
		fail(err.Error())
		return 1
	}
	return 0
}

// checkFlushed returns an error when a writer made since Run started holds rows never sent.
func checkFlushed() error {
	writers.Lock()
	defer writers.Unlock()
	for _, w := range writers.list {
		switch {
		case !w.unflushed():
		case w.pending == 1:
			return errors.New("collector: csv writer holds 1 row that was never sent: call Flush before returning")
		case w.pending > 1:
			return fmt.Errorf("collector: csv writer holds %d rows that were never sent: call Flush before returning", w.pending)
		default:
			return errors.New("collector: csv writer holds an unfinished row: call EndRow and Flush before returning")
		}
	}
	return nil
}

// Fail records msg as the reason this invocation failed (cut to 4 KiB by the host). The invocation
// is recorded as failed even if the export returns 0; a later call replaces the message. [Run] calls
// it for you when the collector returns an error. Outside a host Fail does nothing.
func Fail(msg string) {
	failMessage(msg)
}
