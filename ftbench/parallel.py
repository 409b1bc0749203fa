"""Map a function over many items in forked worker processes, or in this process.

The site build is CPU-bound Python (parsing, validating, rendering), so threads do not help;
forked workers inherit the already-built state (the board, the templates) instead of having it
pickled, and only items and results cross the process boundary. Where ``fork`` is unavailable
(Windows, macOS defaults) or the work is small, everything runs in this process, with the
same results in the same order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Set in the parent just before forking, read by the workers: (function, shared state).
_JOB: tuple[Callable[[Any, Any], Any], Any] | None = None
CHUNKS_PER_WORKER = 4  # several chunks each, so one slow chunk does not leave a worker idle
MIN_ITEMS = 200  # below this, starting workers costs more than it saves


def usable_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def fork_map(
    fn: Callable[[Any, T], R], items: Sequence[T], state: Any = None, *, workers: int | None = None
) -> list[R]:
    """``[fn(state, item) for item in items]``, split over forked workers when there are at
    least ``MIN_ITEMS`` items and more than one CPU. ``state`` is shared by fork, never pickled;
    items and results must pickle.

    >>> fork_map(lambda offset, x: x + offset, [1, 2, 3], 10)
    [11, 12, 13]
    """
    n = min(workers or usable_cpus(), len(items))
    if n < 2 or len(items) < MIN_ITEMS or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(state, item) for item in items]
    global _JOB
    size = -(-len(items) // (n * CHUNKS_PER_WORKER))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    _JOB = (fn, state)
    try:
        with multiprocessing.get_context("fork").Pool(n) as pool:
            parts = pool.map(_run_chunk, chunks)
    finally:
        _JOB = None
    return [result for part in parts for result in part]


def _run_chunk(chunk: Sequence[Any]) -> list[Any]:
    assert _JOB is not None, "fork_map's worker started without its job"
    fn, state = _JOB
    return [fn(state, item) for item in chunk]
