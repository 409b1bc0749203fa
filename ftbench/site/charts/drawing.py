"""One drawing of a chart as SVG: axes fitted to the points and their bars, the error bars,
the Pareto front joined by a line, every point marked and labelled.

Coordinates are SVG units, which ``static/charts.css`` shows at about one CSS pixel each, so
text drawn at 12.5 reads at about 12.5 px; they are written with one decimal, so the same
points always draw the same bytes. Every contributor string is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from markupsafe import escape

from ftbench.display import compact_number
from ftbench.site.charts.axes import Scale, fit_scale
from ftbench.site.charts.labels import Box, around, arrange_labels, leader, plain
from ftbench.site.charts.points import Chart, Point, Reference, describe
from ftbench.site.charts.text import ASCENT, LINE_HEIGHT, text_width, wrap


@dataclass(frozen=True)
class Layout:
    """A drawing's size and text, for one range of figure widths (``charts.css``)."""

    name: str
    """CSS class suffix (``scatter-wide``)."""
    width: float
    """In SVG units (about CSS pixels)."""
    plot_height: float
    font: float
    """Size of all the text."""
    label_width: float
    """Point labels wrap at this width (or 1.4 or 0.7 times it, where that fits better)."""
    x_ticks: int
    """About this many ticks on the cost axis (fewer where their labels would touch)."""
    y_ticks: int
    labels: int
    """At most this many points are labelled (:func:`labelled`); the others are named by their
    tooltips and in the figure's table."""


WIDE = Layout("wide", 600, 300, 12.5, 210, 7, 6, 15)
"""Shown in figures 580 px wide or more, at most 736 px wide: text 12.1 to 15.3 px."""
NARROW = Layout("narrow", 340, 360, 13, 170, 4, 5, 10)
"""Shown in narrower figures, at most 460 px wide: 13 px text stays 11 px or more down to a
288 px figure (a 320 px phone)."""
MARK = 6.5
"""Half-width of the box a point's mark keeps clear of labels."""


@dataclass(frozen=True)
class Frame:
    """Where a drawing's parts go."""

    x: Scale
    y: Scale
    plot: Box
    """The plotting area, inside the axes."""
    width: float
    height: float
    x_title: list[str]
    """The cost axis title's lines."""
    y_title: list[str]


def scatter_svg(points: Sequence[Point], chart: Chart, layout: Layout) -> str:
    """The drawing of ``points`` in ``layout``: an image named by the figure's caption and
    described by its ``<desc>``; each mark links to its model page (for the mouse: it is not a
    tab stop) with its figures in words as its tooltip."""
    frame = make_frame(points, chart, layout)
    pixels = [(frame.x(p.cost), frame.y(p.quality)) for p in points]
    bars = [error_bars(p, px, py, frame) for p, (px, py) in zip(points, pixels, strict=True)]
    bar_boxes = [b for _, boxes in bars for b in boxes]
    marks = [around(px, py, MARK) for px, py in pixels]
    reference, reserved = _reference(chart.reference, frame, layout, [*marks, *bar_boxes])
    named = labelled(points, layout.labels)
    leaders, labels = _labels(points, pixels, named, frame, layout, [*marks, *reserved], bar_boxes)
    on_top = sorted(range(len(points)), key=lambda i: (points[i].front, not points[i].flagged, -i))
    parts = [
        _open(points, chart, layout, frame),
        *_axes(frame, layout),
        *reference,
        *(path for paths, _ in bars for path in paths),
        _front_line([q for p, q in zip(points, pixels, strict=True) if p.front]),
        *leaders,
        *(_mark(points[i], *pixels[i], chart) for i in on_top),
        f'<g class="point-labels" font-size="{layout.font:g}">',
        *labels,
        "</g>",
        "</svg>",
    ]
    return "\n".join(part for part in parts if part)


def make_frame(points: Sequence[Point], chart: Chart, layout: Layout) -> Frame:
    """Axes fitted to the points and the ends of their bars; margins fitted to the tick labels
    and the axis titles (the quality axis's title above the plot, across)."""
    size, line = layout.font, layout.font * LINE_HEIGHT
    xs = [v for p in points for v in (p.cost, *(p.cost_interval or ()))]
    ys = [v for p in points for v in (p.quality, *(p.quality_interval or ()))]
    x = fit_scale(xs, count=layout.x_ticks, log_ok=True)
    y = fit_scale(ys, count=layout.y_ticks, limits=chart.y_limits)
    x_title = chart.x_title
    if x.log:
        x_title = f"{x_title[:-1]}, log scale)" if x_title.endswith(")") else f"{x_title} (log scale)"
    y_lines = wrap(chart.y_title, layout.width - 8, size)
    left = max(text_width(compact_number(t), size) for t in y.ticks) + 12
    top = 14 + len(y_lines) * line
    plot = Box(left, top, layout.width - 18, top + layout.plot_height)
    x_lines = wrap(x_title, plot.x1 - plot.x0, size)
    height = math.ceil(plot.y1 + size + 16 + len(x_lines) * line)
    x = _thinned(x.to(plot.x0, plot.x1), size)
    return Frame(x, y.to(plot.y1, plot.y0), plot, layout.width, height, x_lines, y_lines)


def _thinned(x: Scale, size: float) -> Scale:
    """The axis with every other tick dropped until no two tick labels come within 8 px."""
    ticks = list(x.ticks)
    while len(ticks) > 2:
        halves = [text_width(compact_number(t), size) / 2 for t in ticks]
        gaps = [x(b) - hb - (x(a) + ha) for a, b, ha, hb in zip(ticks, ticks[1:], halves, halves[1:], strict=False)]
        if min(gaps) >= 8:
            break
        ticks = ticks[::2]
    return replace(x, ticks=tuple(ticks))


def _open(points: Sequence[Point], chart: Chart, layout: Layout, frame: Frame) -> str:
    ident = escape(chart.chart_id)
    front = sorted(p.label for p in points if p.front)
    flagged = sum(p.flagged for p in points)
    desc = f"{len(points)} models"
    if flagged:
        desc += f" ({flagged} flagged or measured on other hardware, drawn as hollow diamonds)"
    desc += f"; on the Pareto front: {', '.join(front)}." if front else "; none on the Pareto front."
    desc += " Every point is listed in the table below."
    return (
        f'<svg class="chart scatter-{layout.name}" viewBox="0 0 {frame.width:g} {frame.height:g}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-{layout.name}-desc" xmlns="http://www.w3.org/2000/svg">\n'
        f'<desc id="{ident}-{layout.name}-desc">{escape(desc)}</desc>'
    )


def _axes(frame: Frame, layout: Layout) -> list[str]:
    plot, size, line = frame.plot, layout.font, layout.font * LINE_HEIGHT
    out = [f'<g class="axes" font-size="{size:g}">']
    for t in frame.y.ticks:
        py = _f(frame.y(t))
        out.append(
            f'<line class="grid-line" x1="{_f(plot.x0)}" y1="{py}" x2="{_f(plot.x1)}" y2="{py}"/>'
            f'<text class="axis-tick" x="{_f(plot.x0 - 6)}" y="{_f(frame.y(t) + size * 0.35)}" '
            f'text-anchor="end">{compact_number(t)}</text>'
        )
    for t in frame.x.ticks:
        px, half = frame.x(t), text_width(compact_number(t), size) / 2
        out.append(
            f'<line class="grid-line" x1="{_f(px)}" y1="{_f(plot.y0)}" x2="{_f(px)}" y2="{_f(plot.y1)}"/>'
            f'<text class="axis-tick" x="{_f(min(max(px, half + 2), frame.width - half - 2))}" '
            f'y="{_f(plot.y1 + 6 + size)}" text-anchor="middle">{compact_number(t)}</text>'
        )
    out.append(f'<path class="axis-line" d="M{_f(plot.x0)} {_f(plot.y0)}V{_f(plot.y1)}H{_f(plot.x1)}"/>')
    out.append(text_lines("axis-title", frame.y_title, 4, 6, line, size, "start"))
    x_top = plot.y1 + size + 12  # below the tick labels
    out.append(text_lines("axis-title", frame.x_title, (plot.x0 + plot.x1) / 2, x_top, line, size, "middle"))
    out.append("</g>")
    return out


def text_lines(cls: str, lines: Sequence[str], x: float, top: float, line: float, size: float, anchor: str) -> str:
    """A ``<text>`` of one or more lines, the first line's box starting at ``top``."""
    spans = "".join(
        f'<tspan x="{_f(x)}" y="{_f(top + size * ASCENT + i * line)}">{escape(text)}</tspan>'
        for i, text in enumerate(lines)
    )
    return f'<text class="{cls}" text-anchor="{anchor}">{spans}</text>'


def _reference(
    ref: Reference | None, frame: Frame, layout: Layout, taken: Sequence[Box]
) -> tuple[list[str], list[Box]]:
    """The dashed line and its label where the reference lies on the axis, and the label's
    box: on the side of the line with fewer marks, as far right as leaves 40 px around it clear
    of every mark and bar (room for their own labels), else where it has the most room."""
    if ref is None or not frame.y.covers(ref.value):
        return [], []
    plot, py, size = frame.plot, frame.y(ref.value), layout.font
    text = f"{ref.label} {ref.text}"
    w, h = text_width(text, size), size * LINE_HEIGHT
    ends = [plot.x1 - 4 - k * 12 for k in range(max(1, int((plot.x1 - plot.x0 - 8 - w) // 12) + 1))]
    above = sum(m.y1 < py for m in taken) <= sum(m.y0 > py for m in taken)
    sides = (py - 3 - h, py + 3) if above else (py + 3, py - 3 - h)
    spots = [b for top in sides for x in ends if (b := Box(x - w, top, x, top + h)).within(plot)]
    spots = spots or [Box(plot.x1 - 4 - w, py - 3 - h, plot.x1 - 4, py - 3)]

    corners = np.array([(m.x0, m.y0, m.x1, m.y1) for m in taken], dtype=float).reshape(-1, 4)
    centres = np.stack([(corners[:, 0] + corners[:, 2]) / 2, (corners[:, 1] + corners[:, 3]) / 2], axis=1)

    def room(b: Box) -> float:
        """Distance from the box to the nearest centre of a mark or bar."""
        if not len(centres):
            return math.inf
        dx = np.maximum(np.maximum(b.x0 - centres[:, 0], 0.0), centres[:, 0] - b.x1)
        dy = np.maximum(np.maximum(b.y0 - centres[:, 1], 0.0), centres[:, 1] - b.y1)
        return float(np.sqrt(dx * dx + dy * dy).min())

    def free(b: Box) -> bool:
        """Whether the box overlaps no mark or bar (``Box.overlaps`` on all of them at once)."""
        c = corners
        return not bool(np.any((b.x0 < c[:, 2]) & (c[:, 0] < b.x1) & (b.y0 < c[:, 3]) & (c[:, 1] < b.y1)))

    clear = [b for b in spots if free(b)]
    box = next((b for b in clear if room(b) >= 40), None) or max(clear or spots, key=room)
    return [
        f'<g class="reference" font-size="{size:g}">',
        f'<line class="ref-line" x1="{_f(plot.x0)}" y1="{_f(py)}" x2="{_f(plot.x1)}" y2="{_f(py)}"/>',
        text_lines("ref-label", [text], box.x0, box.y0, h, size, "start"),
        "</g>",
    ], [box]


def error_bars(p: Point, px: float, py: float, frame: Frame) -> tuple[list[str], list[Box]]:
    """A point's error bars (paths with 6 px caps; none for an empty interval) and the boxes
    they cover."""
    paths, boxes = [], []
    if p.quality_interval and p.quality_interval[1] > p.quality_interval[0]:
        top, bottom = frame.y(p.quality_interval[1]), frame.y(p.quality_interval[0])
        caps = f"M{_f(px - 3)} {_f(bottom)}h6M{_f(px - 3)} {_f(top)}h6"
        paths.append(f'<path class="err err-y err-{p.kind}" d="M{_f(px)} {_f(bottom)}V{_f(top)}{caps}"/>')
        boxes.append(Box(px - 3, top, px + 3, bottom))
    if p.cost_interval and p.cost_interval[1] > p.cost_interval[0]:
        left, right = frame.x(p.cost_interval[0]), frame.x(p.cost_interval[1])
        caps = f"M{_f(left)} {_f(py - 3)}v6M{_f(right)} {_f(py - 3)}v6"
        paths.append(f'<path class="err err-x err-{p.kind}" d="M{_f(left)} {_f(py)}H{_f(right)}{caps}"/>')
        boxes.append(Box(left, py - 3, right, py + 3))
    return paths, boxes


def _front_line(front: Sequence[tuple[float, float]]) -> str:
    if len(front) < 2:
        return ""
    return f'<polyline class="front" points="{" ".join(f"{_f(x)},{_f(y)}" for x, y in sorted(front))}"/>'


def _mark(p: Point, px: float, py: float, chart: Chart) -> str:
    """A point's mark: a filled dot on the front, a hollow diamond when flagged (a shape, not
    only a colour, tells it apart), else a hollow dot."""
    tip = f"{p.label}: {describe(p, chart)}"
    if p.kind == "front":
        tip += " (on the Pareto front)"
        shape = f'<circle class="pt front-pt" cx="{_f(px)}" cy="{_f(py)}" r="5.5"/>'
    elif p.kind == "flagged":
        tip += " (flagged or measured on other hardware: not compared)"
        shape = f'<path class="pt flagged-pt" d="M{_f(px)} {_f(py - 6)}l6 6-6 6-6-6z"/>'
    else:
        shape = f'<circle class="pt" cx="{_f(px)}" cy="{_f(py)}" r="4.5"/>'
    return f'<a href="{escape(p.href)}" tabindex="-1"><title>{escape(tip)}</title>{shape}</a>'


def labelled(points: Sequence[Point], most: int) -> list[int]:
    """The points that get a label, in the order they are placed: the front first, then the
    others in rank order (flagged ones last), at most ``most`` of them. A chart of hundreds of
    entries cannot name them all legibly (and placing that many labels takes minutes); the rest
    are named by their tooltips and in the figure's table."""
    return sorted(range(len(points)), key=lambda i: (not points[i].front, points[i].flagged, i))[:most]


def _labels(
    points: Sequence[Point],
    pixels: Sequence[tuple[float, float]],
    order: Sequence[int],
    frame: Frame,
    layout: Layout,
    taken: Sequence[Box],
    bars: Sequence[Box],
) -> tuple[list[str], list[str]]:
    """Leader lines and labels, the front's placed first, then the others in rank order. A
    label away from its point, or nearer another point, gets a leader line; its lines are
    aligned on the side facing its point."""
    size, line = layout.font, layout.font * LINE_HEIGHT
    area = Box(frame.plot.x0 + 2, frame.plot.y0 + 2, frame.plot.x1 - 2, frame.plot.y1 - 2)
    wraps = [_wraps(points[i].label, layout, area.x1 - area.x0) for i in order]
    shapes = [[(max(text_width(t, size) for t in lines), len(lines) * line) for lines in ws] for ws in wraps]
    named = set(order)
    quiet = [q for i, q in enumerate(pixels) if i not in named]
    boxes = arrange_labels([pixels[i] for i in order], shapes, area=area, obstacles=taken, soft=bars, unlabelled=quiet)
    leaders, labels = [], []
    for i, options, sizes, box in zip(order, wraps, shapes, boxes, strict=True):
        (px, py), others = pixels[i], [*pixels[:i], *pixels[i + 1 :]]
        lines = next(o for o, (w, h) in zip(options, sizes, strict=True) if _fits(box, w, h))
        lead = leader(box, (px, py), 7.0)
        if lead and (box.distance(px, py) > MARK * 1.8 or not plain(box, (px, py), others)):
            leaders.append('<line class="leader" x1="{}" y1="{}" x2="{}" y2="{}"/>'.format(*map(_f, lead)))
        x, anchor = (box.x0 + box.x1) / 2, "middle"
        if box.x1 <= px:
            x, anchor = box.x1, "end"
        elif box.x0 >= px:
            x, anchor = box.x0, "start"
        labels.append(text_lines("point-label", lines, x, box.y0, line, size, anchor))
    return leaders, labels


def _wraps(label: str, layout: Layout, room: float) -> list[list[str]]:
    """A label's line breaks, preferred first: at the layout's width, then wider, then narrower."""
    out: list[list[str]] = []
    for width in (layout.label_width, layout.label_width * 1.4, layout.label_width * 0.7):
        lines = wrap(label, min(width, room), layout.font)
        if lines not in out:
            out.append(lines)
    return out


def _fits(box: Box, w: float, h: float) -> bool:
    return abs(box.x1 - box.x0 - w) < 1e-6 and abs(box.y1 - box.y0 - h) < 1e-6


def _f(value: float) -> str:
    """A coordinate with one decimal: enough for the eye, stable bytes for golden files."""
    return f"{value:.1f}"
