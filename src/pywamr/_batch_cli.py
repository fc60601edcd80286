"""``pywamr batch``: run a JSON-lines manifest of invocations on a Dask cluster."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from ._lib import DEFAULT_MODE
from .distributed import BatchExecutor, InvocationResult
from .teaclave import DEFAULT_POLICY, DEFAULT_PROFILE, POLICIES, PROFILES

_LINE_KEYS = {"id", "payload", "args", "inputs", "outputs", "profile", "mode", "policy",
              "timeout"}


def add_batch_command(commands: Any) -> None:
    """Register ``pywamr batch`` on the CLI's subparsers."""
    batch = commands.add_parser(
        "batch", help="run a JSON-lines manifest of invocations on a Dask cluster "
        "(needs the 'distributed' extra)")
    batch.add_argument("manifest", help="one JSON object per line: id, payload, args, inputs, "
                       "outputs (and optionally profile, mode, policy, timeout)")
    batch.add_argument("--out", required=True, metavar="RESULTS.jsonl",
                       help="where to write one JSON result per manifest line")
    batch.add_argument("--scheduler", metavar="ADDR",
                       help="an existing cluster's scheduler, e.g. tcp://HOST:8786 "
                       "(default: start a local cluster)")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local cluster (default: one per CPU)")
    batch.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                       help="default profile: teaclave (Teaclave's executor's behaviour) or "
                       "strict (see docs/teaclave-fidelity.md)")
    batch.add_argument("--mode", help="default execution mode (default: the profile's; "
                       f"teaclave: 'teaclave', strict: {DEFAULT_MODE!r})")
    batch.add_argument("--policy", choices=POLICIES, default=DEFAULT_POLICY,
                       help="default lifecycle policy of the warm executors")
    batch.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="default time limit per invocation")
    batch.add_argument("--chunk", type=int, default=None, metavar="N",
                       help="invocations per Dask task (default 16)")
    batch.add_argument("--max-retries", type=int, default=None, metavar="N",
                       help="retries of a task whose worker died (local cluster; default 2)")


class _Malformed(ValueError):
    """A manifest line that cannot be run (``ident``: its id, when it has one)."""

    def __init__(self, message: str, ident: Any = None) -> None:
        super().__init__(message)
        self.ident = ident


def _parse(text: str, base: str) -> dict[str, Any]:
    """Check one manifest line; paths are resolved against ``base``."""
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(line, dict):
        raise _Malformed("a line must be a JSON object")
    try:
        _check(line)
    except _Malformed as exc:
        ident = line.get("id")
        exc.ident = ident if isinstance(ident, (str, int)) and not isinstance(ident, bool) \
            else None
        raise

    def resolve(path: str) -> str:
        return os.path.join(base, os.path.expanduser(path))

    return {"id": line["id"], "payload": resolve(line["payload"]), "args": line.get("args", {}),
            "inputs": {k: resolve(v) for k, v in line.get("inputs", {}).items()},
            "outputs": {k: resolve(v) for k, v in line.get("outputs", {}).items()},
            "options": {k: line[k] for k in ("profile", "mode", "policy") if k in line},
            "timeout": line.get("timeout")}


def _check(line: dict[str, Any]) -> None:
    unknown = sorted(set(line) - _LINE_KEYS)
    if unknown:
        raise _Malformed(f"unknown key(s): {', '.join(unknown)}")
    if "id" not in line or not isinstance(line["id"], (str, int)) or isinstance(line["id"],
                                                                               bool):
        raise _Malformed('"id" (a string or an integer) is required')
    if not isinstance(line.get("payload"), str) or not line["payload"]:
        raise _Malformed('"payload" (the path of a .wasm file) is required')
    if not isinstance(line.get("args", {}), dict):
        raise _Malformed('"args" must be an object')
    for key in ("inputs", "outputs"):
        files = line.get(key, {})
        if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in files.items()):
            raise _Malformed(f'"{key}" must map file ids to paths')
    for key in ("profile", "mode", "policy"):
        if key in line and not isinstance(line[key], str):
            raise _Malformed(f'"{key}" must be a string')
    if "profile" in line and line["profile"] not in PROFILES:
        raise _Malformed(f'unknown profile {line["profile"]!r}')
    if "policy" in line and line["policy"] not in POLICIES:
        raise _Malformed(f'unknown policy {line["policy"]!r}')
    timeout = line.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                                or timeout <= 0):
        raise _Malformed('"timeout" must be a positive number of seconds')


def _result_line(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": result.id, "return_value": result.return_value, "summary": result.summary,
        "trap": result.trap, "file_errors": result.file_errors,
        "outputs": {fid: value for fid, value in result.outputs.items()
                    if isinstance(value, str)},
        "worker": result.worker, "seconds": round(result.seconds, 6)}
    if result.error is not None:
        out["error"] = result.error
    if result.crashed:
        out["crashed"] = True
    return out


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total, self.stream = total, stream
        self.enabled = stream.isatty()
        self.done = 0
        self.start = self.last = time.monotonic()

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.1 or self.done == self.total):
            self.last = now
            width = 30
            filled = width * self.done // max(1, self.total)
            rate = self.done / max(now - self.start, 1e-9)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total}  {rate:.0f}/s ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _lines(path: str) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                yield number, text


def run_batch(args: argparse.Namespace) -> int:
    """Run ``pywamr batch``; 0 when every line ran (traps are results), else 1."""
    try:
        BatchExecutor.check_available()
    except ImportError as exc:
        raise SystemExit("pywamr batch needs Dask distributed: pip install 'pywamr[distributed]'"
                         f" ({exc})") from None

    base = os.path.dirname(os.path.abspath(args.manifest))
    entries: list[tuple[int, Any]] = []  # (line number, parsed line or the exception)
    for number, text in _lines(args.manifest):
        try:
            entries.append((number, _parse(text, base)))
        except _Malformed as exc:
            entries.append((number, exc))
    options: dict[str, Any] = {"profile": args.profile, "policy": args.policy}
    if args.mode is not None:
        options["mode"] = args.mode
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.chunk is not None:
        options["chunk_size"] = args.chunk
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.workers is not None:
        options["workers"] = args.workers
    failures = 0
    with open(args.out, "w", encoding="utf-8") as out, \
            BatchExecutor(args.scheduler, **options) as batch:
        submitted: list[tuple[int, Any, Any]] = []  # (line number, id, future or error)
        for number, entry in entries:
            if isinstance(entry, _Malformed):
                submitted.append((number, entry.ident, str(entry)))
                continue
            try:
                submitted.append((number, entry["id"], batch.submit(
                    entry["payload"], entry["args"], entry["inputs"], entry["outputs"],
                    id=entry["id"], timeout=entry["timeout"], **entry["options"])))
            except (OSError, TypeError, ValueError) as exc:
                submitted.append((number, entry["id"], f"{type(exc).__name__}: {exc}"))
        progress = _Progress(len(submitted), sys.stderr)
        pending = [item for _, _, item in submitted if not isinstance(item, str)]
        for _ in range(len(submitted) - len(pending)):
            progress.step()
        for _ in batch.as_completed(pending):
            progress.step()
        progress.close()
        for number, ident, item in submitted:
            if isinstance(item, str):
                failures += 1
                print(f"pywamr: {args.manifest}:{number}: {item}", file=sys.stderr)
                line = {"id": ident, "line": number, "error": item}
            else:
                result: InvocationResult = item.result()
                line = _result_line(result)
                if result.error is not None:
                    failures += 1
                    print(f"pywamr: {args.manifest}:{number}: {result.error}", file=sys.stderr)
            out.write(json.dumps(line) + "\n")
    return 1 if failures else 0
