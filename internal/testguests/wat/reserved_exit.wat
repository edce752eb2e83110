;; reserved_exit.wat: proc_exit with the codes wazero uses for "context cancelled" (0xffffffff)
;; and "deadline exceeded" (0xefffffff): the host must report an exit, not a timeout.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "exit_canceled") (result i32) (call $exit (i32.const -1)) (i32.const 0))
  (func (export "exit_deadline") (result i32) (call $exit (i32.const 0xefffffff)) (i32.const 0)))
