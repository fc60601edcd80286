"""Where the CPU time of a distributed batch of tiny invocations goes, by phase.

    python -m bench.distributed_profile                   # cluster phases, default chunking
    python -m bench.distributed_profile --chunk 1000      # fixed chunks of 1,000
    python -m bench.distributed_profile --worker          # the worker's chunk function alone

Cluster mode: a map of ``--invocations`` tiny invocations of tc_work.wasm
(``spin`` with 0-2 rounds) on a BatchExecutor with a local cluster of one
worker process, after a warm-up.  It reports, per invocation, the CPU time of
every thread of this process (the caller's thread submitting and reading
results, Dask's event loop, which runs the scheduler and the client's
communication, pywamr's collector threads that decode results, the linger
thread) and of the worker process, beside a local Executor running the same
invocations in this process; and how many tasks and scheduler round trips
(``scheduler_info``) the batch cost.  Worker mode runs the worker's chunk
function in this process on the same items (no Dask) and times the pickling
of what travels.  Thread CPU comes from /proc (Linux), in clock ticks: use
thousands of invocations.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pickle
import pstats
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from pywamr import teaclave
from pywamr.distributed import BatchExecutor
from pywamr.distributed._client import _options_key
from pywamr.distributed._worker import TEACLAVE, Spec, decode, run_chunk

WORK = Path(__file__).resolve().parent.parent / "tests" / "payloads" / "wasm" / "tc_work.wasm"
TICK = os.sysconf("SC_CLK_TCK")


def _phase(name: str) -> str:
    if name.startswith("pywamr-batch-collect"):
        return "collectors (decode, deliver)"
    if name.startswith("pywamr-batch-linger"):
        return "linger thread"
    if name == "MainThread":
        return "caller (submit, read results)"
    if name == "IO loop":
        return "Dask event loop (scheduler, client comms)"
    return "other threads (Dask callbacks, offload)"


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, by phase."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    totals: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        phase = _phase(names.get(int(tid), "?"))
        totals[phase] = totals.get(phase, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return totals


def local_cpu(arguments: list[dict[str, Any]]) -> float:
    """CPU microseconds per invocation on a local Executor in this process."""
    with teaclave.Executor(WORK) as executor:
        executor.invoke(arguments[0])
        start = time.process_time()
        for args in arguments:
            executor.invoke(args)
        return 1e6 * (time.process_time() - start) / len(arguments)


def cluster(arguments: list[dict[str, Any]], chunk: int | None, rounds: int) -> None:
    n = len(arguments)
    with BatchExecutor(workers=1, chunk_size=chunk) as batch:
        batch.client.wait_for_workers(1)
        list(batch.map(WORK, [{"rounds": 0}] * 64))  # warm: payload, executor, imports
        counts = {"tasks": 0, "scheduler round trips": 0}
        submit, info = batch.client.submit, batch.client.scheduler_info

        def counted_submit(*args: Any, **kwargs: Any) -> Any:
            counts["tasks"] += 1
            return submit(*args, **kwargs)

        def counted_info(*args: Any, **kwargs: Any) -> Any:
            counts["scheduler round trips"] += 1
            return info(*args, **kwargs)

        batch.client.submit, batch.client.scheduler_info = counted_submit, counted_info
        rows = []
        for _ in range(rounds):
            local = local_cpu(arguments)
            counts.update(dict.fromkeys(counts, 0))
            worker0 = sum(batch.client.run(time.process_time).values())
            threads0, process0 = thread_cpu(), time.process_time()
            start = time.perf_counter()
            results = list(batch.map(WORK, arguments))
            wall = time.perf_counter() - start
            process1, threads1 = time.process_time(), thread_cpu()
            worker1 = sum(batch.client.run(time.process_time).values())
            assert len(results) == n and all(r.ok for r in results)
            row = {"local Executor": local, "wall": 1e6 * wall / n,
                   "client process": 1e6 * (process1 - process0) / n,
                   "worker process": 1e6 * (worker1 - worker0) / n}
            row.update({phase: 1e6 * (threads1.get(phase, 0.0) - threads0.get(phase, 0.0)) / n
                        for phase in threads1})
            row["overhead (client + worker - local)"] = (
                row["client process"] + row["worker process"] - local)
            row.update(counts)
            rows.append(row)
            print(json.dumps({k: round(v, 1) for k, v in row.items()}), flush=True)
    print(f"median of {rounds} round(s), CPU microseconds per invocation "
          f"({n} invocations, chunk {chunk or 'auto'}):")
    for key in rows[0]:
        print(f"  {key:<45}{statistics.median(r.get(key, 0.0) for r in rows):>10.1f}")


def worker(arguments: list[dict[str, Any]], rounds: int, profile: bool) -> None:
    data = WORK.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    spec: Spec = (TEACLAVE, digest, _options_key({}), {}, (16, 1 << 30))
    n = len(arguments)
    blob = pickle.dumps(arguments, protocol=5)
    run_chunk(spec, data, blob)  # warm
    for _ in range(rounds):
        local = local_cpu(arguments)
        start = time.process_time()
        tag, where, encoded = run_chunk(spec, None, blob)
        chunk = time.process_time() - start
        start = time.process_time()
        sent = pickle.dumps((tag, where, encoded), protocol=5)
        dumped = time.process_time() - start
        start = time.process_time()
        pickle.loads(sent)
        loaded = time.process_time() - start
        start = time.process_time()
        for n_, value in enumerate(encoded):
            decode(n_, value, where)
        decoded = time.process_time() - start
        print(json.dumps({"local Executor": round(local, 2),
                          "run_chunk": round(1e6 * chunk / n, 2),
                          "pickle results": round(1e6 * dumped / n, 2),
                          "unpickle results": round(1e6 * loaded / n, 2),
                          "decode results": round(1e6 * decoded / n, 2),
                          "result bytes": round(len(sent) / n, 1),
                          "item bytes": round(len(blob) / n, 1)}), flush=True)
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(run_chunk, spec, None, blob)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invocations", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=None, help="fixed chunk size (default: auto)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true",
                        help="the worker's chunk function in this process, without Dask")
    parser.add_argument("--cprofile", action="store_true",
                        help="with --worker: the chunk function's top functions")
    args = parser.parse_args()
    arguments = [{"rounds": i % 3} for i in range(args.invocations)]
    if args.worker:
        worker(arguments, args.rounds, args.cprofile)
    else:
        cluster(arguments, args.chunk, args.rounds)


if __name__ == "__main__":
    main()
