"""The child: fuzz modules ``start..stop`` of a run in one or more modes.

Each module is generated and run in the reference (wasmtime-py) once, then in
every requested pywamr mode, one JSON line per (module, mode).  Before each
stage the child prints a ``start`` line naming the module and the stage
(``reference`` or a mode), so the parent can name the module and mode that
crashed or hung the process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from .engines import Export, Pywamr, Reference
from .generate import call_arguments, denan, make_module
from .nancanon import SETS_TRIED, VariantError, canonical_variant
from .outcome import HANG_RESET, Outcome, compare, signature

REFERENCE = "reference"     # the stage name of the reference run in ``start`` lines
# Divergence kinds a NaN payload can cause (checked again on the ``--denan`` module).
NAN_SENSITIVE = ("result", "log", "memory", "trap")
# "INDEX:STAGE[:spin][,...]": the worker aborts at these stages, as a crashing engine would,
# or (":spin") spins forever, as a hanging one would (tests/test_difffuzz.py checks the
# parent's crash and hang attribution with it).
ABORT_ENV = "DIFFFUZZ_ABORT_AT"


class Shared:
    """What every mode compares against for one module, computed once: the
    reference's plan and outcome, and (on demand) the same for the module
    instrumented with ``wasm-opt --denan``."""

    def __init__(self, wasm: bytes, seed: int, index: int, reference: Reference,
                 features: str | None) -> None:
        self.wasm, self.seed, self.index = wasm, seed, index
        self.reference, self.features = reference, features
        self.refused: str | None = None
        self.calls: list[tuple[Export, list[object]]] = []
        self.skipped = 0
        self.expected = Outcome()
        self._denanned: Shared | None = None
        self._canonical: dict[str, Outcome | None] = {}
        exports, _imports, refused = reference.plan(wasm)
        if refused is not None:
            self.refused = refused
            return
        for i, export in enumerate(exports):
            if export.name == HANG_RESET:
                continue
            if not export.callable:
                self.skipped += 1
                continue
            self.calls.append((export, call_arguments(seed, index, i, list(export.params))))
        self.expected = reference.run(wasm, self.calls)

    def canonical(self, operations: str) -> Outcome | None:
        """The reference's outcome of the canonical-NaN variant for ``operations`` (see
        ``nancanon``), with the same calls; None if no operation was rewritten (nothing to
        prove) or the variant could not be made or run."""
        if operations not in self._canonical:
            outcome: Outcome | None = None
            try:
                variant, count = canonical_variant(self.wasm, operations)
                if count:
                    outcome = self.reference.run(variant, self.calls)
            except VariantError:
                outcome = None
            if outcome is not None and outcome.refused is not None:
                outcome = None
            self._canonical[operations] = outcome
        return self._canonical[operations]

    def denanned(self) -> Shared:
        """The same module with every NaN a float operation makes turned into 0."""
        if self._denanned is None:
            assert self.features is not None
            self._denanned = Shared(denan(self.wasm, self.features), self.seed, self.index,
                                    self.reference, None)
        return self._denanned


def canonical_nan_rule(shared: Shared, got: Outcome) -> str | None:
    """``canonical-nan:SET`` if pywamr's outcome ``got`` is exactly the reference's
    outcome of the module's canonical-NaN variant for operation set ``SET`` (an
    execution the spec allows: ``nancanon``), else None."""
    for operations in SETS_TRIED:
        variant = shared.canonical(operations)
        if variant is not None and compare(variant, got) is None:
            return f"canonical-nan:{operations}"
    return None


def compare_mode(shared: Shared, engine: Pywamr, trap_nan_ok: bool = True) -> dict[str, Any]:
    """Run the module in one pywamr mode and compare with the reference.

    A result, log, memory or trap divergence is ``nan-explained`` when pywamr's
    outcome equals the reference's outcome of a canonical-NaN variant of the module
    (``nancanon``: an execution the spec allows in which chosen float operations
    give the positive canonical NaN; ``nan_rule`` names the set), in every mode and
    for traps too, since pywamr is not run again.  Failing that, a divergence that
    disappears when the module
    is instrumented with ``wasm-opt --denan`` is a NaN payload the spec leaves
    to the implementation (e.g. a NaN's bits stored and reloaded as an integer,
    or as an f32 that is a NaN in one engine and a number in the other, which
    then traps in one conversion only): it is counted as ``nan-explained``, not
    as a finding.  Only with ``trap_nan_ok`` for traps: in aot, the ``--denan``
    copy is optimised differently, which can hide a dropped bounds check, so
    an aot trap divergence counts as NaN-explained only where an interpreter
    (no optimiser) had the same NaN-explained trap divergence on the module.
    """
    if shared.refused is not None:
        return {"status": "invalid", "detail": shared.refused[:500]}
    expected = shared.expected
    if expected.refused is not None:   # an import the harness does not provide, or start trapped
        status = "unsupported" if expected.refused.startswith("unsupported") else "start-trap"
        return {"status": status, "detail": expected.refused[:500]}
    calls = shared.calls
    try:
        got = engine.run(shared.wasm, calls)
    except Exception as exc:  # noqa: BLE001 (pywamr's API failed on a valid module: a finding)
        return {"status": "api-error", "detail": f"{type(exc).__name__}: {exc}"[:2000],
                "calls": len(calls), "skipped_exports": shared.skipped}
    found = compare(expected, got)
    record: dict[str, Any] = {"status": "ok", "calls": len(calls),
                              "skipped_exports": shared.skipped,
                              "traps": sum(1 for c in expected.calls if c.trap)}
    if found is not None and found[0] in NAN_SENSITIVE:
        # First the proof that needs no second run of pywamr (see nancanon).
        rule = canonical_nan_rule(shared, got)
        if rule is not None:
            record.update(status="nan-explained", nan_kind=found[0], nan_check=found[1][:300],
                          nan_rule=rule)
            return record
    if (found is not None and found[0] in NAN_SENSITIVE and shared.features
            and (found[0] != "trap" or trap_nan_ok)):
        record["nan_check"] = found[1][:300]
        record["nan_kind"] = found[0]
        if compare_mode(shared.denanned(), engine)["status"] == "ok":
            record["status"] = "nan-explained"
            record["nan_rule"] = "denan"
            return record
    if found is not None:
        record.update(status="divergence", kind=found[0], signature=signature(found),
                      detail=found[1][:2000])
    return record


def fuzz_one(wasm: bytes, seed: int, index: int, reference: Reference,
             engine: Pywamr, features: str | None = None,
             trap_nan_ok: bool = True) -> dict[str, Any]:
    """Run one module in the reference and one pywamr mode, and compare."""
    return compare_mode(Shared(wasm, seed, index, reference, features), engine, trap_nan_ok)


def _fail_on_purpose(aborts: set[str], index: int, stage: str) -> None:
    if f"{index}:{stage}" in aborts:
        os.abort()
    while f"{index}:{stage}:spin" in aborts:
        pass


def _emit(entry: dict[str, Any]) -> None:
    print(json.dumps(entry), flush=True)


def main(argv: list[str]) -> int:
    """``worker MODES FEATURES SEED START STOP [UNTIL [FIRST_MODES]]``.

    ``MODES`` is comma-separated; ``UNTIL`` a ``time.time()`` to stop at;
    ``FIRST_MODES`` (comma-separated) the modes still to run for module
    ``START`` (after a crash in an earlier mode of that module).
    """
    modes, features = argv[0].split(","), argv[1]
    seed, start, stop = int(argv[2]), int(argv[3]), int(argv[4])
    until = float(argv[5]) if len(argv) > 5 else float("inf")
    first = argv[6].split(",") if len(argv) > 6 else modes
    reference = Reference()
    engines = {mode: Pywamr(mode) for mode in modes}
    aborts = set(filter(None, os.environ.get(ABORT_ENV, "").split(",")))
    for index in range(start, stop):
        if time.time() >= until:
            break
        todo = first if index == start else modes
        _emit({"start": index, "mode": REFERENCE})
        _fail_on_purpose(aborts, index, REFERENCE)
        try:
            wasm = make_module(seed, index, features)
        except Exception as exc:  # noqa: BLE001 (wasm-opt failed: a tool problem, recorded)
            for mode in todo:
                _emit({"index": index, "mode": mode, "status": "generate-failed",
                       "detail": str(exc)[:500]})
            continue
        shared = Shared(wasm, seed, index, reference, features)
        interpreter_nan_trap = False   # see compare_mode: aot's traps need an interpreter's
        for mode in todo:
            _emit({"start": index, "mode": mode})
            _fail_on_purpose(aborts, index, mode)
            record = compare_mode(shared, engines[mode],
                                  trap_nan_ok=mode != "aot" or interpreter_nan_trap)
            if record["status"] == "nan-explained" and record.get("nan_kind") == "trap":
                interpreter_nan_trap = True
            _emit({"index": index, "mode": mode, **record})
            engines[mode].tidy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
