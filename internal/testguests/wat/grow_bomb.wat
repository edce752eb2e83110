;; grow_bomb.wat: grows memory one page at a time until the limit refuses, then traps.
(module
  (memory (export "memory") 1)
  (func (export "grow_bomb") (result i32)
    (loop $again
      (br_if $again (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))
