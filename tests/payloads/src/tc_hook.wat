;; tc_hook.wat -- a Teaclave payload whose entrypoint defers to a host function.
;; entrypoint(argc, argv) = memory.grow(env.hook(argc)): the host decides how
;; many pages to grow (0 just reports the current size), so tests can crash or
;; hang inside a host function and probe memory limits.  The memory declares
;; no maximum (max_memory_pages supplies one).
(module
  (import "env" "hook" (func $hook (param i32) (result i32)))
  (memory (export "memory") 1)

  (func (export "entrypoint") (param $argc i32) (param $argv i32) (result i32)
    (memory.grow (call $hook (local.get $argc))))

  (func (export "pages") (result i32)
    (memory.size))
)
