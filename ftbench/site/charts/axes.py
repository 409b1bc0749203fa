"""Chart axes fitted to the data (pure): the span of the values and a little more, with
round ticks; a log scale for costs that span more than a decade. Every number is rounded to
ten significant digits, so the same data always gives the same ticks and the same bytes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

PAD = 0.06
"""Share of the data's span left free at each end of an axis (of its decades, on a log axis)."""
LOG_RATIO = 10.0
"""A cost axis whose values span more than this ratio is drawn on a log scale."""


def tidy(value: float) -> float:
    """``value`` rounded to ten significant digits: ``0.1 * 3`` reads ``0.3``.

    >>> tidy(0.1 * 3), tidy(84.6 - 3.4 * 0.06)
    (0.3, 84.396)
    """
    return float(f"{value:.10g}")


@dataclass(frozen=True)
class Scale:
    """An axis: a linear or log mapping from data values to pixels, with its ticks."""

    low: float
    """Data value at ``start``."""
    high: float
    """Data value at ``end``."""
    ticks: tuple[float, ...]
    """Round values inside ``[low, high]`` that get a grid line and a label."""
    log: bool = False
    """Drawn on a log scale (then ``low > 0``)."""
    start: float = 0.0
    """Pixel of ``low``."""
    end: float = 1.0
    """Pixel of ``high``."""

    def __call__(self, value: float) -> float:
        f = math.log10 if self.log else float
        return self.start + (f(value) - f(self.low)) / (f(self.high) - f(self.low)) * (self.end - self.start)

    def to(self, start: float, end: float) -> Scale:
        """The same axis drawn from pixel ``start`` to pixel ``end``."""
        return replace(self, start=start, end=end)

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies on the axis."""
        return self.low <= value <= self.high


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values inside ``[low, high]``, about ``count`` of them: the step of 1, 2, 2.5, 5
    or 10 times a power of ten nearest to ``(high - low) / count`` (so at least two ticks
    whenever ``high > low`` and ``count >= 3``).

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(84.396, 88.204)
    [85.0, 86.0, 87.0, 88.0]
    >>> nice_ticks(48.0, 92.0, 4)
    [50.0, 60.0, 70.0, 80.0, 90.0]
    """
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * min((1, 2, 2.5, 5, 10), key=lambda m: abs(math.log(m * magnitude / raw)))
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [tidy(i * step) for i in range(first, last + 1)]


def log_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Values inside ``[low, high]`` at 1-2-3-5-7, 1-2-5, 1-3 or 1 times the powers of ten,
    the densest of these with at most ``most`` ticks (every few powers of ten when the range
    is wider still).

    >>> log_ticks(15.0, 210.0)
    [20.0, 30.0, 50.0, 70.0, 100.0, 200.0]
    >>> log_ticks(0.5, 30.0, 5)
    [1.0, 3.0, 10.0, 30.0]
    >>> log_ticks(1.0, 1e9, 4)
    [1.0, 1000.0, 1000000.0, 1000000000.0]
    """
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for steps in ((1, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,)):
        ticks = [tidy(m * 10.0**d) for d in decades for m in steps]
        ticks = [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
        if len(ticks) <= most or steps == (1,):
            break
    every = math.ceil(len(ticks) / most) if len(ticks) > most else 1
    return ticks[::every]


def fit_scale(
    values: Sequence[float], *, count: int = 5, limits: tuple[float, float] | None = None, log_ok: bool = False
) -> Scale:
    """An axis fitted to ``values`` (points and the ends of their error bars): their span and
    :data:`PAD` of it at each end, kept inside ``limits`` (0 to 100 for percentages), with
    about ``count`` round ticks; a log axis when ``log_ok`` and the values span more than
    :data:`LOG_RATIO`. A single value gets ±5% of itself (±1 at zero).

    >>> s = fit_scale([84.6, 88.0]); s.low, s.high, s.ticks
    (84.396, 88.204, (85.0, 86.0, 87.0, 88.0))
    >>> fit_scale([96.0, 99.9], limits=(0.0, 100.0)).high
    100.0
    >>> s = fit_scale([20.0, 250.0], log_ok=True); s.log, s.low, s.ticks
    (True, 17.18760621, (20.0, 30.0, 50.0, 70.0, 100.0, 200.0))
    """
    low, high = min(values), max(values)
    if log_ok and low > 0 and high / low > LOG_RATIO:
        factor = (high / low) ** PAD
        low, high = tidy(low / factor), tidy(high * factor)
        return Scale(low, high, tuple(log_ticks(low, high, count + 2)), log=True)
    pad = (high - low) * PAD if high > low else (abs(low) * 0.05 or 1.0)
    low, high = tidy(low - pad), tidy(high + pad)
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    return Scale(low, high, tuple(nice_ticks(low, high, count)))
