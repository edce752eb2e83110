// Package cmdutil holds what every wasmcollector command shares: the [Factory] of dependencies,
// the exit-code table, JSON output and time parsing.
// Commands live in their own packages under internal/cli and import this one.
package cmdutil
