;; data_segments.wat: active data segments in the shapes the loader merges (adjacent, small gaps,
;; out of order) and one it keeps apart (a gap over 256 bytes). `sum` folds the first 2 KiB of
;; memory into one number, so two instances with different memory give different sums.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "abc")
  (data (i32.const 0) "0123456789")
  (data (i32.const 19) "def")
  (data (i32.const 100) "\ff\fe\fd")
  (data (i32.const 1500) "far away")
  (func (export "sum") (result i32)
    (local $i i32) (local $acc i32)
    (loop $next
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 2048))))
    (local.get $acc)))
