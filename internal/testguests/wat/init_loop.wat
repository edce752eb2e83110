;; init_loop.wat: a reactor whose _initialize never returns; the deadline covers initialisation.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "collect") (result i32) (i32.const 0)))
