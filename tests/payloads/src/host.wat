;; host.wat -- calls host functions registered by the embedder under "env".
;; Each call_* export forwards its arguments to the matching import and
;; returns the import's result unchanged.
(module
  (import "env" "h_add"  (func $h_add  (param i32 i32) (result i32)))
  (import "env" "h_buf"  (func $h_buf  (param i32 i32) (result i32))) ;; ptr, len
  (import "env" "h_str"  (func $h_str  (param i32) (result i32)))     ;; NUL-terminated string
  (import "env" "h_ptr"  (func $h_ptr  (param i32) (result i32)))     ;; lone pointer
  (import "env" "h_i64"  (func $h_i64  (param i64) (result i64)))
  (import "env" "h_f32"  (func $h_f32  (param f32) (result f32)))
  (import "env" "h_f64"  (func $h_f64  (param f64) (result f64)))
  (import "env" "h_void" (func $h_void))

  (memory (export "memory") 1)
  (data (i32.const 16) "hello\00")
  (data (i32.const 32) "world")

  (func (export "call_add") (param i32 i32) (result i32)
    (call $h_add (local.get 0) (local.get 1)))
  (func (export "call_buf") (param i32 i32) (result i32)
    (call $h_buf (local.get 0) (local.get 1)))
  (func (export "call_str") (param i32) (result i32)
    (call $h_str (local.get 0)))
  (func (export "call_ptr") (param i32) (result i32)
    (call $h_ptr (local.get 0)))
  (func (export "call_i64") (param i64) (result i64)
    (call $h_i64 (local.get 0)))
  (func (export "call_f32") (param f32) (result f32)
    (call $h_f32 (local.get 0)))
  (func (export "call_f64") (param f64) (result f64)
    (call $h_f64 (local.get 0)))
  (func (export "call_void")
    (call $h_void))

  ;; Returns the sum of h_add(i, 1) for i = 0 .. n-1 (one host call per step).
  (func (export "call_add_loop") (param $n i32) (result i32)
    (local $i i32)
    (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $sum
          (i32.add (local.get $sum) (call $h_add (local.get $i) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum))
)
