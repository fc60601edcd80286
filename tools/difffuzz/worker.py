"""The child: fuzz modules ``start..stop`` of a run in one mode, one JSON line
each (preceded by a ``start`` line, so the parent can name the module that
crashed or hung the process)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .engines import Export, Pywamr, Reference
from .generate import call_arguments, denan, make_module
from .outcome import HANG_RESET, compare, signature


def fuzz_one(wasm: bytes, seed: int, index: int, reference: Reference,
             engine: Pywamr, features: str | None = None) -> dict[str, Any]:
    """Run one module in both engines and compare.

    A result, log or memory divergence that disappears when the module is
    instrumented with ``wasm-opt --denan`` is a NaN payload the spec leaves to
    the implementation (e.g. a NaN's bits stored and reloaded as an integer):
    it is counted as ``nan-explained``, not as a finding.
    """
    exports, _imports, refused = reference.plan(wasm)
    if refused is not None:
        return {"status": "invalid", "detail": refused[:500]}
    calls: list[tuple[Export, list[object]]] = []
    skipped = 0
    for i, export in enumerate(exports):
        if export.name == HANG_RESET:
            continue
        if not export.callable:
            skipped += 1
            continue
        calls.append((export, call_arguments(seed, index, i, list(export.params))))
    expected = reference.run(wasm, calls)
    if expected.refused is not None:   # an import the harness does not provide, or start trapped
        status = "unsupported" if expected.refused.startswith("unsupported") else "start-trap"
        return {"status": status, "detail": expected.refused[:500]}
    try:
        got = engine.run(wasm, calls)
    except Exception as exc:  # noqa: BLE001 (pywamr's API failed on a valid module: a finding)
        return {"status": "api-error", "detail": f"{type(exc).__name__}: {exc}"[:2000],
                "calls": len(calls), "skipped_exports": skipped}
    found = compare(expected, got)
    record: dict[str, Any] = {"status": "ok", "calls": len(calls), "skipped_exports": skipped,
                              "traps": sum(1 for c in expected.calls if c.trap)}
    if found is not None and found[0] in ("result", "log", "memory") and features is not None:
        record["nan_check"] = found[1][:300]
        if fuzz_one(denan(wasm, features), seed, index, reference, engine)["status"] == "ok":
            record["status"] = "nan-explained"
            return record
    if found is not None:
        record.update(status="divergence", kind=found[0], signature=signature(found),
                      detail=found[1][:2000])
    return record


def main(argv: list[str]) -> int:
    """``worker MODE FEATURES SEED START STOP [UNTIL]`` (UNTIL: a time.time() to stop at)."""
    mode, features, seed, start, stop = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    until = float(argv[5]) if len(argv) > 5 else float("inf")
    reference, engine = Reference(), Pywamr(mode)
    for index in range(start, stop):
        if time.time() >= until:
            break
        print(json.dumps({"start": index}), flush=True)
        try:
            wasm = make_module(seed, index, features)
        except Exception as exc:  # noqa: BLE001 (wasm-opt failed: a tool problem, recorded)
            record: dict[str, Any] = {"status": "generate-failed", "detail": str(exc)[:500]}
        else:
            record = fuzz_one(wasm, seed, index, reference, engine, features)
        record["index"] = index
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
