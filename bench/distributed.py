"""Invocations per second: local Executor vs Dask with 1 and 2 workers, side by side.

    nice -n 19 python -m bench.distributed            # the full run (a few minutes)
    nice -n 19 python -m bench.distributed --quick    # 10x smaller batches

Two batches of tests/payloads/wasm/tc_work.wasm (a Teaclave payload):

* CPU-bound: 2,000 invocations of ``spin`` with ``rounds`` calibrated so one
  invocation takes about 10 ms on the local Executor;
* tiny: 20,000 invocations of ``spin`` with 0 rounds.

Each batch runs on a local ``teaclave.Executor`` (one thread, in this
process), then on a ``BatchExecutor`` with a local Dask cluster of 1 and of 2
worker processes (warmed up first: cluster start and first executor creation
are reported apart).  The distributed overhead per invocation is
``(seconds on 1 worker - seconds locally) / invocations``: the same work on
one core, plus everything Dask and pywamr.distributed add.  Results go to
bench/results/distributed.{md,json}.
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


def calibrate(target: float = 0.010) -> int:
    """Rounds of ``spin`` that take about ``target`` seconds on the local Executor."""
    with teaclave.Executor(WORK) as executor:
        rounds = 10_000
        while True:
            times = []
            for _ in range(5):
                start = time.perf_counter()
                executor.invoke({"rounds": rounds})
                times.append(time.perf_counter() - start)
            took = statistics.median(times)
            if took > target / 4:
                return max(1, int(rounds * target / took))
            rounds *= 4


def run_local(arguments: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    with teaclave.Executor(WORK) as executor:
        executor.invoke(arguments[0])  # warm
        start = time.perf_counter()
        values = [executor.invoke(args).return_value for args in arguments]
        return time.perf_counter() - start, values


def run_dask(batch: BatchExecutor, arguments: list[dict[str, Any]],
             chunk: int) -> tuple[float, list[Any]]:
    batch.chunk_size = chunk
    start = time.perf_counter()
    results = list(batch.map(WORK, arguments))
    took = time.perf_counter() - start
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"{len(bad)} invocations failed, e.g. {bad[0]}")
    return took, [r.return_value for r in results]


def seconds_of(rows: list[dict[str, Any]], batch_name: str, config: str,
               chunk: int | None) -> float:
    return float(next(r["seconds"] for r in rows if r["batch"] == batch_name
                      and r["config"] == config and r["chunk"] == chunk))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller batches")
    parser.add_argument("--out", type=Path, default=RESULTS / "distributed")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of every configuration (the median is reported)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    cpu_n, tiny_n = 2000 // scale, 20000 // scale
    load_before = os.getloadavg()
    rounds = calibrate()
    cpu_args = [{"rounds": rounds + i % 7} for i in range(cpu_n)]
    tiny_args = [{"rounds": i % 3} for i in range(tiny_n)]
    rows: list[dict[str, Any]] = []

    def record(batch_name: str, config: str, chunk: int | None, n: int, took: float) -> None:
        rows.append({"batch": batch_name, "config": config, "chunk": chunk, "invocations": n,
                     "seconds": round(took, 4), "per_second": round(n / took, 1)})
        print(f"{batch_name:<10}{config:<18}{chunk or '-'!s:>6}{n:>8}{took:>10.3f} s"
              f"{n / took:>12.1f}/s", flush=True)

    # Both clusters stay up; the configurations take turns, repeated, and the
    # median of the repetitions is reported (the machine's load drifts).
    batches: dict[int, BatchExecutor] = {}
    starts = {}
    try:
        for workers in (1, 2):
            start = time.perf_counter()
            batches[workers] = BatchExecutor(workers=workers)
            batches[workers].client.wait_for_workers(workers)
            starts[workers] = time.perf_counter() - start
            # warm every worker: payload bytes, executor creation, imports
            run_dask(batches[workers], [{"rounds": 0}] * (64 * workers), 1)
        runs: dict[tuple[str, str, int | None], list[float]] = {}
        cpu_expected = tiny_expected = None
        for _ in range(args.repeat):
            took, cpu_expected = run_local(cpu_args)
            runs.setdefault(("cpu-bound", "local Executor", None), []).append(took)
            took, tiny_expected = run_local(tiny_args)
            runs.setdefault(("tiny", "local Executor", None), []).append(took)
            for workers, batch in batches.items():
                name = f"Dask {workers} worker{'s' * (workers > 1)}"
                took, values = run_dask(batch, cpu_args, 16)
                assert values == cpu_expected, "distributed results differ from local ones"
                runs.setdefault(("cpu-bound", name, 16), []).append(took)
                for chunk in (16, 1000):
                    took, values = run_dask(batch, tiny_args, chunk)
                    assert values == tiny_expected, "distributed results differ from local ones"
                    runs.setdefault(("tiny", name, chunk), []).append(took)
    finally:
        for batch in batches.values():
            batch.shutdown()
    for (batch_name, config, size), times in runs.items():
        record(batch_name, config, size, cpu_n if batch_name == "cpu-bound" else tiny_n,
               statistics.median(times))
    cpu_local = seconds_of(rows, "cpu-bound", "local Executor", None)
    tiny_local = seconds_of(rows, "tiny", "local Executor", None)

    def seconds(batch_name: str, config: str, chunk: int | None) -> float:
        return seconds_of(rows, batch_name, config, chunk)

    summary = {
        "cpu_rounds": rounds,
        "cpu_ms_per_invocation_local": round(1000 * cpu_local / cpu_n, 3),
        "cpu_speedup_2_vs_1_worker": round(seconds("cpu-bound", "Dask 1 worker", 16)
                                           / seconds("cpu-bound", "Dask 2 workers", 16), 3),
        "tiny_overhead_us_chunk_1000": round(1e6 * (seconds("tiny", "Dask 1 worker", 1000)
                                                    - tiny_local) / tiny_n, 2),
        "tiny_overhead_us_chunk_16": round(1e6 * (seconds("tiny", "Dask 1 worker", 16)
                                                  - tiny_local) / tiny_n, 2),
        "cpu_overhead_us_chunk_16": round(1e6 * (seconds("cpu-bound", "Dask 1 worker", 16)
                                                 - cpu_local) / cpu_n, 2),
        "cluster_start_seconds": {str(k): round(v, 2) for k, v in starts.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "niceness": os.nice(0), "quick": args.quick, "repeat": args.repeat,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                        indent=2) + "\n")
    lines = [f"# Distributed batches on Dask ({summary['date']})", "",
             "Command: `nice -n 19 python -m bench.distributed"
             + (" --quick" if args.quick else "") + f"` on {os.cpu_count()} CPUs, median of "
             f"{args.repeat} alternating rounds, "
             f"load average before/after {summary['load_average_before']} / "
             f"{summary['load_average_after']} (the machine is shared).", "",
             "| batch | configuration | chunk | invocations | seconds | invocations/s |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['batch']} | {r['config']} | {r['chunk'] or '-'} | {r['invocations']} | "
              f"{r['seconds']} | {r['per_second']} |" for r in rows]
    lines += ["", f"- CPU-bound invocation: {rounds} rounds, "
              f"{summary['cpu_ms_per_invocation_local']} ms each on the local Executor.",
              f"- 2 workers vs 1 worker, CPU-bound: **{summary['cpu_speedup_2_vs_1_worker']}x**.",
              "- Distributed overhead per tiny invocation (1 worker minus local): "
              f"**{summary['tiny_overhead_us_chunk_1000']} us** with chunks of 1000, "
              f"{summary['tiny_overhead_us_chunk_16']} us with chunks of 16.",
              f"- Per CPU-bound invocation (chunks of 16): "
              f"{summary['cpu_overhead_us_chunk_16']} us.",
              f"- Cluster start (not in the figures): {summary['cluster_start_seconds']} s "
              "for 1 / 2 workers.", ""]
    args.out.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
