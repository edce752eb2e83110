;; vendor_exports.wat: a vendor's module with two collector functions, config and jobs, beside
;; exports a collector cannot call and a message listing the module's collector functions must
;; leave out: _initialize, a toolchain internal of the collector type (__internal), and a helper
;; taking a parameter. Data: 0 = {"a":1} (7 B).
(module
  (import "wasmcollector_v1" "emit_json" (func $emit_json (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"a\":1}")
  (func (export "_initialize"))
  (func (export "__internal") (result i32) (i32.const 0))
  (func (export "helper") (param i32) (result i32) (i32.const 0))
  (func (export "config") (result i32) (call $emit_json (i32.const 0) (i32.const 7)))
  (func (export "jobs") (result i32) (call $emit_json (i32.const 0) (i32.const 7))))
