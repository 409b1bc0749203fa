"""Quality-versus-cost scatter charts as inline SVG, drawn at build time (no JavaScript).

Colours come from CSS classes, so the page's light, dark and print styles apply. Every
contributor string is escaped here, since the SVG is inserted into the page as markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ftbench.display import compact_number

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 20, 56
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# A cost axis spanning more than this ratio is drawn on a log scale.
LOG_RATIO = 20.0
MAX_LABEL = 26


@dataclass(frozen=True)
class Point:
    """One model on a chart."""

    cost: float
    """x value."""
    quality: float
    """y value, as displayed (percent for ratio metrics)."""
    label: str
    """Model name (escaped when drawn)."""
    href: str
    """Relative link to the model page."""
    front: bool
    """On the Pareto front: drawn filled, labelled and joined by the front line."""
    flagged: bool = False
    """Its figures are flagged or from another hardware profile: drawn as a hollow diamond,
    never on the front."""


@dataclass(frozen=True)
class Axis:
    """A linear or log mapping from data values to pixels."""

    low: float
    high: float
    start: float
    """Pixel of ``low``."""
    end: float
    """Pixel of ``high``."""
    log: bool = False

    def __call__(self, value: float) -> float:
        f = math.log10 if self.log else float
        span = f(self.high) - f(self.low) or 1.0
        return self.start + (f(value) - f(self.low)) / span * (self.end - self.start)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from at or below ``low`` to at or above ``high``.

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(53.3, 83.3)
    [50.0, 60.0, 70.0, 80.0, 90.0]
    """
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step - 1e-9)
    return [round(float(i * step), 10) for i in range(first, last + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks (or only powers of ten when the range is wide) inside ``[low, high]``.

    >>> log_ticks(0.5, 30)
    [0.5, 1, 2, 5, 10, 20]
    """
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    steps = (1,) if math.log10(high / low) > 3 else (1, 2, 5)
    ticks = [m * 10**d for d in decades for m in steps]
    return [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]


def scatter_svg(
    points: Sequence[Point],
    *,
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    reference: tuple[str, float] | None = None,
) -> Markup:
    """An SVG scatter of quality (y) against cost (x) with the Pareto front joined by a line."""
    if not points:
        return Markup("")
    x_axis, x_ticks = _cost_axis([p.cost for p in points])
    if x_axis.log:
        x_label = x_label[:-1] + ", log scale)" if x_label.endswith(")") else x_label + " (log scale)"
    y_values = [p.quality for p in points] + ([reference[1]] if reference else [])
    y_ticks = nice_ticks(min(y_values), max(y_values))
    y_axis = Axis(y_ticks[0], y_ticks[-1], TOP + PLOT_H, TOP)
    parts = [
        _open(chart_id, title, points),
        *_grid(x_axis, x_ticks, y_axis, y_ticks),
        *_axis_labels(x_label, y_label),
        *(_reference(y_axis, *reference) if reference else []),
        _front_line([p for p in points if p.front], x_axis, y_axis),
        *(_dot(p, x_axis, y_axis) for p in sorted(points, key=lambda p: (p.front, not p.flagged))),
        *_front_labels([p for p in points if p.front], x_axis, y_axis),
        "</svg>",
    ]
    return Markup("\n".join(part for part in parts if part))


def _cost_axis(costs: Sequence[float]) -> tuple[Axis, list[float]]:
    low, high = min(costs), max(costs)
    if low > 0 and high / low > LOG_RATIO:
        ticks = log_ticks(10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high)))
        return Axis(ticks[0], ticks[-1], LEFT, LEFT + PLOT_W, log=True), ticks
    ticks = nice_ticks(0.0 if low >= 0 else low, high)
    return Axis(ticks[0], ticks[-1], LEFT, LEFT + PLOT_W), ticks


def _open(chart_id: str, title: str, points: Sequence[Point]) -> str:
    front = sorted(p.label for p in points if p.front)
    flagged = sum(p.flagged for p in points)
    desc = f"{len(points)} models"
    if flagged:
        desc += f" ({flagged} flagged or measured on other hardware, drawn as hollow diamonds)"
    desc += f"; on the Pareto front: {', '.join(front)}." if front else "."
    return (
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'xmlns="http://www.w3.org/2000/svg">\n<title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'\n<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>'
    )


def _grid(x: Axis, x_ticks: Sequence[float], y: Axis, y_ticks: Sequence[float]) -> list[str]:
    bottom, right = TOP + PLOT_H, LEFT + PLOT_W
    out = [f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}"/>']
    for t in x_ticks:
        px = _f(x(t))
        out.append(
            f'<line class="grid" x1="{px}" y1="{TOP}" x2="{px}" y2="{bottom}"/>'
            f'<text class="tick" x="{px}" y="{bottom + 16}" text-anchor="middle">{compact_number(t)}</text>'
        )
    for t in y_ticks:
        py = _f(y(t))
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{py}" x2="{right}" y2="{py}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{_f(y(t) + 4)}" text-anchor="end">{compact_number(t)}</text>'
        )
    return out


def _axis_labels(x_label: str, y_label: str) -> list[str]:
    cx, cy = LEFT + PLOT_W / 2, TOP + PLOT_H / 2
    return [
        f'<text class="axis-label" x="{_f(cx)}" y="{HEIGHT - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text class="axis-label" x="16" y="{_f(cy)}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_f(cy)})">{escape(y_label)}</text>',
    ]


def _reference(y: Axis, label: str, value: float) -> list[str]:
    py = _f(y(value))
    return [
        f'<line class="reference" x1="{LEFT}" y1="{py}" x2="{LEFT + PLOT_W}" y2="{py}"/>',
        f'<text class="reference-label" x="{LEFT + PLOT_W - 4}" y="{_f(y(value) - 5)}" '
        f'text-anchor="end">{escape(label)}</text>',
    ]


def _front_line(front: Sequence[Point], x: Axis, y: Axis) -> str:
    if len(front) < 2:
        return ""
    ordered = sorted(front, key=lambda p: (p.cost, p.quality))
    coords = " ".join(f"{_f(x(p.cost))},{_f(y(p.quality))}" for p in ordered)
    return f'<polyline class="front" points="{coords}"/>'


def _dot(p: Point, x: Axis, y: Axis) -> str:
    tip = f"{p.label}: {p.quality:.2f} at {compact_number(p.cost)}"
    if p.flagged and not p.front:  # a shape, not only a colour, tells it apart
        px, py = x(p.cost), y(p.quality)
        return (
            f'<a href="{escape(p.href)}"><path class="pt flagged-pt" d="M{_f(px)} {_f(py - 5)}l5 5-5 5-5-5z">'
            f"<title>{escape(tip)} (flagged: not compared)</title></path></a>"
        )
    kind = "pt front-pt" if p.front else "pt"
    radius = 5 if p.front else 3.5
    return (
        f'<a href="{escape(p.href)}"><circle class="{kind}" cx="{_f(x(p.cost))}" '
        f'cy="{_f(y(p.quality))}" r="{radius}"><title>{escape(tip)}</title></circle></a>'
    )


def _front_labels(front: Sequence[Point], x: Axis, y: Axis) -> list[str]:
    """Names next to front points, skipping any that would overlap one already placed."""
    placed: list[tuple[float, float]] = []
    out = []
    for p in sorted(front, key=lambda p: (-p.quality, p.cost)):
        px, py = x(p.cost), y(p.quality)
        if any(abs(py - qy) < 13 and abs(px - qx) < 150 for qx, qy in placed):
            continue
        placed.append((px, py))
        text = p.label if len(p.label) <= MAX_LABEL else p.label[: MAX_LABEL - 1] + "…"
        right_side = px < LEFT + PLOT_W * 0.7
        anchor, dx = ("start", 8) if right_side else ("end", -8)
        out.append(
            f'<text class="pt-label" x="{_f(px + dx)}" y="{_f(py - 6)}" text-anchor="{anchor}">{escape(text)}</text>'
        )
    return out


def _f(value: float) -> str:
    """Pixel coordinate with one decimal: enough for the eye, stable bytes for golden files."""
    return f"{value:.1f}"
