"""Table and memory imports are linked and type-checked by pywamr (issue 10).

WAMR 1.1.2 (without multi-module) gives an importing module a table or memory
of its own made from the import's limits, and accepts any import.  pywamr
links them to `Runtime.define_table`/`define_memory` and refuses what the
spec calls unlinkable with `LinkError` (`pywamr._linking`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fuzzing.mutators import mutate
from helpers import ALL_MODES, payload
from wasi_helpers import PROBE
from wat import wat

import pywamr

USES = """
(module
  (import "env" "memory" (memory 1))
  (import "env" "tab" (table 1 funcref))
  (func (export "pages") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "slots") (result i32) table.size 0)
  (func (export "grow_table") (param i32) (result i32)
    (table.grow 0 (ref.null func) (local.get 0))))
"""


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    if request.param == "aot" and not pywamr.aot_available():
        pytest.skip("built without the AOT compiler")
    with pywamr.Runtime(str(request.param)) as runtime:
        yield runtime


def test_instances_get_the_defined_types(rt: pywamr.Runtime) -> None:
    rt.define_memory("env", "memory", 2, 5)
    rt.define_table("env", "tab", "funcref", 3, 4)
    with rt.load(wat(USES)) as module, module.instantiate(heap_size=0) as inst:
        assert inst.call("pages") == 2            # the definition's minimum, not the import's
        assert inst.call("grow", 3) == 2 and inst.call("grow", 1) == -1  # its maximum: 5
        assert inst.call("slots") == 3
        assert inst.call("grow_table", 1) == 3 and inst.call("grow_table", 1) == -1


@pytest.mark.parametrize(("imported", "defined", "ok"), [
    ("(memory 1)", (1, None), True),
    ("(memory 1)", (3, 7), True),              # more than asked, and bounded: fine
    ("(memory 2)", (1, None), False),          # minimum too small
    ("(memory 1 4)", (1, None), False),        # the import wants a maximum
    ("(memory 1 4)", (1, 5), False),           # ... no larger than 4
    ("(memory 1 4)", (2, 4), True),
    ("(table 2 funcref)", (2, None), True),
    ("(table 2 funcref)", (1, None), False),
    ("(table 2 10 funcref)", (2, 11), False),
    ("(table 2 10 funcref)", (5, 10), True),
    ("(table 1 externref)", (1, None), False),  # defined as funcref
])
def test_limits_and_element_types_are_matched_as_the_spec_says(
        imported: str, defined: tuple[int, int | None], ok: bool) -> None:
    with pywamr.Runtime() as rt:
        if imported.startswith("(memory"):
            rt.define_memory("m", "x", *defined)
        else:
            rt.define_table("m", "x", "funcref", *defined)
        data = wat(f'(module (import "m" "x" {imported}))')
        if ok:
            rt.load(data).close()
        else:
            with pytest.raises(pywamr.LinkError, match=r"incompatible import type: m\.x"):
                rt.load(data)


def test_unresolved_and_other_kinds_are_unlinkable(rt: pywamr.Runtime) -> None:
    rt.register_host("m", "f", lambda: None, "()")
    rt.define_global("m", "g", 1, "i32")
    rt.define_memory("m", "mem", 1)
    rt.define_table("m", "tab", "funcref", 1)
    for import_, provided in [('"m" "f" (table 1 funcref)', "function"),
                              ('"m" "g" (memory 1)', "global"),
                              ('"m" "mem" (table 1 funcref)', "memory"),
                              ('"m" "tab" (memory 1)', "table")]:
        with pytest.raises(pywamr.LinkError, match=f"provided as a {provided}$"):
            rt.load(wat(f"(module (import {import_}))"))
    with pytest.raises(pywamr.LinkError, match=r"unresolved import m\.nothing .*define_memory"):
        rt.load(wat('(module (import "m" "nothing" (memory 1)))'))
    # allow_unresolved: WAMR's own behaviour, a memory made from the import's limits
    with rt.load(wat('(module (import "m" "nothing" (memory 2 3))'
                     ' (func (export "pages") (result i32) memory.size))'),
                 allow_unresolved=True) as module, module.instantiate(heap_size=0) as inst:
        assert inst.call("pages") == 2


def test_an_invalid_module_is_a_load_error_before_it_is_unlinkable(rt: pywamr.Runtime) -> None:
    """The spec validates before it links: two memories are invalid (LoadError,
    not LinkError) even when neither import is provided."""
    with pytest.raises(pywamr.LoadError) as raised:
        rt.load(wat('(module (import "" "a" (memory 1)) (import "" "b" (memory 1)))',
                    "--enable-multi-memory"))
    assert not isinstance(raised.value, pywamr.LinkError)


def test_a_definition_applies_to_later_loads_and_caps_still_apply(rt: pywamr.Runtime) -> None:
    data = wat(USES)
    rt.define_table("env", "tab", "funcref", 1)
    with pytest.raises(pywamr.LinkError):
        rt.load(data)                          # env.memory not defined yet
    rt.define_memory("env", "memory", 1)       # no maximum ...
    with rt.load(data, max_memory_pages=2) as module, module.instantiate(heap_size=0) as inst:
        assert inst.call("grow", 1) == 1 and inst.call("grow", 1) == -1  # ... capped at 2


def test_definitions_are_checked() -> None:
    with pywamr.Runtime() as rt:
        with pytest.raises(ValueError, match="funcref or externref"):
            rt.define_table("m", "t", "i32", 1)
        with pytest.raises(ValueError, match="below its minimum"):
            rt.define_memory("m", "x", 3, 2)
        with pytest.raises(ValueError, match="between 0 and 65536"):
            rt.define_memory("m", "x", 65537)
        with pytest.raises(TypeError):
            rt.define_memory("m", "x", 1.5)  # type: ignore[arg-type]


def test_the_scan_survives_mutated_modules() -> None:
    """pw_wasm_scan reads untrusted bytes in C before WAMR does: mutants of
    modules with table, memory and NUL-named imports and exports only ever
    load, or raise LoadError/LinkError."""
    rng = random.Random(12)
    seeds = [wat(USES), wat(r'(module (import "m" "t" (table 1 funcref)) (func (export "\00a")))'),
             payload("basic").read_bytes(), PROBE.read_bytes()]
    outcomes = {"loaded": 0, "refused": 0}
    with pywamr.Runtime() as rt:
        rt.define_memory("env", "memory", 1)
        rt.define_table("env", "tab", "funcref", 1)
        for _ in range(1500):
            data = mutate(rng.choice(seeds), rng, seeds)
            try:
                rt.load(data, allow_unresolved=rng.random() < 0.5).close()
                outcomes["loaded"] += 1
            except pywamr.LoadError:
                outcomes["refused"] += 1
    assert outcomes["loaded"] > 50 and outcomes["refused"] > 50
