"""WebAssembly value and function types as pywamr reports them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ValType(enum.Enum):
    """A WebAssembly value type; values are WAMR's signature letters."""

    I32 = "i"
    I64 = "I"
    F32 = "f"
    F64 = "F"
    V128 = "V"
    FUNCREF = "R"
    EXTERNREF = "r"

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def from_wasm(cls, code: int) -> ValType:
        """From the binary encoding (WAMR's VALUE_TYPE_* byte)."""
        return _BY_CODE[code]

    @property
    def is_reference(self) -> bool:
        return self in (ValType.FUNCREF, ValType.EXTERNREF)


_BY_CODE = {0x7F: ValType.I32, 0x7E: ValType.I64, 0x7D: ValType.F32, 0x7C: ValType.F64,
            0x7B: ValType.V128, 0x70: ValType.FUNCREF, 0x6F: ValType.EXTERNREF}


@dataclass(frozen=True)
class FuncType:
    """Parameter and result types of a function."""

    params: tuple[ValType, ...]
    results: tuple[ValType, ...]

    @classmethod
    def parse(cls, sig: str) -> FuncType:
        """From WAMR's "(params)results" letters, e.g. ``"(ii)i"``."""
        parsed = _PARSED.get(sig)
        if parsed is None:
            inner, _, results = sig[1:].partition(")")
            parsed = cls(tuple(ValType(c) for c in inner), tuple(ValType(c) for c in results))
            if len(_PARSED) < 4096:  # types are few; a bound keeps odd inputs from piling up
                _PARSED[sig] = parsed
        return parsed

    @property
    def signature(self) -> str:
        """The type in WAMR's signature letters."""
        params = "".join(t.value for t in self.params)
        return f"({params}){''.join(t.value for t in self.results)}"

    def __str__(self) -> str:
        params = ", ".join(str(t) for t in self.params)
        results = ", ".join(str(t) for t in self.results)
        return f"({params}) -> ({results})"


# FuncType.parse's results (immutable), by signature: a module's types are
# parsed at every load and instantiation of the Teaclave cold cycle.
_PARSED: dict[str, FuncType] = {}


class ExternKind(enum.IntEnum):
    """What an import or export is."""

    FUNC = 0
    TABLE = 1
    MEMORY = 2
    GLOBAL = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class GlobalType:
    """A global's value type and whether ``global.set`` may change it."""

    content: ValType
    mutable: bool

    def __str__(self) -> str:
        return f"(mut {self.content})" if self.mutable else str(self.content)


@dataclass(frozen=True)
class TableType:
    """A table's element type and limits (``maximum`` None: unbounded)."""

    element: ValType
    minimum: int
    maximum: int | None


@dataclass(frozen=True)
class ExportType:
    """One export of a module; ``type`` is set for functions."""

    name: str
    kind: ExternKind
    type: FuncType | None


@dataclass(frozen=True)
class ImportType:
    """One import of a module.

    ``provider`` says who satisfies a function import: ``"host"`` (a function
    registered on the runtime), ``"builtin"`` (WAMR's libc-builtin) or
    ``None`` (unresolved).
    """

    module: str
    name: str
    kind: ExternKind
    type: FuncType | None
    provider: str | None
