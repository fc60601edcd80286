"""Payloads with an allocator of their own (they export malloc and free).

WAMR then gives them no app heap and allocates the entrypoint's arguments by
calling the guest's malloc; pywamr runs those calls on the instance's own
exec env (teaclave_entry.c).  Results must be the same under every policy and
mode, and the reuse-instance reset must bring the guest allocator back.
"""

from __future__ import annotations

import pytest
from helpers import ALL_MODES, payload

import pywamr
from pywamr import teaclave

PAYLOAD = payload("tc_alloc")


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_guest_allocator_under_every_policy(mode: str, policy: str) -> None:
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    # strict: tc_alloc calls libc-builtin (atoi, strcmp), and "two allocations"
    # is the strict argv layout (Teaclave's allocates each string on its own)
    with teaclave.Executor(PAYLOAD, mode=mode, policy=policy, profile="strict") as executor:
        for i in range(5):
            assert executor.run({"a": str(i), "b": "40"}) == i + 40
            # two allocations per invocation (strings, pointer array) since the
            # instance was made or reset: nothing survives an invocation
            assert executor.run({"blocks": "x"}) == 2

