;; runaway.wat -- calls that never end (or take very long) in the shapes a
;; timeout must stop in every mode: each back edge kind, forward branches
;; inside the loop, and deep recursion without any loop.  (The interpreters
;; stop at a suspend-flag check; AOT code by a signal, see watchdog.c.)
(module
  (memory (export "memory") 1)

  ;; back edge: br_if to the loop; forward br and br_table inside the body
  (func (export "loop_br_if") (param $n i32) (result i32)
    (local $i i32)
    (loop $top
      (block $skip
        (br_if $skip (i32.eqz (local.get $n)))        ;; forward br_if
        (block $a (block $b
          (br_table $a $b $a (i32.and (local.get $i) (i32.const 1)))) ;; forward br_table
          (local.set $i (i32.add (local.get $i) (i32.const 1))))
        (br $skip))                                    ;; forward br
      (br_if $top (i32.ne (local.get $n) (i32.const -1))))
    (local.get $i))

  ;; back edge: unconditional br to the loop
  (func (export "loop_br") (param $n i32) (result i32)
    (loop $top
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (i32.store (i32.const 0) (local.get $n))
      (br $top))
    (unreachable))

  ;; back edge: a br_table to the loop (index $n: 1 repeats forever, 0 leaves)
  (func (export "loop_br_table") (param $n i32) (result i32)
    (local $i i32)
    (block $out
      (loop $top
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (i32.store (i32.const 0) (local.get $i))
        (br_table $out $top (local.get $n))))
    (local.get $i))

  ;; no loop at all: 2^n calls (n = 60 runs for ages, never overflows the stack)
  (func $calls (export "calls") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add
        (call $calls (i32.sub (local.get $n) (i32.const 1)))
        (call $calls (i32.sub (local.get $n) (i32.const 2)))))))
)
