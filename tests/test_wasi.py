"""WASI preview 1: configuration, every function family, commands and reactors.

Each family is checked against the values the preview-1 specification
defines (errno and filetype numbers, clock and seek semantics), with
wasmtime-py's WASI as a second opinion where both should agree.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasi_helpers import (
    EBADF,
    EEXIST,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTCAPABLE,
    ENOTDIR,
    ENOTEMPTY,
    ENOTSUP,
    FT_DIRECTORY,
    FT_REGULAR,
    FT_SYMLINK,
    PROBE,
    WASI_EXAMPLES,
    parse,
    run_pywamr,
    run_wasmtime,
)

import pywamr
from pywamr import Stdio, WasiConfig, WasiExit

ALL_MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])


@pytest.fixture(params=ALL_MODES)
def probe(request: pytest.FixtureRequest) -> Iterator[pywamr.Module]:
    with pywamr.Runtime(request.param) as rt:
        module = rt.load(PROBE)
        yield module
        module.close()


@pytest.fixture
def fast_probe() -> Iterator[pywamr.Module]:
    with pywamr.Runtime() as rt:
        module = rt.load(PROBE)
        yield module
        module.close()


# -- args, environ -----------------------------------------------------------------
def test_args_and_environ(probe: pywamr.Module) -> None:
    code, out, _ = run_pywamr(probe, ["args", "x y", "zé"], env={"A": "1", "EMPTY": ""})
    assert code == 0
    assert out["argc"] == "4"
    assert [out["arg0"], out["arg1"], out["arg2"], out["arg3"]] == ["wasi_probe", "args",
                                                                    "x y", "zé"]
    assert out["args_count"] == "4"
    assert int(out["args_buf"]) == sum(len(a.encode()) + 1 for a in
                                       ["wasi_probe", "args", "x y", "zé"])
    assert out["environ_count"] == "2"


def test_nothing_but_the_config_is_visible(fast_probe: pywamr.Module,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYWAMR_HOST_SECRET", "x")
    _, out, _ = run_pywamr(fast_probe, ["args"])
    assert out["environ_count"] == "0"
    _, out, _ = run_pywamr(fast_probe, ["escape", "/nothing"])
    assert out["dir_found"] == "0"  # no preopen at all


def test_args_environ_match_wasmtime(fast_probe: pywamr.Module) -> None:
    args, env = ["args", "one", "two words"], {"K": "V", "X": "=y"}
    _, ours, _ = run_pywamr(fast_probe, args, env=env)
    code, theirs = run_wasmtime(args, env=env)
    assert code == 0
    assert ours == theirs


# -- clocks, random -------------------------------------------------------------------
def test_clocks(probe: pywamr.Module) -> None:
    import time

    code, out, _ = run_pywamr(probe, ["clocks"])
    assert code == 0
    for key in ("res_realtime_errno", "res_monotonic_errno", "realtime_errno", "mono1_errno",
                "mono2_errno", "process_cputime_errno", "thread_cputime_errno"):
        assert out[key] == "0", key
    assert out["res_realtime_positive"] == "1"
    assert out["monotonic_nondecreasing"] == "1"
    assert abs(int(out["realtime_s"]) - time.time()) < 60
    # clockid outside the enum: EINVAL (spec: "errno::inval")
    assert out["bad_clock_errno"] == str(EINVAL)
    assert out["bad_clock_res_errno"] == str(EINVAL)


def test_random(probe: pywamr.Module) -> None:
    code, out, _ = run_pywamr(probe, ["random"])
    assert code == 0
    assert out == {"random_errno": "0", "random2_errno": "0", "random_differs": "1",
                   "random_nonzero_bytes_over_32": "1", "random_zero_len_errno": "0"}


# -- fd_* -----------------------------------------------------------------------------
FD_EXPECTED = {
    "dir_found": "1", "create_errno": "0", "write_errno": "0", "written": "11",
    "tell_errno": "0", "tell": "11",
    "pwrite_errno": "0", "tell_after_pwrite": "11",  # pwrite leaves the offset alone
    "pread_errno": "0", "pread": "wasi",
    "seek_set_errno": "0", "read_errno": "0", "read": "Jello, wasi",
    "seek_end_errno": "0", "seek_end": "7", "seek_cur_errno": "0", "seek_cur": "8",
    "seek_negative_errno": str(EINVAL), "seek_bad_whence_errno": str(EINVAL),
    "sync_errno": "0", "datasync_errno": "0", "advise_errno": "0",
    "advise_bad_errno": str(EINVAL), "allocate_errno": "0",
    "filestat_errno": "0", "filestat_size": "100", "filestat_type": str(FT_REGULAR),
    "set_size_errno": "0", "size_after_truncate": "5",
    "set_times_errno": "0", "mtim_s": "2000000",
    "fdstat_errno": "0", "fdstat_type": str(FT_REGULAR), "fdstat_flags": "0",
    "set_flags_errno": "0", "fdstat_flags_after": "1",  # fdflags::append
    "append_write_errno": "0", "size_after_append": "7",
    "dir_fdstat_errno": "0", "dir_fdstat_type": str(FT_DIRECTORY), "stdout_fdstat_errno": "0",
    "open_ro_errno": "0", "write_on_ro_errno": str(ENOTCAPABLE),
    "renumber_errno": "0", "closed_old_number_errno": str(EBADF), "close_errno": "0",
    "close_again_errno": str(EBADF), "read_closed_errno": str(EBADF),
    "write_bad_fd_errno": str(EBADF), "prestat_stdout_errno": str(EBADF),
}


def test_fd_family(probe: pywamr.Module, tmp_path: Path) -> None:
    code, out, _ = run_pywamr(probe, ["fd", "/data"], preopens={"/data": str(tmp_path)})
    assert code == 0
    out.pop("set_times_conflict_errno")  # see test_fd_family_matches_wasmtime
    assert out == FD_EXPECTED
    assert (tmp_path / "probe.txt").read_bytes() == b"Jello++"


def test_fd_family_matches_wasmtime(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    args = ["fd", "/data", "--valid-only"]  # wasmtime traps on out-of-enum values
    _, ours, _ = run_pywamr(fast_probe, args, preopens={"/data": str(tmp_path / "a")})
    _, theirs = run_wasmtime(args, preopens={"/data": str(tmp_path / "b")})
    differ = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs)
              if ours.get(k) != theirs.get(k)}
    # Known, documented differences (docs/wasi.md): WAMR applies atim together
    # with atim_now (wasmtime: EINVAL, as the spec asks); wasmtime has dropped
    # rights (a read-only fd tries the write: EBADF from the OS) and
    # fd_allocate (ENOTSUP, so its file stays 11 bytes where WAMR's grows to 100).
    assert differ == {"set_times_conflict_errno": ("0", str(EINVAL)),
                      "write_on_ro_errno": (str(ENOTCAPABLE), str(EBADF)),
                      "allocate_errno": ("0", str(ENOTSUP)),
                      "filestat_size": ("100", "11")}, differ


# -- path_* ---------------------------------------------------------------------------
PATH_EXPECTED = {
    "dir_found": "1", "mkdir_errno": "0", "mkdir_again_errno": str(EEXIST),
    "create_errno": "0", "excl_errno": str(EEXIST), "open_missing_errno": str(ENOENT),
    "open_file_as_dir_errno": str(ENOTDIR), "stat_errno": "0", "stat_size": "3",
    "stat_type": str(FT_REGULAR), "stat_dir_type": str(FT_DIRECTORY),
    "path_set_times_errno": "0", "path_mtim_s": "3000000",
    "rename_errno": "0", "old_gone_errno": str(ENOENT), "link_errno": "0", "nlink": "2",
    "symlink_errno": "0", "readlink_errno": "0", "readlink": "b.txt",
    "readlink_file_errno": str(EINVAL), "lstat_errno": "0", "lstat_type": str(FT_SYMLINK),
    "stat_follow_type": str(FT_REGULAR), "open_via_symlink_errno": "0",
    "open_symlink_nofollow_errno": str(ELOOP), "open_dir_errno": "0", "readdir_errno": "0",
    "readdir_small_errno": "0", "readdir_small_n": "10",
    "rmdir_nonempty_errno": str(ENOTEMPTY), "unlink_dir_errno": str(EISDIR),
    "unlink_errno": "0", "unlink_c_errno": "0", "unlink_l_errno": "0",
    "unlink_missing_errno": str(ENOENT), "rmdir_errno": "0",
}


def test_path_family(probe: pywamr.Module, tmp_path: Path) -> None:
    code, out, _ = run_pywamr(probe, ["path", "/data"], preopens={"/data": str(tmp_path)})
    assert code == 0
    # readlink into a 2-byte buffer: truncated, as POSIX readlink
    assert (out.pop("readlink_short_errno"), out.pop("readlink_short_n")) == ("0", "2")
    assert out.pop("readdir_on_file_errno") in (str(ENOTCAPABLE), str(ENOTDIR), str(EBADF))
    assert out.pop("entry") is not None
    assert out == PATH_EXPECTED
    assert list(tmp_path.iterdir()) == []  # the probe cleaned up after itself


def test_readdir_lists_entries(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    config = WasiConfig(argv=["p", "path", "/data"], preopens={"/data": str(tmp_path)},
                        stdout=Stdio.CAPTURE)
    with fast_probe.instantiate(wasi=config) as inst:
        inst.run()
        lines = inst.wasi.take_stdout().decode().splitlines()
    entries = sorted(line.split()[1:] for line in lines if line.startswith("entry "))
    assert entries == [[".", str(FT_DIRECTORY)], ["..", str(FT_DIRECTORY)],
                       ["b.txt", str(FT_REGULAR)], ["c.txt", str(FT_REGULAR)],
                       ["l.txt", str(FT_SYMLINK)]]


def test_path_family_matches_wasmtime(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, ours, _ = run_pywamr(fast_probe, ["path", "/d"], preopens={"/d": str(tmp_path / "a")})
    _, theirs = run_wasmtime(["path", "/d"], preopens={"/d": str(tmp_path / "b")})
    differ = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs)
              if ours.get(k) != theirs.get(k)}
    # readdir of a file: wasmtime EBADF, WAMR ENOTCAPABLE (rights); "entry"
    # keeps the last readdir entry, which depends on the directory's order.
    differ.pop("entry", None)
    assert differ == {"readdir_on_file_errno": (str(ENOTCAPABLE), str(EBADF))}, differ


# -- poll_oneoff, sched_yield -----------------------------------------------------------
def test_poll_oneoff_and_sched_yield(probe: pywamr.Module) -> None:
    code, out, _ = run_pywamr(probe, ["poll"])
    assert code == 0
    assert out == {
        "poll_clock_errno": "0", "poll_clock_events": "1", "poll_clock_userdata": "42",
        "poll_clock_type": "0", "poll_clock_error": "0", "poll_waited_ms_ge_15": "1",
        "poll_fd_errno": "0", "poll_fd_events": "1", "poll_fd_userdata": "7",
        "poll_fd_type": "2",  # eventtype::fd_write
        "poll_zero_errno": out["poll_zero_errno"], "sched_yield_errno": "0",
    }
    # no subscriptions: WAMR returns success with no events (wasmtime: EINVAL)
    assert out["poll_zero_errno"] == "0"


def test_poll_matches_wasmtime(fast_probe: pywamr.Module) -> None:
    _, ours, _ = run_pywamr(fast_probe, ["poll"])
    _, theirs = run_wasmtime(["poll"])
    differ = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs)
              if ours.get(k) != theirs.get(k)}
    assert differ == {"poll_zero_errno": ("0", str(EINVAL))}


# -- proc_exit, commands, reactors ----------------------------------------------------
@pytest.mark.parametrize("code", [0, 1, 7, 255, 1000])
def test_proc_exit_code(probe: pywamr.Module, code: int) -> None:
    config = WasiConfig(argv=["p", "exit", str(code)], stdout=Stdio.CAPTURE)
    with probe.instantiate(wasi=config) as inst:
        assert inst.run() == code
        assert inst.wasi.exit_code == code
        assert inst.wasi.take_stdout() == f"exiting {code}\n".encode()
        # the instance stays usable: its memory is readable, a second run is refused
        assert len(inst.memory) > 0
        with pytest.raises(pywamr.WamrError, match="runs once"):
            inst.run()


def test_return_from_main_is_exit_code(probe: pywamr.Module) -> None:
    config = WasiConfig(argv=["p", "nonsense"], stderr=Stdio.CAPTURE)
    with probe.instantiate(wasi=config) as inst:
        assert inst.run() == 64
        assert b"usage" in inst.wasi.take_stderr()


def test_proc_exit_from_an_export_raises_wasi_exit(fast_probe: pywamr.Module) -> None:
    config = WasiConfig(argv=["p", "exit", "3"])
    with fast_probe.instantiate(wasi=config) as inst:
        with pytest.raises(WasiExit) as info:
            inst.exports["_start"]()
        assert info.value.code == 3
        assert isinstance(info.value, pywamr.WamrError)


def test_trap_is_a_trap_not_an_exit(probe: pywamr.Module) -> None:
    with probe.instantiate(wasi=WasiConfig(argv=["p", "trap"])) as inst:
        with pytest.raises(pywamr.Trap, match="unreachable"):
            inst.run()
        assert inst.wasi.exit_code is None


def test_reactor_is_initialised(tmp_path: Path) -> None:
    """A reactor built with wasi-libc: _initialize runs at instantiation."""
    import subprocess

    src = tmp_path / "reactor.c"
    src.write_text('#include <stdio.h>\n#include <stdlib.h>\n'
                   'static int ready;\n'
                   '__attribute__((constructor)) static void init(void) { ready = 41; }\n'
                   '__attribute__((export_name("answer"))) int answer(void) '
                   '{ printf("asked\\n"); fflush(stdout); return ready + 1; }\n'
                   '__attribute__((export_name("bye"))) void bye(int c) { exit(c); }\n')
    wasm = tmp_path / "reactor.wasm"
    subprocess.run(["clang-14", "--target=wasm32-wasi", "-mexec-model=reactor", "-O2",
                    str(src), "-o", str(wasm)], check=True)
    with pywamr.Runtime() as rt:
        module = rt.load(wasm)
        assert "_initialize" in {e.name for e in module.exports}
        with module.instantiate(wasi=WasiConfig(stdout=Stdio.CAPTURE)) as inst:
            assert inst.exports["answer"]() == 42
            assert inst.wasi.take_stdout() == b"asked\n"
            with pytest.raises(pywamr.ExportNotFound):
                inst.run()  # a reactor has no _start
            with pytest.raises(WasiExit) as info:
                inst.exports["bye"](5)
            assert info.value.code == 5


# -- stdio --------------------------------------------------------------------------
def test_stdin_from_bytes_and_file(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    config = WasiConfig(argv=["p", "cat"], stdin=data, stdout=Stdio.CAPTURE)
    with fast_probe.instantiate(wasi=config) as inst:
        assert inst.run() == 0
        assert inst.wasi.take_stdout() == data
    src = tmp_path / "in.bin"
    src.write_bytes(b"from a file\n")
    out = tmp_path / "out.bin"
    config = WasiConfig(argv=["p", "cat"], stdin=src, stdout=out)
    with fast_probe.instantiate(wasi=config) as inst:
        assert inst.run() == 0
    assert out.read_bytes() == b"from a file\n"


def test_stdin_default_is_empty(fast_probe: pywamr.Module) -> None:
    with fast_probe.instantiate(wasi=WasiConfig(argv=["p", "cat"],
                                                stdout=Stdio.CAPTURE)) as inst:
        assert inst.run() == 0
        assert inst.wasi.take_stdout() == b""


def test_stdout_callable_and_file_objects(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    chunks: list[bytes] = []
    data = b"x" * 300_000  # more than a pipe holds: the reader thread drains it
    config = WasiConfig(argv=["p", "cat"], stdin=data, stdout=chunks.append)
    with fast_probe.instantiate(wasi=config) as inst:
        assert inst.run() == 0
    assert b"".join(chunks) == data
    with open(tmp_path / "err.txt", "wb") as handle:
        config = WasiConfig(argv=["p", "stderr"], stdout=Stdio.CAPTURE, stderr=handle)
        with fast_probe.instantiate(wasi=config) as inst:
            inst.run()
            assert inst.wasi.take_stdout() == b"to stdout\n"
    assert (tmp_path / "err.txt").read_bytes() == b"to stderr\n"


def test_stdout_callable_errors_are_raised(fast_probe: pywamr.Module) -> None:
    def boom(chunk: bytes) -> None:
        raise RuntimeError("sink failed")

    config = WasiConfig(argv=["p", "args"], stdout=boom)
    with fast_probe.instantiate(wasi=config) as inst:
        with pytest.raises(RuntimeError, match="sink failed"):
            inst.run()


def test_default_stdio_is_discarded_and_uncaptured(fast_probe: pywamr.Module,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    with fast_probe.instantiate(wasi=WasiConfig(argv=["p", "stderr"])) as inst:
        assert inst.run() == 0
        with pytest.raises(pywamr.WamrError, match="not captured"):
            inst.wasi.take_stdout()
    assert capfd.readouterr() == ("", "")


def test_inherited_stdio(tmp_path: Path) -> None:
    """Stdio.INHERIT writes to the process's own descriptors (in a child)."""
    import subprocess

    code = ("import pywamr, sys\n"
            "rt = pywamr.Runtime(); m = rt.load(sys.argv[1])\n"
            "i = m.instantiate(wasi=pywamr.WasiConfig.inherit(['p', 'cat']))\n"
            "sys.exit(i.run())\n")
    proc = subprocess.run([sys.executable, "-c", code, str(PROBE)], input=b"piped through",
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"piped through"


def test_stdio_fds_survive_instances(fast_probe: pywamr.Module) -> None:
    """Patch 0010: the instance closes its duplicates, never our descriptors."""
    r, w = os.pipe()
    try:
        for _ in range(3):
            config = WasiConfig(argv=["p", "args"], stdin=Stdio.INHERIT,
                                stdout=os.fdopen(os.dup(w), "wb"), stderr=Stdio.INHERIT)
            with fast_probe.instantiate(wasi=config) as inst:
                inst.run()
            config.stdout.close()  # type: ignore[union-attr]
        os.fstat(0), os.fstat(1), os.fstat(2)  # still open
        os.close(w)
        w = -1
        assert os.read(r, 1 << 16).count(b"argc 2") == 3
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_no_descriptor_leak(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        config = WasiConfig(argv=["p", "fd", "/d"], preopens={"/d": str(tmp_path)},
                            stdin=b"x", stdout=Stdio.CAPTURE, stderr=tmp_path / "e")
        with fast_probe.instantiate(wasi=config) as inst:
            inst.run()
            inst.wasi.close()
    assert len(os.listdir("/proc/self/fd")) <= before + 1


# -- per-instance configuration --------------------------------------------------------
def test_preopen_guest_names(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    """Patch 0010: the guest sees the mapped name, not the host path."""
    _, out, _ = run_pywamr(fast_probe, ["escape", "/mapped/name"],
                           preopens={"/mapped/name": str(tmp_path)})
    assert out["dir_found"] == "1"
    _, out, _ = run_pywamr(fast_probe, ["escape", str(tmp_path)],
                              preopens={"/mapped/name": str(tmp_path)})
    assert out["dir_found"] == "0"


def test_two_instances_of_one_module_keep_their_own_config(fast_probe: pywamr.Module) -> None:
    a = fast_probe.instantiate(wasi=WasiConfig(argv=["p", "args", "A"], env={"WHO": "a"},
                                               stdout=Stdio.CAPTURE))
    b = fast_probe.instantiate(wasi=WasiConfig(argv=["p", "args", "B", "more"],
                                               stdout=Stdio.CAPTURE))
    assert b.run() == 0 and a.run() == 0
    out_a, out_b = parse(a.wasi.take_stdout().decode()), parse(b.wasi.take_stdout().decode())
    assert (out_a["arg2"], out_a["environ_count"], out_a["env"]) == ("A", "1", "WHO=a")
    assert (out_b["arg2"], out_b["arg3"], out_b["environ_count"]) == ("B", "more", "0")
    a.close()
    b.close()


def test_threads_instantiating_one_module(fast_probe: pywamr.Module) -> None:
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(15):
            tag = f"t{n}-{i}"
            config = WasiConfig(argv=["p", "args", tag], env={"TAG": tag}, stdout=Stdio.CAPTURE)
            with fast_probe.instantiate(wasi=config) as inst:
                inst.run()
                out = parse(inst.wasi.take_stdout().decode())
            if out.get("arg2") != tag or out.get("env") != f"TAG={tag}":
                errors.append(f"{tag}: {out}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_module_without_config_gets_nothing(fast_probe: pywamr.Module) -> None:
    with fast_probe.instantiate() as inst:
        assert inst.run() == 64  # no argv[1]: usage, on a discarded stderr
        assert inst.wasi.exit_code == 64


def test_config_validation(fast_probe: pywamr.Module, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        fast_probe.instantiate(wasi=WasiConfig(argv="p"))
    with pytest.raises(ValueError, match="NUL"):
        fast_probe.instantiate(wasi=WasiConfig(argv=["a\0b"]))
    with pytest.raises(ValueError, match="name"):
        fast_probe.instantiate(wasi=WasiConfig(env={"A=B": "1"}))
    with pytest.raises(ValueError, match="not a directory"):
        fast_probe.instantiate(wasi=WasiConfig(preopens={"/x": str(tmp_path / "missing")}))
    with pytest.raises(TypeError):
        fast_probe.instantiate(wasi={"argv": ["p"]})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fast_probe.instantiate(wasi=WasiConfig(stdin=Stdio.CAPTURE))
    with pytest.raises(pywamr.WamrError, match="WASI configuration"):
        with pywamr.Runtime() as rt:
            rt.load(PROBE.parent / "basic.wasm").instantiate().wasi  # noqa: B018


# -- alongside the rest of pywamr -------------------------------------------------------
def test_host_functions_alongside_wasi(tmp_path: Path) -> None:
    import subprocess

    src = tmp_path / "mixed.c"
    src.write_text('#include <stdio.h>\n'
                   '__attribute__((import_module("env"), import_name("twice"))) int twice(int);\n'
                   'int main(void) { printf("%d\\n", twice(21)); return twice(2); }\n')
    wasm = tmp_path / "mixed.wasm"
    subprocess.run(["clang-14", "--target=wasm32-wasi", "-O2", str(src), "-o", str(wasm)],
                   check=True)
    with pywamr.Runtime() as rt:
        rt.register_host("env", "twice", lambda x: 2 * x, "(i)i")
        inst = rt.load(wasm).instantiate(wasi=WasiConfig(stdout=Stdio.CAPTURE))
        assert inst.run() == 4
        assert inst.wasi.take_stdout() == b"42\n"


def test_timeout_stops_a_wasi_command(probe: pywamr.Module) -> None:
    with probe.instantiate(wasi=WasiConfig(argv=["p", "spin"])) as inst:
        with pytest.raises(pywamr.Timeout):
            inst.run(timeout=0.3)


def test_memory_cap_applies_to_wasi_commands() -> None:
    results = {}
    for pages in (None, 64):
        with pywamr.Runtime() as rt:
            module = rt.load(PROBE, max_memory_pages=pages)
            config = WasiConfig(argv=["p", "grow"], stdout=Stdio.CAPTURE)
            with module.instantiate(wasi=config) as inst:
                assert inst.run() == 0
                results[pages] = int(parse(inst.wasi.take_stdout().decode())["mib"])
    assert results[64] < 4 <= results[None]  # 64 pages = 4 MiB, less the program


def test_examples_c_wc_and_rust_wordfreq(tmp_path: Path) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("the cat sat\non the mat\n")
    (texts / "b.txt").write_text("The end.\n")
    with pywamr.Runtime() as rt:
        wc = rt.load(WASI_EXAMPLES / "wc.wasm")
        config = WasiConfig(argv=["wc", "/data/a.txt", "/data/b.txt"],
                            preopens={"/data": str(texts)}, stdout=Stdio.CAPTURE)
        with wc.instantiate(wasi=config) as inst:
            assert inst.run() == 0
            assert inst.wasi.take_stdout().decode().splitlines() == [
                "2 6 23 /data/a.txt", "1 2 9 /data/b.txt", "3 8 32 total"]
        freq = rt.load(WASI_EXAMPLES / "wordfreq.wasm")
        config = WasiConfig(argv=["wordfreq", "/data", "2"], preopens={"/data": str(texts)},
                            stdout=Stdio.CAPTURE)
        with freq.instantiate(wasi=config) as inst:
            assert inst.run() == 0
            assert inst.wasi.take_stdout().decode().splitlines() == [
                "3 the", "1 cat", "files 2 words 8"]
        config = WasiConfig(argv=["wordfreq", "/elsewhere"], stderr=Stdio.CAPTURE)
        with freq.instantiate(wasi=config) as inst:
            assert inst.run() == 1
            assert b"wordfreq: /elsewhere" in inst.wasi.take_stderr()


# -- runtime-reuse policies --------------------------------------------------------------
@pytest.mark.parametrize("policy", pywamr.WASI_POLICIES)
def test_policies_give_every_run_fresh_wasi_state(policy: str, tmp_path: Path) -> None:
    if policy == "cold":
        import gc

        gc.collect()  # cold re-initialises WAMR: no other fast-interp object may be alive
    with pywamr.WasiCommand(PROBE, policy=policy) as command:
        for i in range(3):
            out = tmp_path / f"out{i}.txt"
            config = WasiConfig(argv=["p", "args", str(i)], env={"RUN": str(i)}, stdout=out)
            assert command.run(config) == 0
            got = parse(out.read_text())
            assert (got["arg2"], got["env"], got["environ_count"]) == (str(i), f"RUN={i}", "1")
        assert command.run(WasiConfig(argv=["p", "exit", "5"])) == 5
        assert command.run(WasiConfig(argv=["p", "args"])) == 0  # exit state did not stick


def test_reuse_instance_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot reset WASI state"):
        pywamr.WasiCommand(PROBE, policy="reuse-instance")
    with pytest.raises(ValueError, match="unknown policy"):
        pywamr.WasiCommand(PROBE, policy="sometimes")


def test_stdio_with_in_memory_file_objects(fast_probe: pywamr.Module) -> None:
    import io

    stdin, stdout = io.BytesIO(b"skipped|in memory"), io.BytesIO()
    stdin.read(8)  # only what is left is the input
    with fast_probe.instantiate(wasi=WasiConfig(argv=["p", "cat"], stdin=stdin,
                                                stdout=stdout)) as inst:
        assert inst.run() == 0
    assert stdout.getvalue() == b"in memory"
    with pytest.raises(TypeError, match="unsupported stdin"):
        fast_probe.instantiate(wasi=WasiConfig(stdin=42))  # type: ignore[arg-type]


def test_start_function_may_instantiate_wasi_modules(tmp_path: Path) -> None:
    """A WASI module's start function calls a host function that makes another
    WASI instance: the WASI instantiation lock is re-entrant (no deadlock).
    (Running wasm from inside a start function is WAMR's "invalid exec env":
    the inner instance runs after the outer one is made.)"""
    import subprocess

    wat = tmp_path / "starter.wat"
    wat.write_text('(module (import "env" "nested" (func $nested))'
                   ' (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))'
                   ' (memory (export "memory") 1) (func $s (call $nested)) (start $s))')
    wasm = tmp_path / "starter.wasm"
    subprocess.run(["wat2wasm", str(wat), "-o", str(wasm)], check=True)
    seen: list[bytes] = []
    with pywamr.Runtime() as rt:
        probe = rt.load(PROBE)

        made: list[pywamr.Instance] = []

        def nested() -> None:
            config = WasiConfig(argv=["p", "args", "inner"], stdout=Stdio.CAPTURE)
            made.append(probe.instantiate(wasi=config))

        rt.register_host("env", "nested", nested, "()")
        outer = rt.load(wasm).instantiate(wasi=WasiConfig(argv=["outer"]))
        outer.close()
        assert len(made) == 1
        with made[0] as inner:
            assert inner.run() == 0
            seen.append(inner.wasi.take_stdout())
    assert b"arg2 inner" in seen[0]
