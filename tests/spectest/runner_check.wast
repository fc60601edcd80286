;; Checks the spec-suite runner itself (tests/test_spectest.py): every
;; assertion marked "FAILS" is wrong on purpose and must be counted as failed.
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "neg64") (param f64) (result f64) (f64.neg (local.get 0)))
  (func (export "pair") (result i32 i64) (i32.const 1) (i64.const -1))
  (func $loop (export "loop") (call $loop))
)
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const -1) (i32.const 0)) (i32.const 0xffffffff))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))            ;; FAILS
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div" (i32.const 1) (i32.const 1)) "integer divide by zero")   ;; FAILS
(assert_return (invoke "nan") (f32.const nan:arithmetic))
(assert_return (invoke "nan") (f32.const 0))                                        ;; FAILS
(assert_return (invoke "neg64" (f64.const nan:0x4000000000000)) (f64.const -nan:0x4000000000000))
(assert_return (invoke "pair") (i32.const 1) (i64.const -1))
(assert_exhaustion (invoke "loop") "call stack exhausted")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")          ;; FAILS
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
(assert_malformed (module quote "(func") "unexpected end")                         ;; text: not runnable
(module $other (func (export "seven") (result i32) (i32.const 7)))
(register "other" $other)
(assert_unlinkable (module (import "other" "missing" (func))) "unknown import")
(assert_return (invoke $other "seven") (i32.const 7))
