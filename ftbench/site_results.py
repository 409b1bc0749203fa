"""One result record as the submission page shows it: scores, confusions, efficiency,
provenance and the command that reproduces it (pure, no I/O)."""

from __future__ import annotations

import functools
import html
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
from markupsafe import Markup

from ftbench.metrics import METRICS
from ftbench.site_context import (
    MAX_MATRIX_LABELS,
    LoadedRecord,
    format_value,
    hardware_label,
    interval_text,
    task_url,
)
from ftbench.tasks import Task

TOP_CONFUSIONS = 10
# Efficiency keys that are not ranked metrics, so not in METRICS: (label, unit).
OTHER_FIGURES = {
    "batch_latency_ms_p50": ("Batch latency, median", "ms"),
    "batch_latency_ms_p95": ("Batch latency, 95th percentile", "ms"),
    "load_time_s": ("Model load time", "s"),
    "n_tokens": ("Tokens scored", ""),
    "batch_size": ("Batch size", ""),
    "memory_kind": ("Memory measured as", ""),
    "device": ("Device", ""),
    "dtype": ("Weights dtype", ""),
}


@dataclass(frozen=True)
class ResultView:
    """One record as its submission page shows it. An object, not a dict: Jinja resolves
    ``r.title`` as an attribute first, and on a dict that first try fails with an exception,
    for every field of every record of the board."""

    task: str
    """Task name (the section's anchor)."""
    title: str
    """Task title."""
    task_href: str
    """Task page URL, site-relative ("" when the task is gone)."""
    status: str
    """current, stale or orphan."""
    note: str
    """Why it is not ranked."""
    rank: int | None
    """Rank on the task when current."""
    of: int
    """Entries ranked on the task."""
    primary: str
    """Primary metric's label."""
    primary_value: str
    """Its formatted value."""
    metrics: Markup
    """Rows of the metrics table."""
    per_class: Markup
    """Rows of the per-label table."""
    matrix: Markup | None
    """The confusion matrix table's content; None for tasks with too many labels."""
    confusions: list[tuple[str, str, int]]
    """The most frequent confusions when there is no matrix."""
    efficiency: Markup
    """Rows of the efficiency table."""
    hardware: str
    """Device the efficiency figures come from."""
    provenance: list[tuple[str, str]]
    """This run's provenance (label, text)."""
    environment: list[tuple[str, str]]
    """Versions and hardware, when they differ between the page's records (else shown once)."""
    weights: list[dict[str, Any]]
    """Weight files loaded, by role."""
    reproduce: str
    """The command that re-creates these numbers."""
    record_href: str
    """Raw record URL, site-relative."""
    num_examples: int
    """Held-out examples scored."""


def result_view(
    loaded: LoadedRecord,
    task: Task | None,
    standings: Mapping[str, tuple[Mapping[str, int], int]],
    sub_id: str,
    shared_environment: bool = False,
) -> ResultView:
    """Everything the submission page shows about one of its records (``standings``: task ->
    (submission id -> rank, number ranked)); its environment is left to the page when
    ``shared_environment``."""
    rec = loaded.record
    name = rec.task.name
    ranks, ranked = standings.get(name, ({}, 0))
    primary = rec.task.primary_metric
    matrix = confusion_view(rec.task.labels, rec.confusion_matrix)
    return ResultView(
        task=name,
        title=task.title if task else name,
        task_href=task_url(name) if task else "",
        status=loaded.status,
        note=loaded.note,
        rank=ranks.get(sub_id) if loaded.status == "current" else None,
        of=ranked,
        primary=METRICS[primary].label if primary in METRICS else primary,
        primary_value=format_value(primary, rec.metrics.get(primary)),
        metrics=metric_rows(rec.metrics, primary, rec.intervals.bounds if rec.intervals else {}),
        per_class=per_class_rows(rec.per_class),
        matrix=matrix,
        confusions=top_confusions(rec.task.labels, rec.confusion_matrix) if matrix is None else [],
        efficiency=efficiency_table(rec.efficiency),
        hardware=hardware_label(rec),
        provenance=provenance_view(rec),
        environment=[] if shared_environment else environment_view(rec),
        weights=weights_view(rec),
        reproduce=reproduce_command(sub_id, name, rec.efficiency.get("batch_size")),
        record_href=quote(loaded.href),
        num_examples=rec.task.num_examples,
    )


def metric_rows(
    metrics: Mapping[str, float], primary: str, intervals: Mapping[str, tuple[float, float]] | None = None
) -> Markup:
    """Rows of a record's quality metrics in percent, the primary one marked, each with its
    95% confidence interval where the record has one.

    >>> print(metric_rows({"f1_macro": 0.5, "accuracy": 0.75}, "accuracy", {"accuracy": (0.7, 0.8)}))
    <tr class="primary"><th scope="row">Accuracy</th><td class="num">75.00%</td><td class="num ci">70.0–80.0</td></tr>
    <tr><th scope="row">Macro F1</th><td class="num">50.00%</td><td class="num ci"></td></tr>
    """
    intervals = intervals or {}
    rows = []
    for name in sorted(metrics):
        label = _escaped(METRICS[name].label if name in METRICS else name)
        mark = ' class="primary"' if name == primary else ""
        value = html_text(format_value(name, metrics[name]))
        ci = interval_text(name, intervals.get(name)) if name in METRICS else ""
        rows.append(
            f'<tr{mark}><th scope="row">{label}</th><td class="num">{value}%</td><td class="num ci">{ci}</td></tr>'
        )
    return Markup("\n".join(rows))


def per_class_rows(per_class: Mapping[str, Mapping[str, object]]) -> Markup:
    """Table rows of per-label precision, recall, F1 (percent) and support.

    Built here for the same reason as :func:`confusion_view`: one row per label of every
    task on every submission page (77 on Banking77) made a Jinja loop the build's hot spot.
    """
    return Markup(
        "\n".join(
            f'<tr><td>{_escaped(label)}</td><td class="num">{_pct(s.get("precision"))}</td>'
            f'<td class="num">{_pct(s.get("recall"))}</td><td class="num">{_pct(s.get("f1"))}</td>'
            f'<td class="num">{_number(s.get("support"))}</td></tr>'
            for label, s in per_class.items()
        )
    )


def _pct(value: object) -> str:
    return f"{100 * value:.2f}" if isinstance(value, int | float) else "—"


def _number(value: object) -> str:
    return str(value) if isinstance(value, int | float) else "—"


@functools.lru_cache(maxsize=4096)
def html_text(text: str) -> str:
    """``text`` escaped for HTML content or a quoted attribute (the standard library's escape:
    a fraction of markupsafe's cost per call, which counts in tables built in Python).

    >>> html_text('<b title="x">&</b>')
    '&lt;b title=&quot;x&quot;&gt;&amp;&lt;/b&gt;'
    """
    return html.escape(text, quote=True)


def _escaped(label: str) -> str:
    # the same few label names recur on every record of a task
    return html_text(label)


def confusion_view(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> Markup | None:
    """The confusion matrix as table rows, each cell shaded 0-9 by its share of the gold row;
    None when the task has too many labels for a readable matrix.

    Built here rather than in the template: it is the largest table of the site (up to 400
    cells per task on every submission page) and a Jinja loop per cell dominated build time.
    """
    if len(labels) > MAX_MATRIX_LABELS or len(matrix) != len(labels):
        return None
    rows = [_matrix_head(tuple(labels))]
    for label, counts in zip(labels, matrix, strict=True):
        total = sum(counts) or 1
        cells = "".join(f'<td class="num h{(18 * c + total) // (2 * total)}">{c}</td>' for c in map(int, counts))
        rows.append(f'<tr><th scope="row">{_escaped(label)}</th>{cells}</tr>')
    rows.append("</tbody>")
    return Markup("\n".join(rows))


@functools.lru_cache(maxsize=256)
def _matrix_head(labels: tuple[str, ...]) -> str:
    head = "".join(f'<th scope="col">{_escaped(label)}</th>' for label in labels)
    return (
        f'<thead><tr><th scope="col"><span class="visually-hidden">Gold \\ predicted</span></th>'
        f"{head}</tr></thead>\n<tbody>"
    )


def top_confusions(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], n: int = TOP_CONFUSIONS
) -> list[tuple[str, str, int]]:
    """The ``n`` most frequent (gold, predicted) mistakes, largest first (ties in row order).

    >>> top_confusions(["a", "b", "c"], [[5, 2, 0], [0, 4, 3], [1, 0, 6]], n=2)
    [('b', 'c', 3), ('a', 'b', 2)]
    """
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        return []
    np.fill_diagonal(counts, 0)
    flat = counts.ravel()
    order = np.argsort(-flat, kind="stable")[:n]  # numpy: a 77-label matrix has 5,929 cells
    k = len(labels)
    return [(labels[i // k], labels[i % k], int(flat[i])) for i in order.tolist() if flat[i] > 0]


def efficiency_rows(efficiency: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """``(label, value, unit)`` of every efficiency figure, in key order."""
    out = []
    for key in sorted(efficiency):
        value = efficiency[key]
        if key in METRICS:
            m = METRICS[key]
            unit = "" if m.unit == "B" or key.startswith("parameters") else m.unit
            out.append((m.label, format_value(key, value), unit))
        else:
            label, unit = OTHER_FIGURES.get(key, (key.replace("_", " "), ""))
            out.append((label, _plain(value), unit))
    return out


def efficiency_table(efficiency: Mapping[str, object]) -> Markup:
    """:func:`efficiency_rows` as table rows (built here: 17 rows a record, on every page).

    >>> print(efficiency_table({"latency_ms": 2.5, "device": "cpu"}))
    <tr><th scope="row">Device</th><td class="num">cpu</td></tr>
    <tr><th scope="row">Latency</th><td class="num">2.5 ms</td></tr>
    """
    return Markup(
        "\n".join(
            f'<tr><th scope="row">{_escaped(label)}</th><td class="num">{html_text(value)}{" " if unit else ""}'
            f"{_escaped(unit)}</td></tr>"
            for label, value, unit in efficiency_rows(efficiency)
        )
    )


def _plain(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def provenance_view(rec: Any) -> list[tuple[str, str]]:
    """This run's provenance as (label, text) pairs: command, times, model, keys and hashes."""
    p = rec.provenance
    return [
        ("command", p.command),
        ("run", f"{p.started_at} to {p.finished_at}, seed {p.seed}"),
        ("model", _flat(p.model)),
        ("content key", rec.content_key),
        ("task definition sha256", rec.task.definition_sha256),
        ("data sha256", rec.task.data_sha256),
    ]


def environment_view(rec: Any) -> list[tuple[str, str]]:
    """Where and with what a record was made: ftbench, the board commit, hardware, packages.
    Usually the same for every record of a submission, so a page shows it once."""
    p = rec.provenance
    return [
        ("ftbench", f"{p.ftbench_version} (evaluation logic {p.eval_logic_version})"),
        ("board commit", _flat(p.git)),
        ("hardware", _flat(p.hardware)),
        ("packages", _flat(p.packages)),
    ]


def weights_view(rec: Any) -> list[dict[str, Any]]:
    """Every weight file loaded, with its sha256 and size, grouped by base and adapter."""
    return [
        {
            "role": w.role,
            "ref": w.ref,
            "origin": w.origin,
            "files": [(str(f.get("file", "")), str(f.get("sha256", "")), _plain(f.get("bytes"))) for f in w.files],
        }
        for w in rec.provenance.weights
    ]


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "—"
    return "—" if value is None else str(value)


def reproduce_command(sub_id: str, task: str, batch_size: object) -> str:
    """The command that re-creates this record's numbers."""
    args = ["ftbench", "evaluate", f"submissions/{sub_id}", "--task", task]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    return shlex.join(args)
