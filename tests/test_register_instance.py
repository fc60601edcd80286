"""Runtime.register_instance: one instance's exports satisfy another module's
imports (functions through host calls, immutable globals by value), in every
mode; what cannot be shared in WAMR 1.1.2 is refused at load, saying why."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr

LIBRARY = wat("""
(module
  (global $calls (mut i32) (i32.const 0))
  (global (export "base") i64 (i64.const 1000))
  (global (export "counter") (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "add") (param i64 i64) (result i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i64.add (local.get 0) (local.get 1)))
  (func (export "calls") (result i32) (global.get $calls))
  (func (export "half") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 0.5)))
  (func (export "scale") (param f32) (result f32) (f32.mul (local.get 0) (f32.const 3)))
  (func (export "keep") (param externref) (result externref) (local.get 0))
  (func (export "pair") (result i32 i32) (i32.const 1) (i32.const 2))
  (func (export "boom") (unreachable)))
""")

APP = wat("""
(module
  (import "lib" "add" (func $add (param i64 i64) (result i64)))
  (import "lib" "half" (func $half (param f64) (result f64)))
  (import "lib" "scale" (func $scale (param f32) (result f32)))
  (import "lib" "keep" (func $keep (param externref) (result externref)))
  (import "lib" "boom" (func $boom))
  (import "lib" "base" (global $base i64))
  (func (export "sum") (param i64) (result i64) (call $add (global.get $base) (local.get 0)))
  (func (export "half") (param f64) (result f64) (call $half (local.get 0)))
  (func (export "scale") (param f32) (result f32) (call $scale (local.get 0)))
  (func (export "keep") (param externref) (result externref) (call $keep (local.get 0)))
  (func (export "boom") (call $boom)))
""")


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(str(request.param)) as runtime:
        yield runtime


def test_functions_and_immutable_globals_link(rt: pywamr.Runtime) -> None:
    with rt.load(LIBRARY) as lib_module, lib_module.instantiate() as library:
        rt.register_instance("lib", library)
        with rt.load(APP) as app_module, app_module.instantiate() as app:
            assert app.call("sum", 5) == 1005
            assert app.call("sum", -(1 << 63)) == -(1 << 63) + 1000
            assert library.call("calls") == 2          # the calls ran in the library instance
            assert app.call("half", 3.0) == 1.5
            assert math.isinf(app.call("half", math.inf))
            assert app.call("scale", 1.5) == 4.5
            thing = object()
            assert app.call("keep", thing) is thing and app.call("keep", None) is None
            with pytest.raises(pywamr.Trap, match="unreachable"):
                app.call("boom")
            assert app.call("sum", 1) == 1001          # both instances still usable


def test_a_closed_library_instance_fails_the_importers_call(rt: pywamr.Runtime) -> None:
    with rt.load(LIBRARY) as lib_module:
        library = lib_module.instantiate()
        rt.register_instance("lib", library)
        with rt.load(APP) as app_module, app_module.instantiate() as app:
            library.close()
            with pytest.raises(pywamr.ClosedError):
                app.call("sum", 1)
        with pytest.raises(pywamr.ClosedError):
            rt.register_instance("lib2", library)


@pytest.mark.parametrize(("imported", "why"), [
    ('(global (import "lib" "counter") (mut i32))', "mutable global"),
    ('(memory (import "lib" "memory") 1)', "memory"),
    ('(table (import "lib" "table") 1 funcref)', "table"),
    ('(func (import "lib" "pair") (result i32 i32))', "several results"),
])
def test_what_cannot_be_shared_is_refused_saying_why(rt: pywamr.Runtime, imported: str,
                                                     why: str) -> None:
    with rt.load(LIBRARY) as lib_module, lib_module.instantiate() as library:
        rt.register_instance("lib", library)
        with pytest.raises(pywamr.LinkError, match=f"registered instance: .*{why}"):
            rt.load(wat(f"(module {imported})"))


def test_an_export_of_the_wrong_type_is_a_link_error(rt: pywamr.Runtime) -> None:
    with rt.load(LIBRARY) as lib_module, lib_module.instantiate() as library:
        rt.register_instance("lib", library)
        with pytest.raises(pywamr.LinkError, match=r"lib\.add"):
            rt.load(wat('(module (import "lib" "add" (func (param i32) (result i32))))'))
