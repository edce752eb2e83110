;; pointers.wat: every host function called with a pointer outside memory (oob_*) and with a huge
;; length (huge_*). Each export returns the status it got. Memory is one 64 KiB page.
;; Data: 0 = {"a":1} (7 B); 16 = one-column header/row "a" (9 B); 32 = param name "p" (1 B).
(module
  (import "wasmcollector_v1" "emit_json" (func $emit_json (param i32 i32) (result i32)))
  (import "wasmcollector_v1" "csv_header" (func $csv_header (param i32 i32) (result i32)))
  (import "wasmcollector_v1" "csv_rows" (func $csv_rows (param i32 i32) (result i32)))
  (import "wasmcollector_v1" "slice_bounds" (func $slice_bounds (param i32) (result i32)))
  (import "wasmcollector_v1" "param" (func $param (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasmcollector_v1" "params_json" (func $params_json (param i32 i32 i32) (result i32)))
  (import "wasmcollector_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "wasmcollector_v1" "fail" (func $fail (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"a\":1}")
  (data (i32.const 16) "\01\00\00\00\01\00\00\00a")
  (data (i32.const 32) "p")
  (func (export "ok") (result i32) (call $emit_json (i32.const 0) (i32.const 7)))
  (func (export "ok_csv") (result i32)
    (drop (call $csv_header (i32.const 16) (i32.const 9)))
    (call $csv_rows (i32.const 16) (i32.const 9)))

  (func (export "oob_emit_json") (result i32) (call $emit_json (i32.const 0xfffffff0) (i32.const 100)))
  (func (export "edge_emit_json") (result i32) (call $emit_json (i32.const 65530) (i32.const 7)))
  (func (export "huge_emit_json") (result i32) (call $emit_json (i32.const 0) (i32.const 0x7fffffff)))

  (func (export "oob_csv_header") (result i32) (call $csv_header (i32.const 0xfffffff0) (i32.const 9)))
  (func (export "huge_csv_header") (result i32) (call $csv_header (i32.const 16) (i32.const 0x7fffffff)))

  (func (export "oob_csv_rows") (result i32)
    (drop (call $csv_header (i32.const 16) (i32.const 9)))
    (call $csv_rows (i32.const 0xfffffff0) (i32.const 9)))
  (func (export "huge_csv_rows") (result i32)
    (drop (call $csv_header (i32.const 16) (i32.const 9)))
    (call $csv_rows (i32.const 16) (i32.const 0x7fffffff)))

  (func (export "oob_slice_bounds") (result i32) (call $slice_bounds (i32.const 0xfffffff0)))
  (func (export "edge_slice_bounds") (result i32) (call $slice_bounds (i32.const 65520)))

  (func (export "oob_param_name") (result i32)
    (call $param (i32.const 0xfffffff0) (i32.const 1) (i32.const 100) (i32.const 64) (i32.const 200)))
  (func (export "huge_param_name") (result i32)
    (call $param (i32.const 32) (i32.const 0x7fffffff) (i32.const 100) (i32.const 64) (i32.const 200)))
  (func (export "oob_param_buf") (result i32)
    (call $param (i32.const 32) (i32.const 1) (i32.const 0xfffffff0) (i32.const 64) (i32.const 200)))
  (func (export "huge_param_buf") (result i32)
    (call $param (i32.const 32) (i32.const 1) (i32.const 65533) (i32.const 0x7fffffff) (i32.const 200)))
  (func (export "oob_param_len") (result i32)
    (call $param (i32.const 32) (i32.const 1) (i32.const 100) (i32.const 64) (i32.const 0xfffffff0)))

  (func (export "oob_params_json") (result i32)
    (call $params_json (i32.const 0xfffffff0) (i32.const 64) (i32.const 200)))
  (func (export "huge_params_json") (result i32)
    (call $params_json (i32.const 65534) (i32.const 0x7fffffff) (i32.const 200)))
  (func (export "oob_params_json_len") (result i32)
    (call $params_json (i32.const 100) (i32.const 64) (i32.const 0xfffffff0)))

  (func (export "oob_log") (result i32) (call $log (i32.const 1) (i32.const 0xfffffff0) (i32.const 10)))
  (func (export "huge_log") (result i32) (call $log (i32.const 1) (i32.const 0) (i32.const 0x7fffffff)))

  (func (export "oob_fail") (result i32) (call $fail (i32.const 0xfffffff0) (i32.const 10)))
  (func (export "huge_fail") (result i32) (call $fail (i32.const 0) (i32.const 0x7fffffff)))
)
