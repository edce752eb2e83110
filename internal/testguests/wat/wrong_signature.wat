;; wrong_signature.wat: imports emit_json with the wrong type, and exports a collector with one.
(module
  (import "wasmcollector_v1" "emit_json" (func $emit (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "collect") (param i32) (result i32) (call $emit (i64.const 0))))
