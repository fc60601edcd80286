"""The one-shot functions' cache: warm executors, bounded, least recently used out.

``teaclave.invoke``/``run`` with the default policy keep one
:class:`Executor` per payload (by SHA-256) and option set, so repeated
one-shot calls are warm.  At most :data:`CACHE_ENTRIES` executors and about
:data:`CACHE_BYTES` of payload bytes are kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

CACHE_ENTRIES = 32
CACHE_BYTES = 256 * 1024 * 1024


class Cacheable(Protocol):
    """What the cache keeps: something with a size that can be closed."""

    @property
    def payload_size(self) -> int: ...

    def close(self) -> None: ...


E = TypeVar("E", bound=Cacheable)
_cache: OrderedDict[tuple[str, Hashable], Cacheable] = OrderedDict()
_lock = threading.Lock()


def cached_executor(data: bytes, options: dict[str, Any], make: Callable[[], E]) -> E:
    """The cached executor for ``data`` built with ``options``; ``make()`` on a miss."""
    key = (hashlib.sha256(data).hexdigest(), tuple(sorted(options.items())))
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found  # type: ignore[return-value]  # keyed by options: made by make()
    executor = make()
    with _lock:
        _cache[key] = executor
        while len(_cache) > CACHE_ENTRIES or (
                len(_cache) > 1 and sum(e.payload_size for e in _cache.values()) > CACHE_BYTES):
            _, evicted = _cache.popitem(last=False)
            evicted.close()
    return executor


def clear_cache() -> None:
    """Close every executor the one-shot functions keep."""
    with _lock:
        while _cache:
            _cache.popitem()[1].close()
