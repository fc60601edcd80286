"""Run the WebAssembly spec suite (``.wast`` files) against pywamr.

``python -m tools.spectest SUITE_DIR`` converts every ``.wast`` file with
wabt's ``wast2json``, runs each file in each mode in its own child process
(so a crash is a result, not the end of the run) and writes a JSON summary.
See docs/spec-suite.md.
"""
