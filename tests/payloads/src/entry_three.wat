;; Three parameters: WAMR refuses the call with (argc, argv).
(module
  (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32 i32) (result i32) (i32.const 1)))
