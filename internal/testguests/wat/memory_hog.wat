;; memory_hog.wat: declares 40,000 pages (2.4 GiB) of initial memory, over any sane limit.
(module
  (memory (export "memory") 40000)
  (func (export "hog") (result i32) (i32.const 0)))
