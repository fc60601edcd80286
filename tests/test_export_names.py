"""Export names with NUL bytes (issue 10: names of any bytes).

WAMR 1.1.2 cuts names at a NUL byte; pywamr reports and finds exports by
their real names (`pywamr._names`), and refuses import names with NUL.
(WAMR's duplicate-name check compares a new name with the cut earlier ones,
so `""` exported *after* `"\0a"` is refused as a duplicate; before it, fine.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr

NAMES = r"""
(module
  (func (export "") (result i32) i32.const 3)
  (func (export "\00a") (result i32) i32.const 1)
  (func (export "\00b") (result i32) i32.const 2)
  (global (export "\00g") i32 (i32.const 5))
  (func (export "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f") (result i32) i32.const 22)
  (func (export "x\00y") (result i32) i32.const 4))
"""


@pytest.fixture(params=ALL_MODES)
def inst(request: pytest.FixtureRequest) -> Iterator[pywamr.Instance]:
    if request.param == "aot" and not pywamr.aot_available():
        pytest.skip("built without the AOT compiler")
    with pywamr.Runtime(str(request.param)) as rt, rt.load(wat(NAMES)) as module, \
            module.instantiate() as instance:
        yield instance


def test_names_with_nul_are_reported_and_found(inst: pywamr.Instance) -> None:
    names = ["", "\0a", "\0b", "\0g", "".join(map(chr, range(16))), "x\0y"]
    assert [e.name for e in inst.module.exports] == names
    assert list(inst.exports) == names
    calls = {n: inst.exports[n]() for n in names if n != "\0g"}
    assert calls == {"": 3, "\0a": 1, "\0b": 2, names[4]: 22, "x\0y": 4}
    assert inst.exports["\0g"].value == 5
    assert inst.call("\0b") == 2 and inst.function("x\0y")() == 4


def test_cut_names_are_not_exports(inst: pywamr.Instance) -> None:
    for missing in ("x", "\0", "\0c", "a"):
        assert missing not in inst.exports
        with pytest.raises(pywamr.ExportNotFound):
            inst.function(missing)


def test_plain_modules_are_unchanged() -> None:
    with pywamr.Runtime() as rt, rt.load(wat('(module (func (export "f") (result i32)'
                                             ' i32.const 9))')) as module:
        with module.instantiate() as instance:
            assert instance.exports["f"]() == 9
            with pytest.raises(pywamr.ExportNotFound):
                instance.function("f\0")


def test_import_names_with_nul_are_refused() -> None:
    with pywamr.Runtime() as rt:
        rt.register_host("env", "f", lambda: None, "()")
        for source in [r'(module (import "env" "f\00x" (func)))',
                       r'(module (import "env\00" "f" (func)))',
                       r'(module (import "env" "m\00" (memory 1)))']:
            with pytest.raises(pywamr.LinkError, match="NUL byte"):
                rt.load(wat(source))
