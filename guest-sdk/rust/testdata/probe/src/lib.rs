//! A test guest for guest-sdk/rust/rust_test.go: each export exercises one behaviour of the Rust
//! SDK through the real host.

use std::fmt;

use wasmcollector::{json_string, Csv, Error, Level};

/// Returns an error the collector raises itself: its message must reach the host unchanged.
#[no_mangle]
pub extern "C" fn fails() -> i32 {
    wasmcollector::run(|| Err(Error::new("probe: it failed, \"on purpose\"")))
}

/// Fails with an ordinary error through `?`: run takes any error that implements Display.
#[no_mangle]
pub extern "C" fn ordinary_error() -> i32 {
    wasmcollector::run(parse_n)
}

/// Emits `{"n": N}` for the parameter n; `?` converts both the parse error and the SDK's errors.
fn parse_n() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = wasmcollector::param("n").unwrap_or_default().parse()?;
    wasmcollector::emit_json(&format!(r#"{{"n":{}}}"#, n))?;
    Ok(())
}

/// An error type of the collector's own that is Display and nothing else.
struct Refused {
    code: u32,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probe: refused with code {}", self.code)
    }
}

/// Fails with the collector's own Display type.
#[no_mangle]
pub extern "C" fn display_error() -> i32 {
    wasmcollector::run(|| Err(Refused { code: 7 }))
}

/// Panics: the hook reports the message with fail, then the module traps.
#[no_mangle]
pub extern "C" fn panics() -> i32 {
    wasmcollector::run(|| -> Result<(), Error> {
        let v: Vec<i64> = wasmcollector::param("values").map(|_| vec![1]).unwrap_or_default();
        if v.is_empty() {
            panic!("probe: boom {}", 42);
        }
        Ok(())
    })
}

/// Drops a CSV writer that holds rows never sent.
#[no_mangle]
pub extern "C" fn unflushed() -> i32 {
    wasmcollector::run(|| -> Result<(), Error> {
        let mut w = Csv::new();
        w.header(&["a"])?;
        w.row(&["x"])?;
        w.row(&["y"])?;
        Ok(())
    })
}

/// Adds a row with the wrong field count: the SDK finds it itself.
#[no_mangle]
pub extern "C" fn mistake() -> i32 {
    wasmcollector::run(|| {
        let mut w = Csv::new();
        w.header(&["a", "b"])?;
        w.row(&["x"])?;
        w.flush()
    })
}

/// Emits two JSON documents: the host refuses the second (wrong_state).
#[no_mangle]
pub extern "C" fn second_doc() -> i32 {
    wasmcollector::run(|| {
        wasmcollector::emit_json("{}")?;
        wasmcollector::emit_json("{}")
    })
}

/// Writes CSV from a JSON collector: the host refuses the header (wrong_format).
#[no_mangle]
pub extern "C" fn wrong_format() -> i32 {
    wasmcollector::run(|| {
        let mut w = Csv::new();
        w.header(&["a"])
    })
}

/// Emits what the SDK reads from the host: slice, collection type, parameters.
#[no_mangle]
pub extern "C" fn info() -> i32 {
    wasmcollector::run(|| {
        let s = wasmcollector::slice();
        let opt = |v: Option<i64>| v.map_or_else(|| "null".to_string(), |n| json_string(&wasmcollector::rfc3339(n)));
        let long = wasmcollector::param("long").unwrap_or_default();
        wasmcollector::log(Level::Debug, "probe: info");
        let doc = format!(
            r#"{{"since":{},"until":{},"full_sync":{},"slice":{},"collection_type":{},"name":{},"long_len":{},"missing":{},"params":{}}}"#,
            opt(s.since),
            opt(s.until),
            s.full_sync,
            json_string(&s.to_string()),
            json_string(wasmcollector::collection_type().map_or("", |t| t.name())),
            json_string(&wasmcollector::param("name").unwrap_or_default()),
            long.len(),
            wasmcollector::param("missing").is_none(),
            wasmcollector::params_json()?,
        );
        wasmcollector::emit_json(&doc)
    })
}

/// Every field type of the CSV writer, NULL and empty strings, text the host must quote.
#[no_mangle]
pub extern "C" fn fields() -> i32 {
    wasmcollector::run(|| {
        let mut w = Csv::new();
        w.header(&["text", "null", "empty", "i64", "u64", "bool", "time", "opt"])?;
        w.field("a, \"quoted\"\nline");
        w.field_null();
        w.field("");
        w.field_i64(i64::MIN);
        w.field_u64(u64::MAX);
        w.field_bool(false);
        w.field_time(1_740_830_400_250_000_000);
        w.field_opt(None);
        w.end_row()?;
        w.row(&["ü", "x", "", "-1", "0", "true", "y", "z"])?;
        w.flush()
    })
}

/// Reads a table with db_query / db_result and emits the result JSON as it came.
#[no_mangle]
pub extern "C" fn query() -> i32 {
    wasmcollector::run(|| {
        let res = wasmcollector::query("db", "SELECT id, name FROM t WHERE id > @after ORDER BY id", r#"{"after": 1}"#)?;
        wasmcollector::emit_json(&res)
    })
}

/// Streams a table into the CSV output with db_stream_csv and logs the row count.
#[no_mangle]
pub extern "C" fn stream() -> i32 {
    wasmcollector::run(|| -> Result<(), Error> {
        let n = wasmcollector::stream_csv("db", "SELECT id, name FROM t ORDER BY id", "")?;
        wasmcollector::log(Level::Warn, &format!("probe: streamed {} rows", n));
        Ok(())
    })
}

/// Runs bad SQL: the error carries the host's reason from last_error.
#[no_mangle]
pub extern "C" fn bad_sql() -> i32 {
    wasmcollector::run(|| wasmcollector::query("db", "SELEC nonsense", "").map(|_| ()))
}
