;; A bulk-memory opcode (memory.fill): Teaclave's WAMR has no bulk memory.
(module
  (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32) (result i32)
    (memory.fill (i32.const 0) (i32.const 42) (i32.const 8))
    (i32.load8_u (i32.const 7))))
