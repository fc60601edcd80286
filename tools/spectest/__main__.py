"""Command line: ``python -m tools.spectest SUITE_DIR [--mode M ...] [--out FILE]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .runner import FILE_TIMEOUT, MODES, baseline, run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.spectest", description=__doc__)
    parser.add_argument("suite", type=Path,
                        help="a directory of .wast files (a testsuite checkout)")
    parser.add_argument("--mode", action="append", choices=MODES,
                        help="mode to run (repeatable; default: all three)")
    parser.add_argument("--file", action="append",
                        help="run only this file stem, e.g. i32 (repeatable)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="child processes at once")
    parser.add_argument("--timeout", type=float, default=FILE_TIMEOUT,
                        help="seconds per file and mode before it counts as hung")
    parser.add_argument("--nice", type=int, default=0, help="run children under nice -n N")
    parser.add_argument("--out", type=Path, help="write the JSON summary here")
    parser.add_argument("--write-baseline", type=Path,
                        help="record per-file pass counts and crashed files (the test's floor)")
    parser.add_argument("--failures", action="store_true",
                        help="print every failing assertion, not only the figures")
    args = parser.parse_args(argv)
    if not args.suite.is_dir():
        parser.error(f"{args.suite} is not a directory")
    summary = run_suite(args.suite, args.mode or list(MODES), args.file, args.jobs,
                        args.timeout, args.nice)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    if args.write_baseline:
        args.write_baseline.write_text(json.dumps(baseline(summary), indent=1, sort_keys=True)
                                       + "\n")
    for mode, data in summary["modes"].items():
        for group, g in sorted(data["groups"].items()):
            print(f"{mode:15} {group:5} {g['passed']:6}/{g['runnable']:<6} passed "
                  f"({g['percent']}%), {g['skipped']} not runnable")
            for cause, n in g["causes"].items():
                print(f"{'':22}{n:6}  {cause}")
        for crash in data["crashed_files"] + data["timed_out_files"]:
            print(f"{mode:15} CRASH/HANG {crash['file']}: {crash['detail'][:300]}")
        if args.failures:
            for name, f in sorted(data["files"].items()):
                for r in f["failures"]:
                    print(f"  {mode} {name}:{r['line']} {r['kind']}: {r['cause']} "
                          f"{r.get('detail', '')[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
