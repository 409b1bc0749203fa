"""What the site's pages share: the page unit, URLs, and the task page's reference rows,
charts and dataset card (pure, no I/O)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup

from ftbench.display import (
    direction,
    display_scale,
    format_value,
    interval_text,
    is_percent,
    value_at_precision,
    value_unit,
)
from ftbench.leaderboard import RankedRow, label_distribution, majority_baseline, uniform_random_baseline
from ftbench.metrics import METRICS
from ftbench.site import charts
from ftbench.site.sanitize import render_markdown
from ftbench.tasks import Task

if TYPE_CHECKING:
    from ftbench.site.kept_charts import KeptCharts

TOP_N = 5
"""Entries of each task shown on the home page."""
MAX_MATRIX_LABELS = 20
"""Above this many labels a confusion matrix is unreadable; the page lists the top confusions."""
CHART_COSTS = (
    ("latency_ms", "Latency, batch 1, median (ms)", "batch-1 latency"),
    ("model_memory_mb", "Memory the model takes (MiB)", "model memory"),
)
"""The costs a classification task page charts quality against: ``(cost, axis title with the
unit, the cost in a sentence after its value)``."""
LM_CHART_COSTS = (
    ("prefill_tokens_per_s", "Prefill throughput (tok/s, higher is better)", "prefill throughput"),
    ("parameters_total", "Parameters", "parameters"),
)
"""The costs a perplexity task page charts quality against (``ftbench.leaderboard.LM_PARETO_COSTS``)."""


def chart_costs(task: Task) -> tuple[tuple[str, str, str], ...]:
    """The costs a task page charts its primary metric against, with their axis titles and
    their names in a sentence."""
    return LM_CHART_COSTS if task.type == "perplexity" else CHART_COSTS


@dataclass(frozen=True)
class Page:
    """One HTML page to render (or another file of the site made from the board: ``make``)."""

    path: str
    """Where it goes, relative to the site root."""
    template: str
    """Template file name."""
    make_context: Callable[[], dict[str, Any]]
    """Builds its context (deferred, so that pages can be built in worker processes)."""
    key: str = ""
    """A digest of everything its context is made from (:func:`page_key`): a rebuild that finds
    the same key, and the page on disk, neither builds nor renders it again. "" (no key): it
    is rendered every time."""
    make: Callable[[], bytes] | None = None
    """Makes the file's bytes instead of a template (a download); ``template`` and
    ``make_context`` are then unused."""


def page_key(salt: str, *parts: Any) -> str:
    """A page's key: ``salt`` (what every page depends on: the build's shared inputs and the
    frame of every page; "" turns keys off) and the ``parts`` only this page shows, as their
    ``repr`` (strings, numbers and tuples of them: the same values give the same key in any
    process)."""
    if not salt:
        return ""
    return hashlib.sha256(repr((salt, parts)).encode()).hexdigest()


def salt_of(shared: str, common: Mapping[str, Any]) -> str:
    """The part of every page's key that every page shares: the inputs of every page
    (``ftbench.site.stamp.input_stamps``) and the frame every page shows (``common``)."""
    if not shared:
        return ""
    return hashlib.sha256(repr((shared, sorted(common.items()))).encode()).hexdigest()


def updated(common: Mapping[str, Any], dates: Iterable[str]) -> str:
    """The date a page's footer shows: the newest of ``dates`` (the dates of the records and
    submissions it shows), unless the build fixes every page's date (``fixed_date``, from
    SOURCE_DATE_EPOCH); "" when it shows none.

    >>> updated({"fixed_date": ""}, ["2026-01-02", "", "2026-03-01"]), updated({"fixed_date": "2023-11-14"}, [])
    ('2026-03-01', '2023-11-14')
    """
    return str(common.get("fixed_date") or "") or max((d for d in dates if d), default="")


def entry_dates(entries: Iterable[Any]) -> Iterator[str]:
    """The submission and record dates of leaderboard entries (what :func:`updated` takes)."""
    for e in entries:
        yield e.date
        yield e.finished


def task_url(name: str) -> str:
    """Site-relative URL of a task page."""
    return f"tasks/{quote(name)}.html"


def model_url(sub_id: str) -> str:
    """Site-relative URL of a submission page."""
    return f"models/{quote(sub_id)}.html"


def examples_url(sub_id: str, task: str) -> str:
    """Site-relative URL of the example browser of a submission on a task."""
    return f"models/{quote(sub_id)}/{quote(task)}.html"


def compare_url(task: str, first: str, second: str) -> str:
    """Site-relative URL of the comparison page of two submissions on a task (``first`` ranked
    above ``second``)."""
    return f"compare/{quote(task)}/{quote(first)}--{quote(second)}.html"


LEADER_PAIRS = 20
"""The leader gets a comparison page with each of the next rows up to this one (every row on
a small board; a large board would otherwise write one per entry and task)."""


def compared_pairs(rows: Sequence[object]) -> list[tuple[int, int]]:
    """The pairs of a task's rows (positions, higher row first) that get a comparison page:
    every pair of adjacent rows, and the leader against each of the first :data:`LEADER_PAIRS`
    other rows.

    >>> compared_pairs([None] * 4)
    [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]
    >>> len(compared_pairs([None] * 100))
    118
    """
    pairs = {(i, i + 1) for i in range(len(rows) - 1)} | {(0, j) for j in range(1, min(len(rows), LEADER_PAIRS + 1))}
    return sorted(pairs)


BASELINE_NAMES = {
    "majority": "Majority class",
    "stratified": "Stratified random (seed 0)",
    "uniform": "Uniform random (seed 0)",
    "tfidf_logreg": "TF-IDF + logistic regression",
}
"""Display names of the baselines ``ftbench baselines`` makes."""


@dataclass(frozen=True)
class BaselineRow:
    """A reference baseline as the task page shows it."""

    name: str
    """Display name."""
    description: str
    """How it was made (tooltip and footnote)."""
    scores: dict[str, float]
    """The task's metrics."""
    intervals: dict[str, tuple[float, float]]
    """Their 95% intervals, where known."""
    trivial: bool
    """Learns nothing from the texts (an entry must beat the best of these)."""


def baselines(task: Task, gold: Sequence[int] | None, stored: Any = None) -> list[BaselineRow]:
    """Reference rows: the baselines of ``stored`` (``ftbench.baselines.TaskBaselines``) where
    current, else the majority class and uniform random from the held-out labels; none for a
    perplexity task (it has no labels to guess)."""
    if not gold or task.type == "perplexity":
        return []
    if stored is not None:
        return [
            BaselineRow(
                BASELINE_NAMES.get(b.name, b.name),
                b.description,
                dict(b.metrics),
                {k: tuple(v) for k, v in b.intervals.bounds.items()},
                b.name != "tfidf_logreg",
            )
            for b in stored.baselines
        ]
    n = len(task.labels)
    return [
        BaselineRow(
            "Majority class", "the most frequent held-out label", majority_baseline(gold, n, task.metrics), {}, True
        ),
        BaselineRow(
            "Uniform random (seed 0)",
            "a uniformly random label",
            uniform_random_baseline(gold, n, task.metrics),
            {},
            True,
        ),
    ]


def chart_svgs(
    task: Task,
    rows: Sequence[RankedRow],
    root: str,
    reference: float | None,
    hardware: str = "",
    kept: KeptCharts | None = None,
) -> list[Markup]:
    """The quality-versus-cost charts of a task (one per cost of :func:`chart_costs`), with the
    majority-class ``reference`` line where it falls on the quality axis. Entries whose figures
    are flagged or come from a profile other than the reference ``hardware`` are drawn apart
    (hollow diamonds); the front joins only the badged entries, as the leaderboard decides them.
    ``kept``: where charts are kept between builds (a chart whose points did not change is
    not drawn again)."""
    metric = METRICS[task.primary_metric]
    unit = value_unit(metric.name)
    y_title = f"{metric.label} ({unit + ', ' if unit else ''}{direction(metric.name)} is better)"
    ref = None
    if reference is not None:
        shown = f"{100 * reference:.1f}%" if is_percent(metric.name) else format_value(metric.name, reference)
        ref = charts.Reference("Majority class", display_scale(metric.name) * reference, shown)
    out = []
    for cost, x_title, cost_name in chart_costs(task):
        chart = charts.Chart(
            chart_id=f"chart-{cost}",
            title=f"{metric.label} against {cost_name}",
            x_title=x_title,
            y_title=y_title,
            quality_name=metric.label,
            cost_name=cost_name,
            reference=ref,
            y_limits=(0.0, 100.0) if is_percent(metric.name) else None,
        )
        points = [
            chart_point(r, metric.name, cost, root + model_url(r.entry.submission), hardware)
            for r in rows
            if r.entry.value(cost) is not None and r.entry.value(metric.name) is not None
        ]
        draw = partial(charts.scatter_figure, points, chart)
        out.append(kept.chart(chart, points, draw) if kept is not None else draw())
    return out


def chart_point(row: RankedRow, metric: str, cost: str, href: str, hardware: str) -> charts.Point:
    """A ranked entry on a chart of ``metric`` against ``cost`` (both present), with its 95%
    interval and measured range, and all four as read: ``84.8%``, ``95% CI 83.1–86.4``,
    ``5.0 ms``, ``range 4.9–5.2``."""
    e = row.entry
    quality, price = e.value(metric) or 0.0, e.value(cost) or 0.0
    ci, spread = _bounds(e.intervals.get(metric)), _bounds(e.interval(cost))
    scale, cost_unit = display_scale(metric), value_unit(cost)
    lo, hi = (format_value(cost, v) for v in spread) if spread else ("", "")
    return charts.Point(
        cost=price,
        quality=scale * quality,
        label=e.name,
        href=href,
        front=cost in row.pareto,
        flagged=bool(e.flags(hardware)),
        quality_interval=(scale * ci[0], scale * ci[1]) if ci else None,
        cost_interval=spread,
        quality_text=value_at_precision(metric, quality, ci) + ("%" if is_percent(metric) else ""),
        quality_interval_text=f"95% CI {interval_text(metric, ci)}" if ci else "",
        cost_text=format_value(cost, price) + (f" {cost_unit}" if cost_unit else ""),
        cost_interval_text=f"range {lo}–{hi}" if lo != hi else "",
    )


def _bounds(pair: Any) -> tuple[float, float] | None:
    """An interval a chart can draw: two finite numbers, low first; None otherwise."""
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        return None
    return (low, high) if math.isfinite(low) and math.isfinite(high) and low <= high else None


def dataset_card(task: Task, gold: Sequence[int] | None) -> dict[str, Any]:
    """What the task page says about the data: source, license, size, labels (or a perplexity
    task's documents and scoring windows), metrics."""
    return {
        "distribution": label_distribution(gold, task.labels) if gold and task.labels else [],
        "distribution_summary": distribution_summary(gold, task.labels) if gold and task.labels else "",
        "distribution_folded": bool(gold) and len(task.labels) > MAX_MATRIX_LABELS,
        "scoring": scoring_text(task.settings.max_length, task.settings.context_len)
        if task.type == "perplexity"
        else "",
        "metrics": [(METRICS[m].label, METRICS[m].description, METRICS[m].higher_is_better) for m in task.metrics],
        "source_url": (
            f"https://github.com/{quote(task.source.repository)}/tree/{quote(task.source.commit)}"
            if task.source
            else ""
        ),
        "hub_url": f"https://huggingface.co/datasets/{quote(task.hub.dataset)}" if task.hub else "",
    }


def distribution_summary(gold: Sequence[int], labels: Sequence[str]) -> str:
    """The label distribution in one sentence (what a long table would say).

    >>> distribution_summary([0, 1, 1, 2, 2, 2], ["a", "b", "c"])
    '3 labels: 1 to 3 examples each (median 2); the most frequent, c, is 50.0% of the examples.'
    >>> distribution_summary([0, 1] * 40, ["a", "b"])
    '2 labels, balanced: 40 examples each.'
    """
    counts = [c for _, c, _ in label_distribution(gold, labels)]
    if min(counts) == max(counts):
        return f"{len(labels)} labels, balanced: {counts[0]:,} examples each."
    top = max(range(len(counts)), key=lambda i: (counts[i], -i))
    median = sorted(counts)[len(counts) // 2]
    return (
        f"{len(labels)} labels: {min(counts):,} to {max(counts):,} examples each (median {median:,}); "
        f"the most frequent, {labels[top]}, is {100 * counts[top] / sum(counts):.1f}% of the examples."
    )


def scoring_text(max_length: int, context_len: int) -> str:
    """How a perplexity task's documents are scored, in words (``context_len``: tokens of
    context each later window carries, ``ftbench.perplexity.rolling_windows``).

    >>> print(scoring_text(2048, 1))  # doctest: +NORMALIZE_WHITESPACE
    disjoint windows of 2,048 tokens (lm-eval's rolling windows):
    each later window predicts 2,048 new tokens after 1 token of context
    >>> print(scoring_text(64, 33))
    sliding windows of 64 tokens, stride 32: each later window predicts 32 new tokens after 33 tokens of context
    """
    stride = max_length - context_len + 1
    kind = (
        f"disjoint windows of {max_length:,} tokens (lm-eval's rolling windows)"
        if context_len <= 1
        else f"sliding windows of {max_length:,} tokens, stride {stride:,}"
    )
    context = "1 token" if context_len == 1 else f"{context_len:,} tokens"
    return f"{kind}: each later window predicts {stride:,} new tokens after {context} of context"


def render_card(text: str) -> Markup:
    """A model card as safe HTML, without its YAML front matter. Cards are bounded when a
    submission is validated (``ftbench.untrusted.card_problem``); should one still fail to
    render, its page says so instead of the whole build failing."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :]
    try:
        return render_markdown(text, top_heading=3)  # under the page's "Model card" <h2>
    except (RecursionError, ValueError) as exc:
        return Markup('<p class="warn">The model card could not be rendered ({}).</p>').format(type(exc).__name__)
