;; table_huge.wat: declares a table of two million entries at start (16 MB of host memory before
;; any code runs); the loader refuses it.
(module
  (memory (export "memory") 1)
  (table 2000000 funcref)
  (func (export "collect") (result i32) (i32.const 0)))
