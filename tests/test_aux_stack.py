"""Payloads get their whole aux (C shadow) stack (vendor/patches/0009).

The cores have WAMR's thread manager built in (it is how timeouts stop a
call); unpatched, it left the main thread a fifth of the module's aux stack:
aux_stack.wasm (clang's default 64 KiB stack) overflowed at about 270 levels
and aux_stack_1k.wasm (a 1 KiB stack) could not be instantiated at all.
"""

from __future__ import annotations

import pytest
from helpers import payload

import pywamr
from pywamr import teaclave

# The classic interpreter's frames for small_frames take about 190 bytes of
# the wasm stack: 900 levels need more than Teaclave's 160 KiB there.
BIG_WASM_STACK = 512 * 1024
# Executors here use the default profile, teaclave: traps read "Exception: ..."
# (the strict profile gives the same limits, without the prefix).
# small_frames takes 48 bytes per level: 1365 levels fill 64 KiB exactly.
LEVELS_IN_64K = 1365


def _modes() -> list[str]:
    return ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_deep_recursion_and_big_frames(mode: str, policy: str) -> None:
    with teaclave.Executor(payload("aux_stack"), mode=mode, policy=policy,
                           stack_size=BIG_WASM_STACK) as executor:
        assert executor.invoke({"depth": 900}).summary == "900"
        # 7 levels of 8 KiB frames fit in 64 KiB, 8 do not (unpatched: 1 did).
        assert executor.invoke({"frames": 6}).summary == "6"
        deep = executor.invoke({"frames": 7})
        assert deep.trap == "Exception: wasm auxiliary stack overflow"
        assert executor.invoke({"depth": 900}).summary == "900"  # usable again


@pytest.mark.parametrize("mode", _modes())
def test_the_limit_is_the_linked_stack_size(mode: str) -> None:
    with teaclave.Executor(payload("aux_stack"), mode=mode,
                           stack_size=BIG_WASM_STACK) as executor:
        assert executor.invoke({"depth": LEVELS_IN_64K - 1}).summary == str(LEVELS_IN_64K - 1)
        overflow = executor.invoke({"depth": LEVELS_IN_64K})
        assert overflow.trap == "Exception: wasm auxiliary stack overflow"


def test_teaclave_wasm_stack_limits_classic_recursion_first() -> None:
    """With Teaclave's 160 KiB wasm stack the classic interpreter's own frames
    run out before the 64 KiB aux stack does (measured: 865 levels here)."""
    result = teaclave.invoke(payload("aux_stack"), {"depth": 900}, mode="classic-interp")
    assert result.trap == "Exception: wasm operand stack overflow"
    assert teaclave.invoke(payload("aux_stack"), {"depth": 800},
                           mode="classic-interp").summary == "800"


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_one_kib_stack_instantiates(mode: str, policy: str) -> None:
    # A fifth of 1 KiB was under WAMR's 256-byte minimum: no exec env at all.
    with teaclave.Executor(payload("aux_stack_1k"), mode=mode, policy=policy) as executor:
        assert executor.invoke({"depth": 20}).summary == "20"  # 21 levels: 1008 bytes
        assert executor.invoke({"depth": 21}).trap == "Exception: wasm auxiliary stack overflow"


@pytest.mark.parametrize("mode", _modes())
def test_timeout_still_stops_the_payload(mode: str) -> None:
    with teaclave.Executor(payload("aux_stack"), mode=mode,
                           stack_size=BIG_WASM_STACK) as executor:
        result = executor.invoke({"spin": 100000}, timeout=0.3)
        assert result.timed_out and result.trap is not None
        # the instance runs again, with its whole stack
        assert executor.invoke({"depth": 900}).summary == "900"
