"""Host functions taking and returning externref values (signature letter ``r``),
in every mode: any Python object crosses, identity is kept, ``None`` is null,
and an object a host function returns lives as long as the calling instance."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr

MODULE = wat("""
(module
  (import "env" "make" (func $make (param i32) (result externref)))
  (import "env" "show" (func $show (param externref i32) (result i32)))
  (import "env" "echo" (func $echo (param externref) (result externref)))
  (table $kept 4 externref)
  (func (export "keep") (param i32 i32) (table.set $kept (local.get 0) (call $make (local.get 1))))
  (func (export "kept") (param i32) (result externref) (table.get $kept (local.get 0)))
  (func (export "show_kept") (param i32) (result i32)
    (call $show (table.get $kept (local.get 0)) (local.get 0)))
  (func (export "echo") (param externref) (result externref) (call $echo (local.get 0)))
  (func (export "is_null") (param i32) (result i32)
    (ref.is_null (call $make (local.get 0)))))
""")


class Thing:
    def __init__(self, n: int) -> None:
        self.n = n


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(str(request.param)) as runtime:
        yield runtime


def register(rt: pywamr.Runtime, made: list[Thing], shown: list[Any]) -> None:
    def make(n: int) -> Thing | None:
        if n < 0:
            return None
        made.append(Thing(n))
        return made[-1]

    def show(obj: Any, slot: int) -> int:
        shown.append(obj)
        return -1 if obj is None else obj.n + slot

    rt.register_host("env", "make", make, "(i)r")
    rt.register_host("env", "show", show, "(ri)i")
    rt.register_host("env", "echo", lambda obj: obj, "(r)r")


def test_objects_cross_both_ways_with_identity(rt: pywamr.Runtime) -> None:
    made: list[Thing] = []
    shown: list[Any] = []
    register(rt, made, shown)
    with rt.load(MODULE) as module, module.instantiate() as inst:
        inst.call("keep", 1, 40)
        assert inst.call("kept", 1) is made[0]
        assert inst.call("show_kept", 1) == 41 and shown == [made[0]]
        payload = {"any": ["python", "object"]}
        assert inst.call("echo", payload) is payload
        assert inst.call("echo", None) is None
        assert inst.call("is_null", -1) == 1 and inst.call("is_null", 3) == 0
        assert inst.call("show_kept", 2) == -1 and shown[-1] is None   # an empty slot


def test_a_returned_object_lives_as_long_as_the_instance(rt: pywamr.Runtime) -> None:
    made: list[Thing] = []
    register(rt, made, [])
    with rt.load(MODULE) as module:
        inst = module.instantiate()
        inst.call("keep", 0, 7)
        ref = weakref.ref(made.pop())
        gc.collect()
        assert ref() is not None and inst.call("kept", 0) is ref()   # the guest holds it
        inst.close()
        gc.collect()
        assert ref() is None


def test_a_host_function_raising_with_an_externref_result(rt: pywamr.Runtime) -> None:
    def make(n: int) -> Thing:
        raise LookupError(f"no thing {n}")

    rt.register_host("env", "make", make, "(i)r")
    rt.register_host("env", "show", lambda obj, slot: 0, "(ri)i")
    rt.register_host("env", "echo", lambda obj: obj, "(r)r")
    with rt.load(MODULE) as module, module.instantiate() as inst:
        with pytest.raises(LookupError, match="no thing 3"):
            inst.call("keep", 0, 3)
        assert inst.call("kept", 0) is None


@pytest.mark.parametrize("signature", ["(i)i", "(r)i", "(i)f"])
def test_an_externref_signature_must_match_the_import(rt: pywamr.Runtime,
                                                      signature: str) -> None:
    made: list[Thing] = []
    register(rt, made, [])
    rt.register_host("env", "make", lambda n: None, signature)
    with pytest.raises(pywamr.LinkError, match=r"env\.make"):
        rt.load(MODULE)
