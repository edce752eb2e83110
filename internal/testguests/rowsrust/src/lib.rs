//! The Rust port of dbprobe's rows export: parameter sql on parameter source read with the row
//! cursor, every row copied into the CSV output.

use wasmcollector::{param, query_rows, Csv, Error};

#[no_mangle]
pub extern "C" fn rows() -> i32 {
    wasmcollector::run(|| {
        let source = param("source").ok_or_else(|| Error::new("rows: parameter source is required"))?;
        let sql = param("sql").ok_or_else(|| Error::new("rows: parameter sql is required"))?;
        let mut rows = query_rows(&source, &sql, "")?;
        let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut csv = Csv::new();
        csv.header(&names)?;
        while let Some(row) = rows.next() {
            csv.copy_row(&row)?;
        }
        if let Some(e) = rows.err() {
            return Err(e.clone());
        }
        csv.flush()
    })
}
