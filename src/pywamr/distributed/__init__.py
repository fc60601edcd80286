"""Batches of payload invocations on a Dask cluster, warm on every worker.

Needs the ``distributed`` extra (``pip install "pywamr[distributed]"``).
:class:`BatchExecutor` is shaped like :mod:`concurrent.futures`: ``submit``
returns a future per invocation, ``map``/``run`` return results in input
order, ``as_completed`` yields futures as they finish.  Results are plain
:class:`InvocationResult` data.  See ``docs/distributed.md``.
"""

from ._client import (
    BYTES,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_RETRIES,
    BatchExecutor,
    Invocation,
    InvocationFuture,
    Shared,
)
from ._result import InvocationResult

__all__ = [
    "BYTES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_RETRIES",
    "BatchExecutor",
    "Invocation",
    "InvocationFuture",
    "InvocationResult",
    "Shared",
]
