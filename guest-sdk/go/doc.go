// Package collector is the Go SDK for wasmcollector collectors: analytics collectors compiled to
// WebAssembly that a wasmcollector host loads, sandboxes and runs once per collector and time slice.
// It wraps ABI v1 (the import module wasmcollector_v1, described in hostfuncs/ABI.md) so that a
// collector reads like ordinary Go, and it depends on nothing outside the standard library.
//
// # Where it sits
//
// The host reads collectors.toml, picks a collector and its time slice, makes a fresh instance of
// the module and calls the collector's export. The collector asks the SDK for its slice ([Slice]),
// the collection type ([CollectionType]) and its TOML parameters ([Param], [Params]), then hands over
// its output: one JSON document ([EmitJSON]) or CSV rows ([NewCSV]). The host validates and writes
// the files, so a collector cannot produce a broken file. The instance is closed afterwards; nothing
// survives between invocations.
//
// # Building
//
// A module is a Go reactor, built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o acme.wasm .
//
// Its package main needs an empty func main, and one //go:wasmexport function per collector, named
// as the collector's function in the TOML (default: its key), taking nothing and returning int32.
// [Run] turns an ordinary func() error into that result. Outside GOOS=wasip1 the package still
// builds, so go vet and unit tests of a collector's pure logic work; every call that needs the host
// then returns [ErrNoHost] or a zero value.
//
// The package is the root of the module github.com/wasmcollector/wasmcollector/guest-sdk/go, which
// requires no other module, so a collector's go.sum holds nothing because of it; its abi package
// holds the ABI's names and numbers, which the host takes from it too. `wasmcollector new` copies
// the module into a new project's wasmcollector-sdk/ and points go.mod at it with a replace
// directive, so the project builds offline.
//
// # Example
//
// A module with a JSON collector and a CSV collector:
//
//	//go:build wasip1
//
//	package main
//
//	import (
//		"time"
//
//		collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
//	)
//
//	func main() {}
//
//	//go:wasmexport counts
//	func counts() int32 { return collector.Run(collectCounts) }
//
//	func collectCounts() error {
//		p := struct {
//			Hosts int `json:"hosts"`
//		}{Hosts: 10}
//		if err := collector.Params(&p); err != nil {
//			return err
//		}
//		return collector.EmitJSON(map[string]any{
//			"hosts":           p.Hosts,
//			"collection_type": collector.CollectionType(),
//		})
//	}
//
//	//go:wasmexport logins
//	func logins() int32 { return collector.Run(collectLogins) }
//
//	func collectLogins() error {
//		s := collector.Slice()
//		if !s.HasSince {
//			s.Since = s.Until.Add(-time.Hour)
//		}
//		collector.Infof("collecting logins in %v", s)
//		w := collector.NewCSV()
//		if err := w.Header("id", "user", "at", "source_ip"); err != nil {
//			return err
//		}
//		for i, at := 0, s.Since.Add(time.Minute); !at.After(s.Until); i, at = i+1, at.Add(time.Minute) {
//			// nil is NULL: an empty unquoted field, unlike "" which the host writes quoted.
//			if err := w.Values(i, "alice, admin", at, nil); err != nil {
//				return err
//			}
//		}
//		return w.Flush() // required: Run fails the invocation if rows were left unsent
//	}
//
// # Errors
//
// Output the host refuses comes back as a *[StatusError] naming the host function and status, and
// the host has already recorded the invocation as failed ("Refused output fails the invocation" in
// hostfuncs/ABI.md): return the error so [Run] reports it. Reads never fail the invocation: a
// missing parameter is (“”, false).
//
// # Memory
//
// Every call passes a pointer into the module's linear memory and a length; the host copies what it
// needs before returning. CSV rows are encoded straight into one reused [BatchSize] buffer and sent
// when it fills, so memory use does not grow with the number of rows.
package collector
