"""The parent: worker processes per mode, crash/hang attribution, findings on disk."""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .generate import make_module

ROOT = Path(__file__).resolve().parents[2]
MODULE_DEADLINE = 120.0     # seconds for one module (AOT compiles it) before it counts as hung


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _drain(proc: subprocess.Popen[str], errors: list[str]) -> None:
    errors.append(proc.stderr.read() if proc.stderr else "")


def run_range(mode: str, features: str, seed: int, start: int, stop: int, env: dict[str, str],
              nice: int, deadline: float, until: float = float("inf")) -> list[dict[str, Any]]:
    """Fuzz ``start..stop`` in ``mode``; a worker that dies or hangs is
    recorded against the module it was on and restarted after it."""
    records: list[dict[str, Any]] = []
    index = start
    while index < stop and time.time() < until:
        cmd = [sys.executable, "-m", "tools.difffuzz.worker", mode, features, str(seed),
               str(index), str(stop), repr(until)]
        if nice:
            cmd = ["nice", "-n", str(nice), *cmd]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        errors: list[str] = []
        threading.Thread(target=_drain, args=(proc, errors), daemon=True).start()
        current: int | None = None
        while True:
            try:
                line = lines.get(timeout=deadline)
            except queue.Empty:
                proc.kill()
                proc.wait()
                records.append({"index": current if current is not None else index,
                                "status": "hang", "detail": f"no result in {deadline:.0f} s"})
                break
            if line is None:
                rc = proc.wait()
                if rc == 0 and current is None:   # stopped at ``until`` or done
                    index = stop
                    break
                if current is None:   # died between modules: the tool, not a module
                    time.sleep(0.1)
                    raise RuntimeError(f"difffuzz worker failed (exit status {rc}): "
                                       f"{(errors[0] if errors else '').strip()[-1500:]}")
                if current is not None:
                    time.sleep(0.1)
                    how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
                    tail = (errors[0] if errors else "").strip()[-1500:]
                    records.append({"index": current, "status": "crash",
                                    "detail": f"worker died ({how}): {tail}"})
                break
            entry = json.loads(line)
            if "start" in entry:
                current = entry["start"]
                continue
            current = None
            records.append(entry)
            index = entry["index"] + 1
        last = records[-1]["index"] if records else index
        index = max(index, last + 1)
    return records


def save_finding(crashes: Path, mode: str, features: str, seed: int,
                 record: dict[str, Any]) -> Path:
    """Write the module and what happened under ``crashes/``."""
    crashes.mkdir(parents=True, exist_ok=True)
    stem = crashes / f"{features}-{mode}-s{seed}-i{record['index']}"
    stem.with_suffix(".wasm").write_bytes(make_module(seed, record["index"], features))
    stem.with_suffix(".json").write_text(json.dumps(
        {"mode": mode, "features": features, "seed": seed, **record}, indent=1) + "\n")
    return stem.with_suffix(".wasm")


def campaign(modes: list[str], features: str, seed: int, count: int, start: int = 0,
             jobs: int = 1, nice: int = 0, crashes: Path | None = None,
             deadline: float = MODULE_DEADLINE, minutes: float | None = None) -> dict[str, Any]:
    """Fuzz modules ``start..start+count`` in every mode, with ``jobs`` workers per
    mode (each on its own slice of the index range), all modes at once.
    With ``minutes``, workers stop starting modules after that long (the
    summary counts what was done: the lowest indices of each worker's range)."""
    until = time.time() + 60 * minutes if minutes else float("inf")
    work = Path(tempfile.mkdtemp(prefix="pywamr-difffuzz-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYWAMR_CACHE_DIR", str(work / "aot-cache"))
    started = time.monotonic()
    tasks = []
    per_job = max(1, -(-count // max(1, jobs)))
    for mode in modes:
        for lo in range(start, start + count, per_job):
            tasks.append((mode, lo, min(lo + per_job, start + count)))
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    lock = threading.Lock()

    def work_on(task: tuple[str, int, int]) -> None:
        mode, lo, hi = task
        got = run_range(mode, features, seed, lo, hi, env, nice, deadline, until)
        with lock:
            results[mode] += got

    try:
        with ThreadPoolExecutor(len(tasks)) as pool:   # every mode's workers at once
            list(pool.map(work_on, tasks))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {"features": features, "seed": seed, "start": start,
                               "count": count, "minutes": minutes,
                               "seconds": round(time.monotonic() - started, 1), "modes": {}}
    for mode, records in results.items():
        records.sort(key=lambda r: r["index"])
        statuses = collections.Counter(r["status"] for r in records)
        kinds = collections.Counter(r.get("kind") for r in records if r["status"] == "divergence")
        findings = [r for r in records if r["status"] in ("divergence", "crash", "hang",
                                                           "api-error", "generate-failed")]
        if crashes is not None:
            for r in findings:
                if r["status"] != "generate-failed":
                    r["saved"] = str(save_finding(crashes, mode, features, seed, r))
        summary["modes"][mode] = {
            "modules": len(records),
            "compared": statuses["ok"] + statuses["divergence"] + statuses["nan-explained"],
            "statuses": dict(statuses),
            "divergence_kinds": {k: v for k, v in kinds.items() if k},
            "export_calls": sum(r.get("calls", 0) for r in records),
            "exports_not_callable": sum(r.get("skipped_exports", 0) for r in records),
            "findings": findings,
        }
    return summary
