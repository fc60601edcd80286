"""Renames and hard links between two preopened directories are refused (patch 0015).

`wasi_crossdir` (tests/payloads/src/wasi_crossdir.c) tries `path_rename` and
`path_link` between two preopens both ways, through descriptors opened below
each, through `..`, between one host directory granted twice and between a
grant nested in another, after `fd_renumber`; and the same operations within
one grant, which keep working.  The host tree is checked file by file
afterwards: a refusal changes nothing, an allowed operation did what it says.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasi_helpers import ENOTCAPABLE, EXDEV, ROOT, parse

import pywamr
from pywamr import Stdio, WasiConfig

CROSSDIR = ROOT / "tests" / "payloads" / "wasm" / "wasi_crossdir.wasm"
MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])

EXPECTED = {
    "found": 1,
    # between two grants: EXDEV, whatever the descriptors and paths
    **dict.fromkeys([
        "rename_a_to_b", "rename_b_to_a", "link_a_to_b", "link_b_to_a",
        "rename_suba_to_subb", "rename_subb_to_suba", "link_suba_to_subb", "link_subb_to_suba",
        "rename_suba_to_b", "link_a_to_subb", "rename_dot_a_to_b",
        "rename_dotdot_a_to_b", "link_dotdot_b_to_a",
        "rename_a_to_a2", "rename_a2_to_a", "link_a_to_a2",  # one host dir granted twice
        "rename_a_to_nest", "rename_nest_to_suba", "link_nest_to_a",  # a nested grant
        "rename_renumbered_to_a",  # B's descriptor renumbered onto A's number
    ], EXDEV),
    # `..` above the descriptor the path starts from: refused before anything else
    "rename_suba_up_to_b": ENOTCAPABLE, "link_suba_up_to_subb_up": ENOTCAPABLE,
    "rename_a_via_dotdot_to_b": ENOTCAPABLE,
    # within one grant: done
    **dict.fromkeys([
        "renumber", "rename_renumbered_to_b", "rename_within_a", "rename_within_suba_to_a",
        "link_within_a", "link_within_subb_to_b", "rename_within_a2", "rename_within_nest",
        "rename_within_dot_to_a", "rename_within_b_dotdot",
    ], 0),
}

# The host tree afterwards: relative path -> content.
AFTER_A = {"f1": "f1", "sub/f2": "f2", "f3": "f3", "sub/f3_link": "f3",
           "f4_renamed": "f4", "f5_renamed": "f5", "sub/s1": "s1", "s2": "s2",
           "sub/s3_renamed": "s3"}
AFTER_B = {"g1": "g1", "sub/g2": "g2", "sub/t1": "t1", "sub/t2": "t2", "t2_link": "t2",
           "t3_moved": "t3"}


def _tree(root: Path) -> dict[str, str]:
    """Every file below root (relative path -> text)."""
    return {str(p.relative_to(root)): p.read_text()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _open_below(root: Path) -> list[str]:
    """The process's open descriptors on anything below root."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the listing's own descriptor, now closed
            continue
        if target.startswith(str(root)):
            found.append(target)
    return found


def _make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture(params=MODES)
def crossdir(request: pytest.FixtureRequest) -> Iterator[pywamr.Module]:
    with pywamr.Runtime(request.param) as rt:
        module = rt.load(CROSSDIR)
        yield module
        module.close()


def _run(module: pywamr.Module, a: Path, b: Path) -> dict[str, str]:
    config = WasiConfig(argv=["wasi_crossdir", "/a", "/b", "/a2", "/nest"],
                        preopens={"/a": str(a), "/b": str(b), "/a2": str(a),
                                  "/nest": str(a / "sub")},
                        stdout=Stdio.CAPTURE, stderr=Stdio.CAPTURE)
    with module.instantiate(wasi=config) as inst:
        assert inst.run() == 0, inst.wasi.take_stderr()
        return parse(inst.wasi.take_stdout().decode())


def test_renames_and_links_across_preopens(crossdir: pywamr.Module, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, cwd = tmp_path / "a", tmp_path / "b", tmp_path / "cwd"
    _make(a, {"f1": "f1", "f2": "f2", "f3": "f3", "f4": "f4", "f5": "f5",
              "sub/s1": "s1", "sub/s2": "s2", "sub/s3": "s3"})
    _make(b, {"g1": "g1", "g2": "g2", "sub/t1": "t1", "sub/t2": "t2", "sub/t3": "t3"})
    # The host process's working directory holds files named like the link
    # sources: WAMR 1.1.2 resolved link names against it (EBADF); 0015 does not.
    _make(cwd, {"f1": "cwd", "f3": "cwd", "t2": "cwd"})
    monkeypatch.chdir(cwd)
    out = _run(crossdir, a, b)
    # nothing refused kept a host descriptor (1.1.2's EBADF return from
    # path_link kept both directory leases, so a preopen was never closed)
    assert _open_below(tmp_path) == []
    assert {key: int(out[key]) for key in EXPECTED} == EXPECTED
    assert _tree(a) == AFTER_A
    assert _tree(b) == AFTER_B
    assert os.stat(a / "f3").st_ino == os.stat(a / "sub" / "f3_link").st_ino
    assert os.stat(b / "sub" / "t2").st_ino == os.stat(b / "t2_link").st_ino
    assert _tree(cwd) == {"f1": "cwd", "f3": "cwd", "t2": "cwd"}
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "cwd"]

