"""Command line: ``python -m tools.difffuzz run|check|reduce ...``.

See docs/differential-fuzzing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .campaign import MODULE_DEADLINE, campaign, summarize
from .generate import BINARYEN_ENV, FEATURES, generator
from .reduce import check, reduce

MODES = ("fast-interp", "classic-interp", "aot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.difffuzz")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fuzz modules START..START+COUNT of a seeded run")
    run.add_argument("--mode", action="append", choices=MODES)
    run.add_argument("--features", choices=sorted(FEATURES), default="base")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--start", type=int, default=0)
    run.add_argument("--count", type=int, default=100)
    run.add_argument("--jobs", "-j", type=int, default=1,
                     help="worker processes (each runs the reference once per module, then "
                          "every mode)")
    run.add_argument("--minutes", type=float, help="stop starting modules after this long")
    run.add_argument("--nice", type=int, default=0)
    run.add_argument("--deadline", type=float, default=MODULE_DEADLINE,
                     help="seconds per module before it counts as hung")
    run.add_argument("--crashes", type=Path, default=Path("crashes/difffuzz"),
                     help="where findings are saved (git-ignored)")
    run.add_argument("--reduce", action="store_true", help="wasm-reduce every finding")
    run.add_argument("--out", type=Path, help="write the JSON summary here")
    run.add_argument("--log", type=Path,
                     help="append every record to this JSON-lines file as it comes")
    summ = sub.add_parser("summary", help="the summary of --log files (e.g. of a stopped run)")
    summ.add_argument("log", type=Path, nargs="+")
    summ.add_argument("--crashes", type=Path, help="also save the findings here")
    summ.add_argument("--out", type=Path, help="write the JSON summary here")
    chk = sub.add_parser("check", help="interestingness test for wasm-reduce")
    chk.add_argument("--mode", choices=MODES, required=True)
    chk.add_argument("--kind", required=True)
    chk.add_argument("--seed", type=int, required=True)
    chk.add_argument("--index", type=int, required=True)
    chk.add_argument("wasm", type=Path)
    red = sub.add_parser("reduce", help="wasm-reduce saved findings")
    red.add_argument("finding", type=Path, nargs="+", help="crashes/difffuzz/X.wasm")
    for command in (run, chk, red, summ):
        command.add_argument("--binaryen", type=Path,
                             help="npm's binaryen package directory (node_modules/binaryen) "
                                  "to use instead of the wasm-opt on PATH")
    args = parser.parse_args(argv)
    if args.binaryen:   # for this process and the workers it starts
        os.environ[BINARYEN_ENV] = str(args.binaryen.resolve())
    if args.command == "check":
        return check(args.wasm, args.mode, args.kind, args.seed, args.index)
    if args.command == "reduce":
        for finding in args.finding:
            print(json.dumps(reduce(finding)))
        return 0
    if args.command == "summary":
        return _summary_of_logs(args.log, args.crashes, args.out)
    summary = campaign(args.mode or list(MODES), args.features, args.seed, args.count,
                       args.start, args.jobs, args.nice, args.crashes, args.deadline,
                       args.minutes, args.log)
    summary["generator"] = generator()
    if args.reduce:  # the first finding of each kind per mode (the others are likely the same)
        for mode in summary["modes"].values():
            seen = set()
            for finding in mode["findings"]:
                key = finding.get("signature", finding["status"])
                if "saved" in finding and key not in seen:
                    seen.add(key)
                    finding["reduced"] = reduce(Path(finding["saved"]))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    _print(summary)
    return 0


def _summary_of_logs(logs: list[Path], crashes: Path | None, out: Path | None) -> int:
    """Summaries of the runs recorded in ``logs``, one per (features, seed)."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                runs.setdefault((record["features"], record["seed"]), []).append(record)
    summaries = []
    for (features, seed), records in runs.items():
        modes = [m for m in MODES if any(r["mode"] == m for r in records)]
        summary = summarize(records, features, seed, modes, crashes)
        summary["indices"] = [min(r["index"] for r in records), max(r["index"] for r in records)]
        summaries.append(summary)
        _print(summary)
    if out:
        out.write_text(json.dumps(summaries, indent=1) + "\n")
    return 0


def _print(summary: dict[str, Any]) -> None:
    for mode, data in summary["modes"].items():
        print(f"{mode:15} {summary['features']:9} {data['modules']} modules, "
              f"{data['compared']} compared, statuses {data['statuses']}, "
              f"divergences {data['divergence_kinds']}, {data['export_calls']} calls")
        for f in data["findings"]:
            print(f"  #{f['index']} {f['status']} {f.get('kind', '')}: {f.get('detail', '')[:300]}")


if __name__ == "__main__":
    sys.exit(main())
