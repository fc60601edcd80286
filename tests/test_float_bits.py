"""Exact f32/f64 bits across the API: ``Function.call_bits`` (issue 10).

A Python float carries an f32 through a conversion to double and back, which
sets a signalling NaN's quiet bit; ``call_bits`` passes and returns f32/f64
values as their bit patterns, copied as they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr

F32_SNAN, F32_SNAN_NEG = 0x7FA00000, 0xFFA00000
F64_SNAN = 0x7FF4000000000001

FLOATS = """
(module
  (memory 1)
  (func (export "id32") (param f32) (result f32) local.get 0)
  (func (export "neg32") (param f32) (result f32) (f32.neg (local.get 0)))
  (func (export "id64") (param f64) (result f64) local.get 0)
  (func (export "through_memory") (param f32) (result f32)
    (f32.store (i32.const 8) (local.get 0)) (f32.load (i32.const 8)))
  (func (export "mixed") (param i32 f32 i64 f64) (result f64 f32 i32)
    local.get 3 local.get 1 local.get 0)
  (func (export "bits_of") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0))))
"""


@pytest.fixture(params=ALL_MODES)
def exports(request: pytest.FixtureRequest) -> Iterator[pywamr.Exports]:
    if request.param == "aot" and not pywamr.aot_available():
        pytest.skip("built without the AOT compiler")
    with pywamr.Runtime(str(request.param)) as rt, rt.load(wat(FLOATS)) as module, \
            module.instantiate() as inst:
        yield inst.exports


def test_signalling_nans_cross_exactly(exports: pywamr.Exports) -> None:
    assert exports["id32"].call_bits(F32_SNAN) == F32_SNAN
    assert exports["neg32"].call_bits(F32_SNAN) == F32_SNAN_NEG   # sign flipped, payload kept
    assert exports["through_memory"].call_bits(F32_SNAN) == F32_SNAN
    assert exports["bits_of"].call_bits(F32_SNAN) == F32_SNAN     # an f32 result made in wasm
    assert exports["id64"].call_bits(F64_SNAN) == F64_SNAN
    assert exports["mixed"].call_bits(-1, F32_SNAN, 5, F64_SNAN) == (F64_SNAN, F32_SNAN, -1)
    assert exports["id32"].call_bits(0x3FC00000, timeout=5) == 0x3FC00000  # 1.5


def test_the_float_path_quiets_an_f32_signalling_nan(exports: pywamr.Exports) -> None:
    """What call_bits exists for: through Python floats the quiet bit is set."""
    import struct

    back = exports["bits_of"](F32_SNAN)
    assert struct.unpack("<I", struct.pack("<f", back))[0] == F32_SNAN | 0x00400000
    assert exports["id32"](1.5) == 1.5     # ordinary values are what they were


def test_bit_patterns_are_checked(exports: pywamr.Exports) -> None:
    with pytest.raises(TypeError, match="bit pattern"):
        exports["id32"].call_bits(1.5)
    with pytest.raises(ValueError, match="32-bit pattern"):
        exports["id32"].call_bits(1 << 32)
    with pytest.raises(ValueError, match="32-bit pattern"):
        exports["id32"].call_bits(-1)
    with pytest.raises(TypeError, match="takes 1 arguments"):
        exports["id32"].call_bits()


def test_reference_and_v128_signatures_too() -> None:
    if not pywamr.aot_available():
        pytest.skip("v128 values cross the API in aot only")
    source = ('(module (func (export "pick") (param v128 f32 externref) (result f32 v128)'
              ' local.get 1 local.get 0))')
    with pywamr.Runtime("aot") as rt, rt.load(wat(source)) as module, \
            module.instantiate() as inst:
        pick = inst.exports["pick"]
        assert isinstance(pick, pywamr.RefFunction)
        assert pick.call_bits(7, F32_SNAN, None) == (F32_SNAN, 7)
