"""What the site's pages share: the page unit, URLs, and the task page's reference rows,
charts and dataset card (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ftbench.leaderboard import RankedRow, label_distribution, majority_baseline, uniform_random_baseline
from ftbench.metrics import METRICS
from ftbench.site import charts
from ftbench.site.sanitize import render_markdown
from ftbench.tasks import Task

TOP_N = 5
"""Entries of each task shown on the home page."""
MAX_MATRIX_LABELS = 20
"""Above this many labels a confusion matrix is unreadable; the page lists the top confusions."""
CHART_COSTS = (("latency_ms", "Latency per example (ms)"), ("peak_memory_mb", "Peak memory while evaluating (MiB)"))
"""The costs a task page charts quality against, with their axis labels."""


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
    """A model card as safe HTML, without its YAML front matter. Cards are bounded when a
    submission is validated (``ftbench.untrusted.card_problem``); should one still fail to
    render, its page says so instead of the whole build failing."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :]
    try:
        return render_markdown(text)
    except (RecursionError, ValueError) as exc:
        return Markup('<p class="warn">The model card could not be rendered ({}).</p>').format(type(exc).__name__)
