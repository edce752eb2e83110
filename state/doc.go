// Package state keeps a gather's bookkeeping and the lock that keeps two gathers apart.
//
// In the flow (see design.md "The flow") gather takes the lock through a [Locker] before it does
// anything, reads the bookkeeping from a [Store] to compute each collector's window, and writes
// it back once tarballs were shipped; `wasmcollector state` shows and resets it. [FileStore] is
// the default implementation of both; a product may plug in its own, such as its database.
//
// Which keys advance and how far (design.md D3, D4) is gather's business: this package stores
// whatever [State] it is given and returns exactly that, nothing filtered.
//
// # The file format
//
// [FileStore] keeps the state in Dir/state.json:
//
//	{
//	  "version": 2,
//	  "last_gather": "2026-11-26T16:16:54.53162Z",
//	  "entries": {
//	    "events_table": "2026-11-26T16:00:00Z",
//	    "events_table_full": "2026-11-20T03:12:09.1Z"
//	  },
//	  "pending": [
//	    {
//	      "name": "analytics-2026-11-26-200000+0000-3.tar.gz",
//	      "path": "/var/lib/product/out/pending/analytics-2026-11-26-200000+0000-3.tar.gz",
//	      "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//	      "size": 1843,
//	      "slices": [
//	        {"key": "events_table", "since": "2026-11-26T16:00:00Z", "until": "2026-11-26T20:00:00Z", "part": 1, "parts": 1}
//	      ]
//	    }
//	  ]
//	}
//
// Times are RFC 3339 in UTC with as many fractional digits as needed, up to nanoseconds (Go's
// [time.RFC3339Nano]); any RFC 3339 offset is accepted on reading and converted to UTC.
// last_gather is left out when the state was never gathered. An entry is a collector key,
// mapped to the end of the last window shipped, or a key with the suffix "_full", mapped to when
// its last full sync finished. "pending" (left out when empty) lists the tarballs recorded
// before they were sent and not yet absorbed into the entries ([Pending]); "shipped": true marks
// one the ingress acknowledged. Version 1 files (no pending) are read too; a file with another
// "version", or any other field, is refused rather than half understood.
//
// The file is replaced atomically: a crash leaves either the old state or the new one, never a
// mix, so at worst the next gather collects a window again (design.md "Nothing is lost").
//
// # The lock
//
// [FileStore.TryLock] takes an exclusive flock(2) on Dir/gather.lock without waiting and writes
// the holder's process ID into that file, so that a refused gather can say who holds it. The
// kernel drops the lock when its holder exits, even when it is killed, so a crash leaves no stale
// lock behind. flock locks belong to an open file description, and every TryLock opens the file
// anew, so two gathers in one process exclude each other exactly like two processes do.
package state
