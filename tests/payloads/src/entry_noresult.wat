;; An entrypoint without a result: Teaclave reports argv[0], i.e. argc.
(module
  (memory (export "memory") 1)
  (func (export "entrypoint") (param i32 i32)))
