"""pywamr.distributed on real Dask clusters on 127.0.0.1 (no mocks).

Two clusters serve the module: a LocalCluster of two worker processes that
BatchExecutor starts itself, and a real ``dask scheduler`` with two
``dask worker`` processes started here and shut down at the end.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

import dask_hosts  # noqa: E402
import isolated_hosts  # noqa: E402
from helpers import example, payload, run_cli  # noqa: E402

from pywamr import WorkerCrashed, teaclave  # noqa: E402
from pywamr.distributed import BatchExecutor, Invocation, InvocationResult, Shared  # noqa: E402

TESTS = Path(__file__).resolve().parent
ROOT_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORK = payload("tc_work")
ADDER = example("adder")
START_TIMEOUT = 180


def _env() -> dict[str, str]:
    """Worker processes import the tests' host modules by reference."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.fixture(scope="module")
def local() -> Iterator[BatchExecutor]:
    """A BatchExecutor on its own LocalCluster: two worker processes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", _env()["PYTHONPATH"])
        batch = BatchExecutor(workers=2, chunk_size=4, max_retries=1)
    try:
        batch.client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield batch
    finally:
        batch.shutdown(wait=False)


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = tmp / "scheduler.json"
    env = _env()
    env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "1"
    env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] = "1.0"
    with open(tmp / "cluster.log", "wb") as log:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                env=env, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + START_TIMEOUT
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                assert procs[0].poll() is None, "the scheduler exited"
                assert time.monotonic() < deadline, "the scheduler did not start"
                time.sleep(0.2)
            time.sleep(0.2)  # the file is written in one go, but let it settle
            address = json.loads(scheduler_file.read_text())["address"]
            assert address.startswith("tcp://127.0.0.1:")
            for name in ("w1", "w2"):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host",
                     "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--name", name,
                     "--local-directory", str(tmp / name)],
                    env=env, stdout=log, stderr=subprocess.STDOUT))
            with distributed.Client(address) as client:
                client.wait_for_workers(2, timeout=START_TIMEOUT)
            yield address
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in reversed(procs):
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# -- reference results from a local teaclave.Executor -----------------------
def _cases(tmp: Path) -> list[Invocation]:
    """Invocations touching arguments, files, traps, timeouts, two payloads."""
    big = tmp / "big.txt"
    big.write_bytes(b"shared storage line\n" * 20_000)  # larger than inline_bytes below
    return [
        Invocation(WORK, {"rounds": 0}),
        Invocation(WORK, {"rounds": 1234}),
        Invocation(WORK, {"rounds": 54321, "extra": [1, "two"]}),
        Invocation(WORK, {"action": "copy"}, {"in": b"Hello, Dask!\n"}, {"out": None}),
        Invocation(WORK, {"action": "copy"}, {"in": str(big)}, {"out": None}),
        Invocation(WORK, {"action": "copy"}, {}, {"out": None}),  # input missing: -1
        Invocation(WORK, {"action": "trap"}, None, {"out": None}),
        Invocation(WORK, {"rounds": 2_000_000_000}, timeout=0.05),
        Invocation(ADDER, {"a": "40", "b": 2}),
        Invocation(ADDER, {"a": "7"}),
    ]


def _local_result(inv: Invocation, policy: str, tmp: Path) -> dict[str, Any]:
    inputs = {}
    for fid, value in (inv.inputs or {}).items():
        if isinstance(value, bytes):
            path = tmp / f"local-in-{fid}"
            path.write_bytes(value)
            value = str(path)
        inputs[fid] = value
    outputs = {fid: str(tmp / f"local-out-{fid}") for fid in (inv.outputs or {})}
    for path in outputs.values():
        if os.path.exists(path):
            os.unlink(path)
    with teaclave.Executor(inv.payload, policy=policy) as executor:
        run = executor.invoke(inv.arguments, inputs, outputs, timeout=inv.timeout)
    published = {fid: Path(path).read_bytes() for fid, path in run.outputs.items()}
    return {"return_value": run.return_value, "trap": run.trap, "timed_out": run.timed_out,
            "file_errors": run.file_errors, "files_left_open": run.files_left_open,
            "outputs": published, "stdout": run.stdout,
            "error": None if run.error is None else f"TaskError: {run.error}"}


def _plain(result: InvocationResult) -> dict[str, Any]:
    return {"return_value": result.return_value, "trap": result.trap,
            "timed_out": result.timed_out, "file_errors": result.file_errors,
            "files_left_open": result.files_left_open, "outputs": result.outputs,
            "stdout": result.stdout, "error": result.error}


@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_results_match_a_local_executor(local: BatchExecutor, policy: str,
                                        tmp_path: Path) -> None:
    teaclave.clear_cache()
    gc.collect()  # the cold policy needs the core to itself in this process too
    cases = _cases(tmp_path)
    expected = [_local_result(inv, policy, tmp_path) for inv in cases]
    local.inline_bytes = 64 * 1024  # the big input travels as a shared path
    try:
        for inv in cases:
            inv.options = {"policy": policy}
        results = local.run(cases)
    finally:
        local.inline_bytes = 1 << 20
    assert [r.id for r in results] == list(range(results[0].id, results[0].id + len(cases)))
    for inv, want, got in zip(cases, expected, results):
        assert _plain(got) == want, inv
        assert got.worker is not None and got.worker.startswith("tcp://127.0.0.1:")
    assert expected[4]["return_value"] == 20 * 20_000
    # the default profile, Teaclave's: a trapped run keeps what it wrote
    assert expected[6]["trap"] == "Exception: unreachable"
    assert expected[6]["outputs"] == {"out": b"partial"}
    assert all(want["error"] is None for want in expected)
    assert expected[7]["timed_out"]


def test_warm_executors_are_reused_and_bounded(tmp_path: Path) -> None:
    with BatchExecutor(workers=1, chunk_size=8, cache_entries=2) as batch:
        results = list(batch.map(WORK, [{"rounds": n} for n in range(40)]))
        assert [r.return_value for r in results] == [
            teaclave.invoke(WORK, {"rounds": n}).return_value for n in range(40)]
        (stats,) = batch.warm_stats().values()
        assert stats["created"] == 1 and stats["payloads"] == 1
        for heap in (1 << 20, 2 << 20, 3 << 20):  # three option sets, room for two
            assert batch.submit(WORK, {"rounds": 5}, heap_size=heap).result().ok
        (stats,) = batch.warm_stats().values()
        assert stats["created"] == 4 and stats["executors"] == 2
        # every invocation of a map gets exactly one result, even when the
        # executor shuts down without waiting
        slow = batch.map(WORK, [{"rounds": 3_000_000}] * 12)
        batch.shutdown(wait=False)
        results = list(slow)
        assert [r.id for r in results] == list(range(results[0].id, results[0].id + 12))
        assert all(r.ok or r.error == "the batch executor was shut down before it ran"
                   for r in results)


def test_map_default_chunks_and_linger(local: BatchExecutor) -> None:
    import concurrent.futures

    saved = local.chunk_size
    local.chunk_size = None  # the default: chunks sized from the batch
    try:
        sizes = list(local._chunk_sizes(("teaclave", "never-run", "none"), 10_000))
        assert sum(sizes) == 10_000 and sizes == sorted(sizes, reverse=True)
        assert sizes[0] == 2048 and sizes[-1] <= 16 and len(sizes) < 40
        args = [{"rounds": n % 50} for n in range(600)]
        results = list(local.map(WORK, args))
        assert [r.return_value for r in results] == [
            teaclave.invoke(WORK, a).return_value for a in args[:50]] * 12
        assert len({r.id for r in results}) == 600 and all(r.ok for r in results)
        # quick invocations: submit() now sends larger chunks of this payload
        key, _ = local._teaclave_key(WORK, {}, None)
        assert local._stream_chunk_size(key) > 16
        assert local._stream_chunk_size(("teaclave", "never-run", "none")) == 16
        timed = list(local.map(WORK, [{"rounds": 2_000_000_000}, {"rounds": 1}], timeout=0.05))
        assert timed[0].timed_out and timed[1].ok
        # a partly filled chunk goes after the linger, without flush() or result()
        futures = [local.submit(WORK, {"rounds": n}) for n in range(3)]
        done, _ = concurrent.futures.wait(futures, timeout=120)
        assert len(done) == 3
    finally:
        local.chunk_size = saved


def test_submit_as_completed_and_exports(local: BatchExecutor) -> None:
    futures = [local.submit(WORK, {"rounds": n * 100}, id=f"job-{n}") for n in range(10)]
    done = list(local.as_completed(futures, timeout=120))
    assert sorted(f.result().id for f in done) == sorted(f"job-{n}" for n in range(10))
    calls = [local.submit_call(payload("cpu"), "fib", 20),
             local.submit_call(payload("basic"), "div_s", 7, 0),
             local.submit_call(payload("basic"), "incr"),
             local.submit_call(payload("basic"), "incr"),
             local.submit_call(payload("basic"), "no_such_export")]
    fib, div, incr1, incr2, missing = (f.result(timeout=120) for f in calls)
    assert fib.return_value == 6765 and fib.ok
    assert div.trap is not None and "divide by zero" in div.trap
    with pytest.raises(Exception, match="divide by zero"):
        div.unwrap()
    assert incr1.return_value == incr2.return_value  # each call starts from the snapshot
    assert missing.error is not None and "no_such_export" in missing.error


def test_bad_invocations_are_results_or_raise_at_submit(local: BatchExecutor) -> None:
    with pytest.raises(TypeError):
        local.submit(WORK, {"rounds": 1}, no_such_option=1)
    with pytest.raises(TypeError):
        local.submit(WORK, ["not", "a", "mapping"])  # type: ignore[arg-type]
    bad_payload = local.submit(b"\0asm\x01\0\0\0garbage", {"x": 1}).result(timeout=120)
    assert bad_payload.error is not None and not bad_payload.crashed
    bad_args = local.submit(WORK, {3: "non-str key"}).result(timeout=120)
    assert bad_args.error is not None and "TypeError" in bad_args.error
    good = local.submit(WORK, {"rounds": 3}).result(timeout=120)
    assert good.ok


def test_outputs_to_client_paths_and_shared_storage(local: BatchExecutor,
                                                    tmp_path: Path) -> None:
    client_out = tmp_path / "client-out.txt"
    shared_out = tmp_path / "shared-out.txt"
    trapped_out = tmp_path / "trapped-out.txt"
    first = local.submit(WORK, {"action": "copy"}, {"in": b"abc"}, {"out": str(client_out)})
    trapped = local.submit(WORK, {"action": "trap"}, None, {"out": str(trapped_out)})
    strict_out = tmp_path / "strict-trapped-out.txt"
    strict = local.submit(WORK, {"action": "trap"}, None, {"out": str(strict_out)},
                          profile="strict")
    r1 = first.result(timeout=120)
    assert r1.outputs == {"out": str(client_out)} and client_out.read_bytes() == b"ABC"
    r2 = local.submit(WORK, {"action": "copy"}, {"in": Shared(client_out)},
                      {"out": Shared(shared_out)}).result(timeout=120)
    assert r2.return_value == 3 and r2.outputs == {"out": str(shared_out)}
    assert shared_out.read_bytes() == b"ABC"
    r3 = trapped.result(timeout=120)  # the default profile keeps a trapped run's output
    assert r3.trap == "Exception: unreachable" and trapped_out.read_bytes() == b"partial"
    r4 = strict.result(timeout=120)  # the strict profile discards it
    assert r4.trap == "unreachable" and not strict_out.exists()
    ran = local.run([Invocation(WORK, {"action": "copy"}, {"in": b"run"},
                                {"out": str(tmp_path / "run-out.txt")}),
                     Invocation(WORK, {"action": "trap"}, None,
                                {"out": str(tmp_path / "run-trap.txt")},
                                options={"profile": "strict"})])
    assert ran[0].outputs == {"out": str(tmp_path / "run-out.txt")} and ran[1].trap is not None
    assert (tmp_path / "run-out.txt").read_bytes() == b"RUN"
    assert sorted(os.listdir(tmp_path)) == ["client-out.txt", "run-out.txt", "shared-out.txt",
                                            "trapped-out.txt"]


@pytest.mark.deliberate_crash
def test_a_crashing_payload_is_retried_then_reported(local: BatchExecutor,
                                                     tmp_path: Path) -> None:
    hook = payload("tc_hook")
    local.chunk_size = 4
    client_out, shared_out = tmp_path / "client.txt", tmp_path / "shared.txt"
    futures = [local.submit(hook, isolated_hosts.args(isolated_hosts.OK),
                            hosts=isolated_hosts.HOSTS, id=f"ok-{n}") for n in range(3)]
    futures.insert(1, local.submit(hook, isolated_hosts.args(isolated_hosts.SEGV),
                                   hosts=isolated_hosts.HOSTS, id="segv"))
    # Crashes after writing its output (to the temporary file) and before
    # publishing it: neither the worker's shared path nor this machine's path
    # may appear.
    # (strict: outputs go to temporary files; in the teaclave profile a Shared
    # output is written in place, so a crash leaves what was written there)
    futures.append(local.submit(WORK, {"action": "copy"}, {"in": b"y" * 100},
                                {"out": Shared(shared_out), "out2": str(client_out)},
                                hosts=dask_hosts.HOSTS, id="crash-outputs", profile="strict"))
    futures += [local.submit(WORK, {"rounds": n}, id=f"spin-{n}") for n in range(8)]
    results = {f.result(timeout=300).id: f.result() for f in futures}
    assert len(results) == len(futures)
    crashed = {ident for ident, r in results.items() if r.crashed}
    assert crashed == {"segv", "crash-outputs"}
    for ident in crashed:
        assert "worker crashed" in (results[ident].error or "")
        with pytest.raises(WorkerCrashed):
            results[ident].unwrap()
    with teaclave.Executor(hook, hosts=isolated_hosts.HOSTS) as executor:
        pages = executor.run(isolated_hosts.args(isolated_hosts.OK))  # memory.grow(0)
    for n in range(3):
        assert results[f"ok-{n}"].return_value == pages
    for n in range(8):
        assert results[f"spin-{n}"].return_value == teaclave.invoke(
            WORK, {"rounds": n}).return_value
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file left



def test_a_chunk_dask_cancels_on_its_own_is_sent_again(local: BatchExecutor) -> None:
    """Dask can drop a task while a worker dies and is replaced (seen as "the
    task was cancelled" for an innocent chunk beside a crashing one); a
    cancellation the executor did not ask for sends the chunk again."""
    rounds = 3_000_000
    future = local.submit(WORK, {"rounds": rounds}, id="cancelled-by-dask")
    for _ in range(3000):  # until its chunk is in flight (after the linger)
        with local._lock:
            inflight = list(local._inflight.values())
        if inflight:
            break
        time.sleep(0.01)
    assert inflight
    local.client.cancel(inflight[0][0])
    result = future.result(timeout=300)
    assert result.error is None, result
    assert result.return_value == teaclave.invoke(WORK, {"rounds": rounds}).return_value


@pytest.mark.deliberate_crash
def test_the_local_cluster_keeps_a_worker_that_died() -> None:
    """With a lost-worker timeout of 0 s a plain LocalCluster would close the
    nanny of a worker that dies before the nanny has restarted it (and stay
    one worker short); the batch executor's cluster leaves the restart to
    the nanny, so it gets its two workers back."""
    import dask

    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0s"}), \
            BatchExecutor(workers=2, chunk_size=2) as batch:
        batch.client.wait_for_workers(2, timeout=START_TIMEOUT)
        victim = next(iter(batch.client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # the victim's replacement registered
            pids = batch.client.run(os.getpid, on_error="ignore")
            if len(pids) == 2 and victim not in pids.values():
                break
            assert time.monotonic() < deadline, "the cluster did not get its worker back"
            time.sleep(0.1)
        assert len(batch._cluster.workers) == 2  # both nannies kept
        args = [{"rounds": 10_000 + n} for n in range(16)]
        results = list(batch.map(WORK, args))
        assert [r.return_value for r in results] == [
            teaclave.invoke(WORK, a).return_value for a in args]

def test_an_existing_cluster(external: str) -> None:
    with BatchExecutor(external, chunk_size=2) as batch:
        assert len(batch.client.scheduler_info()["workers"]) == 2
        args = [{"rounds": 20_000 + n} for n in range(24)]
        results = list(batch.map(WORK, args))
        expected = [teaclave.invoke(WORK, a).return_value for a in args]
        assert [r.return_value for r in results] == expected
        assert len({r.worker for r in results}) == 2  # both workers took part
        stats = batch.warm_stats()
        assert all(s["payloads"] == 1 and s["created"] == 1 for s in stats.values())


@pytest.mark.deliberate_crash
def test_a_worker_killed_mid_batch(external: str) -> None:
    with BatchExecutor(external, chunk_size=2) as batch:
        pids = batch.client.run(os.getpid)
        assert len(pids) == 2
        args = [{"rounds": 400_000 + n} for n in range(40)]
        futures = [batch.submit(WORK, a, id=n) for n, a in enumerate(args)]
        batch.flush()
        deadline = time.monotonic() + 120
        while sum(f.done() for f in futures) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        victim = next(iter(pids.values()))
        os.kill(victim, signal.SIGKILL)
        results = [f.result(timeout=300) for f in futures]
        assert [r.id for r in results] == list(range(40))
        assert all(r.ok for r in results), [r for r in results if not r.ok]
        assert [r.return_value for r in results] == [
            teaclave.invoke(WORK, a).return_value for a in args]
        assert victim not in batch.client.run(os.getpid).values()


# -- pywamr batch ---------------------------------------------------------------
def _manifest(tmp: Path) -> Path:
    (tmp / "in.txt").write_bytes(b"batch me\n")
    lines = [
        json.dumps({"id": "spin", "payload": str(WORK), "args": {"rounds": 777}}),
        json.dumps({"id": "copy", "payload": str(WORK), "args": {"action": "copy"},
                    "inputs": {"in": "in.txt"}, "outputs": {"out": "out/copy.txt"}}),
        "{not json",
        json.dumps({"id": "no-payload", "args": {}}),
        "",
        json.dumps({"id": "trap", "payload": str(WORK), "args": {"action": "trap"},
                    "outputs": {"out": "out/trap.txt"}, "policy": "cold"}),
        json.dumps({"id": "missing", "payload": "nowhere.wasm"}),
        json.dumps({"id": 7, "payload": str(ADDER), "args": {"a": "5", "b": "6"},
                    "timeout": 5}),
        json.dumps({"id": "strict-trap", "payload": str(WORK), "args": {"action": "trap"},
                    "outputs": {"out": "out/strict-trap.txt"}, "profile": "strict"}),
        json.dumps({"id": "bad-profile", "payload": str(WORK), "profile": "lax"}),
    ]
    (tmp / "out").mkdir()
    manifest = tmp / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _check_batch_run(proc: subprocess.CompletedProcess[str], tmp: Path) -> None:
    assert proc.returncode == 1, proc.stderr  # some lines could not run
    results = [json.loads(line) for line in (tmp / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in results] == ["spin", "copy", None, "no-payload", "trap",
                                          "missing", 7, "strict-trap", "bad-profile"]
    spin, copy, bad_json, no_payload, trap, missing, adder, strict_trap, bad_profile = results
    assert spin["return_value"] == teaclave.invoke(WORK, {"rounds": 777}).return_value
    assert spin["summary"] == str(spin["return_value"]) and spin["trap"] is None
    assert set(spin) == {"id", "return_value", "summary", "trap", "file_errors", "outputs",
                         "worker", "seconds"}
    assert copy["return_value"] == 9 and copy["outputs"] == {"out": str(tmp / "out/copy.txt")}
    assert (tmp / "out/copy.txt").read_bytes() == b"BATCH ME\n"
    assert bad_json["line"] == 3 and "not JSON" in bad_json["error"]
    assert no_payload["line"] == 4 and "payload" in no_payload["error"]
    # the default profile is Teaclave's: its trap text, the output kept after a trap
    assert trap["trap"] == "Exception: unreachable" and trap["summary"] == trap["trap"]
    assert trap["outputs"] == {"out": str(tmp / "out/trap.txt")}
    assert (tmp / "out/trap.txt").read_bytes() == b"partial"
    # "profile": "strict" on a line: pywamr's checks (no prefix, output discarded)
    assert strict_trap["trap"] == "unreachable" and strict_trap["outputs"] == {}
    assert not (tmp / "out/strict-trap.txt").exists()
    assert bad_profile["line"] == 10 and "unknown profile 'lax'" in bad_profile["error"]
    assert "error" in missing and adder["return_value"] == 11
    assert f"{tmp / 'manifest.jsonl'}:3: not JSON" in proc.stderr
    assert f"{tmp / 'manifest.jsonl'}:4:" in proc.stderr
    assert f"{tmp / 'manifest.jsonl'}:7:" in proc.stderr  # the missing payload


def test_batch_cli_on_an_existing_cluster(external: str, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    proc = run_cli("batch", str(manifest), "--out", str(tmp_path / "results.jsonl"),
                   "--scheduler", external, "--chunk", "2", "--timeout", "10")
    _check_batch_run(proc, tmp_path)
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_batch_cli_on_its_own_local_cluster(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    proc = run_cli("batch", str(manifest), "--out", str(tmp_path / "results.jsonl"),
                   "--workers", "1", "--policy", "reuse-module", "--mode", "classic-interp")
    _check_batch_run(proc, tmp_path)


def test_protected_files_pass_through_to_the_worker(local: BatchExecutor,
                                                    tmp_path: Path) -> None:
    import io

    from pywamr.teaclave._file_formats import decrypt, encrypt

    key_a, key_b, key_out = "00" * 16, "01" * 16, "02" * 16
    a = teaclave.ProtectedFile(str(tmp_path / "a.enc"), key_a)
    tag_a = encrypt(io.BytesIO(b"apple\nbanana\ncherry\n"), a)
    b = teaclave.ProtectedFile(str(tmp_path / "b.enc"), key_b)
    encrypt(io.BytesIO(b"banana\ncherry\ndate\n"), b)
    output = teaclave.ProtectedFile(str(tmp_path / "common.enc"), key_out)
    inputs = {"input_a": teaclave.ProtectedFile(a.path, key_a, tag=tag_a), "input_b": b}
    result = local.submit(example("intersection"), {}, inputs,
                          {"output": output}).result(timeout=120)
    assert result.ok and result.return_value == 2
    assert result.outputs == {"output": output.path} and set(result.output_tags) == {"output"}
    plain = io.BytesIO()
    decrypt(teaclave.ProtectedFile(output.path, key_out, tag=result.output_tags["output"]), plain)
    assert plain.getvalue() == b"banana\ncherry\n"
    inputs["input_a"] = teaclave.ProtectedFile(a.path, key_a, tag="00" * 16)  # not its tag
    refused = local.submit(example("intersection"), {}, inputs,
                           {"output": output}).result(timeout=120)
    assert refused.error is not None and "input 'input_a' refused" in refused.error
    assert refused.file_errors and not refused.crashed


def test_wasi_commands(local: BatchExecutor, tmp_path: Path) -> None:
    from pywamr import Stdio, WasiCommand, WasiConfig

    wc = ROOT_EXAMPLES / "wasi" / "wasm" / "wc.wasm"
    (tmp_path / "a.txt").write_text("the cat sat\non the mat\n")
    futures = [local.submit_wasi(wc, ["wc", "/data/a.txt"], preopens={"/data": tmp_path},
                                 policy=policy) for policy in ("reuse-module", "cold")]
    missing = local.submit_wasi(wc, ["wc", "/data/none.txt"], preopens={"/data": tmp_path})
    refused = local.submit_wasi(wc, ["wc"], policy="reuse-instance")
    with WasiCommand(wc) as command:
        out = tmp_path / "local-out.txt"
        code = command.run(WasiConfig(argv=["wc", "/data/a.txt"], preopens={"/data": tmp_path},
                                      stdout=str(out), stderr=Stdio.NULL))
    for future in futures:
        result = future.result(timeout=120)
        assert result.ok and result.return_value == code == 0
        assert result.stdout == out.read_bytes() == b"2 6 23 /data/a.txt\n2 6 23 total\n"
    failed = missing.result(timeout=120)
    assert failed.ok and failed.return_value != 0 and failed.stderr
    assert "reuse-instance" in (refused.result(timeout=120).error or "")
