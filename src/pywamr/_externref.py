"""externref values: the small integers (host values) standing for Python objects.

WAMR keeps an externref as an index into its own map of host values; pywamr's
host values are these handles.  An object gets one handle however often it
crosses, and lives while an instance holds it: each instance records the
handles it was given and releases them when it is closed or collected.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._instance import Instance

_objects: dict[int, Any] = {}
_handles: dict[int, int] = {}  # id(obj) -> handle
_holders: dict[int, int] = {}  # handle -> number of instances holding it
_next_handle = itertools.count(1)
_lock = threading.Lock()


def externref_handle(instance: Instance, value: Any) -> int:
    """The host value standing for ``value`` (0 for None); ``instance`` keeps
    it alive until it is closed."""
    if value is None:
        return 0
    with _lock:
        handle = _handles.get(id(value))
        if handle is None or _objects.get(handle) is not value:
            handle = next(_next_handle)
            _objects[handle] = value
            _handles[id(value)] = handle
        held: set[int] = instance._externrefs
        if handle not in held:
            held.add(handle)
            _holders[handle] = _holders.get(handle, 0) + 1
    return handle


def release_externrefs(held: set[int]) -> None:
    """Forget what an instance held (it was closed or collected)."""
    with _lock:
        for handle in held:
            left = _holders.get(handle, 1) - 1
            if left:
                _holders[handle] = left
                continue
            _holders.pop(handle, None)
            obj = _objects.pop(handle, None)
            if obj is not None and _handles.get(id(obj)) == handle:
                del _handles[id(obj)]
        held.clear()


def externref_object(handle: int) -> Any:
    """The object ``handle`` stands for (None for 0)."""
    if not handle:
        return None
    with _lock:
        if handle not in _objects:
            raise ValueError(f"externref {handle:#x} was not made by pywamr")
        return _objects[handle]
