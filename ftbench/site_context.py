"""The site's content as plain values: a board snapshot in, one context per page out (no I/O).

``ftbench.site`` reads the files into :class:`Shard` values (the submissions and their records),
summarises each into a :class:`Summary`, merges those into a :class:`Board`, and writes what
``ftbench.site_pages`` makes of them; everything between reading and writing is a pure
function of these snapshots, which is what makes the output reproducible and testable without
a file system.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ftbench import charts
from ftbench.leaderboard import (
    Entry,
    RankedRow,
    label_distribution,
    majority_baseline,
    task_table,
    uniform_random_baseline,
)
from ftbench.metrics import METRICS
from ftbench.sanitize import render_markdown
from ftbench.spec import Submission
from ftbench.tasks import Task

EFFICIENCY_COLUMNS = (
    "latency_ms",
    "examples_per_s",
    "peak_memory_mb",
    "parameters_total",
    "parameters_trainable",
    "adapter_size_bytes",
)
TOP_N = 5
# Above this many labels a confusion matrix is unreadable; the page lists the top confusions.
MAX_MATRIX_LABELS = 20
CHART_COSTS = (("latency_ms", "Latency per example (ms)"), ("peak_memory_mb", "Peak memory while evaluating (MiB)"))


@dataclass(frozen=True)
class LoadedRecord:
    """A result record as the site read it (predictions left out) and whether it is ranked."""

    record: Any
    """The record (``ftbench.site.RecordView``: a ResultRecord without its predictions)."""
    status: str
    """``current`` (ranked), ``stale`` (inputs changed since) or ``orphan`` (task not requested)."""
    note: str = ""
    """Why a record is not current, for the model page."""
    href: str = ""
    """Site-relative path of its raw copy (``records/<id>/<task>.json``)."""


@dataclass(frozen=True)
class CardedSubmission:
    """A valid submission and its model card text."""

    spec: Submission
    """The parsed spec."""
    card: str
    """Markdown of the model card (untrusted)."""


@dataclass(frozen=True)
class Shard:
    """Submissions with their records as read: the whole board, or one build worker's part."""

    submissions: tuple[CardedSubmission, ...]
    """Valid submissions, by id."""
    records: tuple[LoadedRecord, ...]
    """Their records: current, stale and orphan."""
    notes: tuple[str, ...] = ()
    """Problems met while reading (``ftbench build`` prints them)."""


@dataclass(frozen=True)
class Summary:
    """What the board-wide pages need of a shard; the summaries of all shards merge into one."""

    entries: Mapping[str, tuple[Entry, ...]]
    """Current results by task (every task present)."""
    submissions: int
    """Valid submissions."""
    current: int
    """Records ranked."""
    not_current: int
    """Records shown on their model page only (stale or orphan)."""
    newest: str
    """Newest record finish or submission date (``YYYY-MM-DD``), "" when there is none."""
    notes: tuple[str, ...] = ()
    """Problems met while reading."""


@dataclass(frozen=True)
class Board:
    """The board-wide view the home, task and static pages are rendered from."""

    title: str
    """Site title."""
    base_url: str
    """URL prefix the site is served under (only the 404 page needs it: links are relative)."""
    build_date: str
    """``YYYY-MM-DD``: from SOURCE_DATE_EPOCH or the newest input, never the clock."""
    tasks: tuple[Task, ...]
    """Every task, by name."""
    summary: Summary
    """Every shard's results, merged."""
    gold: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Gold labels of the tasks whose held-out data could be read."""
    pages: Mapping[str, str] = field(default_factory=dict)
    """Static page name -> markdown."""
    notes: tuple[str, ...] = ()
    """Problems met while reading (``ftbench build`` prints them)."""


@dataclass(frozen=True)
class Page:
    """One HTML page to render."""

    path: str
    """Where it goes, relative to the site root."""
    template: str
    """Template file name."""
    make_context: Callable[[], dict[str, Any]]
    """Builds its context (deferred, so that pages can be built in worker processes)."""


def task_url(name: str) -> str:
    """Site-relative URL of a task page."""
    return f"tasks/{quote(name)}.html"


def model_url(sub_id: str) -> str:
    """Site-relative URL of a submission page."""
    return f"models/{quote(sub_id)}.html"


def format_value(metric: str, value: object) -> str:
    """A metric's value as shown in a table: quality as a percentage, sizes compacted.

    >>> format_value("accuracy", 0.91234), format_value("adapter_size_bytes", 3 * 2**20)
    ('91.23', '3.0 MiB')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    style = _STYLES.get(metric, "")
    if style == "percent":
        return f"{100 * value:.2f}"
    if style == "count":
        return charts.tick_text(float(f"{value:.3g}"))
    if style == "bytes":
        return _bytes(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


# How each registered metric is displayed (looked up once: this runs for every table cell).
_STYLES = {
    name: "percent"
    if m.kind == "quality"
    else "count"
    if name.startswith("parameters")
    else "bytes"
    if m.unit == "B"
    else ""
    for name, m in METRICS.items()
}


def interval_text(metric: str, bounds: tuple[float, float] | None) -> str:
    """A confidence interval as shown next to its score: ``84.2–87.4`` (percent for quality).

    >>> interval_text("accuracy", (0.8421, 0.8737)), interval_text("accuracy", None)
    ('84.2–87.4', '')
    """
    if not bounds:
        return ""
    scale = 100 if METRICS[metric].kind == "quality" else 1
    return f"{scale * bounds[0]:.1f}–{scale * bounds[1]:.1f}"


def metric_heading(metric: str) -> str:
    """Column heading with its unit: ``Accuracy (%)``, ``Latency (ms)``."""
    m = METRICS[metric]
    unit = "%" if m.kind == "quality" else m.unit
    return f"{m.label} ({unit})" if unit and unit != "B" else m.label


def _bytes(value: float) -> str:
    for limit, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= limit:
            return f"{value / limit:.1f} {unit}"
    return f"{value:.0f} B"


def hardware_label(record: Any) -> str:
    """The GPU a record ran on, else its CPU: efficiency is comparable only on the same one."""
    hw = record.provenance.hardware
    gpu = hw.get("gpu")
    if str(record.efficiency.get("device", "")).startswith("cuda") and isinstance(gpu, dict):
        return str(gpu.get("name") or "unknown GPU")
    return str(hw.get("cpu") or "unknown CPU")


def summarise(shard: Shard, tasks: Sequence[Task]) -> Summary:
    """The shard's current records as leaderboard entries by task, with counts and dates."""
    specs = {s.spec.id: s.spec for s in shard.submissions}
    entries: dict[str, list[Entry]] = {t.name: [] for t in tasks}
    for loaded in shard.records:
        rec = loaded.record
        if loaded.status != "current":
            continue
        spec = specs[rec.submission.id]
        entries[rec.task.name].append(
            Entry(
                submission=spec.id,
                name=spec.name,
                method=spec.fine_tuning.method,
                base=spec.weights_for(rec.task.name)[0].label,
                date=spec.date.isoformat(),
                metrics=rec.metrics,
                efficiency=rec.efficiency,
                hardware=hardware_label(rec),
                record=loaded.href,
                intervals=rec.intervals.bounds if rec.intervals else {},
            )
        )
    current = sum(len(e) for e in entries.values())
    dates = [r.record.provenance.finished_at[:10] for r in shard.records]
    dates += [s.spec.date.isoformat() for s in shard.submissions]
    return Summary(
        {k: tuple(v) for k, v in entries.items()},
        len(specs),
        current,
        len(shard.records) - current,
        max(dates, default=""),
        shard.notes,
    )


def merge(summaries: Sequence[Summary], tasks: Sequence[Task]) -> Summary:
    """One summary of several shards, in shard order."""
    return Summary(
        entries={t.name: tuple(e for s in summaries for e in s.entries.get(t.name, ())) for t in tasks},
        submissions=sum(s.submissions for s in summaries),
        current=sum(s.current for s in summaries),
        not_current=sum(s.not_current for s in summaries),
        newest=max((s.newest for s in summaries), default=""),
        notes=tuple(n for s in summaries for n in s.notes),
    )


def task_tables(board: Board) -> dict[str, list[RankedRow]]:
    """Every task's full ranking by its primary metric."""
    entries = board.summary.entries
    return {t.name: task_table(entries.get(t.name, ()), t.primary_metric) for t in board.tasks}


def baselines(task: Task, gold: Sequence[int] | None) -> list[tuple[str, dict[str, float]]]:
    """Reference rows: majority class and uniform random, on the task's own metrics."""
    if not gold:
        return []
    n = len(task.labels)
    return [
        ("Majority class", majority_baseline(gold, n, task.metrics)),
        ("Uniform random (seed 0)", uniform_random_baseline(gold, n, task.metrics)),
    ]


def chart_svgs(task: Task, rows: Sequence[RankedRow], root: str, reference: float | None) -> list[Any]:
    """The quality-versus-cost charts of a task (one per cost in ``CHART_COSTS``)."""
    metric = METRICS[task.primary_metric]
    out = []
    for cost, label in CHART_COSTS:
        points = []
        for r in rows:
            x, y = r.entry.value(cost), r.entry.value(metric.name)
            if x is not None and y is not None:
                points.append(
                    charts.Point(
                        cost=x,
                        quality=100 * y,
                        label=r.entry.name,
                        href=root + model_url(r.entry.submission),
                        front=cost in r.pareto,
                    )
                )
        ref = ("majority class", 100 * reference) if reference is not None else None
        out.append(
            charts.scatter_svg(
                points,
                chart_id=f"chart-{cost}",
                reference=ref,
                x_label=label,
                title=f"{metric.label} against {METRICS[cost].label.lower()} on {task.title}",
                y_label=f"{metric.label} (%, {'higher' if metric.higher_is_better else 'lower'} is better)",
            )
        )
    return out


def dataset_card(task: Task, gold: Sequence[int] | None) -> dict[str, Any]:
    """What the task page says about the data: source, license, size, labels, metrics."""
    return {
        "distribution": label_distribution(gold, task.labels) if gold else [],
        "metrics": [(METRICS[m].label, METRICS[m].description, METRICS[m].higher_is_better) for m in task.metrics],
        "source_url": (
            f"https://github.com/{quote(task.source.repository)}/tree/{quote(task.source.commit)}"
            if task.source
            else ""
        ),
        "hub_url": f"https://huggingface.co/datasets/{quote(task.hub.dataset)}" if task.hub else "",
    }


def render_card(text: str) -> Markup:
    """A model card as safe HTML, without its YAML front matter."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :]
    return render_markdown(text)
