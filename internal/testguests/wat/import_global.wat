;; import_global.wat: imports a global; the host provides none.
(module
  (import "env" "secret" (global i32))
  (memory (export "memory") 1)
  (func (export "collect") (result i32) (global.get 0)))
