;; spin.wat: an infinite loop that never calls the host; only the deadline stops it.
(module
  (memory (export "memory") 1)
  (func (export "spin") (result i32) (loop $forever (br $forever)) (i32.const 0)))
