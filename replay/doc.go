// Package replay records collector invocations and replays them without their database.
//
// A record holds everything the host gave one invocation's guest and what the guest produced:
// the slice, the collection type, the parameters, the granted environment (values redacted
// unless recorded with [Options.Secrets]), every data call with its statement, parameters and
// answer, the files and directories the guest opened on its mounts, the module's sha256, and the
// output's sha256 and size (and, with [Options.Output], its bytes). [Replay] runs the invocation
// again, with a data source that answers from the record ([ErrNotRecorded] for any other call),
// the recorded environment and mount files, the recorded clock readings and random bytes, and
// compares the output: identical, or a [Diff].
//
// Recording hooks in where the host answers the guest: the executors wrap the granted data
// sources, the output, the mounts and the clocks and randomness (runtime.Call.Sys) of an
// invocation when the context carries a [Recorder] ([WithRecorder]); with worker processes the
// worker records and writes the file the host names.
//
// # Format, version 3
//
// A record is one file, gzip-compressed JSON lines (one JSON object per line, "\n"-terminated).
// Every line has "k", its kind; the other members depend on the kind:
//
//	invocation  line 1, the [Header]: version (3; 1 and 2 are read too), recorded, module {name, path, source,
//	            sha256, function, memory_limit}, key, format, since, until, full_sync, collection_type,
//	            params (typed, as the worker protocol encodes them: {"i":…}, {"f":…}, {"s":…},
//	            {"b":…}, {"t":…}, {"l":[…],"il":true}, {"m":{…},"it":true}), limits, env
//	            [{name, value | redacted}], datasources, mounts, timeout (ns), stdio_limit,
//	            max_bytes (the cap the record was written under)
//	query       a data call as it reached the data source: q (its number), call ("query" for
//	            db_query, db_query_rows and db_stream_csv_transform, "stream_csv" for
//	            db_stream_csv), source, sql, params [[name, type, value]…] sorted by name, the
//	            slice bounds included (@since, @until)
//	columns     q, columns [{name, type}]: the answer's columns ("query" calls)
//	row         q, v (the values), t (a letter per value: n null, i int, f float (NaN and ±Inf as
//	            text), s text, b bool, t timestamp in RFC 3339 UTC, x bytes in base64)
//	csv         q, s (one Write of the CSV stream: the header, then one row per line) or x (the
//	            same in base64 when it is not UTF-8)
//	end_query   q, rows, error (how the call ended, if not well), too_large (the error was over
//	            the data source's caps), abandoned (the host stopped reading: the guest moved on)
//	file        mount, path, dir + entries [{name, dir}] for a directory, or s/x for a file's
//	            bytes
//	out         s or x: one Write of the output (only with Options.Output)
//	sys         the guest's clock readings and random bytes since the previous sys line of its
//	            phase: init (true: the module's initialisation read them), wall and mono
//	            (base64 of the signed varint deltas of the wall-clock readings, ns since the
//	            epoch, and of the monotonic ones, ns, each from the phase's previous reading, the
//	            first from 0), rand (base64 of the random bytes); or stopped (why no more
//	            readings were kept: of the initialisation only when init is true, else of both
//	            phases). Version 2 onward
//	log         one of the guest's log lines ([LogLine]): stream "log" (the log host function:
//	            level, msg), or "stdout" / "stderr" (msg: what the guest printed, as the host
//	            kept it under the invocation's stdio limit, written at the end). Version 3 onward
//	result      sha256, bytes, rows, json_documents, return_code, error, kind (how it failed:
//	            a runtime error kind such as timeout, trap, memory, output, refused, canceled,
//	            or killed, host; see [Result.Kind]), finalized (the host wrote this line, see
//	            below), output_recorded
//	end         the last line: complete, reason (why not), bytes (uncompressed, before this
//	            line), lines (before this line)
//
// Lines of calls that overlap (a db_query_rows cursor the guest abandons while it starts another
// call) interleave; q ties them to their query. A reader refuses a record whose first line is not
// a header of a version it reads ([ErrVersion]), that does not end with an end line or breaks any
// rule above ([ErrCorrupt]), or whose end line says it is incomplete ([ErrIncomplete]).
//
// kind and finalized are optional members added after the format's first release: a reader of
// version 1 ignores members it does not know, so the version stayed 1; a record without kind
// compares only success or failure on replay. The sys lines are a new kind of line, which a
// version 1 reader refuses, so records with them are version 2; this package reads both, and a
// version 1 record (which has no sys lines) replays with the replaying host's clocks and
// randomness, [SysOutcome].Recorded false. The log lines are another new kind, so records with
// them are version 3; a version 2 reader refuses them with [ErrVersion] rather than dropping
// lines it does not know, and this package reads versions 1 and 2 (no log lines: a replay
// does not compare them, [LogsOutcome].Recorded false).
//
// # Log lines
//
// The guest's own log lines are recorded as they pass: the log host function's messages (a
// message the host logs about the invocation, such as a failed data call's warning, carries
// attributes and is not the guest's), then what it printed on stdout and stderr. They are bounded
// by the invocation's log and stdio limits, and by the record's cap. A replay keeps only a hash
// of each side's lines and reports whether they match ([Outcome].Logs); that is informational,
// since a log line may carry what a replay does not reproduce, and the output decides identical.
// A record its host finalised has no stdout or stderr lines (the worker ended first).
//
// # Clocks and randomness
//
// Everything the host's clocks and randomness hand the guest is recorded, in the order the guest
// got it: WASI clock_time_get (realtime and monotonic) and random_get, and the set-times-to-now
// calls on files (which read the same wall clock, then fail on the read-only mounts). A mount
// file's own times are the file's, not the clock's (a replay serves them as zero). clock_res_get is a
// constant (1 µs wall, 1 ns monotonic) and not recorded; sleeps (poll_oneoff) are not
// recorded either. A recording sleeps as any invocation does; a replay does not wait
// (runtime.Sleeper): the guest reads the recorded clocks, which moved on as the recorded sleep
// did, and past the record the clocks count a sleep as elapsed. The recorded timeout still runs
// on the replaying host's clock.
// Readings are split by phase: what the module's initialisation read (its start function and
// _initialize) and what the invocation read. A restorable module starts every instance from a
// snapshot taken after one initialisation (runtime/snapshot.go), so the initialisation's
// readings are those of that snapshot, which the runtime keeps with it (at most
// runtime.MaxInitSysLog bytes' worth) and hands the recorder at the start of each invocation.
// On replay the initialisation is served the recorded init readings (the replayer keeps one
// loaded module per distinct set of them, as it does per environment) and the invocation its
// own: a Go guest's hash seeds and math/rand state come out the same, and so does its output.
//
// The encoded readings of one record are bounded: at most a quarter of its size cap, and at most
// 1 MiB. A guest that reads its clock in a hot loop past the bound leaves a record whose last
// sys line says stopped; the invocation itself runs on unchanged, with the host's clocks. A
// replay serves the recorded readings in order; past them (a record that stopped at its bound,
// or another module given with --module that reads more) the clocks continue from the last
// value served with the replaying host's elapsed time (the monotonic clock never goes back,
// whatever a record says), and random bytes come from a ChaCha8 source seeded with a hash of the
// record's module, key, slice and random bytes, so two replays of one record read the same. The
// replay completes and [Outcome].Sys says how much was read past the record (BeyondRecord).
//
// # Replaying large records
//
// [Replay] does not hold a record in memory: it reads it once, checking every rule above, and
// writes the answers (columns, rows, CSV writes), the mount files and the recorded output to an
// unlinked temporary file ([ReplayOptions.SpillDir]), keeping a small index per data call; rows
// are decoded again as the guest reads them. The replayed output is hashed and spilled too; the
// outputs are read back only when their sha256 differ, whole when each is at most 16 MiB
// ([Compare]), else line by line ([CompareStream]). [ReadFile] still reads a record whole.
//
// # Failed invocations
//
// An invocation that fails where it runs (a trap, the memory limit, a host function's error, an
// in-process timeout) is recorded like any other, its result line saying the error and its kind.
// A worker process that ends before it closes its record (killed at its deadline or a cap,
// killed by a signal, crashed) cannot write that line: the recorder flushes the compressed
// stream after the header, when each data call or mount read is complete (before the guest gets
// the answer), and at least every 100 ms, so the file holds every answer served up to then, and
// the host, which knows why the worker ended, finalises it ([Finalize]): the lines that decode
// are kept, a data call still running gets an end_query line (abandoned, so a replay serves its
// recorded rows and fails a read past them), then a result line with the error, its kind and
// finalized=true (sha256 "" unless the output's bytes were recorded), and an end line; the file
// is replaced atomically. [Replay] runs such a record under its recorded limits and reports
// whether it ends the same way ([Outcome.SameOutcome]); a reproduced failure with the same
// output is identical.
//
// # Size
//
// A record is written under a cap on its compressed size ([Options.MaxBytes], default 256 MiB
// for a whole gather). The compressor is flushed every 256 KiB (every sixteenth of the cap when
// that is less), so the file's size is known within that; a line that would pass the cap (less
// 8 KiB kept for the result and end lines) stops the record: its end line, written at once,
// says complete=false and why (such a record has no result line), and the invocation itself runs
// on unchanged. A gather's
// [Recorder] gives each invocation at most its share of what is left (what is left divided by the
// invocations that may run beside it), and skips invocations once less than 32 KiB would be left
// for one; [Recorder.Summary] counts records, bytes, and what the cap cut short, and
// [Recorder.Finish] writes it into the directory as [SummaryFile].
package replay
