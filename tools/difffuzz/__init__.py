"""Differential fuzzing of pywamr against wasmtime-py.

binaryen's ``wasm-opt -ttf`` turns seeded random bytes into valid modules;
every export runs in pywamr (one mode per worker process) and in wasmtime-py
(the reference); results, traps, ``fuzzing-support`` host-call logs and memory
after every call are compared.  See docs/differential-fuzzing.md.
"""
