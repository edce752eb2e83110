;; bad_export.wat: the collector export takes a parameter, so the host cannot call it.
(module
  (memory (export "memory") 1)
  (func (export "collect") (param i32) (result i32) (i32.const 0)))
