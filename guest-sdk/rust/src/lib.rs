//! The Rust SDK for wasmcollector collectors: analytics collectors compiled to WebAssembly that a
//! wasmcollector host loads, sandboxes and runs once per collector and time slice. It wraps ABI v1
//! (the import module `wasmcollector_v1`, described in `hostfuncs/ABI.md`) so that a collector reads
//! like ordinary Rust, and it has no dependencies. It mirrors the Go SDK (`guest-sdk/go`).
//!
//! # Where it sits
//!
//! The host reads `collectors.toml`, picks a collector and its time slice, makes a fresh instance of
//! the module and calls the collector's export. The collector asks the SDK for its slice
//! ([`slice`]), the collection type ([`collection_type`]) and its TOML parameters ([`param`],
//! [`params_json`]), then hands over its output: one JSON document ([`emit_json`]) or CSV rows
//! ([`Csv`]). The host validates and writes the files, so a collector cannot produce a broken file.
//! The instance is closed afterwards; nothing survives between invocations.
//!
//! # Building
//!
//! The toolchain is Debian's rustc 1.63 with its WebAssembly standard library
//! (`apt-get install rustc libstd-rust-dev-wasm32`), so the crate uses nothing newer than Rust 1.63.
//! Always call `/usr/bin/rustc` (a rustup rustc earlier in `PATH` cannot use Debian's wasm std).
//! A collector module is a `cdylib`; with cargo, from the collector crate's directory:
//!
//! ```text
//! RUSTC=/usr/bin/rustc CARGO_HOME=$(mktemp -d) /usr/bin/cargo build --offline --release --target wasm32-wasi
//! ```
//!
//! or with rustc alone (the SDK as an rlib, then the module):
//!
//! ```text
//! /usr/bin/rustc --edition 2021 --target wasm32-wasi --crate-type rlib --crate-name wasmcollector \
//!     -C opt-level=s -C panic=abort -o /tmp/libwasmcollector.rlib guest-sdk/rust/src/lib.rs
//! /usr/bin/rustc --edition 2021 --target wasm32-wasi --crate-type cdylib -C opt-level=s -C strip=symbols \
//!     -C panic=abort --extern wasmcollector=/tmp/libwasmcollector.rlib -o acme.wasm src/lib.rs
//! ```
//!
//! Both targets work: `wasm32-wasi` (the module also imports a few `wasi_snapshot_preview1`
//! functions, which the sandbox provides; `std::time::SystemTime::now` works) and
//! `wasm32-unknown-unknown` (imports only `wasmcollector_v1`; there is no clock, so
//! `SystemTime::now` panics). A rustc 1.63 `wasm32-wasi` cdylib exports no `_initialize`: each export
//! is wrapped to run the module's constructors first, which the host accepts (it refuses only a
//! `_start` without `_initialize`).
//!
//! Each collector is a `#[no_mangle] pub extern "C" fn` named as the collector's `function` in the
//! TOML (default: its key), taking nothing and returning `i32`; [`run`] turns a
//! `fn() -> Result<(), E>` into that result, for any error type `E` that implements `Display`:
//! the SDK's [`Error`], or `Box<dyn std::error::Error>` so that `?` takes the SDK's errors and
//! ordinary ones (`ParseIntError`, `io::Error`) alike. Built for anything but `wasm32` the crate still
//! compiles, so `cargo test` of a collector's pure logic works on the build machine: every call that
//! needs the host then returns an [`Error`] with [`Status::NoHost`] or a zero value.
//!
//! # Example
//!
//! ```no_run
//! use wasmcollector::{Csv, Error, Level};
//!
//! #[no_mangle]
//! pub extern "C" fn logins() -> i32 {
//!     wasmcollector::run(collect_logins)
//! }
//!
//! fn collect_logins() -> Result<(), Error> {
//!     let s = wasmcollector::slice();
//!     let until = s.until.unwrap_or(0);
//!     let since = s.since.unwrap_or(until - 3_600_000_000_000);
//!     wasmcollector::log(Level::Info, &format!("collecting logins in {}", s));
//!     let mut w = Csv::new();
//!     w.header(&["id", "user", "at", "source_ip"])?;
//!     let mut at = since + 60_000_000_000;
//!     let mut id = 0;
//!     while at <= until {
//!         w.field_i64(id);
//!         w.field("alice, admin"); // the host quotes it
//!         w.field_time(at); // RFC 3339, UTC
//!         w.field_null(); // NULL: an empty unquoted field, unlike "" which the host writes quoted
//!         w.end_row()?;
//!         at += 60_000_000_000;
//!         id += 1;
//!     }
//!     w.flush() // required: a writer dropped with rows never sent fails the invocation
//! }
//! ```
//!
//! # Errors
//!
//! Output the host refuses comes back as an [`Error`] naming the host function and [`Status`], and
//! the host has already recorded the invocation as failed ("Refused output fails the invocation" in
//! `hostfuncs/ABI.md`): return it so [`run`] reports it. Reads never fail the invocation: a missing
//! parameter is `None`. A collector raises its own errors with [`Error::new`].
//!
//! # Panics
//!
//! WebAssembly targets build with `panic=abort`, so `std::panic::catch_unwind` cannot catch
//! anything: a panic traps, which ends the invocation, and the host records it as failed. [`run`]
//! installs a panic hook first, so the panic's message and location reach the host with `fail` (and
//! are logged at error level) before the trap.
//!
//! # Memory
//!
//! Every call passes a pointer into the module's linear memory and a length; the host copies what it
//! needs before returning. CSV rows are encoded straight into one reused [`BATCH_SIZE`] buffer and
//! sent when it fills, so memory use does not grow with the number of rows.

#![warn(missing_docs)]

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The import module every ABI v1 host function lives in.
pub const MODULE_NAME: &str = "wasmcollector_v1";

/// The size in bytes up to which a [`Csv`] writer collects encoded rows before it hands them to the
/// host in one `csv_rows` call. A host call costs far more than a row, so rows are batched; a row
/// larger than `BATCH_SIZE` on its own is sent alone.
pub const BATCH_SIZE: usize = 64 << 10;

/// The field length that marks a NULL in a `csv_rows` batch.
const NULL_FIELD: u32 = 0xFFFFFFFF;

/// The slice record `slice_bounds` writes (hostfuncs/ABI.md, "Slice record").
const SLICE_RECORD_SIZE: usize = 24;
const SLICE_FLAG_SINCE_SET: u32 = 1 << 0;
const SLICE_FLAG_UNTIL_SET: u32 = 1 << 1;
const SLICE_FLAG_FULL_SYNC: u32 = 1 << 2;

/// What the host stand-ins return when the crate is not built for wasm32; no host returns it.
const STATUS_NO_HOST: i32 = -1;

/// The raw ABI v1 host functions, exactly as `hostfuncs/ABI.md` declares them. Every pointer is an
/// offset into linear memory (`usize` is 32 bits on wasm32), and every function returns an `i32`
/// status except `collection_type`. Prefer the safe wrappers at the crate root.
#[allow(missing_docs)]
pub mod sys {
    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "wasmcollector_v1")]
    extern "C" {
        pub fn emit_json(ptr: *const u8, len: usize) -> i32;
        pub fn csv_header(ptr: *const u8, len: usize) -> i32;
        pub fn csv_rows(ptr: *const u8, len: usize) -> i32;
        pub fn slice_bounds(out_ptr: *mut u8) -> i32;
        pub fn collection_type() -> i32;
        pub fn param(name_ptr: *const u8, name_len: usize, buf_ptr: *mut u8, buf_cap: usize, len_out_ptr: *mut u8) -> i32;
        pub fn params_json(buf_ptr: *mut u8, buf_cap: usize, len_out_ptr: *mut u8) -> i32;
        pub fn log(level: i32, ptr: *const u8, len: usize) -> i32;
        pub fn fail(ptr: *const u8, len: usize) -> i32;
        pub fn db_query(src_ptr: *const u8, src_len: usize, sql_ptr: *const u8, sql_len: usize, params_ptr: *const u8, params_len: usize, len_out_ptr: *mut u8) -> i32;
        pub fn db_result(buf_ptr: *mut u8, buf_cap: usize, len_out_ptr: *mut u8) -> i32;
        pub fn db_stream_csv(src_ptr: *const u8, src_len: usize, sql_ptr: *const u8, sql_len: usize, params_ptr: *const u8, params_len: usize, rows_out_ptr: *mut u8) -> i32;
        pub fn last_error(buf_ptr: *mut u8, buf_cap: usize, len_out_ptr: *mut u8) -> i32;
        pub fn db_query_rows(src_ptr: *const u8, src_len: usize, sql_ptr: *const u8, sql_len: usize, params_ptr: *const u8, params_len: usize, len_out_ptr: *mut u8) -> i32;
        pub fn db_rows_next(buf_ptr: *mut u8, buf_cap: usize, len_out_ptr: *mut u8) -> i32;
        pub fn db_stream_csv_transform(src_ptr: *const u8, src_len: usize, sql_ptr: *const u8, sql_len: usize, params_ptr: *const u8, params_len: usize, spec_ptr: *const u8, spec_len: usize, rows_out_ptr: *mut u8) -> i32;
    }

    // Stand-ins for builds on the build machine (cargo test, cargo check): there is no host, so
    // every function reports it and writes nothing.
    #[cfg(not(target_arch = "wasm32"))]
    pub use self::stand_ins::*;

    #[cfg(not(target_arch = "wasm32"))]
    #[allow(clippy::missing_safety_doc)]
    mod stand_ins {
        use super::super::STATUS_NO_HOST as NO_HOST;
        pub unsafe fn emit_json(_: *const u8, _: usize) -> i32 { NO_HOST }
        pub unsafe fn csv_header(_: *const u8, _: usize) -> i32 { NO_HOST }
        pub unsafe fn csv_rows(_: *const u8, _: usize) -> i32 { NO_HOST }
        pub unsafe fn slice_bounds(_: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn collection_type() -> i32 { 0 }
        pub unsafe fn param(_: *const u8, _: usize, _: *mut u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn params_json(_: *mut u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn log(_: i32, _: *const u8, _: usize) -> i32 { NO_HOST }
        pub unsafe fn fail(_: *const u8, _: usize) -> i32 { NO_HOST }
        pub unsafe fn db_query(_: *const u8, _: usize, _: *const u8, _: usize, _: *const u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn db_result(_: *mut u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn db_stream_csv(_: *const u8, _: usize, _: *const u8, _: usize, _: *const u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn last_error(_: *mut u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn db_query_rows(_: *const u8, _: usize, _: *const u8, _: usize, _: *const u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn db_rows_next(_: *mut u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
        pub unsafe fn db_stream_csv_transform(_: *const u8, _: usize, _: *const u8, _: usize, _: *const u8, _: usize, _: *const u8, _: usize, _: *mut u8) -> i32 { NO_HOST }
    }
}

// ---------------------------------------------------------------------------------------------
// Status and Error

/// The `i32` status an ABI v1 host function returns (hostfuncs/ABI.md, "Status codes"). The codes
/// 0 to 9 are the ABI's and never change meaning; the last three variants are not ABI codes: they
/// say where an [`Error`] came from when no host status did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// `ok`: done.
    Ok = 0,
    /// `invalid`: malformed input: JSON that does not parse, text that is not UTF-8, a row with the
    /// wrong field count, an unknown level.
    Invalid = 1,
    /// `too_large`: one item is over its cap (JSON document, batch, log line).
    TooLarge = 2,
    /// `over_budget`: the invocation's output or log budget is spent.
    OverBudget = 3,
    /// `wrong_format`: a JSON function called by a CSV collector, or the other way round.
    WrongFormat = 4,
    /// `wrong_state`: out of order: rows before the header, a second header, a second JSON document.
    WrongState = 5,
    /// `not_found`: no such parameter.
    NotFound = 6,
    /// `buffer_too_small`: the answer does not fit (the SDK retries for you).
    BufferTooSmall = 7,
    /// `denied`: the collector lacks the capability (granted in the TOML).
    Denied = 8,
    /// `query_failed`: a data-source query failed; the error's reason says why.
    QueryFailed = 9,
    /// Not an ABI code: an error the collector raised itself with [`Error::new`].
    Collector = 0xFFFF_FFFD,
    /// Not an ABI code: the host returned a status this SDK does not know (a newer host); the
    /// error's reason gives the number.
    Unknown = 0xFFFF_FFFE,
    /// Not an ABI code: the crate was built for something other than wasm32, so there is no host.
    NoHost = 0xFFFF_FFFF,
}

impl Status {
    /// Maps a host function's result to a status; codes this SDK does not know are
    /// [`Status::Unknown`].
    pub fn from_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::Invalid,
            2 => Status::TooLarge,
            3 => Status::OverBudget,
            4 => Status::WrongFormat,
            5 => Status::WrongState,
            6 => Status::NotFound,
            7 => Status::BufferTooSmall,
            8 => Status::Denied,
            9 => Status::QueryFailed,
            STATUS_NO_HOST => Status::NoHost,
            _ => Status::Unknown,
        }
    }

    /// The status's ABI name, such as `"too_large"` (`"collector"`, `"unknown"`, `"no_host"` for
    /// the variants that are not ABI codes).
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Invalid => "invalid",
            Status::TooLarge => "too_large",
            Status::OverBudget => "over_budget",
            Status::WrongFormat => "wrong_format",
            Status::WrongState => "wrong_state",
            Status::NotFound => "not_found",
            Status::BufferTooSmall => "buffer_too_small",
            Status::Denied => "denied",
            Status::QueryFailed => "query_failed",
            Status::Collector => "collector",
            Status::Unknown => "unknown",
            Status::NoHost => "no_host",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error from the SDK: a host function refused a call, the SDK found a mistake itself (a CSV row
/// with the wrong field count), or the collector raised it with [`Error::new`].
///
/// For the output functions (`emit_json`, `csv_header`, `csv_rows`, `db_stream_csv`) the host has
/// already recorded the invocation as failed, whatever the collector returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The ABI function that refused, such as `"csv_rows"`; `""` for an error the collector raised.
    pub func: &'static str,
    /// What it returned; never [`Status::Ok`].
    pub status: Status,
    /// The explanation: the host's (from `last_error`) for data calls, the SDK's for mistakes it
    /// found itself, the collector's message for [`Error::new`]; the unknown code for
    /// [`Status::Unknown`].
    pub reason: Option<String>,
}

impl Error {
    /// An error the collector raises itself; [`run`] reports `msg` to the host unchanged.
    pub fn new(msg: impl Into<String>) -> Error {
        Error { func: "", status: Status::Collector, reason: Some(msg.into()) }
    }

    /// Whether the error only says there is no host (the crate was not built for wasm32).
    pub fn is_no_host(&self) -> bool {
        self.status == Status::NoHost
    }

    fn sdk(func: &'static str, status: Status, reason: String) -> Error {
        Error { func, status, reason: Some(reason) }
    }
}

impl fmt::Display for Error {
    /// `wasmcollector: csv_rows: over_budget`, followed by the reason if any
    /// (`wasmcollector: db_query: query_failed: …`); an error from [`Error::new`] is its message
    /// alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.reason) {
            (Status::Collector, Some(r)) => f.write_str(r),
            (Status::Collector, None) => f.write_str("collector failed"),
            (Status::NoHost, _) => write!(f, "wasmcollector: {}: not running inside a wasmcollector host", self.func),
            (st, Some(r)) => write!(f, "wasmcollector: {}: {}: {}", self.func, st, r),
            (st, None) => write!(f, "wasmcollector: {}: {}", self.func, st),
        }
    }
}

impl std::error::Error for Error {}

/// Turns a host function's result into `Ok(())` or an [`Error`].
fn check(func: &'static str, code: i32) -> Result<(), Error> {
    match Status::from_code(code) {
        Status::Ok => Ok(()),
        Status::Unknown => Err(Error { func, status: Status::Unknown, reason: Some(format!("status code {}", code)) }),
        st => Err(Error { func, status: st, reason: None }),
    }
}

// ---------------------------------------------------------------------------------------------
// Passing memory

/// The pointer and length the host functions take for `b`. A dangling pointer of an empty slice is
/// replaced by a real one so the host always gets an offset inside linear memory.
fn arg(b: &[u8]) -> (*const u8, usize) {
    static PLACEHOLDER: [u8; 1] = [0];
    if b.is_empty() {
        (PLACEHOLDER.as_ptr(), 0)
    } else {
        (b.as_ptr(), b.len())
    }
}

/// Bounds the `buffer_too_small` retries of [`read_value`]; the second attempt always fits, the bound
/// only guards against a host bug.
const MAX_READ_ATTEMPTS: usize = 4;

/// Runs a read function of the `param` / `params_json` shape (buffer, capacity, length slot) and
/// retries with a buffer of the length the host wrote when it answers `buffer_too_small`.
fn read_value(mut read: impl FnMut(*mut u8, usize, *mut u8) -> i32) -> Result<Vec<u8>, i32> {
    let mut small = [0u8; 256];
    let mut big: Vec<u8> = Vec::new();
    for _ in 0..MAX_READ_ATTEMPTS {
        let mut n = [0u8; 4];
        let (ptr, cap) = if big.is_empty() { (small.as_mut_ptr(), small.len()) } else { (big.as_mut_ptr(), big.len()) };
        let st = read(ptr, cap, n.as_mut_ptr());
        let n = u32::from_le_bytes(n) as usize;
        if st == Status::Ok as i32 && n <= cap {
            let out = if big.is_empty() { small[..n].to_vec() } else { big.truncate(n); big };
            return Ok(out);
        }
        // ok with a length over the buffer is treated as too small
        if st == Status::Ok as i32 || st == Status::BufferTooSmall as i32 {
            big = vec![0u8; n.max(1)];
            continue;
        }
        return Err(st);
    }
    Err(Status::BufferTooSmall as i32)
}

fn into_string(func: &'static str, b: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(b).map_err(|e| Error::sdk(func, Status::Invalid, format!("the host returned text that is not UTF-8: {}", e)))
}

// ---------------------------------------------------------------------------------------------
// JSON output

/// Hands a JSON document to the host with `emit_json`: one complete JSON value, normally an object.
/// A JSON collector delivers one document per invocation. It fails with `too_large`, `over_budget`,
/// `invalid` (not valid JSON), `wrong_state` (a second document) or `wrong_format` (from a CSV
/// collector).
pub fn emit_json(doc: &str) -> Result<(), Error> {
    emit_json_bytes(doc.as_bytes())
}

/// [`emit_json`] for a document already in bytes; the host checks it is UTF-8 and valid JSON.
pub fn emit_json_bytes(doc: &[u8]) -> Result<(), Error> {
    let (p, n) = arg(doc);
    check("emit_json", unsafe { sys::emit_json(p, n) })
}

/// `s` as a JSON string literal, quotes included, for building a document by hand (the crate has
/// no JSON library): `"`, `\` and control characters are escaped, everything else is kept.
///
/// ```
/// assert_eq!(wasmcollector::json_string("a \"b\"\n"), r#""a \"b\"\n""#);
/// ```
pub fn json_string(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

// ---------------------------------------------------------------------------------------------
// Slice, collection type, parameters

/// The time window an invocation collects: rows whose time `t` satisfies `since < t <= until`, in
/// Unix nanoseconds UTC. See `slice_bounds` in hostfuncs/ABI.md.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceInfo {
    /// The exclusive start; `None` for the first collection of a key with no history and no start
    /// given, and for the config collector.
    pub since: Option<i64>,
    /// The inclusive end; set in every gather except for the config collector.
    pub until: Option<i64>,
    /// The host wants the whole full-sync range (upstream `full_sync_interval_days`).
    pub full_sync: bool,
}

impl SliceInfo {
    /// Whether the Unix nanosecond time `t` lies in the slice, treating an unset bound as open.
    pub fn contains(&self, t: i64) -> bool {
        self.since.map_or(true, |s| t > s) && self.until.map_or(true, |u| t <= u)
    }
}

impl fmt::Display for SliceInfo {
    /// `(since, until]` in RFC 3339 with as many fraction digits as needed, `-` for an unset bound,
    /// as the Go SDK prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |b: Option<i64>| b.map_or_else(|| "-".to_string(), rfc3339);
        write!(f, "({}, {}]", bound(self.since), bound(self.until))
    }
}

/// This invocation's time window, read from the host with `slice_bounds`. Without a host it is the
/// default `SliceInfo` (both bounds unset).
pub fn slice() -> SliceInfo {
    let mut rec = [0u8; SLICE_RECORD_SIZE];
    if unsafe { sys::slice_bounds(rec.as_mut_ptr()) } != Status::Ok as i32 {
        return SliceInfo::default();
    }
    decode_slice(&rec)
}

fn decode_slice(rec: &[u8; SLICE_RECORD_SIZE]) -> SliceInfo {
    let i64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&rec[o..o + 8]);
        i64::from_le_bytes(b)
    };
    let mut fb = [0u8; 4];
    fb.copy_from_slice(&rec[16..20]);
    let flags = u32::from_le_bytes(fb);
    SliceInfo {
        since: if flags & SLICE_FLAG_SINCE_SET != 0 { Some(i64_at(0)) } else { None },
        until: if flags & SLICE_FLAG_UNTIL_SET != 0 { Some(i64_at(8)) } else { None },
        full_sync: flags & SLICE_FLAG_FULL_SYNC != 0,
    }
}

/// Why the host runs an invocation, as `collection_type` reports it; the numbers are the ABI's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CollectionType {
    /// `wasmcollector run`, or a gather that ships nothing.
    DryRun = 1,
    /// A gather started by hand.
    Manual = 2,
    /// A gather started by a schedule.
    Scheduled = 3,
}

impl CollectionType {
    /// The type with ABI code `code`; `None` for a code this SDK does not know (0 means no host).
    pub fn from_code(code: i32) -> Option<CollectionType> {
        match code {
            1 => Some(CollectionType::DryRun),
            2 => Some(CollectionType::Manual),
            3 => Some(CollectionType::Scheduled),
            _ => None,
        }
    }

    /// The name the host and the Go SDK use: `"dry-run"`, `"manual"` or `"scheduled"`.
    pub fn name(self) -> &'static str {
        match self {
            CollectionType::DryRun => "dry-run",
            CollectionType::Manual => "manual",
            CollectionType::Scheduled => "scheduled",
        }
    }
}

impl fmt::Display for CollectionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the host runs this invocation: [`CollectionType::DryRun`] (`wasmcollector run`, or a gather
/// that ships nothing), [`CollectionType::Manual`] or [`CollectionType::Scheduled`]; `None` without
/// a host.
pub fn collection_type() -> Option<CollectionType> {
    CollectionType::from_code(unsafe { sys::collection_type() })
}

/// The collector's TOML parameter `name` (from `[collector.params]`) as text: strings as
/// themselves, numbers and booleans as their TOML text (`"42"`, `"1.5"`, `"true"`), dates as RFC
/// 3339, arrays and tables as JSON. `None` when there is no such parameter, when `name` is over
/// 4 KiB, and without a host. A value of any length is read.
pub fn param(name: &str) -> Option<String> {
    let (np, nn) = arg(name.as_bytes());
    let b = read_value(|buf, cap, len_out| unsafe { sys::param(np, nn, buf, cap, len_out) }).ok()?;
    String::from_utf8(b).ok()
}

/// The whole parameter table as one JSON object (`{}` when there are none), read with
/// `params_json`.
pub fn params_json() -> Result<String, Error> {
    match read_value(|buf, cap, len_out| unsafe { sys::params_json(buf, cap, len_out) }) {
        Ok(b) => into_string("params_json", b),
        Err(st) => Err(check("params_json", st).unwrap_err()),
    }
}

// ---------------------------------------------------------------------------------------------
// Logging and failing

/// The severity of a log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    /// `0`
    Debug = 0,
    /// `1`
    Info = 1,
    /// `2`
    Warn = 2,
    /// `3`
    Error = 3,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Sends `msg` to the host's logger at `level`, tagged with the collector key and `source=guest`.
/// Logging never fails a collector: a message over 4 KiB is cut, and once the invocation's log
/// budget (`max_log_bytes`, default 64 KiB) is spent messages are dropped and counted. Without a
/// host it does nothing.
pub fn log(level: Level, msg: &str) {
    let (p, n) = arg(msg.as_bytes());
    unsafe { sys::log(level as i32, p, n) };
}

static FAILED: AtomicBool = AtomicBool::new(false);

/// Records `msg` as the reason this invocation failed (cut to 4 KiB by the host). The invocation is
/// recorded as failed even if the export returns 0; a later call replaces the message. [`run`]
/// calls it for you when the collector returns an error. Without a host it does nothing.
pub fn fail(msg: &str) {
    FAILED.store(true, Ordering::Relaxed);
    let (p, n) = arg(msg.as_bytes());
    unsafe { sys::fail(p, n) };
}

/// Runs a collector and returns what its export must return: `0` on success, `1` on failure.
///
/// `f` returns `Result<(), E>` for any `E: Display`: the SDK's [`Error`], a `String`, your own
/// type, or `Box<dyn std::error::Error>`, into which `?` converts the SDK's errors and ordinary
/// ones alike:
///
/// ```no_run
/// use std::error::Error;
///
/// #[no_mangle]
/// pub extern "C" fn job_events() -> i32 {
///     wasmcollector::run(collect)
/// }
///
/// fn collect() -> Result<(), Box<dyn Error>> {
///     let per_hour: i64 = wasmcollector::param("per_hour").unwrap_or_else(|| "4".into()).parse()?;
///     let mut w = wasmcollector::Csv::new();
///     w.header(&["per_hour"])?;
///     w.field_i64(per_hour);
///     w.end_row()?;
///     w.flush()?;
///     Ok(())
/// }
/// ```
///
/// A closure needs its error type named when nothing else fixes it (a body that ends in `Ok(())`):
/// `wasmcollector::run(|| -> Result<(), wasmcollector::Error> { ...; Ok(()) })`.
///
/// When `f` returns an error, `run` reports its text (its `Display`; see [`Error`]'s) to the host
/// with [`fail`] and returns 1. It also returns 1 when something called [`fail`] during `f`, such as a
/// [`Csv`] writer dropped with rows never sent. A panic cannot be caught (`panic=abort`): it traps and
/// ends the invocation, which the host records as failed; `run` installs a panic hook first that
/// logs the panic at error level and reports `panic: <message> at <file:line:col>` with `fail`
/// before the trap.
///
/// The export's result is not the last word: the host records the invocation as failed whenever it
/// refused output or `fail` was called, even if `run` returns 0 (hostfuncs/ABI.md).
pub fn run<E: fmt::Display, F: FnOnce() -> Result<(), E>>(f: F) -> i32 {
    FAILED.store(false, Ordering::Relaxed);
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(no message)".to_string()
        };
        let msg = match info.location() {
            Some(l) => format!("panic: {} at {}:{}:{}", what, l.file(), l.line(), l.column()),
            None => format!("panic: {}", what),
        };
        log(Level::Error, &msg);
        fail(&msg);
    }));
    match f() {
        Err(e) => {
            let mut msg = e.to_string();
            if msg.is_empty() {
                msg = "collector returned an error with no message".to_string();
            }
            fail(&msg);
            1
        }
        Ok(()) if FAILED.load(Ordering::Relaxed) => 1,
        Ok(()) => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Data sources

/// Runs one read-only statement on the data source `source` (granted to this collector in the
/// TOML) with `db_query` and returns its result as JSON:
/// `{"columns": [{"name": "id", "type": "int"}, …], "rows": [[1, "web-01"], …]}`.
/// Parameters are named `@name` in the SQL; `params_json` is a JSON object of their values
/// (`{"org": 3}`), or `""` for none. The host binds `@since` and `@until` to the slice bounds
/// itself. The error's reason is the host's explanation (from `last_error`). A failed query does not
/// fail the invocation: the collector decides. For big tables use [`stream_csv`].
pub fn query(source: &str, sql: &str, params_json: &str) -> Result<String, Error> {
    let (sp, sn) = arg(source.as_bytes());
    let (qp, qn) = arg(sql.as_bytes());
    let (pp, pn) = arg(params_json.as_bytes());
    let mut len = [0u8; 4];
    let st = unsafe { sys::db_query(sp, sn, qp, qn, pp, pn, len.as_mut_ptr()) };
    data_check("db_query", st)?;
    match read_value(|buf, cap, len_out| unsafe { sys::db_result(buf, cap, len_out) }) {
        Ok(b) => into_string("db_result", b),
        Err(st) => Err(check("db_result", st).unwrap_err()),
    }
}

/// Runs one read-only statement on the data source `source` with `db_stream_csv` and writes its
/// result straight into this collector's CSV output, without passing it through guest memory: the
/// header from the column names, then the rows. Returns the number of rows. If a header is already
/// set the result's must be the same. `params_json` is as for [`query`]. Any failure fails the
/// invocation (rows may have been written).
pub fn stream_csv(source: &str, sql: &str, params_json: &str) -> Result<u64, Error> {
    let (sp, sn) = arg(source.as_bytes());
    let (qp, qn) = arg(sql.as_bytes());
    let (pp, pn) = arg(params_json.as_bytes());
    let mut rows = [0u8; 8];
    let st = unsafe { sys::db_stream_csv(sp, sn, qp, qn, pp, pn, rows.as_mut_ptr()) };
    data_check("db_stream_csv", st)?;
    Ok(u64::from_le_bytes(rows))
}

/// [`stream_csv`] with per-column operations done by the host, given as `spec_json`, a JSON array
/// such as `[{"column": "email", "hash": "sha256", "rename": "email_hash"}, {"column": "password",
/// "drop": true}, {"column": "created", "timestamp": "2006-01-02"}]` (hostfuncs/ABI.md
/// "db_stream_csv_transform"). Values take the forms of [`Csv::copy_row`] on both databases. Any
/// failure, a bad spec included, fails the invocation.
pub fn stream_csv_transform(source: &str, sql: &str, params_json: &str, spec_json: &str) -> Result<u64, Error> {
    let (sp, sn) = arg(source.as_bytes());
    let (qp, qn) = arg(sql.as_bytes());
    let (pp, pn) = arg(params_json.as_bytes());
    let (xp, xn) = arg(spec_json.as_bytes());
    let mut rows = [0u8; 8];
    let st = unsafe { sys::db_stream_csv_transform(sp, sn, qp, qn, pp, pn, xp, xn, rows.as_mut_ptr()) };
    data_check("db_stream_csv_transform", st)?;
    Ok(u64::from_le_bytes(rows))
}

/// [`check`] with the host's reason from `last_error`.
fn data_check(func: &'static str, st: i32) -> Result<(), Error> {
    check(func, st).map_err(|mut e| {
        if e.status != Status::NoHost {
            if let Ok(b) = read_value(|buf, cap, len_out| unsafe { sys::last_error(buf, cap, len_out) }) {
                let why = String::from_utf8_lossy(&b).into_owned();
                e.reason = Some(match e.reason.take() {
                    Some(r) => format!("{} ({})", why, r),
                    None => why,
                });
            }
        }
        e
    })
}

// ---------------------------------------------------------------------------------------------
// Row cursor

/// The type of a column, and of a value in a row (`hostfuncs/ABI.md`, "Row pages"). A value's type
/// can differ from its column's on SQLite; a NULL value is [`Tag::Null`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// NULL (values only).
    Null,
    /// A 64-bit integer.
    Int,
    /// A 64-bit float.
    Float,
    /// UTF-8 text.
    Text,
    /// A boolean.
    Bool,
    /// A timestamp: Unix seconds and nanoseconds, UTC.
    Timestamp,
    /// Raw bytes.
    Bytes,
}

impl Tag {
    fn from_byte(b: u8) -> Option<Tag> {
        Some(match b {
            0 => Tag::Null,
            1 => Tag::Int,
            2 => Tag::Float,
            3 => Tag::Text,
            4 => Tag::Bool,
            5 => Tag::Timestamp,
            6 => Tag::Bytes,
            _ => return None,
        })
    }
}

/// One column of a [`Rows`] result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column's name as the query gives it.
    pub name: String,
    /// Its type.
    pub tag: Tag,
}

/// The size the host fills a page to; a page is at most this plus one row.
pub const ROWS_PAGE_BYTES: usize = 64 << 10;

#[derive(Clone, Copy)]
struct Value {
    tag: Tag,
    off: usize,
    len: usize,
}

/// A query result read row by row, a page of about 64 KiB at a time, without JSON: memory holds one
/// page however many rows there are, and reading a number allocates nothing.
///
/// ```no_run
/// # fn main() -> Result<(), wasmcollector::Error> {
/// let mut rows = wasmcollector::query_rows("awx", "SELECT id, name FROM main_host", "")?;
/// let mut csv = wasmcollector::Csv::new();
/// csv.header(&["id", "name"])?;
/// while let Some(row) = rows.next() {
///     let _id = row.i64(0);
///     let _name = row.str(1); // borrowed until the next row
///     csv.copy_row(&row)?;
/// }
/// if let Some(e) = rows.err() {
///     return Err(e.clone());
/// }
/// csv.flush()
/// # }
/// ```
///
/// One cursor reads at a time: a later [`query_rows`] abandons the earlier one on the host.
pub struct Rows {
    columns: Vec<Column>,
    fetch: fn(&mut Vec<u8>) -> Result<(), Error>,
    page: Vec<u8>,
    pos: usize,
    left: u32,
    values: Vec<Value>,
    err: Option<Error>,
    done: bool,
}

/// Runs one read-only statement (as [`query`], with the same parameters) with `db_query_rows` and
/// returns a cursor over its rows. A failed query does not fail the invocation.
pub fn query_rows(source: &str, sql: &str, params_json: &str) -> Result<Rows, Error> {
    let (sp, sn) = arg(source.as_bytes());
    let (qp, qn) = arg(sql.as_bytes());
    let (pp, pn) = arg(params_json.as_bytes());
    let mut len = [0u8; 4];
    let st = unsafe { sys::db_query_rows(sp, sn, qp, qn, pp, pn, len.as_mut_ptr()) };
    data_check("db_query_rows", st)?;
    let header = match read_value(|buf, cap, len_out| unsafe { sys::db_result(buf, cap, len_out) }) {
        Ok(b) => b,
        Err(st) => return Err(check("db_result", st).unwrap_err()),
    };
    Rows::new(&header, host_page)
}

/// Reads the next page with `db_rows_next` into `buf`, growing it when the host asks.
fn host_page(buf: &mut Vec<u8>) -> Result<(), Error> {
    for _ in 0..MAX_READ_ATTEMPTS {
        let mut n = [0u8; 4];
        let cap = buf.capacity();
        let st = unsafe { sys::db_rows_next(buf.as_mut_ptr(), cap, n.as_mut_ptr()) };
        let n = u32::from_le_bytes(n) as usize;
        if st == Status::BufferTooSmall as i32 {
            buf.clear();
            buf.reserve_exact(n);
            continue;
        }
        data_check("db_rows_next", st)?;
        if n > cap {
            return Err(Error::sdk("db_rows_next", Status::Invalid, "the host claimed a page larger than the buffer".into()));
        }
        // Safety: the host wrote n bytes, within the capacity, at the buffer.
        unsafe { buf.set_len(n) };
        return Ok(());
    }
    Err(Error::sdk("db_rows_next", Status::BufferTooSmall, "the page never fit".into()))
}

fn malformed(what: &str) -> Error {
    Error::sdk("db_rows_next", Status::Invalid, format!("malformed query result: {}", what))
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

impl Rows {
    fn new(header: &[u8], fetch: fn(&mut Vec<u8>) -> Result<(), Error>) -> Result<Rows, Error> {
        if header.len() < 4 {
            return Err(malformed("short header"));
        }
        let n = le_u32(header) as usize;
        let mut b = &header[4..];
        if n > b.len() / 5 {
            return Err(malformed("header claims too many columns"));
        }
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            if b.len() < 5 {
                return Err(malformed("header ends inside a column"));
            }
            let tag = match Tag::from_byte(b[0]) {
                Some(Tag::Null) | None => return Err(malformed("unknown column type")),
                Some(t) => t,
            };
            let l = le_u32(&b[1..]) as usize;
            b = &b[5..];
            if l > b.len() {
                return Err(malformed("header ends inside a column name"));
            }
            columns.push(Column { name: String::from_utf8_lossy(&b[..l]).into_owned(), tag });
            b = &b[l..];
        }
        if !b.is_empty() {
            return Err(malformed("bytes after the header's columns"));
        }
        let values = vec![Value { tag: Tag::Null, off: 0, len: 0 }; n];
        Ok(Rows { columns, fetch, page: Vec::with_capacity(ROWS_PAGE_BYTES + ROWS_PAGE_BYTES / 4), pos: 0, left: 0, values, err: None, done: false })
    }

    /// The result's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The error that ended the rows early, `None` after a complete read. A query that failed
    /// part-way leaves the rows incomplete: return the error rather than ship them.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    fn fail(&mut self, e: Error) -> Option<Row<'_>> {
        self.err = Some(e);
        self.done = true;
        None
    }

    /// Moves to the next row and returns it (borrowed until the next call), or `None` at the end
    /// or on an error ([`Rows::err`]).
    #[allow(clippy::should_implement_trait)] // a lending iterator: a Row borrows the page
    pub fn next(&mut self) -> Option<Row<'_>> {
        if self.done {
            return None;
        }
        while self.left == 0 {
            if self.pos != self.page.len() {
                return self.fail(malformed("bytes after a page's last row"));
            }
            if let Err(e) = (self.fetch)(&mut self.page) {
                return self.fail(e);
            }
            if self.page.is_empty() {
                self.done = true;
                return None;
            }
            if self.page.len() < 4 || le_u32(&self.page) == 0 {
                return self.fail(malformed("page without rows"));
            }
            self.left = le_u32(&self.page);
            self.pos = 4;
        }
        let mut pos = self.pos;
        let end = self.page.len();
        for i in 0..self.values.len() {
            if pos >= end {
                return self.fail(malformed("page ends inside a row"));
            }
            let tag = match Tag::from_byte(self.page[pos]) {
                Some(t) => t,
                None => return self.fail(malformed("unknown value tag")),
            };
            pos += 1;
            let len = match tag {
                Tag::Null => 0,
                Tag::Int | Tag::Float => 8,
                Tag::Bool => 1,
                Tag::Timestamp => 12,
                Tag::Text | Tag::Bytes => {
                    if end - pos < 4 {
                        return self.fail(malformed("page ends inside a row"));
                    }
                    let l = le_u32(&self.page[pos..]) as usize;
                    pos += 4;
                    l
                }
            };
            if end - pos < len {
                return self.fail(malformed("page ends inside a row"));
            }
            self.values[i] = Value { tag, off: pos, len };
            pos += len;
        }
        self.pos = pos;
        self.left -= 1;
        Some(Row { rows: self })
    }
}

/// The current row of a [`Rows`]; the getters take a column index.
pub struct Row<'a> {
    rows: &'a Rows,
}

impl<'a> Row<'a> {
    fn payload(&self, i: usize) -> &'a [u8] {
        let v = self.rows.values[i];
        &self.rows.page[v.off..v.off + v.len]
    }

    /// The number of values (the result's column count).
    pub fn len(&self) -> usize {
        self.rows.values.len()
    }

    /// True for a result without columns.
    pub fn is_empty(&self) -> bool {
        self.rows.values.is_empty()
    }

    /// The type of column `i`'s value ([`Tag::Null`] for NULL).
    pub fn tag(&self, i: usize) -> Tag {
        self.rows.values[i].tag
    }

    /// Whether column `i` is NULL.
    pub fn is_null(&self, i: usize) -> bool {
        self.tag(i) == Tag::Null
    }

    /// An integer; a float truncated, a bool as 0 or 1; `None` for NULL, text, bytes, timestamps.
    pub fn i64(&self, i: usize) -> Option<i64> {
        match self.tag(i) {
            Tag::Int => Some(le_u64(self.payload(i)) as i64),
            Tag::Float => self.f64(i).map(|f| f as i64),
            Tag::Bool => Some((self.payload(i)[0] != 0) as i64),
            _ => None,
        }
    }

    /// A float, or an integer converted; `None` otherwise.
    pub fn f64(&self, i: usize) -> Option<f64> {
        match self.tag(i) {
            Tag::Float => Some(f64::from_bits(le_u64(self.payload(i)))),
            Tag::Int => Some(le_u64(self.payload(i)) as i64 as f64),
            _ => None,
        }
    }

    /// A boolean; `None` for anything else.
    pub fn bool(&self, i: usize) -> Option<bool> {
        match self.tag(i) {
            Tag::Bool => Some(self.payload(i)[0] != 0),
            _ => None,
        }
    }

    /// A timestamp as Unix seconds and nanoseconds (UTC); `None` for anything else.
    pub fn time(&self, i: usize) -> Option<(i64, u32)> {
        match self.tag(i) {
            Tag::Timestamp => {
                let p = self.payload(i);
                Some((le_u64(p) as i64, le_u32(&p[8..])))
            }
            _ => None,
        }
    }

    /// Text or bytes, borrowed from the page; `None` for anything else.
    pub fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        match self.tag(i) {
            Tag::Text | Tag::Bytes => Some(self.payload(i)),
            _ => None,
        }
    }

    /// Text, borrowed from the page; `None` for anything else or bytes that are not UTF-8.
    pub fn str(&self, i: usize) -> Option<&'a str> {
        self.bytes(i).and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does (the Go SDK's form): the
/// shortest digits that read back exactly, in exponent form below 1e-4 and from 1e6 (`1.5`,
/// `1e+06`, `5e-324`, `NaN`, `+Inf`).
pub fn append_go_float(buf: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        return buf.extend_from_slice(b"NaN");
    }
    if v.is_infinite() {
        return buf.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    }
    let e = format!("{:e}", v); // shortest round-trip digits: "-1.2345e-7"
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: Vec<u8> = mant.bytes().filter(|c| *c != b'.').collect();
    if neg {
        buf.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        buf.push(digits[0]);
        if digits.len() > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.push(b'e');
        buf.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a >= 100 {
            buf.push(b'0' + (a / 100) as u8);
        }
        buf.push(b'0' + (a / 10 % 10) as u8);
        buf.push(b'0' + (a % 10) as u8);
    } else if exp < 0 {
        buf.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            buf.push(b'0');
        }
        buf.extend_from_slice(&digits);
    } else {
        let int = exp as usize + 1;
        for k in 0..int {
            buf.push(*digits.get(k).unwrap_or(&b'0'));
        }
        if digits.len() > int {
            buf.push(b'.');
            buf.extend_from_slice(&digits[int..]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSV output

/// Where a [`Csv`] writer sends its output: the host functions, or a recorder in tests.
#[derive(Clone, Copy)]
struct Sink {
    header: fn(&[u8]) -> i32,
    rows: fn(&[u8]) -> i32,
    fail: fn(&str),
}

const HOST_SINK: Sink = Sink {
    header: |b| {
        let (p, n) = arg(b);
        unsafe { sys::csv_header(p, n) }
    },
    rows: |b| {
        let (p, n) = arg(b);
        unsafe { sys::csv_rows(p, n) }
    },
    fail,
};

/// Writes the rows of a CSV collector. The host owns the CSV format: the writer encodes each row as
/// an ABI "field list" (hostfuncs/ABI.md, "Data encodings") and the host quotes and writes it, so a
/// field may hold any UTF-8 text, commas, quotes and newlines included.
///
/// Call [`Csv::header`] once, then add rows with [`Csv::row`] or field by field ([`Csv::field`],
/// [`Csv::field_null`], [`Csv::field_i64`] … then [`Csv::end_row`]), then call [`Csv::flush`] before
/// the collector returns. Rows are buffered up to [`BATCH_SIZE`]. A writer dropped while it still
/// holds rows never sent calls [`fail`], so the invocation is recorded as failed rather than ship a
/// file with rows missing: the writer does not flush for you.
///
/// Errors are sticky: after the first failure every method does nothing and the `Result`-returning
/// ones return that error. A mistake the writer finds itself (a row before the header, a row whose
/// field count differs from the header's) is reported to the host with `fail`, exactly as the host
/// would treat a refused batch.
pub struct Csv {
    sink: Sink,
    limit: usize,
    buf: Vec<u8>,   // encoded complete rows not yet sent, then the open row (if in_row)
    pending: usize, // complete rows in buf
    in_row: bool,   // a row is being built field by field
    row_start: usize,
    row_fields: u32,
    columns: usize, // header field count; 0 until header succeeded
    rows: u64,
    err: Option<Error>,
}

impl Default for Csv {
    fn default() -> Self {
        Csv::new()
    }
}

impl fmt::Debug for Csv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csv").field("columns", &self.columns).field("rows", &self.rows).field("err", &self.err).finish()
    }
}

impl Csv {
    /// A writer for this invocation's CSV output. A collector normally needs one.
    pub fn new() -> Csv {
        Csv::with_sink(HOST_SINK, BATCH_SIZE)
    }

    fn with_sink(sink: Sink, limit: usize) -> Csv {
        Csv { sink, limit, buf: Vec::new(), pending: 0, in_row: false, row_start: 0, row_fields: 0, columns: 0, rows: 0, err: None }
    }

    /// Sets the column names with `csv_header`. It must be called once, before any row; the host
    /// refuses an empty list, an empty or duplicate name and a second header.
    pub fn header(&mut self, names: &[&str]) -> Result<(), Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let mut b = Vec::with_capacity(4 + names.iter().map(|n| 4 + n.len()).sum::<usize>());
        b.extend_from_slice(&(names.len() as u32).to_le_bytes());
        for n in names {
            b.extend_from_slice(&(n.len() as u32).to_le_bytes());
            b.extend_from_slice(n.as_bytes());
        }
        if let Err(e) = check("csv_header", (self.sink.header)(&b)) {
            self.err = Some(e.clone());
            return Err(e);
        }
        self.columns = names.len();
        Ok(())
    }

    /// Adds a row of text fields, copying them into the batch. A field may be empty (written as
    /// `""`) but not NULL: use the field-by-field builder with [`Csv::field_null`] for that. The row
    /// must have as many fields as the header.
    pub fn row(&mut self, fields: &[&str]) -> Result<(), Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        if self.in_row {
            let msg = format!("csv row {}: row called while a row built field by field is open", self.rows + 1);
            return Err(self.abort(Status::WrongState, msg));
        }
        self.begin();
        for f in fields {
            self.push_field(f.as_bytes());
        }
        self.end_row()
    }

    /// Appends a text field to the open row, opening one if needed. The field methods report
    /// nothing; errors surface at [`Csv::end_row`].
    pub fn field(&mut self, s: &str) {
        self.field_bytes(s.as_bytes())
    }

    /// Appends a text field given as bytes (the host refuses bytes that are not UTF-8); empty is
    /// the empty string, not NULL.
    pub fn field_bytes(&mut self, b: &[u8]) {
        if self.err.is_some() {
            return;
        }
        self.open();
        self.push_field(b);
    }

    /// Appends a NULL field, which the host writes as an empty unquoted field (an empty string is
    /// written as `""`), the convention of PostgreSQL's `COPY … CSV`.
    pub fn field_null(&mut self) {
        if self.err.is_some() {
            return;
        }
        self.open();
        self.buf.extend_from_slice(&NULL_FIELD.to_le_bytes());
        self.row_fields += 1;
    }

    /// Appends `Some(s)` as text and `None` as NULL.
    pub fn field_opt(&mut self, v: Option<&str>) {
        match v {
            Some(s) => self.field(s),
            None => self.field_null(),
        }
    }

    /// Appends `v` in decimal.
    pub fn field_i64(&mut self, v: i64) {
        let mut d = [0u8; 20];
        let neg = v < 0;
        let i = put_u64(&mut d, v.unsigned_abs());
        if neg {
            let mut s = [0u8; 21];
            s[0] = b'-';
            let n = 20 - i;
            s[1..=n].copy_from_slice(&d[i..]);
            self.field_bytes(&s[..=n]);
        } else {
            self.field_bytes(&d[i..]);
        }
    }

    /// Appends `v` in decimal.
    pub fn field_u64(&mut self, v: u64) {
        let mut d = [0u8; 20];
        let i = put_u64(&mut d, v);
        self.field_bytes(&d[i..]);
    }

    /// Appends `v` in Rust's shortest form that reads back exactly (`{}`: `1.5`, `1e21` is
    /// `1000000000000000000000`, `NaN`, `inf`). Note that this differs from Go's `FieldFloat` for
    /// very large and very small numbers; format it yourself where that matters.
    pub fn field_f64(&mut self, v: f64) {
        self.field(&v.to_string())
    }

    /// Appends `"true"` or `"false"`.
    pub fn field_bool(&mut self, v: bool) {
        self.field(if v { "true" } else { "false" })
    }

    /// Appends the Unix nanosecond time `unix_nanos` as RFC 3339 in UTC with as many fraction digits
    /// as needed, such as `2025-03-01T12:00:00.25Z` (Go's `time.RFC3339Nano`, as the Go SDK's
    /// `FieldTime`).
    pub fn field_time(&mut self, unix_nanos: i64) {
        if self.err.is_some() {
            return;
        }
        self.open();
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        append_rfc3339(&mut self.buf, unix_nanos.div_euclid(1_000_000_000), unix_nanos.rem_euclid(1_000_000_000) as u32, None);
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
        self.row_fields += 1;
    }

    /// Adds the current row of a [`Rows`] as a CSV row, each value in the Go SDK's form (the forms
    /// `db_stream_csv` writes on SQLite): integers in decimal, floats as [`append_go_float`],
    /// `true`/`false`, timestamps RFC 3339 UTC with the fraction trimmed, text and bytes as they are
    /// (the host refuses bytes that are not UTF-8). Errors as [`Csv::end_row`].
    pub fn copy_row(&mut self, row: &Row<'_>) -> Result<(), Error> {
        for i in 0..row.len() {
            match row.tag(i) {
                Tag::Null => self.field_null(),
                Tag::Int => self.field_i64(row.i64(i).unwrap_or(0)),
                Tag::Bool => self.field_bool(row.bool(i).unwrap_or(false)),
                Tag::Float | Tag::Timestamp => {
                    if self.err.is_some() {
                        continue;
                    }
                    self.open();
                    let at = self.buf.len();
                    self.buf.extend_from_slice(&[0; 4]);
                    if let Some((secs, nanos)) = row.time(i) {
                        append_rfc3339(&mut self.buf, secs, nanos, None);
                    } else {
                        append_go_float(&mut self.buf, row.f64(i).unwrap_or(0.0));
                    }
                    let n = (self.buf.len() - at - 4) as u32;
                    self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
                    self.row_fields += 1;
                }
                Tag::Text | Tag::Bytes => self.field_bytes(row.bytes(i).unwrap_or(&[])),
            }
        }
        self.end_row()
    }

    /// Ends the row built with the field methods and adds it to the batch, sending the batch with
    /// `csv_rows` when the row would push it over [`BATCH_SIZE`]. Called with no open row it adds a
    /// row with no fields, which is refused.
    pub fn end_row(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        if !self.in_row {
            self.begin();
        }
        self.in_row = false;
        let rs = self.row_start;
        self.buf[rs..rs + 4].copy_from_slice(&self.row_fields.to_le_bytes());
        if self.columns == 0 {
            let msg = format!("csv row {} comes before the header", self.rows + 1);
            self.in_row = true;
            return Err(self.abort(Status::WrongState, msg));
        }
        if self.row_fields as usize != self.columns {
            let msg = format!("csv row {} has {} fields, header has {}", self.rows + 1, self.row_fields, self.columns);
            self.in_row = true;
            return Err(self.abort(Status::Invalid, msg));
        }
        self.rows += 1;
        self.pending += 1;
        if self.row_start > 0 && self.buf.len() > self.limit {
            // This row pushes the batch over the limit: send the rows before it, keep it for the next.
            self.send(0, self.row_start)?;
            self.buf.drain(..self.row_start);
            self.row_start = 0;
            self.pending = 1;
        }
        if self.buf.len() >= self.limit {
            // No further row fits (or this row is over the limit on its own): send it now.
            self.send(0, self.buf.len())?;
            self.buf.clear();
            self.pending = 0;
        }
        Ok(())
    }

    /// Sends the rows added so far with `csv_rows`. A collector must call it before it returns. A
    /// row being built field by field is not complete and stays buffered. Returns the writer's
    /// sticky error, or the host's refusal.
    pub fn flush(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let end = if self.in_row { self.row_start } else { self.buf.len() };
        if end == 0 {
            return Ok(());
        }
        self.send(0, end)?;
        self.buf.drain(..end);
        self.row_start = 0;
        self.pending = 0;
        Ok(())
    }

    /// The number of rows accepted so far, sent or still buffered.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The writer's sticky error, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    fn begin(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(self.limit);
        }
        self.in_row = true;
        self.row_start = self.buf.len();
        self.row_fields = 0;
        self.buf.extend_from_slice(&[0; 4]);
    }

    fn open(&mut self) {
        if !self.in_row {
            self.begin();
        }
    }

    fn push_field(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(b);
        self.row_fields += 1;
    }

    fn send(&mut self, from: usize, to: usize) -> Result<(), Error> {
        if let Err(e) = check("csv_rows", (self.sink.rows)(&self.buf[from..to])) {
            self.err = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }

    /// Records a mistake the writer found itself, drops the open row and tells the host, so the
    /// invocation fails as it would had the host refused the batch.
    fn abort(&mut self, status: Status, reason: String) -> Error {
        if self.in_row {
            self.buf.truncate(self.row_start);
            self.in_row = false;
        }
        let e = Error::sdk("csv_rows", status, reason);
        (self.sink.fail)(&e.to_string());
        self.err = Some(e.clone());
        e
    }
}

impl Drop for Csv {
    /// A writer dropped with rows (or a started row) never sent fails the invocation with `fail`.
    fn drop(&mut self) {
        if self.err.is_some() || (self.pending == 0 && !self.in_row) {
            return;
        }
        let msg = match self.pending {
            0 => "wasmcollector: csv writer dropped with an unfinished row: call end_row and flush before returning".to_string(),
            1 => "wasmcollector: csv writer dropped with 1 row that was never sent: call flush before returning".to_string(),
            n => format!("wasmcollector: csv writer dropped with {} rows that were never sent: call flush before returning", n),
        };
        (self.sink.fail)(&msg);
    }
}

/// Writes `v` in decimal at the end of `d` and returns the index of its first digit.
fn put_u64(d: &mut [u8; 20], mut v: u64) -> usize {
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return i;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Time formatting

/// The proleptic Gregorian date `(year, month 1–12, day 1–31)` of `days` since 1970-01-01
/// (Howard Hinnant's civil_from_days; exact for every `i64` day count that fits the arithmetic,
/// including days before 1970).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Appends the time `unix_secs` + `nanos` (0 ≤ nanos < 1e9) as RFC 3339 in UTC, the way Go's
/// `time.Format` writes it: a four-digit year (more digits and a `-` sign when needed),
/// `2025-03-01T12:00:06`, then the fraction, then `Z`. `fraction_digits` `None` writes as many
/// fraction digits as needed and none for a whole second (Go's `time.RFC3339Nano`); `Some(n)` writes
/// exactly `n` digits (at most 9), truncated, and no dot for `Some(0)`.
pub fn append_rfc3339(buf: &mut Vec<u8>, unix_secs: i64, nanos: u32, fraction_digits: Option<usize>) {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    if year < 0 {
        buf.push(b'-');
    }
    append_padded(buf, year.unsigned_abs(), 4);
    buf.push(b'-');
    append_padded(buf, month as u64, 2);
    buf.push(b'-');
    append_padded(buf, day as u64, 2);
    buf.push(b'T');
    append_padded(buf, (secs / 3600) as u64, 2);
    buf.push(b':');
    append_padded(buf, (secs / 60 % 60) as u64, 2);
    buf.push(b':');
    append_padded(buf, (secs % 60) as u64, 2);
    let mut frac = [0u8; 9];
    let mut v = nanos % 1_000_000_000;
    for d in frac.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let n = match fraction_digits {
        Some(n) => n.min(9),
        None => 9 - frac.iter().rev().take_while(|&&d| d == b'0').count(),
    };
    if n > 0 {
        buf.push(b'.');
        buf.extend_from_slice(&frac[..n]);
    }
    buf.push(b'Z');
}

/// The Unix nanosecond time `unix_nanos` as RFC 3339 in UTC with as many fraction digits as needed,
/// such as `2026-11-25T00:00:00Z` or `2025-03-01T12:00:00.25Z` (Go's `time.RFC3339Nano`).
pub fn rfc3339(unix_nanos: i64) -> String {
    let mut b = Vec::with_capacity(30);
    append_rfc3339(&mut b, unix_nanos.div_euclid(1_000_000_000), unix_nanos.rem_euclid(1_000_000_000) as u32, None);
    String::from_utf8(b).expect("ASCII")
}

/// Appends `v` in decimal, zero-padded to `width` digits.
fn append_padded(buf: &mut Vec<u8>, v: u64, width: usize) {
    let mut d = [0u8; 20];
    let i = put_u64(&mut d, v);
    for _ in (20 - i)..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&d[i..]);
}

// ---------------------------------------------------------------------------------------------
// Tests of the pure logic, on the build machine: cargo test (RUSTC=/usr/bin/rustc works).

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn rfc3339_matches_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_800_000_000_000), "2026-11-25T00:00:00Z");
        assert_eq!(rfc3339(1_740_830_400_250_000_000), "2025-03-01T12:00:00.25Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(rfc3339(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        let mut b = Vec::new();
        append_rfc3339(&mut b, 1_740_830_406, 0, Some(6));
        assert_eq!(b, b"2025-03-01T12:00:06.000000Z");
        b.clear();
        append_rfc3339(&mut b, -62_167_219_200 - 86_400, 0, Some(0)); // the day before 0000-01-01
        assert_eq!(b, b"-0001-12-31T00:00:00Z");
        b.clear();
        append_rfc3339(&mut b, 253_402_300_800, 0, None); // 10000-01-01
        assert_eq!(b, b"10000-01-01T00:00:00Z");
    }

    #[test]
    fn civil_round_trip() {
        // Every day from 1600 to 2400 follows the previous one.
        let mut prev = civil_from_days(-135_140 - 1);
        for d in -135_140..157_000 {
            let (y, m, dd) = civil_from_days(d);
            let (py, pm, pd) = prev;
            let next_ok = (y == py && m == pm && dd == pd + 1) || (y == py && m == pm + 1 && dd == 1) || (y == py + 1 && m == 1 && dd == 1 && pm == 12);
            assert!(next_ok, "{} -> {:?} after {:?}", d, (y, m, dd), prev);
            prev = (y, m, dd);
        }
    }

    #[test]
    fn slice_decoding() {
        let mut rec = [0u8; SLICE_RECORD_SIZE];
        rec[0..8].copy_from_slice(&5i64.to_le_bytes());
        rec[8..16].copy_from_slice(&(-7i64).to_le_bytes());
        rec[16..20].copy_from_slice(&(SLICE_FLAG_UNTIL_SET | SLICE_FLAG_FULL_SYNC).to_le_bytes());
        assert_eq!(decode_slice(&rec), SliceInfo { since: None, until: Some(-7), full_sync: true });
        let s = SliceInfo { since: Some(0), until: Some(3_600_000_000_000), full_sync: false };
        assert_eq!(s.to_string(), "(1970-01-01T00:00:00Z, 1970-01-01T01:00:00Z]");
        assert!(!s.contains(0) && s.contains(1) && s.contains(3_600_000_000_000));
    }

    thread_local! {
        static CALLS: RefCell<Vec<(String, Vec<u8>)>> = RefCell::new(Vec::new());
    }

    fn rec(kind: &str, b: &[u8]) -> i32 {
        CALLS.with(|c| c.borrow_mut().push((kind.to_string(), b.to_vec())));
        0
    }

    const REC: Sink = Sink {
        header: |b| rec("header", b),
        rows: |b| rec("rows", b),
        fail: |m| {
            rec("fail", m.as_bytes());
        },
    };

    fn take() -> Vec<(String, Vec<u8>)> {
        CALLS.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }

    fn row(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = (fields.len() as u32).to_le_bytes().to_vec();
        for f in fields {
            match f {
                Some(f) => {
                    b.extend_from_slice(&(f.len() as u32).to_le_bytes());
                    b.extend_from_slice(f);
                }
                None => b.extend_from_slice(&NULL_FIELD.to_le_bytes()),
            }
        }
        b
    }

    #[test]
    fn csv_encoding_and_batching() {
        take();
        let mut w = Csv::with_sink(REC, 40);
        w.header(&["a", "b"]).unwrap();
        w.row(&["x", ""]).unwrap();
        w.field_i64(-12);
        w.field_null();
        w.end_row().unwrap();
        w.field_time(1_740_830_400_250_000_000);
        w.field_bool(true);
        w.end_row().unwrap(); // pushes the batch over 40 bytes: the first two rows go
        w.flush().unwrap();
        assert_eq!(w.rows(), 3);
        let calls = take();
        assert_eq!(calls[0], ("header".to_string(), row(&[Some(b"a"), Some(b"b")])));
        let mut first = row(&[Some(b"x"), Some(b"")]);
        first.extend(row(&[Some(b"-12"), None]));
        assert_eq!(calls[1], ("rows".to_string(), first));
        assert_eq!(calls[2], ("rows".to_string(), row(&[Some(b"2025-03-01T12:00:00.25Z"), Some(b"true")])));
        assert_eq!(calls.len(), 3);
        drop(w);
        assert!(take().is_empty(), "a flushed writer fails nothing when dropped");
    }

    #[test]
    fn csv_mistakes_fail() {
        take();
        let mut w = Csv::with_sink(REC, BATCH_SIZE);
        let e = w.row(&["x"]).unwrap_err();
        assert_eq!(e.status, Status::WrongState);
        assert_eq!(e.to_string(), "wasmcollector: csv_rows: wrong_state: csv row 1 comes before the header");
        assert_eq!(w.header(&["a"]).unwrap_err(), e, "errors are sticky");
        let calls = take();
        assert_eq!(calls, vec![("fail".to_string(), e.to_string().into_bytes())]);

        let mut w = Csv::with_sink(REC, BATCH_SIZE);
        w.header(&["a", "b"]).unwrap();
        let e = w.row(&["x"]).unwrap_err();
        assert_eq!(e.to_string(), "wasmcollector: csv_rows: invalid: csv row 1 has 1 fields, header has 2");
        take();

        let mut w = Csv::with_sink(REC, BATCH_SIZE);
        w.header(&["a"]).unwrap();
        w.row(&["x"]).unwrap();
        w.row(&["y"]).unwrap();
        drop(w);
        let calls = take();
        assert_eq!(calls.last().unwrap().1, b"wasmcollector: csv writer dropped with 2 rows that were never sent: call flush before returning".to_vec());
    }

    #[test]
    fn collection_types() {
        for t in [CollectionType::DryRun, CollectionType::Manual, CollectionType::Scheduled] {
            assert_eq!(CollectionType::from_code(t as i32), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(CollectionType::from_code(0), None, "no host");
        assert_eq!(CollectionType::from_code(4), None);
        assert_eq!(CollectionType::from_code(-1), None);
        assert_eq!(CollectionType::DryRun.name(), "dry-run");
    }

    #[test]
    fn errors_display() {
        assert_eq!(Error::new("job_events: bad").to_string(), "job_events: bad");
        assert_eq!(check("csv_rows", 3).unwrap_err().to_string(), "wasmcollector: csv_rows: over_budget");
        assert_eq!(check("log", 42).unwrap_err().to_string(), "wasmcollector: log: unknown: status code 42");
        assert!(emit_json("{}").unwrap_err().is_no_host());
        assert_eq!(param("x"), None);
        assert_eq!(collection_type(), None);
        assert_eq!(slice(), SliceInfo::default());
        for code in 0..10 {
            assert_eq!(Status::from_code(code) as i32, code);
        }
    }

    #[test]
    fn go_float_form() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"), (1e6, "1e+06"), (123456.0, "123456"), (0.0001, "0.0001"), (0.00001, "1e-05"),
            (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (-0.5, "-0.5"),
            (0.0, "0"), (-0.0, "-0"), (100.0, "100"), (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"), (f64::INFINITY, "+Inf"), (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            let mut b = Vec::new();
            append_go_float(&mut b, *v);
            assert_eq!(String::from_utf8(b).unwrap(), *want, "{}", v);
        }
    }

    thread_local! {
        static PAGES: std::cell::RefCell<Vec<Vec<u8>>> = std::cell::RefCell::new(Vec::new());
    }

    fn test_pages(buf: &mut Vec<u8>) -> Result<(), Error> {
        buf.clear();
        PAGES.with(|p| {
            let mut p = p.borrow_mut();
            if !p.is_empty() {
                buf.extend_from_slice(&p.remove(0));
            }
        });
        Ok(())
    }

    #[test]
    fn rows_decode() {
        let mut header = 2u32.to_le_bytes().to_vec();
        header.extend_from_slice(&[1, 2, 0, 0, 0, b'i', b'd', 3, 4, 0, 0, 0]);
        header.extend_from_slice(b"name");
        let mut page = 2u32.to_le_bytes().to_vec();
        page.push(1);
        page.extend_from_slice(&(-7i64).to_le_bytes());
        page.extend_from_slice(&[3, 3, 0, 0, 0, b'a', b',', b'b']);
        page.push(0);
        page.push(0);
        PAGES.with(|p| *p.borrow_mut() = vec![page.clone()]);
        let mut rows = Rows::new(&header, test_pages).unwrap();
        assert_eq!(rows.columns()[1], Column { name: "name".into(), tag: Tag::Text });
        let row = rows.next().unwrap();
        assert_eq!((row.i64(0), row.str(1)), (Some(-7), Some("a,b")));
        let row = rows.next().unwrap();
        assert!(row.is_null(0) && row.is_null(1));
        assert!(rows.next().is_none());
        assert!(rows.err().is_none());

        // A page cut inside a row is an error, not a panic.
        PAGES.with(|p| *p.borrow_mut() = vec![page[..page.len() - 1].to_vec()]);
        let mut rows = Rows::new(&header, test_pages).unwrap();
        assert!(rows.next().is_some());
        assert!(rows.next().is_none());
        assert_eq!(rows.err().unwrap().status, Status::Invalid);
        assert!(Rows::new(&header[..header.len() - 1], test_pages).is_err());
    }
}
