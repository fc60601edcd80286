"""Start-up report: every lifecycle policy vs wasmtime-py, in one process run.

Run from the repository root::

    python -m bench.report            # full run (a few minutes), writes bench/results/
    python -m bench.report --quick    # shorter budgets, 2,000-invocation memory check

For each payload (the adder, a file-processing payload, a generated ~3.4 MB
module) and each mode it times Teaclave-style invocations under every policy,
with per-phase timings, and wasmtime-py's cold / precompiled / instantiate /
warm paths on the same payloads.  It writes ``startup.md`` (medians and
ratios), ``startup.json`` (raw figures) and ``startup.png`` (per-phase time
per policy), and checks RSS stays flat over many invocations per policy.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pywamr
from pywamr.teaclave._result import PHASES

from . import startup

OUT = Path(__file__).resolve().parent / "results"


def _measure(invoke: Callable[[], Any], budget: float, least: int, most: int,
             check: Callable[[Any], None]) -> tuple[list[int], list[dict[str, int]]]:
    check(invoke())  # warm-up, and the answer must be right
    totals: list[int] = []
    phases: list[dict[str, int]] = []
    deadline = time.perf_counter() + budget
    while len(totals) < most and (len(totals) < least or time.perf_counter() < deadline):
        start = time.perf_counter_ns()
        result = invoke()
        totals.append(time.perf_counter_ns() - start)
        timings = getattr(result, "timings", None)
        if timings:
            phases.append(timings)
    return totals, phases


def _median_us(values: list[int]) -> float:
    return statistics.median(values) / 1e3


def _p95_us(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] / 1e3


def run(quick: bool, modes: list[str], rss_invocations: int) -> dict[str, Any]:
    budget = 0.3 if quick else 1.0
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
        "python": platform.python_version(), "wamr": pywamr.WAMR_VERSION,
        "pywamr": {}, "wasmtime": {}, "rss": {},
    }
    with startup.cases(10000 if quick else 40000) as cases:
        for case in cases:
            def check(result: Any, case: startup.Case = case) -> None:
                value = getattr(result, "return_value", result)
                if case.expected is not None and value != case.expected:
                    raise AssertionError(f"{case.name}: got {value}, expected {case.expected}")

            report["size_" + case.name] = len(case.wasm)
            for mode in modes:
                for policy in startup.POLICIES:
                    slow = policy in ("cold", "reuse-runtime") and case.name == "large"
                    invoke, close = startup.pywamr_invoker(case, mode, policy, timings=True)
                    try:
                        totals, phases = _measure(invoke, budget, 3 if slow else 20,
                                                  50 if slow else 20000, check)
                    finally:
                        close()
                        gc.collect()
                    report["pywamr"][f"{case.name}|{mode}|{policy}"] = {
                        "totals_ns": totals,
                        "phases_ns": {p: [t.get(p, 0) for t in phases] for p in PHASES
                                      if any(p in t for t in phases)},
                    }
                    print(f"{case.name:<10} {mode:<15} {policy:<15} "
                          f"{_median_us(totals):>10.1f} µs  (n={len(totals)})", flush=True)
            for path in startup.WASMTIME_PATHS:
                slow = path == "cold" and case.name == "large"
                invoke, close = startup.wasmtime_invoker(case, path)
                totals, _ = _measure(invoke, budget, 3 if slow else 20, 10 if slow else 20000,
                                     check)
                close()
                report["wasmtime"][f"{case.name}|{path}"] = {"totals_ns": totals}
                print(f"{case.name:<10} {'wasmtime-py':<15} {path:<15} "
                      f"{_median_us(totals):>10.1f} µs  (n={len(totals)})", flush=True)
        adder = cases[0]
        for policy in startup.POLICIES:
            report["rss"][policy] = _rss_growth(adder, modes[0], policy, rss_invocations)
            print(f"rss {policy:<15} {report['rss'][policy]} KiB over {rss_invocations}",
                  flush=True)
    report["rss_invocations"] = rss_invocations
    return report


def _rss_growth(case: startup.Case, mode: str, policy: str, count: int) -> int:
    invoke, close = startup.pywamr_invoker(case, mode, policy)
    try:
        for _ in range(min(500, count)):
            invoke()
        gc.collect()
        before = startup.rss_kib()
        for _ in range(count):
            invoke()
        gc.collect()
        return startup.rss_kib() - before
    finally:
        close()


def markdown(report: dict[str, Any], modes: list[str]) -> str:
    lines = [f"# Start-up report ({report['date']}, {report['machine']}, Python "
             f"{report['python']}, WAMR {report['wamr']})", "",
             "Medians of Teaclave-style invocations (arguments marshalled, entrypoint called, "
             "files closed). Ratios: cold ÷ policy (what reuse saves) and pywamr ÷ the "
             "wasmtime-py path that keeps the same things (< 1 means pywamr is faster).", ""]
    for case in ("adder", "wordcount", "large"):
        size = report.get("size_" + case, 0)
        lines += [f"## {case} ({size / 1e6:.2f} MB)" if size > 1e6 else f"## {case} "
                  f"({size / 1e3:.1f} kB)", "",
                  "| mode | policy | median µs | p95 µs | cold ÷ policy | wasmtime-py path | "
                  "wasmtime µs | pywamr ÷ wasmtime |",
                  "|---|---|---:|---:|---:|---|---:|---:|"]
        for mode in modes:
            cold = _median_us(report["pywamr"][f"{case}|{mode}|cold"]["totals_ns"])
            for policy in startup.POLICIES:
                totals = report["pywamr"][f"{case}|{mode}|{policy}"]["totals_ns"]
                peer = startup.PEERS[policy]
                peer_us = _median_us(report["wasmtime"][f"{case}|{peer}"]["totals_ns"])
                median = _median_us(totals)
                lines.append(f"| {mode} | {policy} | {median:.1f} | {_p95_us(totals):.1f} | "
                             f"{cold / median:.2f}× | {peer} | {peer_us:.1f} | "
                             f"{median / peer_us:.2f} |")
        lines += ["", f"Per-phase medians, µs ({modes[0]}):", "",
                  "| policy | " + " | ".join(PHASES) + " |",
                  "|---|" + "---:|" * len(PHASES)]
        for policy in startup.POLICIES:
            phases = report["pywamr"][f"{case}|{modes[0]}|{policy}"]["phases_ns"]
            cells = [f"{statistics.median(phases[p]) / 1e3:.1f}" if p in phases else "–"
                     for p in PHASES]
            lines.append(f"| {policy} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"RSS growth over {report['rss_invocations']:,} adder invocations per policy "
              f"({modes[0]}): " + ", ".join(f"{p} {kib} KiB" for p, kib in report["rss"].items()),
              ""]
    return "\n".join(lines)


def _median_of(series: Any) -> float:
    """Median of a raw list, or of a compacted series from startup.json."""
    return float(series["median_ns"] if isinstance(series, dict) else statistics.median(series))


def plot(report: dict[str, Any], modes: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = ("adder", "wordcount", "large")
    fig, axes = plt.subplots(1, len(cases), figsize=(5.5 * len(cases), 5.5))
    colors = plt.get_cmap("tab10")
    for ax, case in zip(axes, cases):
        labels, bottoms = [], []
        for mode in modes:
            for policy in startup.POLICIES:
                labels.append(f"{mode.split('-')[0]}\n{policy.replace('reuse-', 're-')}")
        bottoms = [0.0] * len(labels)
        for k, phase in enumerate(PHASES):
            heights = []
            for mode in modes:
                for policy in startup.POLICIES:
                    phases = report["pywamr"][f"{case}|{mode}|{policy}"]["phases_ns"]
                    heights.append(_median_of(phases[phase]) / 1e3 if phase in phases else 0.0)
            if any(heights):
                ax.bar(labels, heights, bottom=bottoms, label=phase, color=colors(k))
                bottoms = [b + h for b, h in zip(bottoms, heights)]
        ax.set_title(case)
        ax.set_ylabel("µs per invocation (median)")
        ax.tick_params(axis="x", labelsize=7, labelrotation=90)
    axes[0].legend(fontsize=7)
    fig.suptitle("pywamr per-phase time per lifecycle policy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _compact(report: dict[str, Any], keep: int = 200) -> dict[str, Any]:
    """Summary statistics for every series, plus at most ``keep`` raw samples."""
    def series(values: list[int]) -> dict[str, Any]:
        return {"n": len(values), "median_ns": statistics.median(values) if values else None,
                "p95_ns": sorted(values)[int(0.95 * (len(values) - 1))] if values else None,
                "min_ns": min(values) if values else None, "samples_ns": values[:keep]}

    out = dict(report)
    for engine in ("pywamr", "wasmtime"):
        out[engine] = {key: {name: (series(v) if name == "totals_ns" else
                                    {p: series(x) for p, x in v.items()})
                             for name, v in entry.items()}
                       for key, entry in report[engine].items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short budgets")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw startup.png from an existing startup.json")
    parser.add_argument("--rss", type=int, default=None,
                        help="invocations per policy for the memory check "
                             "(default 100,000; 2,000 with --quick)")
    args = parser.parse_args(argv)
    modes = [m for m in ("fast-interp", "classic-interp", "aot") if m in pywamr.MODES]
    if args.plot_only:
        plot(json.loads((args.out / "startup.json").read_text()), modes, args.out / "startup.png")
        return 0
    rss = args.rss if args.rss is not None else (2000 if args.quick else 100_000)
    report = run(args.quick, modes, rss)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(_compact(report)))
    (args.out / "startup.md").write_text(markdown(report, modes))
    plot(report, modes, args.out / "startup.png")
    print(f"wrote {args.out}/startup.md, startup.json, startup.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
