;; chatty.wat: a well-behaved CSV collector that talks: every invocation logs the same info line
;; and the same warning, then writes a header and one row "a". For the tests of what
;; `gather --scheduled` prints (nothing on success, each warning once per run).
;; Data: 0 = one-column header/row "a" (9 B); 16 = the info line (24 B); 48 = the warning (28 B).
(module
  (import "wasmcollector_v1" "csv_header" (func $csv_header (param i32 i32) (result i32)))
  (import "wasmcollector_v1" "csv_rows" (func $csv_rows (param i32 i32) (result i32)))
  (import "wasmcollector_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\00\00\00\01\00\00\00a")
  (data (i32.const 16) "chatty: one row collected")
  (data (i32.const 48) "chatty: column a is obsolete")
  (func (export "chatty_csv") (result i32)
    (drop (call $log (i32.const 1) (i32.const 16) (i32.const 25)))
    (drop (call $log (i32.const 2) (i32.const 48) (i32.const 28)))
    (drop (call $csv_header (i32.const 0) (i32.const 9)))
    (call $csv_rows (i32.const 0) (i32.const 9))))
