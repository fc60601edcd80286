;; unresolved.wat -- imports a function nobody registers.
;; WAMR 1.1.2 still instantiates it (it only logs a warning for unlinked imports)
;; and traps only when call_it invokes the missing import; fine() works.
(module
  (import "env" "nobody_registered" (func $nobody (param i32) (result i32)))
  (func (export "call_it") (param i32) (result i32)
    (call $nobody (local.get 0)))
  (func (export "fine") (result i32)
    (i32.const 7))
)
