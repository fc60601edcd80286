"""Fuzz pywamr: module loading and the Teaclave entrypoint, crash-isolated.

Run it with ``python tools/fuzz.py``; the package is split by concern:
``encoding`` (inputs as JSON), ``corpus`` (the seed modules), ``mutators``,
``targets`` (what runs an input and the rules it must keep) and ``driver``
(worker processes, crash capture, replay, the command line).

Targets:

* ``load``: mutated ``.wasm`` modules (byte-level and section-aware mutations
  of every payload in the repository) are capped with ``max_memory_pages``,
  loaded, introspected, instantiated, and every exported function is called
  with random arguments (with a timeout); guest memory is read and written
  through the Python API.  Each step must succeed or raise a ``WamrError``,
  ``TypeError`` or ``ValueError`` (``IndexError`` for the memory API).
* ``teaclave``: the example payloads and ``tc_probe.wasm`` run through
  ``teaclave.Executor`` with random arguments (keys and values of any
  unicode, huge strings, thousands of arguments, JSON values), random file
  declarations (existing, missing, directories, ``/dev/null``, unusual names)
  and random contents, random heap/stack sizes, memory caps and policies.
  Besides the allowed exceptions (plus ``MemoryError`` for arguments that do
  not fit the app heap), the run must leave no temporary files, create no
  file it was not given as an output, and leave inputs untouched.

Inputs are generated from ``(target, seed, index)`` alone, so any input can
be made again.  The driver runs the target in a worker subprocess per batch
and reads its progress from a pipe; when a worker dies (a signal, an abort)
or stalls, the input it was running is saved to the crashes directory as
JSON (``.wasm`` too for ``load``) with its seed and index, replayed once in a
fresh process to confirm it, and the batch goes on after it.  An unexpected
exception or a broken invariant is saved the same way (a "finding").

    python tools/fuzz.py --target load --seconds 600
    python tools/fuzz.py --target teaclave --seconds 600 --seed 7
    python tools/fuzz.py --replay crashes/load-7-1234.json
    python tools/fuzz.py --target load --engine atheris -- -max_total_time=600

Exit status: 0 when nothing was found, 1 otherwise.  ``--engine atheris``
(optional: ``pip install atheris``) lets libFuzzer mutate the ``load``
target's bytes in process, guided by Python coverage; its crash files are
libFuzzer's own.
"""
