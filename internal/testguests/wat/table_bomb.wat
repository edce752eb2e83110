;; table_bomb.wat: grows a table a million entries at a time until the host refuses, then traps.
;; Without a cap wazero would grow it until the host process runs out of memory (tables are Go
;; slices, not linear memory). `ignore_refusal` keeps asking after the refusals, so only the
;; deadline ends it.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "table_bomb") (result i32)
    (loop $again
      (br_if $again (i32.ne (table.grow $t (ref.null func) (i32.const 1048576)) (i32.const -1))))
    unreachable)
  (func (export "ignore_refusal") (result i32)
    (loop $again
      (drop (table.grow $t (ref.null func) (i32.const 1048576)))
      (br $again))
    (i32.const 0)))
