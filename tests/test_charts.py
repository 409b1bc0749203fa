"""The quality-versus-cost charts: axes fitted to the data with hand-checkable ticks, labels
that overlap nothing on a crowded set, error bars with the right extents, a sentence for a
one-point chart, hostile names escaped, units in the words, contrast of every mark in both
colour schemes, and byte-identical output."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from itertools import combinations, pairwise

import pytest

from conftest import ROOT
from ftbench.leaderboard import Entry, RankedRow
from ftbench.site import charts
from ftbench.site.charts import Chart, Point, Reference, scatter_figure
from ftbench.site.charts.axes import fit_scale, log_ticks, nice_ticks
from ftbench.site.charts.drawing import MARK, NARROW, WIDE, make_frame, scatter_svg
from ftbench.site.charts.labels import Box, around, arrange_labels
from ftbench.site.charts.text import LINE_HEIGHT, text_width, wrap
from ftbench.site.context import chart_svgs
from ftbench.tasks import load_tasks

CHART = Chart(
    chart_id="chart-latency_ms",
    title="Accuracy against batch-1 latency",
    x_title="Latency, batch 1, median (ms)",
    y_title="Accuracy (%, higher is better)",
    quality_name="Accuracy",
    cost_name="batch-1 latency",
    reference=Reference("Majority class", 50.9, "50.9%"),
    y_limits=(0.0, 100.0),
)


def point(cost: float, quality: float, label: str, *, front: bool = False, **kw) -> Point:
    return Point(cost=cost, quality=quality, label=label, href=f"../models/{label}.html", front=front, **kw)


# --- axes -------------------------------------------------------------------------------


def test_a_linear_axis_spans_the_data_plus_six_percent_with_round_ticks_inside():
    # 84.6 to 88.0: span 3.4, padded by 0.204 at each end; (88.204 - 84.396) / 5 = 0.76
    # per tick, nearest round step 1
    scale = fit_scale([84.6, 86.2, 88.0])
    assert (scale.low, scale.high) == (84.396, 88.204)
    assert scale.ticks == (85.0, 86.0, 87.0, 88.0)
    assert not scale.log


def test_the_axis_no_longer_starts_at_zero_nor_at_the_baseline():
    scale = fit_scale([84.8, 87.0], limits=(0.0, 100.0))
    assert scale.low > 80 and scale.high < 90  # the old chart ran from 40 to 90 (and its x from 0)


def test_ticks_are_round_steps_inside_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(48.0, 92.0, 4) == [50.0, 60.0, 70.0, 80.0, 90.0]  # 11 per tick: step 10
    assert nice_ticks(0.9, 1.1, 4) == [0.9, 0.95, 1.0, 1.05, 1.1]  # 0.05: no 0.30000000000000004
    assert nice_ticks(81.0, 89.0, 3) == [82.5, 85.0, 87.5]  # 2.67 per tick: step 2.5


def test_percentages_never_pass_100_and_a_single_value_gets_room():
    assert fit_scale([96.0, 99.9], limits=(0.0, 100.0)).high == 100.0
    assert (fit_scale([40.0]).low, fit_scale([40.0]).high) == (38.0, 42.0)  # ±5%
    assert (fit_scale([0.0]).low, fit_scale([0.0]).high) == (-1.0, 1.0)


def test_a_cost_spanning_more_than_a_decade_is_drawn_on_a_log_scale():
    scale = fit_scale([17.5, 185.0], log_ok=True)
    assert scale.log and scale.low < 17.5 and scale.high > 185.0
    assert scale.ticks == (20.0, 30.0, 50.0, 70.0, 100.0, 200.0)
    assert not fit_scale([300.0, 1800.0], log_ok=True).log  # a ratio of 6: linear
    assert not fit_scale([0.0, 185.0], log_ok=True).log  # zero has no logarithm
    assert log_ticks(1.0, 1e9, 4) == [1.0, 1000.0, 1000000.0, 1000000000.0]


def test_the_frame_maps_the_fitted_range_onto_the_plot():
    points = [point(5.0, 84.6, "a"), point(6.0, 88.0, "b")]
    frame = make_frame(points, CHART, WIDE)
    x, y, plot = frame.x, frame.y, frame.plot
    assert (y(y.low), y(y.high), x(x.low), x(x.high)) == pytest.approx((plot.y1, plot.y0, plot.x0, plot.x1))
    assert frame.plot.x1 - frame.plot.x0 > 0.8 * WIDE.width  # the data fill the drawing, not 3% of it


def test_cost_tick_labels_are_thinned_until_they_do_not_touch():
    points = [point(1_000_000.0, 50.0, "a"), point(9_900_000.0, 60.0, "b")]
    for layout in (WIDE, NARROW):
        frame = make_frame(points, CHART, layout)
        edges = [(frame.x(t), text_width(f"{t / 1e6:g}M", layout.font) / 2) for t in frame.x.ticks]
        assert len(edges) >= 2
        for (a, ha), (b, hb) in pairwise(edges):
            assert b - hb - (a + ha) >= 8


# --- text and labels ----------------------------------------------------------------------


def test_names_wrap_at_spaces_then_hyphens_and_never_lose_a_character():
    assert wrap("MiniLM-L6 + LoRA r=32, all", 120.0, 10.0) == ["MiniLM-L6 + LoRA", "r=32, all"]
    assert wrap("SmolLM2-135M-Instruct", 100.0, 10.0) == ["SmolLM2-135M-", "Instruct"]
    long = "x" * 120
    lines = wrap(long, 150.0, 13.0)
    assert "".join(lines) == long and all(text_width(line, 13.0) <= 150.0 for line in lines)


CROWDED = [
    (100.0, 100.0, "MiniLM-L6 + LoRA r=32, all linear layers"),
    (104.0, 104.0, "MiniLM-L6 + LoRA r=8"),
    (96.0, 108.0, "MiniLM-L6 + IA3"),
    (108.0, 96.0, "MiniLM-L6 + LoRA r=16 (dropout 0.1)"),
    (92.0, 98.0, "DistilBERT full fine-tune"),
    (110.0, 110.0, "MiniLM-L6 + prefix tuning"),
    (101.0, 92.0, "MiniLM-L6 + BitFit"),
    (98.0, 112.0, "A very long contributor name that goes on and on (seed 3)"),
]
"""Eight points within 20 px of each other: every label has to move."""


def test_labels_of_a_crowded_cluster_overlap_nothing_and_stay_inside():
    area = Box(40.0, 20.0, 580.0, 320.0)
    anchors = [(x, y) for x, y, _ in CROWDED]
    marks = [around(x, y, MARK) for x, y in anchors]
    shapes = [
        [(max(text_width(t, 12.5) for t in lines), len(lines) * 12.5 * LINE_HEIGHT)]
        for lines in (wrap(name, 210.0, 12.5) for _, _, name in CROWDED)
    ]
    boxes = arrange_labels(anchors, shapes, area=area, obstacles=marks)
    assert len(boxes) == len(CROWDED)
    for box in boxes:
        assert box.within(area)
        assert not any(box.overlaps(m) for m in marks)
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b)


def _label_boxes(svg: str, size: float) -> list[tuple[str, Box]]:
    """The point labels of a drawing, each as its text and the box it was drawn in."""
    out = []
    for anchor, spans in re.findall(r'<text class="point-label" text-anchor="(\w+)">(.*?)</text>', svg):
        lines = re.findall(r'<tspan x="([\d.]+)" y="([\d.]+)">(.*?)</tspan>', spans)
        x, first = float(lines[0][0]), float(lines[0][1])
        width = max(text_width(_unescape(t), size) for _, _, t in lines)
        x0 = {"start": x, "end": x - width, "middle": x - width / 2}[anchor]
        top = first - size * 0.93
        text = " ".join(_unescape(t) for _, _, t in lines)
        out.append((text, Box(x0, top, x0 + width, top + len(lines) * size * LINE_HEIGHT)))
    return out


def _unescape(text: str) -> str:
    return html.unescape(text)


@pytest.mark.parametrize("layout", [WIDE, NARROW], ids=["wide", "narrow"])
def test_every_point_of_a_crowded_chart_is_labelled_in_full_without_overlaps(layout):
    points = [point(5.0 + x / 100, 80.0 + (y - 100) / 10, name) for x, y, name in CROWDED]
    points += [point(40.0, 55.0, "SmolLM2-135M-Instruct (zero-shot, chat template)", flagged=True)]
    svg = scatter_svg(points, CHART, layout)
    labels = _label_boxes(svg, layout.font)
    assert sorted(t.replace(" ", "") for t, _ in labels) == sorted(p.label.replace(" ", "") for p in points)
    assert "…" not in svg
    frame = make_frame(points, CHART, layout)
    for _, box in labels:
        assert box.within(frame.plot)
    for (ta, a), (tb, b) in combinations(labels, 2):
        assert not a.overlaps(b), (ta, tb)
    marks = [around(frame.x(p.cost), frame.y(p.quality), MARK) for p in points]
    for text, box in labels:
        assert not any(box.overlaps(m) for m in marks), text
    assert svg.count('class="leader"') >= 3  # where crowded, labels move and are joined to their points


# --- bars, marks, reference ---------------------------------------------------------------


def _paths(svg: str, cls: str) -> list[list[float]]:
    """The numbers of the paths of the error bars of class ``cls``."""
    paths = re.findall(rf'class="err {cls}[^"]*" d="([^"]+)"', svg)
    return [[float(v) for v in re.findall(r"-?[\d.]+", d)] for d in paths]


def test_error_bars_span_the_interval_and_the_measured_range():
    a = point(4.0, 80.0, "a", quality_interval=(78.0, 83.0), cost_interval=(3.5, 4.5))
    b = point(6.0, 85.0, "b", quality_interval=(84.0, 86.0), cost_interval=(6.0, 6.0))  # an exact cost
    svg = scatter_svg([a, b], CHART, WIDE)
    frame = make_frame([a, b], CHART, WIDE)
    vertical, horizontal = _paths(svg, "err-y"), _paths(svg, "err-x")
    assert len(vertical) == 2 and len(horizontal) == 1  # no bar for a range of one value
    x, bottom, top = vertical[0][:3]
    assert x == pytest.approx(frame.x(4.0), abs=0.06)
    assert bottom == pytest.approx(frame.y(78.0), abs=0.06) and top == pytest.approx(frame.y(83.0), abs=0.06)
    left, y, right = horizontal[0][:3]
    assert left == pytest.approx(frame.x(3.5), abs=0.06) and right == pytest.approx(frame.x(4.5), abs=0.06)
    assert y == pytest.approx(frame.y(80.0), abs=0.06)
    # the axes make room for the bars: both ends lie inside the plot
    assert frame.y.low < 78.0 and frame.y.high > 86.0 and frame.x.low < 3.5


def test_front_and_flagged_points_keep_their_shapes():
    pts = [
        Point(1.0, 90.0, "front-a", "a.html", front=True),
        Point(2.0, 95.0, "front-b", "b.html", front=True),
        Point(1.5, 80.0, "plain", "c.html", front=False),
        Point(0.8, 70.0, "flag", "d.html", front=False, flagged=True),
    ]
    svg = scatter_svg(pts, CHART, WIDE)
    assert svg.count('class="pt front-pt"') == 2 and svg.count('class="pt flagged-pt"') == 1
    assert svg.count('<circle class="pt"') == 1
    assert re.search(r'<polyline class="front" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/>', svg)
    flagged = next(line for line in svg.splitlines() if "flagged-pt" in line)
    assert "flag: " in flagged and "not compared" in flagged


def test_the_baseline_is_drawn_only_where_it_falls_on_the_axis_and_noted_otherwise():
    high = [point(5.0, 86.0, "a", quality_interval=(84.0, 88.0)), point(6.0, 87.0, "b")]
    figure = scatter_figure(high, CHART)
    assert 'class="ref-line"' not in figure
    assert "Majority class (50.9%) lies below the range shown." in figure
    low = [point(5.0, 52.0, "a"), point(6.0, 87.0, "b")]
    figure = scatter_figure(low, CHART)
    assert figure.count('class="ref-line"') == 2  # in both drawings
    assert "Majority class 50.9%</tspan>" in figure and "Dashed line: majority class (50.9%)." in figure


# --- the figure ---------------------------------------------------------------------------


def test_fewer_than_two_points_make_a_sentence_not_a_chart():
    one = Point(
        5.0184,
        84.79,
        "MiniLM-L6 + IA3",
        "../models/minilm-ia3.html",
        front=True,
        quality_text="84.8%",
        quality_interval_text="95% CI 83.1–86.4",
        cost_text="5.02 ms",
        cost_interval_text="range 4.9–5.2",
    )
    figure = scatter_figure([one], CHART)
    assert "<svg" not in figure
    assert (
        'One entry so far, so no chart: <a href="../models/minilm-ia3.html">MiniLM-L6 + IA3</a>, Accuracy 84.8% '
        "(95% CI 83.1–86.4) at 5.02 ms batch-1 latency (range 4.9–5.2)." in figure
    )
    assert "<svg" not in scatter_figure([], CHART) and "No entry has a batch-1 latency figure yet." in scatter_figure(
        [], CHART
    )


def test_tooltips_and_the_table_read_with_units():
    pts = [
        Point(
            18.93,
            86.22,
            "r8",
            "r8.html",
            front=True,
            quality_interval=(84.6, 87.8),
            cost_interval=(18.5, 19.3),
            quality_text="86.2%",
            quality_interval_text="95% CI 84.6–87.8",
            cost_text="18.9 ms",
            cost_interval_text="range 18.5–19.3",
        ),
        point(125.0, 80.56, "lm"),
    ]
    figure = scatter_figure(pts, CHART)
    tip = "<title>r8: Accuracy 86.2% (95% CI 84.6–87.8) at 18.9 ms batch-1 latency (range 18.5–19.3) (on the Pareto"
    assert figure.count(tip) == 2  # in both drawings
    assert '<td class="num">86.2% <span class="ci">95% CI 84.6–87.8</span></td>' in figure
    assert '<td class="num">18.9 ms <span class="rng">range 18.5–19.3</span></td>' in figure
    assert "Latency, batch 1, median (ms)</tspan>" in figure  # the axis title, with its unit
    assert "Accuracy (%, higher is better)</tspan>" in figure
    assert 'id="chart-latency_ms-title">Accuracy against batch-1 latency</figcaption>' in figure  # visible


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&amp; "><svg onload=alert(3)>'


def test_hostile_names_are_escaped_everywhere_they_appear():
    pts = [Point(5.0, 80.0, HOSTILE, '"><script>x</script>', front=True), point(9.0, 85.0, "fine")]
    figure = scatter_figure(pts, CHART)
    parser = _Tags()
    parser.feed(str(figure))
    assert {t for t, _ in parser.tags} <= {
        "figcaption", "div", "svg", "desc", "g", "line", "text", "tspan", "path", "polyline", "a", "title",
        "circle", "p", "details", "summary", "table", "thead", "tbody", "tr", "th", "td", "span",
    }  # fmt: skip
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert "<script" not in figure and "&lt;script&gt;" in figure
    assert sum(HOSTILE in chunk for chunk in parser.text) >= 4  # tooltips and the table, as text
    assert "".join(parser.text).count("<img src=x") >= 4
    assert figure.count(HOSTILE) == 0  # never raw


def test_every_drawing_is_a_named_image_whose_points_are_not_tab_stops():
    pts = [point(5.0, 80.0, "a", front=True), point(9.0, 85.0, "b")]
    figure = str(scatter_figure(pts, CHART))
    parser = _Tags()
    parser.feed(figure)
    ids = {attrs["id"] for _, attrs in parser.tags if "id" in attrs}
    svgs = [attrs for tag, attrs in parser.tags if tag == "svg"]
    assert [s["class"] for s in svgs] == ["chart scatter-wide", "chart scatter-narrow"]
    for s in svgs:
        assert s["role"] == "img" and all(part in ids for part in s["aria-labelledby"].split())
    links = [attrs for tag, attrs in parser.tags if tag == "a"]
    in_svg = [a for a in links if a.get("tabindex") == "-1"]
    assert len(in_svg) == 4 and len(links) == 6  # both drawings' marks, and the table's links
    assert [a["href"] for a in links if "tabindex" not in a] == ["../models/a.html", "../models/b.html"]


DRAW = """
import sys
sys.path.insert(0, "tests")
from test_charts import CHART, CROWDED, point
from ftbench.site.charts import scatter_figure
points = [point(5 + x / 100, 80 + (y - 100) / 10, n, quality_interval=(79.0, 90.0)) for x, y, n in CROWDED]
print(scatter_figure(points, CHART))
"""


def test_the_same_points_draw_the_same_bytes_in_any_process():
    runs = {
        subprocess.run(
            [sys.executable, "-c", DRAW], cwd=ROOT, env={"PYTHONHASHSEED": seed}, capture_output=True, check=True
        ).stdout
        for seed in ("0", "12345")
    }
    assert len(runs) == 1 and b"<svg" in next(iter(runs))
    drawing = next(iter(runs)).decode().split("<details")[0]
    numbers = re.findall(r' (?:x|y|x1|y1|x2|y2|cx|cy)="(-?[\d.]+)"', drawing)
    assert numbers and all(re.fullmatch(r"-?\d+\.\d", n) for n in numbers)  # one decimal, always


# --- from the leaderboard's rows ------------------------------------------------------------


def _row(sub: str, accuracy: float, latency: float, *, front: bool = False, ci=None, lo=None, hi=None) -> RankedRow:
    efficiency = {"latency_ms": latency, "model_memory_mb": 300.0, "validity": {"flags": []}}
    if lo is not None:
        efficiency |= {"latency_ms_lo": lo, "latency_ms_hi": hi}
    entry = Entry(sub, sub.title(), "lora", "base", "2026-01-01", {"accuracy": accuracy}, efficiency,
                  intervals={"accuracy": ci} if ci else {})  # fmt: skip
    return RankedRow(1, entry, ("latency_ms",) if front else ())


def test_a_task_page_charts_intervals_and_ranges_with_units_from_the_rows():
    task = load_tasks(ROOT / "tasks")["sst2"]
    rows = [
        _row("r8", 0.86224, 18.9284, front=True, ci=(0.846, 0.878), lo=18.5, hi=19.31),
        _row("ia3", 0.84794, 17.5194, ci=(0.831, 0.864), lo=17.2, hi=17.9),
        _row("nan", 0.5, 30.0, ci=(float("nan"), 0.6)),  # an interval that cannot be drawn: none
    ]
    latency, memory = chart_svgs(task, rows, "../", 0.5092)
    assert "Accuracy 86.2% (95% CI 84.6–87.8) at 18.9 ms batch-1 latency (range 18.5–19.3)" in latency
    assert "Accuracy 50.00% at 30 ms batch-1 latency" in latency
    assert latency.count('class="err err-y') == 2 * 2 and latency.count('class="err err-x') == 2 * 2
    assert "Majority class (50.9%) lies below the range shown." not in latency  # 50.0 is charted: 50.9 is in range
    assert "at 300 MiB model memory" in memory and "horizontal bars" not in memory  # no range: no bars


def test_the_chart_module_keeps_its_public_names():
    assert {"Chart", "Point", "Reference", "describe", "scatter_figure"} <= set(dir(charts))


# --- colours ------------------------------------------------------------------------------


def _variables(css: str) -> tuple[dict[str, str], dict[str, str]]:
    """The site's colour variables, light and dark (``style.css``)."""
    light = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css.split("@media (prefers-color-scheme: dark)")[0]))
    dark_block = css.split("@media (prefers-color-scheme: dark)")[1].split("}\n}")[0]
    return light, {**light, **dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", dark_block))}


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_every_mark_contrasts_3_to_1_with_the_background_in_both_schemes():
    light, dark = _variables((ROOT / "templates/static/style.css").read_text())
    rules = (ROOT / "templates/static/charts.css").read_text()
    marks = ("axis-line", "axis-tick", "axis-title", "ref-line", "ref-label", "err-front", "err-other",
             "err-flagged", "front", "leader", "pt", "front-pt", "flagged-pt", "point-label")  # fmt: skip
    for mark in marks:
        # every colour the rules naming the mark give it, but the background (hollow marks'
        # fill, text halos)
        bodies = [body for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", rules) if f".{mark}" in selector.split()
                  or any(part.endswith(f".{mark}") for part in selector.replace(",", " ").split())]  # fmt: skip
        colours = {c for body in bodies for c in re.findall(r"(?:stroke|fill):\s*var\(--([\w-]+)\)", body)} - {"bg"}
        assert colours, mark
        for scheme in (light, dark):
            for colour in colours:
                assert contrast(scheme[colour], scheme["bg"]) >= 3.0, (mark, colour, scheme["bg"])
