"""A classification record's calibration as its model page shows it: the reliability
diagram (inline SVG, drawn at build time) and the ECE, Brier score and log-loss beside it.

The diagram plots, for each confidence bin of ``ftbench.calibration``, the share of its
examples predicted right against the diagonal a perfectly calibrated model would follow, with
the examples per bin in a strip below it (most models put most examples in the top bins).
Colours come from CSS classes, as in ``charts``; coordinates are rounded to one decimal, so
the same record always draws the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ftbench.calibration import Calibration, ReliabilityBin

WIDTH, HEIGHT = 420, 296
LEFT, RIGHT, TOP = 52, 14, 12
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, 200
STRIP_TOP, STRIP_H = TOP + PLOT_H + 10, 34
"""The strip of example counts under the plot."""
TICKS = (0, 20, 40, 60, 80, 100)


@dataclass(frozen=True)
class CalibrationView:
    """What the model page shows of a record's calibration."""

    svg: Markup
    """The reliability diagram."""
    figures: list[tuple[str, str, str]]
    """``(label, value, what it measures)`` of the ECE, Brier score and log-loss."""
    bins: list[tuple[str, str, str, str]]
    """``(confidence range, examples, mean confidence, accuracy)`` of each non-empty bin: the
    diagram as a table."""
    top_label: bool
    """More than two labels: the figures are the top-label versions."""
    examples: int
    """Examples the figures are computed on (those with a prediction)."""


def calibration_view(cal: Calibration, n_labels: int, chart_id: str, task_title: str) -> CalibrationView:
    """The diagram, figures and bin table of ``cal`` (a task of ``n_labels`` labels)."""
    top = n_labels > 2
    prefix = "Top-label " if top else ""
    figures = [
        (
            f"{'Top-label ECE' if top else 'ECE'} ({len(cal.bins)} bins)",
            f"{100 * cal.ece:.2f}%",
            "mean gap between confidence and accuracy, weighted by the examples in each bin",
        ),
        (
            f"{prefix}Brier score" if top else "Brier score",
            f"{cal.brier:.4f}",
            "mean squared gap between the confidence and 1 (right) or 0 (wrong)",
        ),
        (
            f"{prefix}log-loss" if top else "Log-loss",
            f"{cal.log_loss:.4f}",
            "mean negative log-probability (nats) given to what happened",
        ),
    ]
    rows = [
        (_range_text(b), f"{b.count:,}", f"{100 * b.confidence:.1f}%", f"{100 * b.accuracy:.1f}%")
        for b in cal.bins
        if b.count
    ]
    title = f"Reliability diagram: {task_title}"
    return CalibrationView(reliability_svg(cal, chart_id, title), figures, rows, top, cal.examples)


def reliability_svg(cal: Calibration, chart_id: str, title: str) -> Markup:
    """The reliability diagram of ``cal`` as accessible inline SVG (``role="img"``, a title
    and a description; each bar names its bin, count, confidence and accuracy)."""
    used = [b for b in cal.bins if b.count]
    most = max((b.count for b in used), default=1)
    ident = escape(chart_id)
    parts = [
        f'<svg class="chart reliability" id="{ident}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(_description(cal, used))}</desc>',
        *_frame(),
        *(_bar(b, most) for b in used),
        f'<line class="diagonal" x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}"/>',
        "</svg>",
    ]
    return Markup("\n".join(parts))


def _description(cal: Calibration, used: Sequence[ReliabilityBin]) -> str:
    if not used:
        return "No examples with a prediction."
    biggest = max(used, key=lambda b: (b.count, b.low))
    share = biggest.count / max(cal.examples, 1)
    return (
        f"{cal.examples:,} examples in {len(cal.bins)} confidence bins; a calibrated model's bars "
        f"reach the diagonal. The largest bin, confidence {_range_text(biggest)}, holds "
        f"{100 * share:.0f}% of the examples at {100 * biggest.accuracy:.1f}% accuracy "
        f"(mean confidence {100 * biggest.confidence:.1f}%). Expected calibration error "
        f"{100 * cal.ece:.2f}%."
    )


def _frame() -> list[str]:
    bottom, right = TOP + PLOT_H, LEFT + PLOT_W
    strip_bottom = STRIP_TOP + STRIP_H
    out = [f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}"/>']
    for t in TICKS:
        x, y = _x(t / 100), _y(t / 100)
        out.append(
            f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{bottom}"/>'
            f'<text class="tick" x="{x}" y="{strip_bottom + 14}" text-anchor="middle">{t}</text>'
        )
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{_f(float(y) + 4)}" text-anchor="end">{t}</text>'
        )
    out += [
        f'<line class="grid" x1="{LEFT}" y1="{strip_bottom}" x2="{right}" y2="{strip_bottom}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{_f(STRIP_TOP + STRIP_H / 2 + 4)}" text-anchor="end">n</text>',
        f'<text class="axis-label" x="{_f(LEFT + PLOT_W / 2)}" y="{HEIGHT - 6}" text-anchor="middle">'
        "Confidence: probability of the predicted label (%)</text>",
        f'<text class="axis-label" x="14" y="{_f(TOP + PLOT_H / 2)}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_f(TOP + PLOT_H / 2)})">Accuracy in the bin (%)</text>',
    ]
    return out


def _bar(b: ReliabilityBin, most: int) -> str:
    x0, x1 = float(_x(b.low)), float(_x(b.high))
    width = _f(max(x1 - x0 - 1.0, 0.5))
    left = _f(x0 + 0.5)
    top = float(_y(b.accuracy))
    tip = escape(
        f"Confidence {_range_text(b)}: {b.count:,} examples, {100 * b.accuracy:.1f}% right "
        f"at a mean confidence of {100 * b.confidence:.1f}%"
    )
    gap_low, gap_high = sorted((top, float(_y(b.confidence))))
    strip = STRIP_H * b.count / most
    return (
        f'<g class="bin"><title>{tip}</title>'
        f'<rect class="bar" x="{left}" y="{_f(top)}" width="{width}" height="{_f(TOP + PLOT_H - top)}"/>'
        f'<rect class="gap" x="{left}" y="{_f(gap_low)}" width="{width}" height="{_f(gap_high - gap_low)}"/>'
        f'<rect class="count" x="{left}" y="{_f(STRIP_TOP + STRIP_H - strip)}" width="{width}" '
        f'height="{_f(strip)}"/></g>'
    )


def _range_text(b: ReliabilityBin) -> str:
    """``86.7–93.3%``: a bin's edges as percentages, one decimal where they need one."""
    low, high = (f"{100 * edge:.1f}".removesuffix(".0") for edge in (b.low, b.high))
    return f"{low}–{high}%"


def _x(share: float) -> str:
    return _f(LEFT + share * PLOT_W)


def _y(share: float) -> str:
    return _f(TOP + (1 - share) * PLOT_H)


def _f(value: float) -> str:
    """One decimal: stable bytes for golden files."""
    return f"{value:.1f}"
