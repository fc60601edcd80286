;; basic.wat -- core test module for pywamr.
;; Exercises every value type, multi-value results, traps, linear memory,
;; globals and non-function exports.  No imports.
(module
  (memory (export "memory") 1 4)
  (data (i32.const 16) "hello\00")

  (global $counter (mut i32) (i32.const 0))
  (global (export "g_answer") i32 (i32.const 42))

  (table (export "table") 2 funcref)
  (elem (i32.const 0) $add $noop)

  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))

  (func (export "add_i64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)))

  (func (export "add_f32") (param f32 f32) (result f32)
    (f32.add (local.get 0) (local.get 1)))

  (func (export "add_f64") (param f64 f64) (result f64)
    (f64.add (local.get 0) (local.get 1)))

  ;; i32 and i64 are converted as signed integers.
  (func (export "mixed") (param i32 i64 f32 f64) (result f64)
    (f64.add
      (f64.add
        (f64.convert_i32_s (local.get 0))
        (f64.convert_i64_s (local.get 1)))
      (f64.add
        (f64.promote_f32 (local.get 2))
        (local.get 3))))

  (func (export "pair") (param i32) (result i32 i32)
    (local.get 0)
    (i32.mul (local.get 0) (i32.const 2)))

  (func (export "triple") (result i32 i64 f64)
    (i32.const 1)
    (i64.const 2)
    (f64.const 3.5))

  (func $noop (export "noop"))

  ;; Traps with "integer divide by zero" / "integer overflow".
  (func (export "div_s") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))

  ;; Traps with "integer overflow" (or invalid conversion) outside i32 range / NaN.
  (func (export "trunc") (param f64) (result i32)
    (i32.trunc_f64_s (local.get 0)))

  (func (export "boom")
    unreachable)

  ;; Traps with "out of bounds memory access" past the end of memory.
  (func (export "load") (param i32) (result i32)
    (i32.load (local.get 0)))

  (func (export "store") (param i32 i32)
    (i32.store (local.get 0) (local.get 1)))

  ;; Never terminates normally: exhausts the wasm operand/call stack.
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add
      (call $recurse (i32.add (local.get 0) (i32.const 1)))
      (i32.const 1)))

  ;; Returns the previous page count, or -1 if the memory cannot grow.
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))

  (func (export "pages") (result i32)
    (memory.size))

  (func (export "incr") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))

  (func (export "get_counter") (result i32)
    (global.get $counter))

  ;; Busy loop: iterates n times (n <= 0 means no iterations), returns n.
  (func (export "spin") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $again
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $again)))
    (local.get $n))

  ;; Sum of the unsigned bytes in [ptr, ptr+len).
  (func (export "sum_bytes") (param $ptr i32) (param $len i32) (result i32)
    (local $sum i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $sum
          (i32.add (local.get $sum) (i32.load8_u (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $again)))
    (local.get $sum))
)
