"""The WASI sandbox: only preopened directories, no sockets, malformed use survived.

Every attempt runs against real directories, with a secret file next to the
preopen and symlinks to it planted inside; afterwards the secret is checked
untouched and nothing was created outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasi_helpers import (
    EBADF,
    EFAULT,
    EILSEQ,
    ELOOP,
    ENOENT,
    ENOTCAPABLE,
    ENOTSOCK,
    EXDEV,
    PROBE,
    fuzz_run,
    parse,
    run_pywamr,
    run_wasmtime,
    sandbox_tree,
)

import pywamr
from pywamr import Stdio, WasiConfig

MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])


@pytest.fixture(params=MODES)
def probe(request: pytest.FixtureRequest) -> Iterator[pywamr.Module]:
    with pywamr.Runtime(request.param) as rt:
        module = rt.load(PROBE)
        yield module
        module.close()


REFUSED = {
    # `..` and absolute paths
    "dotdot_errno": ENOTCAPABLE, "absolute_errno": ENOTCAPABLE,
    "dotdot_stat_errno": ENOTCAPABLE, "dotdot_create_errno": ENOTCAPABLE,
    "dotdot_mkdir_errno": ENOTCAPABLE,
    "dotdot_deep_errno": ENOENT,  # "a" does not exist: refused before `..` matters
    # symlinks planted by the host, pointing outside
    "planted_follow_errno": ENOTCAPABLE, "planted_abs_follow_errno": ENOTCAPABLE,
    "planted_dir_errno": ENOTCAPABLE, "planted_stat_follow_errno": ENOTCAPABLE,
    "planted_nofollow_errno": ELOOP,  # O_NOFOLLOW on a symlink
    # a dangling planted symlink (to ../created_outside.txt), a symlink loop
    "dangling_create_follow_errno": ENOTCAPABLE, "dangling_create_nofollow_errno": ELOOP,
    "dangling_mkdir_errno": ENOTCAPABLE, "planted_trunc_nofollow_errno": ELOOP,
    "loop_errno": ELOOP, "planted_set_times_errno": ENOTCAPABLE,
    "rename_onto_planted_errno": ENOTCAPABLE,
    # symlinks made by the guest: the link may be made, never followed out
    "symlink_out_open_errno": ENOTCAPABLE,
    "symlink_abs_errno": EBADF,  # WAMR refuses absolute targets outright
    "symlink_abs_open_errno": ENOENT,  # (so there is nothing to open)
    # hard links, renames and unlinks reaching outside
    "link_out_errno": ENOTCAPABLE, "link_planted_errno": ENOTCAPABLE,
    "rename_out_errno": ENOTCAPABLE, "rename_in_errno": ENOTCAPABLE,
    "unlink_out_errno": ENOTCAPABLE, "rename_via_dotdot_errno": ENOTCAPABLE,
    # nothing beyond what was granted
    "fd_99_errno": EBADF, "sock_recv_errno": ENOTSOCK, "sock_shutdown_errno": ENOTSOCK,
    # WASI paths are UTF-8 (patch 0011)
    "non_utf8_errno": EILSEQ,
}


def _check_outside_untouched(root: Path) -> None:
    assert (root / "secret.txt").read_text() == "the secret"
    assert sorted(p.name for p in root.iterdir()) == ["other", "pre", "secret.txt"]


def test_escapes_are_refused(probe: pywamr.Module, tmp_path: Path) -> None:
    preopens = sandbox_tree(tmp_path)
    code, out, _ = run_pywamr(probe, ["escape", "/pre", "/other"], preopens=preopens)
    assert code == 0
    assert out["dir_found"] == out["other_found"] == "1"
    got = {key: int(out[key]) for key in REFUSED}
    assert got == REFUSED
    # reading a planted symlink's *text* is allowed; following it is not
    assert out["planted_readlink_errno"] == "0"
    _check_outside_untouched(tmp_path)
    # nothing was created in the preopen, nothing moved to the other one
    assert sorted(os.listdir(tmp_path / "pre")) == ["dangling", "inside.txt", "loop", "planted",
                                                    "planted_abs", "planted_dir"]
    assert os.listdir(tmp_path / "other") == []


def test_rename_between_two_preopens(probe: pywamr.Module, tmp_path: Path) -> None:
    """A rename from one preopen to another is refused: through `..` with
    ENOTCAPABLE, through the two directories' own descriptors with EXDEV
    (patch 0015; wasmtime allows the latter).  tests/test_wasi_crossdir.py
    tries every other way."""
    preopens = sandbox_tree(tmp_path)
    _, out, _ = run_pywamr(probe, ["escape", "/pre", "/other"], preopens=preopens)
    assert out["rename_via_dotdot_errno"] == str(ENOTCAPABLE)
    assert out["rename_across_errno"] == str(EXDEV)
    assert (tmp_path / "pre" / "inside.txt").read_text() == "inside"
    assert os.listdir(tmp_path / "other") == []
    _check_outside_untouched(tmp_path)


def test_escapes_match_wasmtime(tmp_path: Path) -> None:
    """wasmtime-py as a second opinion: it refuses the same escapes (its errno
    for some differs: e.g. EPERM for an absolute path, ENOTCAPABLE here)."""
    ours_root, theirs_root = tmp_path / "ours", tmp_path / "theirs"
    ours_root.mkdir()
    theirs_root.mkdir()
    with pywamr.Runtime() as rt:
        _, ours, _ = run_pywamr(rt.load(PROBE), ["escape", "/pre", "/other"],
                                preopens=sandbox_tree(ours_root))
    _, theirs = run_wasmtime(["escape", "/pre", "/other"], preopens=sandbox_tree(theirs_root))
    escapes = [k for k in REFUSED if k not in ("fd_99_errno", "symlink_abs_open_errno")]
    refused_by_them = {k: theirs[k] for k in escapes if theirs.get(k) != "0"}
    # every escape wasmtime refuses, we refuse too
    assert {k: ours[k] != "0" for k in refused_by_them} == dict.fromkeys(refused_by_them, True)
    for root in (ours_root, theirs_root):
        _check_outside_untouched(root)


MALFORMED = {
    # bad pointers: WAMR traps ("out of bounds memory access")
    "iovs_oob": None, "nwritten_oob": None, "iov_buf_oob": None, "read_iov_oob": None,
    "path_oob": None, "path_len_huge": None, "path_open_result_oob": None,
    "args_get_oob": None, "random_oob": None, "poll_huge": None, "readdir_oob": None,
    "readlink_oob": None, "clock_result_oob": None,
    # counts whose byte size overflows: EFAULT (patch 0011; -1 before)
    "iovs_huge_count": EFAULT, "iovs_count_overflow": EFAULT,
    # invalid descriptors
    "read_bad_fd": EBADF, "write_bad_fd": EBADF, "path_open_bad_dirfd": EBADF,
    # no subscriptions: WAMR answers success with no events
    "poll_zero": 0,
    # renumbering an fd onto itself: a no-op (patch 0012; it crashed the process before)
    "renumber_same": 0, "renumber_same_bad": EBADF,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_use(probe: pywamr.Module, tmp_path: Path, case: str) -> None:
    config = WasiConfig(argv=["p", "malformed", "/d", case], preopens={"/d": str(tmp_path)},
                        stdout=Stdio.CAPTURE)
    with probe.instantiate(wasi=config) as inst:
        expected = MALFORMED[case]
        if expected is None:
            with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
                inst.run()
        else:
            assert inst.run() == 0
            assert parse(inst.wasi.take_stdout().decode()) == {"errno": str(expected)}
    assert os.listdir(tmp_path) in ([], ["x"])  # at most the one file path_open may create


def test_no_network_functions(tmp_path: Path) -> None:
    """WAMR's own socket extensions answer ENOTSUP: nothing can be opened."""
    import subprocess

    src = tmp_path / "net.c"
    src.write_text(
        '#include <stdio.h>\n#include <stdint.h>\n'
        '#define W(n) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#n)))\n'
        'W(sock_open) int32_t sock_open(int32_t, int32_t, int32_t, int32_t);\n'
        'W(sock_connect) int32_t sock_connect(int32_t, int32_t);\n'
        'W(sock_send_to) int32_t sock_send_to(int32_t, int32_t, int32_t, int32_t, int32_t,'
        ' int32_t);\n'
        'int main(void) { static int32_t fd = -1; static char addr[32];\n'
        '  printf("open %d fd %d\\n", sock_open(3, 0, 1, (int32_t)(intptr_t)&fd), fd);\n'
        '  printf("connect %d\\n", sock_connect(0, (int32_t)(intptr_t)addr));\n'
        '  printf("send_to %d\\n", sock_send_to(0, 0, 0, 0, (int32_t)(intptr_t)addr, 0));\n'
        '  return 0; }\n')
    wasm = tmp_path / "net.wasm"
    subprocess.run(["clang-14", "--target=wasm32-wasi", "-O2", str(src), "-o", str(wasm)],
                   check=True)
    with pywamr.Runtime() as rt:
        inst = rt.load(wasm).instantiate(wasi=WasiConfig(preopens={"/": str(tmp_path)},
                                                         stdout=Stdio.CAPTURE))
        assert inst.run() == 0
        assert inst.wasi.take_stdout().decode().splitlines() == [
            "open 58 fd -1", "connect 58", "send_to 58"]


FUZZ_SEEDS = int(os.environ.get("PYWAMR_WASI_FUZZ_SEEDS", "40"))


@pytest.mark.parametrize("mode", MODES)
def test_random_wasi_calls(mode: str, tmp_path: Path) -> None:
    """Random arguments to every preview-1 function: errnos or traps, never a
    crash, nothing reached outside the preopens (tools/fuzz_wasi.py runs more)."""
    preopens = sandbox_tree(tmp_path)
    calls = traps = 0
    with pywamr.Runtime(mode) as rt:
        module = rt.load(PROBE)
        for seed in range(FUZZ_SEEDS):
            made, trapped = fuzz_run(module, seed, 300, preopens)
            calls += made or 0
            traps += trapped
    _check_outside_untouched(tmp_path)
    assert calls >= FUZZ_SEEDS * 10  # runs make many calls before a wild pointer traps
    assert 0 < traps <= FUZZ_SEEDS
