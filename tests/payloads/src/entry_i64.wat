;; An i64 result: Teaclave reports its low 32 bits.
(module
  (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32) (result i64) (i64.const 0x100000005)))
