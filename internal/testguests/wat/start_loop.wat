;; start_loop.wat: a wasm start function that never returns; it runs at instantiation.
(module
  (memory (export "memory") 1)
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "collect") (result i32) (i32.const 0)))
