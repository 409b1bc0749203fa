"""Quality-versus-cost charts, drawn at build time as inline SVG (no JavaScript).

A chart is the inside of a ``<figure>``: its title, the drawing, a note on what the bars and
the dashed line are, and a table of its points. The drawing is made twice, for a wide and for
a narrow figure (``static/charts.css`` shows the one that fits), so that its text keeps its
size instead of shrinking with the drawing. It is an image to assistive technology, named by
the title and described by its ``<desc>``; its marks link to the model pages for the mouse
but are not tab stops: the table's links are. Fewer than two points make a sentence instead.

The stages, each pure: ``points`` (what is shown), ``axes`` and ``labels`` (where it goes,
text measured by ``text``), ``drawing`` (the SVG). Colours come from CSS classes, so the
page's light, dark and print styles apply; every contributor string is escaped, since the
figure is inserted into the page as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from ftbench.display import compact_number
from ftbench.site.charts.axes import fit_scale
from ftbench.site.charts.drawing import NARROW, WIDE, scatter_svg
from ftbench.site.charts.points import Chart, Point, Reference, describe, in_words

__all__ = ["Chart", "Point", "Reference", "describe", "scatter_figure"]

LAYOUTS = (WIDE, NARROW)
"""The drawings of every chart, in the order they appear in the page."""
DRAWN_AS = {
    "front": "filled dot, on the Pareto front",
    "flagged": "hollow diamond: flagged or other hardware, not compared",
    "other": "hollow dot",
}


def scatter_figure(points: Sequence[Point], chart: Chart) -> Markup:
    """The inside of a ``<figure>``: caption, both drawings, note and table; or, with fewer
    than two points, the caption and a sentence saying what the one entry costs."""
    ident = escape(chart.chart_id)
    caption = f'<figcaption class="chart-title" id="{ident}-title">{escape(chart.title)}</figcaption>'
    if len(points) < 2:
        return Markup(f"{caption}\n{_sentence(points, chart)}")
    drawings = [scatter_svg(points, chart, layout) for layout in LAYOUTS]
    parts = [caption, f'<div class="scatter" id="{ident}">', *drawings, "</div>", _note(points, chart)]
    return Markup("\n".join([*parts, _table(points, chart)]))


def _note(points: Sequence[Point], chart: Chart) -> str:
    """What the bars are, and the reference: the dashed line, or where it lies off the axis."""
    note = f"Vertical bars: 95% confidence interval of {in_words(chart.quality_name)}"
    if any(p.cost_interval and p.cost_interval[1] > p.cost_interval[0] for p in points):
        note += f"; horizontal bars: measured range of {chart.cost_name}"
    note += "."
    wide, narrow = (layout.labels for layout in LAYOUTS)
    if len(points) > narrow:
        most = f"{wide}, or {narrow} on a narrow screen" if len(points) > wide else f"{narrow} on a narrow screen"
        note += (
            f" Labels name the Pareto front and the best-ranked entries ({most}); every point is"
            " named by its tooltip and in the table below."
        )
    ref = chart.reference
    if ref is not None:
        shown = fit_scale([v for p in points for v in (p.quality, *(p.quality_interval or ()))], limits=chart.y_limits)
        if shown.covers(ref.value):
            note += f" Dashed line: {in_words(ref.label)} ({ref.text})."
        else:
            note += f" {ref.label} ({ref.text}) lies {'below' if ref.value < shown.low else 'above'} the range shown."
    return f'<p class="chart-note">{escape(note)}</p>'


def _table(points: Sequence[Point], chart: Chart) -> str:
    """The chart's points as a table: its text alternative, and its links for the keyboard."""
    rows = [
        f'<tr><td><a href="{escape(p.href)}">{escape(p.label)}</a></td>'
        f'<td class="num">{escape(p.quality_text or f"{p.quality:g}")} '
        f'<span class="ci">{escape(p.quality_interval_text)}</span></td>'
        f'<td class="num">{escape(p.cost_text or compact_number(p.cost))} '
        f'<span class="rng">{escape(p.cost_interval_text)}</span></td>'
        f"<td>{DRAWN_AS[p.kind]}</td></tr>"
        for p in points
    ]
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in ("Model", chart.y_title, chart.x_title, "Drawn as"))
    return (
        f'<details class="chart-data"><summary>Table: {escape(chart.title)}</summary>\n'
        f'<div class="table-scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table></div></details>"
    )


def _sentence(points: Sequence[Point], chart: Chart) -> str:
    """In place of a chart of fewer than two points."""
    if not points:
        return f'<p class="chart-single">No entry has a {escape(chart.cost_name)} figure yet.</p>'
    p = points[0]
    flag = " Its figures are flagged or come from other hardware: not compared." if p.flagged else ""
    return (
        f'<p class="chart-single">One entry so far, so no chart: <a href="{escape(p.href)}">{escape(p.label)}</a>, '
        f"{escape(describe(p, chart))}.{flag}</p>"
    )
