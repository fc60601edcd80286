"""pywamr._teaclave_native: the Teaclave executor's seam into the native layer,
exercised on the real tc_probe payload with real files."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

import pywamr
from pywamr import natives, teaclave
from pywamr._teaclave_native import TeaclaveInstance, fresh_runtime

PROBE = Path(__file__).resolve().parent / "payloads" / "wasm" / "tc_probe.wasm"


def packed(**arguments: str) -> tuple[int, bytes]:
    texts = [text for key in sorted(arguments) for text in (key, arguments[key])]
    return len(texts), b"".join(t.encode() + b"\0" for t in texts)


@pytest.fixture
def probe() -> Iterator[TeaclaveInstance]:
    teaclave.clear_cache()
    with pywamr.Runtime() as runtime:
        runtime.register_hosts("env", natives.FILE_API)
        module = runtime.load(PROBE)
        instance = module.instantiate(160 * 1024, 1 << 20)
        native = TeaclaveInstance(instance)
        native.snapshot()
        yield native
        instance.close()
        module.close()


def test_copy_through_declared_files(probe: TeaclaveInstance, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(bytes(range(256)) * 5000)
    probe.declare_input("in", source)
    probe.declare_output("out", str(target))
    assert probe.invoke_entry(*packed(case="copy")) == 256 * 5000
    assert target.read_bytes() == source.read_bytes()
    assert probe.output_state("out") == (True, False)
    assert probe.output_state("never-declared") == (False, False)
    assert probe.close_files() == 0 and probe.file_errors() == []
    assert probe.reset()
    assert probe.output_state("out") == (False, False)  # declarations are gone


def test_failures_are_recorded_and_reset(probe: TeaclaveInstance, tmp_path: Path) -> None:
    probe.declare_output("out", tmp_path / "out.txt")
    assert probe.invoke_entry(*packed(case="unknown-id")) == 3
    assert len(probe.file_errors()) == 3
    assert "no input declared with file id 'nope'" in probe.file_errors()[0]
    assert probe.reset()
    assert probe.file_errors() == []
    (tmp_path / "in.txt").write_text("twelve bytes")
    probe.declare_input("in", tmp_path / "in.txt")
    probe.declare_output("out", tmp_path / "out.txt")
    assert probe.invoke_entry(*packed(case="leave-open")) == 12
    assert probe.close_files() == 2
    assert probe.output_state("out") == (True, False)
    assert (tmp_path / "out.txt").read_text() == "twelve bytes"
    assert probe.reset()


def test_state_is_restored_between_invocations(probe: TeaclaveInstance) -> None:
    first = probe.invoke_entry(*packed(case="dirty"))
    assert probe.reset()
    assert probe.invoke_entry(*packed(case="dirty")) == first == 1000
    assert probe.invoke_entry(*packed(case="dirty")) // 1000 == 2  # no reset: .bss kept
    assert probe.reset()
    assert probe.invoke_entry(*packed(case="grow")) > 0
    assert not probe.reset()  # grown memory cannot shrink back
    inst_ns, env_ns = probe.timings()
    assert inst_ns > 0 and env_ns > 0


def test_traps_timeouts_and_heap_exhaustion(probe: TeaclaveInstance) -> None:
    with pytest.raises(pywamr.Timeout):
        probe.invoke_entry(*packed(case="spin"), timeout=0.05)
    assert probe.invoke_entry(*packed(case="args", x="1")) == 4  # argc counts keys and values
    with pytest.raises(MemoryError, match="app heap"):
        probe.invoke_entry(1, b"x" * (4 << 20) + b"\0")
    assert probe.reset()


def test_entrypoint_missing() -> None:
    with pywamr.Runtime() as runtime:
        instance = runtime.load(Path(PROBE).parent / "basic.wasm").instantiate()
        with pytest.raises(pywamr.ExportNotFound):
            TeaclaveInstance(instance).invoke_entry(0, b"")
        instance.close()


def test_fresh_runtime_needs_the_core_to_itself() -> None:
    teaclave.clear_cache()
    gc.collect()  # modules other tests left unreferenced still hold the core
    with pywamr.Runtime("classic-interp"):
        with pytest.raises(pywamr.WamrError, match="to itself"):
            fresh_runtime("classic-interp")
    runtime = fresh_runtime("classic-interp")
    try:
        assert runtime.mode == "classic-interp"
    finally:
        runtime.close()
