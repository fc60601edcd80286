"""Invocations per second: local Executor vs Dask with 1 and 2 workers, side by side.

    nice -n 19 python -m bench.distributed              # the full run
    nice -n 19 python -m bench.distributed --scale 10   # 10x smaller batches

Two batches of tests/payloads/wasm/tc_work.wasm (a Teaclave payload):

* CPU-bound: 2,000 invocations of ``spin`` with ``rounds`` calibrated so one
  invocation takes about 10 ms on the local Executor;
* tiny: 20,000 invocations of ``spin`` with 0 rounds.

Each batch runs on a local ``teaclave.Executor`` (one thread, in this
process), then on a ``BatchExecutor`` with a local Dask cluster of 1 and of 2
worker processes (warmed up first: cluster start and first executor creation
are reported apart), with the default chunking ("auto": chunks sized from
the batch) and with fixed chunks of 16 and (tiny batch) 1,000.  The
distributed overhead per invocation is the difference per invocation between
Dask with 1 worker and the local Executor (the same work on one core, plus
everything Dask and pywamr.distributed add), in wall-clock time and in CPU
time summed over every process (client, scheduler, workers), which a loaded
machine disturbs less.
Results go to bench/results/distributed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from pywamr import teaclave
from pywamr.distributed import BatchExecutor

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "tests" / "payloads" / "wasm" / "tc_work.wasm"
RESULTS = ROOT / "bench" / "results"
AUTO = "auto"


def calibrate(target: float = 0.010) -> int:
    """Rounds of ``spin`` that take about ``target`` CPU seconds on the local Executor
    (CPU time, not wall time: on a loaded machine wall time is mostly waiting)."""
    with teaclave.Executor(WORK) as executor:
        rounds = 10_000
        while True:
            times = []
            for _ in range(5):
                start = time.process_time()
                executor.invoke({"rounds": rounds})
                times.append(time.process_time() - start)
            took = statistics.median(times)
            if took > target / 4:
                return max(1, int(rounds * target / took))
            rounds *= 4


def run_local(arguments: list[dict[str, Any]]) -> tuple[float, float, list[Any]]:
    """(wall seconds, CPU seconds, return values) of a batch on a local Executor."""
    with teaclave.Executor(WORK) as executor:
        executor.invoke(arguments[0])  # warm
        cpu, start = time.process_time(), time.perf_counter()
        values = [executor.invoke(args).return_value for args in arguments]
        return time.perf_counter() - start, time.process_time() - cpu, values


def _cluster_cpu(batch: BatchExecutor) -> float:
    """CPU seconds used so far by this process (client, scheduler, nannies) and the workers."""
    return time.process_time() + float(sum(batch.client.run(time.process_time).values()))


def idle_rate(batch: BatchExecutor, seconds: float = 3.0) -> float:
    """CPU seconds per second the idle cluster and this process spend (heartbeats, ticks)."""
    cpu, start = _cluster_cpu(batch), time.perf_counter()
    time.sleep(seconds)
    return (_cluster_cpu(batch) - cpu) / (time.perf_counter() - start)


def run_dask(batch: BatchExecutor, arguments: list[dict[str, Any]],
             chunk: int | str) -> tuple[float, float, list[Any]]:
    """(wall seconds, CPU seconds of every process, return values);
    ``chunk`` is a fixed chunk size or "auto" (the default chunking)."""
    batch.chunk_size = None if chunk == AUTO else int(chunk)
    cpu = _cluster_cpu(batch)
    start = time.perf_counter()
    results = list(batch.map(WORK, arguments))
    took = time.perf_counter() - start
    used = _cluster_cpu(batch) - cpu
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"{len(bad)} invocations failed, e.g. {bad[0]}")
    return took, used, [r.return_value for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=1,
                        help="divide both batch sizes by this (10: 200 and 2,000 invocations)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of every configuration (the median is reported)")
    parser.add_argument("--tiny-only", action="store_true",
                        help="only the tiny batch (the overhead figures), not the CPU-bound one")
    parser.add_argument("--out", type=Path, default=RESULTS / "distributed")
    args = parser.parse_args()
    with_cpu = not args.tiny_only
    cpu_n, tiny_n = 2000 // args.scale, 20000 // args.scale
    load_before = os.getloadavg()
    rounds = calibrate() if with_cpu else 0
    cpu_args = [{"rounds": rounds + i % 7} for i in range(cpu_n)]
    tiny_args = [{"rounds": i % 3} for i in range(tiny_n)]
    configs: list[tuple[str, str, int | str | None]] = [
        ("cpu-bound", "local Executor", None), ("tiny", "local Executor", None)]
    for name in ("Dask 1 worker", "Dask 2 workers"):
        configs += [("cpu-bound", name, AUTO), ("cpu-bound", name, 16), ("tiny", name, AUTO),
                    ("tiny", name, 16), ("tiny", name, 1000)]
    if not with_cpu:
        configs = [c for c in configs if c[0] != "cpu-bound"]
    runs: dict[tuple[str, str, int | str | None], list[tuple[float, float]]] = {
        c: [] for c in configs}
    # One cluster at a time (an idle second cluster would add its ticks to the
    # CPU figures); within it the configurations take turns, repeated, and the
    # median is reported.  CPU time includes the idle cluster's own ticks
    # (its rate is measured and reported, not subtracted: on a starved machine
    # wall time stretches and rate x wall time would overstate it).
    starts: dict[str, float] = {}
    idles: dict[str, float] = {}
    expected: dict[str, list[Any]] = {}
    for _ in range(args.repeat):
        for batch_name, config, chunk in configs:
            if config != "local Executor":
                continue
            took, used, expected[batch_name] = run_local(
                cpu_args if batch_name == "cpu-bound" else tiny_args)
            runs[(batch_name, config, chunk)].append((took, used))
            print(f"{batch_name:<10}{config:<16}{'-':>6}{took:>9.3f} s{used:>9.3f} CPU s",
                  flush=True)
    for workers, name in ((1, "Dask 1 worker"), (2, "Dask 2 workers")):
        start = time.perf_counter()
        with BatchExecutor(workers=workers) as batch:
            batch.client.wait_for_workers(workers)
            starts[name] = time.perf_counter() - start
            # warm every worker: payload bytes, executor creation, imports
            run_dask(batch, [{"rounds": 0}] * (64 * workers), 1)
            idles[name] = idle_rate(batch)
            for _ in range(args.repeat):
                for batch_name, config, chunk in configs:
                    if config != name:
                        continue
                    assert chunk is not None
                    took, used, values = run_dask(
                        batch, cpu_args if batch_name == "cpu-bound" else tiny_args, chunk)
                    assert values == expected[batch_name], "distributed results differ"
                    runs[(batch_name, config, chunk)].append((took, used))
                    print(f"{batch_name:<10}{config:<16}{chunk!s:>6}{took:>9.3f} s"
                          f"{used:>9.3f} CPU s", flush=True)

    rows = []
    for (batch_name, config, chunk), measured in runs.items():
        n = cpu_n if batch_name == "cpu-bound" else tiny_n
        wall = statistics.median(m[0] for m in measured)
        cpu = statistics.median(m[1] for m in measured)
        rows.append({"batch": batch_name, "config": config, "chunk": chunk, "invocations": n,
                     "seconds": round(wall, 4), "per_second": round(n / wall, 1),
                     "cpu_us_per_invocation": round(1e6 * cpu / n, 2)})

    def row(batch_name: str, config: str, chunk: int | str | None) -> dict[str, Any]:
        return next(r for r in rows if (r["batch"], r["config"], r["chunk"])
                    == (batch_name, config, chunk))

    def overhead(batch_name: str, chunk: int | str, key: str) -> float:
        n = row(batch_name, "local Executor", None)["invocations"]
        if key == "seconds":
            extra = row(batch_name, "Dask 1 worker", chunk)["seconds"] - row(
                batch_name, "local Executor", None)["seconds"]
            return round(1e6 * float(extra) / int(n), 2)
        return round(float(row(batch_name, "Dask 1 worker", chunk)[key])
                     - float(row(batch_name, "local Executor", None)[key]), 2)

    summary: dict[str, Any] = {
        "tiny_overhead_cpu_us_auto": overhead("tiny", AUTO, "cpu_us_per_invocation"),
        "tiny_overhead_wall_us_auto": overhead("tiny", AUTO, "seconds"),
        "tiny_overhead_cpu_us_chunk_1000": overhead("tiny", 1000, "cpu_us_per_invocation"),
        "tiny_overhead_cpu_us_chunk_16": overhead("tiny", 16, "cpu_us_per_invocation"),
        "tiny_overhead_wall_us_chunk_1000": overhead("tiny", 1000, "seconds"),
        "tiny_overhead_wall_us_chunk_16": overhead("tiny", 16, "seconds"),
        "cluster_start_seconds": {k: round(v, 2) for k, v in starts.items()},
        "idle_cpu_seconds_per_second": {k: round(v, 4) for k, v in idles.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "niceness": os.nice(0), "scale": args.scale, "repeat": args.repeat,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if with_cpu:
        summary.update({
            "cpu_rounds": rounds,
            "cpu_ms_per_invocation_local": round(
                1000 * row("cpu-bound", "local Executor", None)["seconds"] / cpu_n, 3),
            "cpu_speedup_2_vs_1_worker": round(
                row("cpu-bound", "Dask 1 worker", AUTO)["seconds"]
                / row("cpu-bound", "Dask 2 workers", AUTO)["seconds"], 3),
            "cpu_speedup_2_vs_1_worker_chunk_16": round(
                row("cpu-bound", "Dask 1 worker", 16)["seconds"]
                / row("cpu-bound", "Dask 2 workers", 16)["seconds"], 3),
            "cpu_bound_overhead_cpu_us_auto": overhead("cpu-bound", AUTO,
                                                       "cpu_us_per_invocation"),
            "cpu_bound_overhead_cpu_us_chunk_16": overhead("cpu-bound", 16,
                                                           "cpu_us_per_invocation"),
        })
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                        indent=2) + "\n")
    niceness = os.nice(0)
    command = (f"nice -n {niceness} " if niceness else "") + "python -m bench.distributed" + (
        f" --scale {args.scale}" if args.scale != 1 else "") + (
        f" --repeat {args.repeat}" if args.repeat != 3 else "") + (
        " --tiny-only" if args.tiny_only else "")
    lines = [f"# Distributed batches on Dask ({summary['date']})", "",
             f"Command: `{command}` on {os.cpu_count()} CPUs (niceness {summary['niceness']}), "
             f"median of {args.repeat} round(s); load average before/after "
             f"{summary['load_average_before']} / {summary['load_average_after']}: the machine "
             "was shared with other jobs, so wall-clock figures say more about the load than "
             "about pywamr; CPU time (every process: client, scheduler, workers, including "
             "the idle cluster's own ticks) is the steadier measure of cost.", "",
             "| batch | configuration | chunk | invocations | wall s | invocations/s "
             "| CPU us/invocation |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['batch']} | {r['config']} | {r['chunk'] or '-'} | {r['invocations']} | "
              f"{r['seconds']} | {r['per_second']} | {r['cpu_us_per_invocation']} |"
              for r in rows]
    lines += [""]
    if with_cpu:
        lines += [f"- CPU-bound invocation: {rounds} rounds of tc_work's spin (calibrated to "
                  "10 ms of CPU time), "
                  f"{summary['cpu_ms_per_invocation_local']} ms each (wall) on the local "
                  "Executor.",
                  "- 2 workers vs 1 worker, CPU-bound, wall clock: "
                  f"**{summary['cpu_speedup_2_vs_1_worker']}x** with the default chunking, "
                  f"{summary['cpu_speedup_2_vs_1_worker_chunk_16']}x with chunks of 16.",
                  "- Per CPU-bound invocation, CPU time: "
                  f"{summary['cpu_bound_overhead_cpu_us_auto']} us (default chunking), "
                  f"{summary['cpu_bound_overhead_cpu_us_chunk_16']} us (chunks of 16)."]
    lines += [
          "- Distributed overhead per tiny invocation (Dask 1 worker minus local), CPU time: "
          f"**{summary['tiny_overhead_cpu_us_auto']} us** with the default chunking, "
          f"{summary['tiny_overhead_cpu_us_chunk_1000']} us with chunks of 1000, "
          f"{summary['tiny_overhead_cpu_us_chunk_16']} us with chunks of 16; wall clock: "
          f"**{summary['tiny_overhead_wall_us_auto']} us**, "
          f"{summary['tiny_overhead_wall_us_chunk_1000']} us and "
          f"{summary['tiny_overhead_wall_us_chunk_16']} us.",
          f"- Cluster start (not in the figures): {summary['cluster_start_seconds']} s; "
          f"CPU the idle cluster spends per second (included above): "
          f"{summary['idle_cpu_seconds_per_second']} s/s.", ""]
    args.out.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
