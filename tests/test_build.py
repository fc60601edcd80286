"""The build inputs: the pinned WAMR source and the payload fixtures."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

spec = importlib.util.spec_from_file_location("fetch_wamr", ROOT / "tools" / "fetch_wamr.py")
assert spec and spec.loader
fetch_wamr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch_wamr)


def test_integrity_check_rejects_tampered_tarballs() -> None:
    with pytest.raises(fetch_wamr.FetchError, match="integrity mismatch"):
        fetch_wamr.verify_integrity(b"not the package")


def test_vendored_tree_is_current_and_untracked() -> None:
    tree = ROOT / "vendor" / "wasm-micro-runtime"
    if not tree.exists():
        pytest.skip("built from a user-supplied WAMR tree")
    assert fetch_wamr.is_current(tree)
    tracked = subprocess.run(["git", "ls-files", "vendor/wasm-micro-runtime"], cwd=ROOT,
                             capture_output=True, text=True, check=False).stdout
    assert tracked == ""


def test_missing_npm_names_both_ways_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_wamr.shutil, "which", lambda name: None)
    with pytest.raises(fetch_wamr.FetchError, match="PYWAMR_WAMR_ROOT") as info:
        fetch_wamr.prepare(tmp_path / "tree")
    assert "npm" in str(info.value)


def test_payload_fixtures_rebuild_identically() -> None:
    if not (shutil.which("clang-14") and shutil.which("wat2wasm")
            and Path("/usr/bin/cargo").exists()):
        pytest.skip("guest toolchains are not installed (tools/setup.sh installs them)")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_payloads.py"), "--check"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zig_builds_of_the_c_examples_agree(tmp_path: Path) -> None:
    pytest.importorskip("ziglang")
    if not shutil.which("wasm-strip") and not shutil.which("wasm-opt"):
        pytest.skip("wabt/binaryen are not installed (tools/setup.sh installs them)")
    from pywamr import teaclave

    spec = importlib.util.spec_from_file_location("build_payloads",
                                                  ROOT / "tools" / "build_payloads.py")
    assert spec and spec.loader
    build_payloads = importlib.util.module_from_spec(spec)
    sys.modules["build_payloads"] = build_payloads  # dataclasses look their module up
    spec.loader.exec_module(build_payloads)
    built = {p.stem: p for p in build_payloads.build_zig(tmp_path / "zig")}
    assert set(built) == {"adder", "compare", "wordcount", "millionaire", "simple_add"}
    (tmp_path / "a").write_text("one\ntwo\n")
    (tmp_path / "b").write_text("one\nthree\n")
    files = {"input_a": tmp_path / "a", "input_b": tmp_path / "b", "input": tmp_path / "a"}
    runs = {"adder": ({"a": 40, "b": 2}, [], []), "compare": ({}, ["input_a", "input_b"],
                                                                ["result"]),
            "wordcount": ({}, ["input"], ["output"]),
            "simple_add": ({"adder1": 40, "adder2": 2}, [], []),
            "millionaire": ({"input_file_id1": "input_a", "input_file_id2": "input_b",
                             "output_file_id": "result"}, ["input_a", "input_b"], ["result"])}
    for name, (arguments, inputs, outputs) in runs.items():
        results = []
        for path in (built[name], ROOT / "examples" / "payloads" / "wasm" / f"{name}.wasm"):
            out = {o: tmp_path / f"{name}-{path.parent.name}-{o}" for o in outputs}
            value = teaclave.run(path, arguments, {i: files[i] for i in inputs}, out)
            results.append((value, [p.read_bytes() for p in out.values()]))
        assert results[0] == results[1], name


def test_aot_compiler_is_built_where_llvm_14_is() -> None:
    """tools/setup.sh installs llvm-14-dev: then the AOT tests must run, not skip."""
    import os

    import pywamr

    if not Path("/usr/lib/llvm-14/lib/cmake/llvm/LLVMConfig.cmake").exists():
        pytest.skip("LLVM 14 (llvm-14-dev) is not installed")
    if os.environ.get("PYWAMR_AOT", "").upper() == "OFF":
        pytest.skip("built with PYWAMR_AOT=OFF")
    assert pywamr.aot_available(), "LLVM 14 is installed, but pywamr._compiler was not built"
