"""Re-checking one saved module, and shrinking it with binaryen's ``wasm-reduce``.

``check`` is the interestingness test: it runs the module in a child and
exits 2 if the child crashed or hung, 1 if the same kind of divergence as
recorded reproduces, 0 otherwise.  ``wasm-reduce`` keeps a smaller module
only while the exit status stays what it was on the original.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .engines import Export, Pywamr, Reference
from .generate import BINARYEN_ENV
from .outcome import HANG_RESET, compare, signature

ROOT = Path(__file__).resolve().parents[2]


def diverges(wasm: bytes, mode: str, seed: int, index: int) -> tuple[str, str] | None:
    """Run ``wasm`` (arguments from ``seed``/``index``) in both engines; the divergence."""
    from .generate import call_arguments
    reference = Reference()
    exports, _, refused = reference.plan(wasm)
    if refused is not None:
        return None
    calls: list[tuple[Export, list[object]]] = [
        (e, call_arguments(seed, index, i, list(e.params)))
        for i, e in enumerate(exports) if e.name != HANG_RESET and e.callable]
    expected = reference.run(wasm, calls)
    if expected.refused is not None:
        return None
    return compare(expected, Pywamr(mode).run(wasm, calls))


def check(path: Path, mode: str, kind: str, seed: int, index: int, timeout: float = 60) -> int:
    """The interestingness status of ``path`` (see the module docstring)."""
    if kind not in ("crash", "hang"):  # in process: one interpreter start per candidate
        from . import engines
        engines.CALL_TIMEOUT = 2.0       # candidates that lost the hang limit spin: fail fast
        found = diverges(path.read_bytes(), mode, seed, index)
        return 1 if found is not None and signature(found) == kind else 0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    code = ("import sys, json; from tools.difffuzz.reduce import diverges; "
            f"d = diverges(open({str(path)!r}, 'rb').read(), {mode!r}, {seed}, {index}); "
            "print(json.dumps(d))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 2 if kind in ("crash", "hang") else 0
    if proc.returncode != 0:
        return 2 if kind in ("crash", "hang") else 0
    found = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    return 1 if found is not None and signature(tuple(found)) == kind else 0


def reduce(finding: Path, timeout: float = 1800) -> dict[str, Any]:
    """Shrink a saved finding (``X.wasm`` with ``X.json``) into ``X.reduced.wasm``/``.wat``."""
    meta = json.loads(finding.with_suffix(".json").read_text())
    kind = meta.get("signature") or meta["status"]
    reduced = finding.with_suffix(".reduced.wasm")
    test = finding.with_suffix(".test.wasm")
    working = finding.with_suffix(".work.wasm")
    command = " ".join(shlex.quote(a) for a in [
        sys.executable, "-m", "tools.difffuzz", "check", "--mode", meta["mode"], "--kind", kind,
        "--seed", str(meta["seed"]), "--index", str(meta["index"]), str(test)])
    package = os.environ.get(BINARYEN_ENV)   # npm's binaryen, if the module came from it
    bindir = (str(Path(package) / "bin") if package
              else os.path.dirname(shutil.which("wasm-opt") or "/usr/bin/wasm-opt"))
    args = [os.path.join(bindir, "wasm-reduce"), str(finding), f"--command={command}",
            "-t", str(test), "-w", str(working), "--timeout", "60", "-all", "-b", bindir]
    try:
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        result: dict[str, Any] = {"finding": str(finding), "rc": proc.returncode}
        output = proc.stderr[-2000:] + proc.stdout[-2000:]
    except subprocess.TimeoutExpired:   # keep what was reduced so far
        result = {"finding": str(finding), "rc": None, "timed_out": timeout}
        output = f"wasm-reduce ran out of time ({timeout:.0f} s)"
    if working.exists():
        working.replace(reduced)
        wat = subprocess.run([os.path.join(bindir, "wasm-dis"), str(reduced)],
                             capture_output=True, text=True)
        finding.with_suffix(".reduced.wat").write_text(wat.stdout)
        result.update(reduced=str(reduced), size=reduced.stat().st_size,
                      original=finding.stat().st_size)
    else:
        result["error"] = output
    test.unlink(missing_ok=True)
    return result
