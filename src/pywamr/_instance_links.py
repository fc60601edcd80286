"""What of an instance another module can import (:meth:`Runtime.register_instance`).

WAMR 1.1.2 (without its multi-module support) links a module only to host
functions and to tables, memories and globals of the importer's own, so one
instance's exports reach another the ways that keep their meaning:

* a function, through a host function that calls it (WAMR's host signatures:
  at most one result; i32, i64, f32, f64 and externref values);
* an immutable global, as its value (it can never change).

Everything else would be a copy that silently stops being the same object:
mutable globals, tables, memories, and functions with several results or
with v128/funcref values.  They are reported with the reason instead, so
that a module importing one fails to load saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._types import ExternKind, GlobalType, ValType

if TYPE_CHECKING:
    from ._instance import Instance

_HOST_VALUES = frozenset({ValType.I32, ValType.I64, ValType.F32, ValType.F64,
                          ValType.EXTERNREF})
_NOT_SHARED = ", which cannot be shared between instances in WAMR 1.1.2"
_SEVERAL_RESULTS = "a function with several results, which a host function cannot return"
_OTHER_VALUES = "a function with v128 or funcref values, which a host function cannot take"


@dataclass
class InstanceLinks:
    """An instance's exports sorted by how (and whether) they can be linked."""

    functions: list[tuple[str, Callable[..., Any], str]] = field(default_factory=list)
    globals: list[tuple[str, GlobalType, Any]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def instance_links(instance: Instance) -> InstanceLinks:
    """Sort ``instance``'s exports (see the module docstring)."""
    links = InstanceLinks()
    for export in instance.module.exports:
        if export.kind is ExternKind.FUNC and export.type is not None:
            ftype = export.type
            if len(ftype.results) > 1:
                links.refused[export.name] = _SEVERAL_RESULTS
            elif not set(ftype.params + ftype.results) <= _HOST_VALUES:
                links.refused[export.name] = _OTHER_VALUES
            else:
                links.functions.append((export.name, _forwarder(instance, export.name),
                                        ftype.signature))
        elif export.kind is ExternKind.GLOBAL:
            glob = instance.exports[export.name]
            if glob.type.mutable:
                links.refused[export.name] = f"a mutable global{_NOT_SHARED}"
            else:
                links.globals.append((export.name, glob.type, glob.value))
        else:
            links.refused[export.name] = f"a {export.kind}{_NOT_SHARED}"
    return links


def _forwarder(instance: Instance, name: str) -> Callable[..., Any]:
    """A host function calling export ``name`` of ``instance`` (a closed instance
    raises ClosedError, which the importer's caller gets)."""
    func = instance.exports[name]

    def forward(*args: Any) -> Any:
        return func(*args)

    forward.__qualname__ = f"export {name!r} of {instance!r}"
    return forward
