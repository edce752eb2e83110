;; unknown_import.wat: imports a function the host does not provide.
(module
  (import "env" "steal_secrets" (func $steal (result i32)))
  (memory (export "memory") 1)
  (func (export "collect") (result i32) (call $steal)))
