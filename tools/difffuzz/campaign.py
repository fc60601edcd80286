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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .engines import TIDY_CACHE_ENV
from .generate import make_module
from .worker import REFERENCE

ROOT = Path(__file__).resolve().parents[2]
MODULE_DEADLINE = 120.0     # CPU seconds for one stage of a module before it counts as hung


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _drain(proc: subprocess.Popen[str], errors: list[str]) -> None:
    errors.append(proc.stderr.read() if proc.stderr else "")


POLL = 5.0          # seconds between looks at a silent worker
WALL_FACTOR = 10    # a worker silent this many deadlines of wall-clock time hangs, CPU or not


def _cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its reaped children (Linux ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _hung(pid: int, since: float, cpu_since: float | None, deadline: float) -> bool:
    """Has the worker been silent for ``deadline`` seconds of its own CPU time?

    CPU time, not wall-clock time: a worker at ``nice 19`` on a saturated machine
    may wait minutes for a core (false hangs); one that sleeps or waits on a
    child is still given up after ``WALL_FACTOR`` deadlines."""
    wall = time.monotonic() - since
    if wall >= WALL_FACTOR * deadline:
        return True
    cpu = _cpu_seconds(pid)
    if cpu is None or cpu_since is None:
        return wall >= deadline
    return cpu - cpu_since >= deadline


def run_range(modes: list[str], features: str, seed: int, start: int, stop: int,
              env: dict[str, str], nice: int, deadline: float, until: float = float("inf"),
              sink: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Fuzz ``start..stop`` in every mode of ``modes`` (one worker process runs the
    reference once per module, then each mode); a worker that dies or hangs is
    recorded against the module and mode (or the reference run) it was on, and a
    new one continues with the next mode of that module.  Each record (with
    its ``mode``) also goes to ``sink`` as soon as it is known."""
    records: list[dict[str, Any]] = []
    index, first = start, list(modes)
    while index < stop and time.time() < until:
        cmd = [sys.executable, "-m", "tools.difffuzz.worker", ",".join(modes), features,
               str(seed), str(index), str(stop), repr(until), ",".join(first)]
        if nice:
            cmd = ["nice", "-n", str(nice), *cmd]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        errors: list[str] = []
        threading.Thread(target=_drain, args=(proc, errors), daemon=True).start()
        current: tuple[int, str] | None = None
        failure: dict[str, Any] | None = None
        since, cpu_since = time.monotonic(), _cpu_seconds(proc.pid)
        while True:
            try:
                line = lines.get(timeout=min(POLL, deadline))
            except queue.Empty:
                if not _hung(proc.pid, since, cpu_since, deadline):
                    continue
                proc.kill()
                proc.wait()
                failure = {"status": "hang",
                           "detail": f"no result after {deadline:.0f} s of CPU time "
                                     f"(or {WALL_FACTOR * deadline:.0f} s)"}
                break
            since, cpu_since = time.monotonic(), _cpu_seconds(proc.pid)
            if line is None:
                rc = proc.wait()
                if current is None:
                    if rc == 0:   # stopped at ``until`` or done
                        index = stop
                        break
                    time.sleep(0.1)   # died between modules: the tool, not a module
                    raise RuntimeError(f"difffuzz worker failed (exit status {rc}): "
                                       f"{(errors[0] if errors else '').strip()[-1500:]}")
                time.sleep(0.1)
                how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
                tail = (errors[0] if errors else "").strip()[-1500:]
                failure = {"status": "crash", "detail": f"worker died ({how}): {tail}"}
                break
            entry = json.loads(line)
            if "start" in entry:
                current = (entry["start"], entry["mode"])
                continue
            current = None
            records.append(entry)
            if sink is not None:
                sink(entry)
            index = entry["index"]
            done = modes.index(entry["mode"]) + 1
            index, first = (index, modes[done:]) if done < len(modes) else (index + 1, modes)
        if failure is not None:
            at, stage = current if current is not None else (index, first[0])
            if stage == REFERENCE:   # the reference (or generation) failed: no mode compared
                failure["status"] = "reference-" + failure["status"]
                stages = first if at == index else modes
            else:
                stages = [stage]
            for m in stages:
                records.append({"index": at, "mode": m, **failure})
                if sink is not None:
                    sink(records[-1])
            later = modes[modes.index(stages[-1]) + 1:]
            index, first = (at, later) if later else (at + 1, list(modes))
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
             deadline: float = MODULE_DEADLINE, minutes: float | None = None,
             log: Path | None = None) -> dict[str, Any]:
    """Fuzz modules ``start..start+count`` in every mode with ``jobs`` worker
    processes, each on its own slice of the index range and running every mode
    (the module is generated and run in the reference once, then in each mode).
    With ``minutes``, workers stop starting modules after that long (the
    summary counts what was done: the lowest indices of each worker's range).
    With ``log``, every record is appended to that JSON-lines file as it comes
    (``python -m tools.difffuzz summary`` rebuilds the summary from it)."""
    until = time.time() + 60 * minutes if minutes else float("inf")
    work = Path(tempfile.mkdtemp(prefix="pywamr-difffuzz-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYWAMR_CACHE_DIR"] = str(work / "aot-cache")    # entries deleted after use:
    env[TIDY_CACHE_ENV] = "1"                            # each module is compiled once
    started = time.monotonic()
    per_job = max(1, -(-count // max(1, jobs)))
    tasks = [(lo, min(lo + per_job, start + count)) for lo in range(start, start + count, per_job)]
    records: list[dict[str, Any]] = []
    lock = threading.Lock()
    log_file = log.open("a") if log is not None else None
    header = {"features": features, "seed": seed, "start": start, "count": count}

    def sink(record: dict[str, Any]) -> None:
        if log_file is not None:
            with lock:
                log_file.write(json.dumps({**header, **record}) + "\n")
                log_file.flush()

    def work_on(task: tuple[int, int]) -> None:
        got = run_range(modes, features, seed, task[0], task[1], env, nice, deadline, until,
                        sink)
        with lock:
            records.extend(got)

    try:
        with ThreadPoolExecutor(len(tasks)) as pool:   # every worker at once
            list(pool.map(work_on, tasks))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if log_file is not None:
            log_file.close()
    summary = summarize(records, features, seed, modes, crashes)
    summary.update(start=start, count=count, minutes=minutes,
                   seconds=round(time.monotonic() - started, 1))
    return summary


FINDINGS = ("divergence", "crash", "hang", "api-error", "generate-failed", "reference-crash",
            "reference-hang")


def summarize(records: list[dict[str, Any]], features: str, seed: int, modes: list[str],
              crashes: Path | None = None) -> dict[str, Any]:
    """Counts per mode of ``records`` (each with its ``mode``); findings are saved
    under ``crashes`` (the module and a JSON of what happened)."""
    summary: dict[str, Any] = {"features": features, "seed": seed, "modes": {}}
    for mode in modes:
        mine = sorted((r for r in records if r["mode"] == mode), key=lambda r: r["index"])
        mine = [{k: v for k, v in r.items() if k != "mode"} for r in mine]
        statuses = collections.Counter(r["status"] for r in mine)
        kinds = collections.Counter(r.get("kind") for r in mine if r["status"] == "divergence")
        findings = [r for r in mine if r["status"] in FINDINGS]
        if crashes is not None:
            for r in findings:
                if r["status"] != "generate-failed":
                    r["saved"] = str(save_finding(crashes, mode, features, seed, r))
        summary["modes"][mode] = {
            "modules": len(mine),
            "compared": statuses["ok"] + statuses["divergence"] + statuses["nan-explained"],
            "statuses": dict(statuses),
            "divergence_kinds": {k: v for k, v in kinds.items() if k},
            # how each NaN-explained module was proven: canonical-nan:SET or denan
            "nan_rules": dict(collections.Counter(
                r.get("nan_rule", "denan") for r in mine if r["status"] == "nan-explained")),
            "export_calls": sum(r.get("calls", 0) for r in mine),
            "exports_not_callable": sum(r.get("skipped_exports", 0) for r in mine),
            "findings": findings,
        }
    return summary
