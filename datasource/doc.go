// Package datasource gives collectors read-only SQL access to a product's
// database: the host side of the SQL capability. A [Source] opens a SQLite
// file or a PostgreSQL server, runs one statement per call and hands back
// typed rows ([Source.Query]) or CSV ([Source.StreamCSV]), the way AWX's
// collectors run COPY (SELECT … WHERE modified > since AND modified <= until)
// TO STDOUT WITH CSV HEADER.
//
// # Read-only
//
// Being read-only is the point of the package, and it is enforced in layers.
// Before anything reaches the database, a small SQL lexer (quotes, E'…'
// strings, dollar quotes, nested comments, -- comments ending where each
// server ends them: at LF or CR on PostgreSQL, at LF on SQLite) refuses
// more than one statement ([ErrMultiStatement]), unbalanced parentheses,
// and any statement that does not begin with SELECT, WITH, VALUES or, on
// PostgreSQL, TABLE ([ErrReadOnly]); so INSERT, COPY, PRAGMA, ATTACH,
// VACUUM, SET, CALL and DO never run. On PostgreSQL it also refuses calls
// of functions that act outside the transaction, by name wherever they are
// called ([ErrReadOnly]): dblink*, lo_*, advisory locks, pg_notify,
// set_config, nextval, the server's files, signals, configuration, WAL and
// replication functions, and those that run SQL given as text
// (query_to_xml, ts_stat).
//
// On SQLite the file is opened with mode=ro (it must exist) and every
// connection runs with PRAGMA query_only and an authorizer that lets a
// statement compile only if it reads (SELECT, column reads, recursive CTEs,
// functions except load_extension): a write hidden in a WITH clause fails to
// prepare ([ErrReadOnly]).
//
// On PostgreSQL, [Open] refuses a role that may do more than read
// ([ErrPrivilegedRole]; see [Config.AllowPrivilegedRole]). Each statement
// runs in a transaction of its own, BEGIN ISOLATION LEVEL REPEATABLE READ
// READ ONLY, which is rolled back; the server refuses writes with SQLSTATE
// 25006 ([ErrReadOnly]). The session settings of the transaction are SET
// LOCAL: statement_timeout, TimeZone UTC, standard_conforming_strings on,
// DateStyle ISO, bytea_output hex. Session advisory locks a statement takes
// are released after it. [Source.StreamCSV]'s COPY goes over the extended
// protocol, whose Parse refuses several statements, after the query alone
// parsed as one complete statement: whatever the text, one COPY of one
// query runs.
//
// # Limits
//
// [Config.Timeout] bounds each statement: PostgreSQL's statement_timeout,
// and on SQLite an interrupt of the running statement, both reported as
// [ErrTimeout]. [Config.MaxRows] and [Config.MaxBytes] bound what one
// [Source.Query] returns ([ErrTooLarge]); [Source.StreamCSV] is bounded by
// its writer, and each of its rows by MaxBytes. The byte cap holds before a
// row is read: on SQLite, before each step SQLITE_LIMIT_LENGTH is set to
// the bytes the row may hold divided by its number of columns, so SQLite
// refuses to build a longer value, stored or computed; on PostgreSQL no
// message longer than twice MaxBytes plus 1 MiB is read.
//
// # Parameters
//
// Statements name their parameters @name, on both drivers; the values are
// nil, bool, int64, float64, string, time.Time or []byte. The lexer finds
// the references outside quotes and comments (an @ after another @, or
// before anything but a letter or underscore, is an operator) and they are
// bound by position, so the database sees no parameter the lexer missed.
// Other placeholder styles (?, :name, $1) are refused. On PostgreSQL strings
// are sent untyped, so the server infers their type as for a quoted literal;
// the other types are sent as boolean, bigint, double precision, timestamptz
// (microseconds, truncated) and bytea. On SQLite booleans are bound as 0 and
// 1 and times in the source's [TimeFormat] (default TEXT in [SQLiteTimeFormat]).
//
// # Timestamps in SQLite
//
// SQLite has no timestamp type. The convention here: a timestamp column is
// declared with a type containing TIME or DATE (TIMESTAMP, DATETIME) and
// holds TEXT in [SQLiteTimeFormat], 2006-01-02T15:04:05.000000Z, UTC with
// microseconds. The width is fixed, so comparing the text orders by time and
// WHERE modified > @since works against a bound time.Time. Such columns may
// also hold RFC 3339 text or SQLite's own 2006-01-02 15:04:05 (read as UTC);
// any other value in them is an error.
//
// A product whose columns are written otherwise (SQLite's own
// 2006-01-02 15:04:05, no fraction, epoch integers) sets [Config.TimeFormat]
// (the TOML's timestamp_format): @since and @until are then bound in that
// form, so that the comparison, text or numeric, orders by time. The rule
// is on [TimeFormat].
//
// # Column types
//
// Each result column has a [ColumnType], and its non-NULL values one Go type.
// On PostgreSQL the type comes from the column's type: int2, int4, int8 →
// int; float4, float8, numeric → float (numeric converted to float64, so
// precision beyond 15–17 digits is lost); bool → bool; timestamp,
// timestamptz, date → timestamp (timestamp without time zone read as UTC,
// date as midnight UTC; infinity and BC dates are errors); bytea → bytes; everything else (text, varchar, uuid,
// json, jsonb, interval, arrays, …) → text in the server's output form.
// On SQLite it comes from the declared type: containing INT → int; REAL,
// FLOA, DOUB, NUMERIC or DECIMAL → float; BOOL → bool (stored 0 or 1); TIME
// or DATE → timestamp; BLOB → bytes; anything else → text. An expression has
// no declared type and takes the type of its value in the first row (NULL →
// text); later rows are converted to it, and a value that cannot be (a real
// in an int column, 2 in a bool column) is an error.
//
// # CSV
//
// [Source.StreamCSV] writes the header in one Write and then exactly one row
// per Write, so a splitter can cut files between Writes. On SQLite the rows
// follow the ABI's CSV rules; on PostgreSQL they are COPY's own CSV, whose
// booleans (t, f), timestamps (2026-11-25 00:00:06.123+00), bytea (\x…) and
// floats differ in form: callers comparing the two normalise first.
package datasource
