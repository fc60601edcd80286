"""The build inputs: the pinned WAMR source and the payload fixtures."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

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
    if not (shutil.which("clang-14") and shutil.which("wat2wasm") and Path("/usr/bin/cargo").exists()):
        pytest.skip("guest toolchains are not installed (tools/setup.sh installs them)")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_payloads.py"), "--check"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
