"""Efficiency measurement helpers: peak memory while a block runs, latency summaries."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import statistics
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


class PeakMemory:
    """The peak resident memory of this process while the block runs (MiB).

    On Linux the kernel keeps the exact high-water mark (``VmHWM``), which the block resets on
    entry (``/proc/self/clear_refs``), so the peak is this block's alone and nothing samples.
    Elsewhere a background thread samples the RSS every few milliseconds: a lower bound, as a
    spike shorter than the interval can be missed. ``baseline_mb`` is the RSS on entry;
    ``exact`` says which way the peak was taken.
    """

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.baseline_mb = 0.0
        self.peak_mb = 0.0
        self.exact = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        import psutil  # on first use: a site build imports this module and need not load psutil

        self._process = psutil.Process()

    def _rss_mb(self) -> float:
        return self._process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __enter__(self) -> PeakMemory:
        self.exact = _reset_high_water_mark()
        self.baseline_mb = self.peak_mb = self._rss_mb()
        if not self.exact:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        high = _high_water_mark_mb() if self.exact else None
        self.peak_mb = max(self.peak_mb, self._rss_mb(), high or 0.0)


_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _reset_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS counter of this process; False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _high_water_mark_mb() is not None


def _high_water_mark_mb() -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb() -> float:
    """This process's resident memory now (MiB)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def release_memory() -> float:
    """Collect garbage and hand freed heap back to the OS (glibc's ``malloc_trim``), so that a
    baseline taken next is not inflated by what an earlier model left; returns the RSS after."""
    gc.collect()
    trim_heap()
    return rss_mb()


def trim_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc's ``malloc_trim``; nothing elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; 0.0 for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    """Median, 0.0 for no values."""
    return float(statistics.median(values)) if values else 0.0
