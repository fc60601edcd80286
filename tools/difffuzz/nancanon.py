"""Proving a divergence is the choice of a NaN: the reference runs a canonical-NaN variant.

The spec lets every float operation that produces a NaN (arithmetic, ``min``/``max``,
rounding, ``demote``/``promote``; scalar and SIMD) give *any* canonical NaN when its NaN
inputs are canonical, and any arithmetic NaN otherwise: the sign and payload are the
implementation's choice.  x86 makes negative NaNs (wasmtime passes them on), WAMR's
``min``/``max`` return the positive canonical NaN, and that sign can reach an integer (a
lane reinterpreted, bytes stored and compared), where the harness sees a divergence.

:func:`canonical_variant` rewrites a module so that the chosen operations' NaN results are
the positive canonical NaN (``0x7fc00000`` / ``0x7ff8000000000000``) and nothing else changes
(one scratch local per type and function; indices, exports and every other instruction as
they were).  Run in the reference, the variant is an execution of the *original* module the
spec allows (the canonical NaN is in every such operation's set of allowed results).  So if
pywamr's outcome of the original module equals the reference's outcome of the variant, call
for call (results, traps, host calls, memory), pywamr behaved as the spec allows: the
divergence is explained.  pywamr is never re-run on a variant, so a different compilation
cannot hide a fault in pywamr (unlike a re-run of both engines on a ``--denan`` copy); a
divergence that is anything but such NaN choices stays a divergence.  It can fail to prove a
legitimate difference (pywamr chose other NaNs than the variant's), never prove a wrong one.

The rewrite goes through wabt's text format (``wasm2wat``/``wat2wasm``): one instruction per
line, so each chosen operation is followed by ``local.tee; const NaN; local.get; local.get;
eq; select`` (``v128.bitselect`` for lanes).
"""

from __future__ import annotations

import re
import subprocess

# What each float operation whose NaN result the spec leaves open is called, by set.
_ROUNDING = ("add", "sub", "mul", "div", "sqrt", "ceil", "floor", "trunc", "nearest")
OPERATION_SETS: dict[str, frozenset[str]] = {
    # WAMR's choice: min and max (scalar and lanes) give the positive canonical NaN.
    "minmax": frozenset(f"{t}.{op}" for t in ("f32", "f64", "f32x4", "f64x2")
                        for op in ("min", "max")),
    # Every NaN-producing operation.
    "all": frozenset({f"{t}.{op}" for t in ("f32", "f64", "f32x4", "f64x2")
                      for op in (*_ROUNDING, "min", "max")}
                     | {"f32.demote_f64", "f64.promote_f32", "f32x4.demote_f64x2_zero",
                        "f64x2.promote_low_f32x4"}),
}
# The order the harness tries them in: WAMR's own choice first.
SETS_TRIED = ("minmax", "all")

_SCRATCH = {"f32": "$__nan_f32", "f64": "$__nan_f64", "v128": "$__nan_v128"}
_FIX = {
    # result type of the operation -> instructions making a NaN on the stack canonical
    "f32": [f"local.tee {_SCRATCH['f32']}", "f32.const nan", f"local.get {_SCRATCH['f32']}",
            f"local.get {_SCRATCH['f32']}", "f32.eq", "select"],
    "f64": [f"local.tee {_SCRATCH['f64']}", "f64.const nan", f"local.get {_SCRATCH['f64']}",
            f"local.get {_SCRATCH['f64']}", "f64.eq", "select"],
    "f32x4": [f"local.tee {_SCRATCH['v128']}", "v128.const i32x4" + " 0x7fc00000" * 4,
              f"local.get {_SCRATCH['v128']}", f"local.get {_SCRATCH['v128']}", "f32x4.eq",
              "v128.bitselect"],
    "f64x2": [f"local.tee {_SCRATCH['v128']}", "v128.const i64x2" + " 0x7ff8000000000000" * 2,
              f"local.get {_SCRATCH['v128']}", f"local.get {_SCRATCH['v128']}", "f64x2.eq",
              "v128.bitselect"],
}
_FUNC = re.compile(r"^\s*\(func\b")
_LOCALS = re.compile(r"^\s*\(local\b")


class VariantError(RuntimeError):
    """wabt could not rewrite the module (the check is then not made)."""


def _result_type(op: str) -> str:
    """The type of what ``op`` leaves on the stack, in ``_FIX``'s terms."""
    if op == "f32.demote_f64":
        return "f32"
    if op == "f64.promote_f32":
        return "f64"
    if op == "f32x4.demote_f64x2_zero":
        return "f32x4"
    if op == "f64x2.promote_low_f32x4":
        return "f64x2"
    return op.split(".")[0]


def rewrite_text(text: str, operations: frozenset[str]) -> tuple[str, int]:
    """``wasm2wat`` text with each of ``operations`` followed by its NaN fix; the count."""
    out: list[str] = []
    count = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if _FUNC.match(line) and line.count("(") > line.count(")"):
            # a function with a body: its locals follow the header, then ours
            indent = " " * (len(line) - len(line.lstrip()) + 2)
            while i < len(lines) and _LOCALS.match(lines[i]):
                out.append(lines[i])
                i += 1
            out.append(indent + " ".join(f"(local {name} {t})" for t, name in _SCRATCH.items()))
            continue
        # the last instruction of a body carries the function's closing parenthesis
        op = line.strip()
        closing = len(op) - len(op.rstrip(")"))
        op = op.rstrip(")")
        if op in operations:
            indent = line[:len(line) - len(line.lstrip())]
            out[-1] = indent + op
            out.extend(indent + fix for fix in _FIX[_result_type(op)])
            out[-1] += ")" * closing
            count += 1
    return "\n".join(out) + "\n", count


def canonical_variant(wasm: bytes, operations: str) -> tuple[bytes, int]:
    """``wasm`` with the NaN results of the operation set ``operations`` (see
    :data:`OPERATION_SETS`) made the positive canonical NaN; the number of operations
    rewritten (0: the variant behaves as the original)."""
    try:
        text = subprocess.run(["wasm2wat", "--no-debug-names", "-", "-o", "/dev/stdout"],
                              input=wasm, capture_output=True, check=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise VariantError(f"wasm2wat: {exc}") from exc
    rewritten, count = rewrite_text(text.decode(), OPERATION_SETS[operations])
    try:
        proc = subprocess.run(["wat2wasm", "-", "-o", "/dev/stdout"], input=rewritten.encode(),
                              capture_output=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise VariantError(f"wat2wasm: {exc} {detail[-500:]!r}") from exc
    return proc.stdout, count
