;; command.wat: a WASI command (exports _start), which exits when main returns.
(module
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "collect") (result i32) (i32.const 0)))
