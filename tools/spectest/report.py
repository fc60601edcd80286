"""Render a tools/spectest JSON summary as Markdown: figures per mode, then
every failing assertion grouped by cause (``python -m tools.spectest.report S.json``)."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path
from typing import Any


def _lines(entries: list[tuple[str, int]]) -> str:
    """``file:line`` lists, compressed per file: ``i32: 3, 7, 9``."""
    by_file: dict[str, list[int]] = collections.defaultdict(list)
    for name, line in entries:
        by_file[name].append(line)
    return "; ".join(f"{name} {', '.join(str(n) for n in sorted(lines)[:12])}"
                     + (f" (+{len(lines) - 12})" if len(lines) > 12 else "")
                     for name, lines in sorted(by_file.items()))


def render(summary: dict[str, Any]) -> str:
    out = ["| mode | group | passed / runnable | % | not runnable | crashed or hung files |",
           "|---|---|---:|---:|---:|---|"]
    for mode, data in summary["modes"].items():
        broken = ", ".join(f["file"] for f in data["crashed_files"] + data["timed_out_files"])
        for group, g in sorted(data["groups"].items()):
            out.append(f"| {mode} | {group} | {g['passed']:,} / {g['runnable']:,} | "
                       f"{g['percent']} | {g['skipped']:,} | {broken or 'none'} |")
    for mode, data in summary["modes"].items():
        for group in sorted(data["groups"]):
            causes: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
            for name, f in data["files"].items():
                if name.startswith("simd_") == (group == "simd"):
                    for r in f["failures"]:
                        causes[r["cause"]].append((name, r["line"]))
            ranked = sorted(causes.items(), key=lambda kv: -len(kv[1]))
            if group == "simd":   # thousands of lines of one cause: counts only
                out += ["", f"**{mode}, SIMD files** failures by cause: "
                        + "; ".join(f"{cause} ({len(e)})" for cause, e in ranked)]
                continue
            out += ["", f"**{mode}, core files** failures by cause (file and line of each):", ""]
            out += [f"* {cause} ({len(e)}): {_lines(e)}" for cause, e in ranked]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    sys.stdout.write(render(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
