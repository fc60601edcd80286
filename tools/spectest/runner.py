"""The parent: convert ``.wast`` files, run each file per mode in a child
process with a deadline, and summarise (per mode, core and SIMD files apart)."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODES = ("fast-interp", "classic-interp", "aot")
FILE_TIMEOUT = 600.0


@dataclass
class FileResult:
    """What one ``.wast`` file gave in one mode."""

    file: str
    mode: str
    status: str = "ok"                 # ok | crashed | timeout | convert-failed
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""

    @property
    def group(self) -> str:
        return "simd" if self.file.startswith("simd_") else "core"


def wast2json_version() -> str:
    return subprocess.run(["wast2json", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def convert(wast: Path, work: Path) -> tuple[Path | None, str]:
    """wast2json ``wast`` into its own directory under ``work``."""
    target = work / wast.stem
    target.mkdir(parents=True, exist_ok=True)
    out = target / f"{wast.stem}.json"
    proc = subprocess.run(["wast2json", "--enable-all", str(wast), "-o", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        proc = subprocess.run(["wast2json", str(wast), "-o", str(out)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip()[:2000]
    return out, ""


def count_commands(json_path: Path) -> list[dict[str, Any]]:
    return list(json.loads(json_path.read_text())["commands"])


def run_file(json_path: Path, name: str, mode: str, timeout: float, env: dict[str, str],
             nice: int) -> FileResult:
    """Run one converted file in a child; a crash or a hang is the file's result."""
    result = FileResult(name, mode)
    out_path = json_path.with_suffix(f".{mode}.jsonl")
    cmd = [sys.executable, "-m", "tools.spectest.script", mode, str(json_path), str(out_path)]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
        rc: int | None = proc.returncode
        stderr = proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = None, (exc.stderr or b"").decode(errors="replace") \
            if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    result.seconds = time.monotonic() - started
    last_start = None
    if out_path.exists():
        for line in out_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                break
            if "start" in entry:
                last_start = entry["start"]
            else:
                last_start = None
                result.records.append(entry)
    if rc is None:
        result.status = "timeout"
        result.detail = f"no result after {timeout:.0f} s (in the command at line {last_start})"
    elif rc != 0:
        how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
        result.status = "crashed"
        result.detail = f"{how} in the command at line {last_start}: {stderr.strip()[-1500:]}"
    # Commands after a crash or hang never ran: each is a failure.
    done = len(result.records)
    commands = count_commands(json_path)
    for command in commands[done:]:
        text = command.get("module_type") == "text"
        result.records.append({"line": command.get("line"), "kind": command["type"],
                               "status": "skip" if text else "fail",
                               "cause": "text format (not runnable by a binary engine)" if text
                               else f"file {result.status}"})
    return result


def summarise(results: list[FileResult], suite: Path, seconds: float) -> dict[str, Any]:
    """Per mode and group: runnable / passed / failed / skipped, causes, failures."""
    modes: dict[str, Any] = {}
    for res in results:
        mode = modes.setdefault(res.mode, {"groups": {}, "crashed_files": [],
                                           "timed_out_files": [], "files": {}})
        group = mode["groups"].setdefault(res.group, {"runnable": 0, "passed": 0, "failed": 0,
                                                      "skipped": 0, "causes": {}})
        counts = collections.Counter(r["status"] for r in res.records)
        group["passed"] += counts["pass"]
        group["failed"] += counts["fail"]
        group["skipped"] += counts["skip"]
        group["runnable"] += counts["pass"] + counts["fail"]
        for r in res.records:
            if r["status"] == "fail":
                group["causes"][r["cause"]] = group["causes"].get(r["cause"], 0) + 1
        if res.status == "crashed":
            mode["crashed_files"].append({"file": res.file, "detail": res.detail})
        elif res.status == "timeout":
            mode["timed_out_files"].append({"file": res.file, "detail": res.detail})
        mode["files"][res.file] = {
            "status": res.status, "seconds": round(res.seconds, 2),
            "passed": counts["pass"], "failed": counts["fail"], "skipped": counts["skip"],
            "failures": [r for r in res.records if r["status"] == "fail"],
        }
    for mode in modes.values():
        for group in mode["groups"].values():
            group["percent"] = round(100.0 * group["passed"] / group["runnable"], 3) \
                if group["runnable"] else None
            group["causes"] = dict(sorted(group["causes"].items(), key=lambda kv: -kv[1]))
    return {"suite": str(suite), "wast2json": wast2json_version(), "seconds": round(seconds, 1),
            "python": sys.executable, "modes": modes}


def run_suite(suite: Path, modes: list[str], files: list[str] | None = None, jobs: int = 1,
              timeout: float = FILE_TIMEOUT, nice: int = 0,
              work: Path | None = None) -> dict[str, Any]:
    """Run ``files`` (stems; all ``*.wast`` in ``suite`` by default) in ``modes``."""
    wasts = sorted(suite.glob("*.wast"))
    if files:
        wanted = set(files)
        wasts = [w for w in wasts if w.stem in wanted]
        unknown = wanted - {w.stem for w in wasts}
        if unknown:
            raise FileNotFoundError(f"not in {suite}: {', '.join(sorted(unknown))}")
    own_work = work is None
    workdir = Path(tempfile.mkdtemp(prefix="pywamr-spectest-")) if work is None else work
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYWAMR_CACHE_DIR", str(workdir / "aot-cache"))
    started = time.monotonic()
    results: list[FileResult] = []
    try:
        jobs_list: list[tuple[Path, str, str]] = []
        for wast in wasts:
            json_path, error = convert(wast, workdir)
            if json_path is None:
                for mode in modes:
                    results.append(FileResult(wast.stem, mode, "convert-failed",
                                              detail=error))
                continue
            jobs_list += [(json_path, wast.stem, mode) for mode in modes]
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            results += pool.map(lambda j: run_file(j[0], j[1], j[2], timeout, env, nice),
                                jobs_list)
    finally:
        if own_work:
            shutil.rmtree(workdir, ignore_errors=True)
    return summarise(results, suite, time.monotonic() - started)


def baseline(summary: dict[str, Any]) -> dict[str, Any]:
    """The floor the test suite holds a run to: per mode, each file's pass
    count, and the files that crashed or hung."""
    return {mode: {"passed": {name: f["passed"] for name, f in data["files"].items()},
                   "broken_files": sorted(n for n, f in data["files"].items()
                                          if f["status"] != "ok")}
            for mode, data in summary["modes"].items()}


def regressions(summary: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """What got worse than ``floor`` (a :func:`baseline`): fewer passes in a
    file, or a file that newly crashed or hung."""
    found = []
    for mode, data in summary["modes"].items():
        mode_floor = floor.get(mode, {"passed": {}, "broken_files": []})
        for name, f in sorted(data["files"].items()):
            want = mode_floor["passed"].get(name, 0)
            if f["passed"] < want:
                lost = [f"{r['line']} {r['kind']}: {r['cause']} {r.get('detail', '')[:120]}"
                        for r in f["failures"]][:5]
                found.append(f"{mode} {name}: {f['passed']} passed, baseline {want}; "
                             f"failures include {lost}")
            if f["status"] != "ok" and name not in mode_floor["broken_files"]:
                found.append(f"{mode} {name}: {f['status']}")
    return found
