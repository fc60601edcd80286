;; Imports one libc-builtin function (strlen) and one nobody provides.
;; entrypoint(argc, argv): argc 0 calls neither, 2 calls strlen, 4 the other.
(module
  (import "env" "strlen" (func $strlen (param i32) (result i32)))
  (import "env" "nobody_provides" (func $nobody (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "four\00")
  (func (export "entrypoint") (param $argc i32) (param $argv i32) (result i32)
    (if (i32.eq (local.get $argc) (i32.const 2))
      (then (return (call $strlen (i32.const 16)))))
    (if (i32.eq (local.get $argc) (i32.const 4))
      (then (return (call $nobody))))
    (i32.const 0)))
