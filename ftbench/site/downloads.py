"""Per-task leaderboard downloads, ``leaderboard.json`` and ``leaderboard.csv`` (pure, no I/O)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from ftbench.display import efficiency_columns
from ftbench.leaderboard import Entry, RankedRow
from ftbench.metrics import METRICS
from ftbench.site.measurement import RANGED
from ftbench.tasks import Task

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _row_dict(row: RankedRow, reference: str) -> dict:
    e = row.entry
    return {
        "rank": row.rank,
        "rank_plausible": [row.rank_low, row.rank_high] if row.rank_low else None,
        "significantly_better_than": row.wins,
        "calibration": (
            {"ece": e.calibration.ece, "brier": e.calibration.brier, "log_loss": e.calibration.log_loss}
            if e.calibration
            else None
        ),
        "submission": e.submission,
        "name": e.name,
        "method": e.method,
        "family": e.family,
        "base": e.base,
        "date": e.date,
        "metrics": dict(e.metrics),
        "intervals": {name: list(bounds) for name, bounds in sorted(e.intervals.items())},
        "efficiency": dict(e.efficiency),
        "hardware": e.hardware,
        "flags": list(e.flags(reference)),
        "pareto": list(row.pareto),
        "record_path": e.record,
    }


def leaderboard_json(task: Task, rows: Sequence[RankedRow], updated: str, reference: str = "") -> bytes:
    """The ranking with every metric and efficiency figure (their measured ranges and
    distributions included), each row's hardware profile and validity flags against the
    board's ``reference`` profile; ``record_path`` is relative to the site root. ``updated``:
    the date of its newest record or submission (``ftbench.site.context.updated``)."""
    doc = {
        "task": task.name,
        "title": task.title,
        "split": task.split,
        "num_examples": task.num_examples,
        "type": task.type,
        "primary_metric": task.primary_metric,
        "higher_is_better": METRICS[task.primary_metric].higher_is_better,
        "metrics": list(task.metrics),
        "data_sha256": task.data_sha256,
        "updated": updated,
        "reference_hardware": reference,
        "ranking": (
            f"rank = 1 + entries significantly better on {task.primary_metric} ({rows[0].comparisons.method}, "
            "Holm-corrected over all pairs, alpha 0.05); rank_plausible: central 95% of the position by score "
            "over 1,000 paired bootstrap resamples"
            if rows and rows[0].comparisons is not None
            else "competition rank of the point scores"
        ),
        "rows": [],
    }
    # One row per line: a changed row is a one-line diff, and json's C encoder (which does not
    # indent) writes it; indenting 1,000 rows in pure Python took 70 ms per task.
    lines = ",\n".join(_compact(_row_dict(r, reference)) for r in rows)
    text = _compact(doc).replace('"rows":[]', f'"rows":[\n{lines}\n]' if lines else '"rows":[]', 1)
    return (text + "\n").encode()


def _compact(value: object) -> str:
    # a key's own quotes are never escaped, so '"rows":[]' cannot occur inside a string value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def csv_cell(value: object) -> str:
    """A cell value as text; text that a spreadsheet would run as a formula is quoted.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell(0.5), csv_cell(None)
    ("'=HYPERLINK(1)", '0.5', '')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return repr(value) if isinstance(value, float) else str(value)


def leaderboard_csv(task: Task, rows: Sequence[RankedRow], reference: str = "") -> bytes:
    """One line per ranked entry: identity, every task metric, the primary metric's 95%
    interval, the efficiency columns of the task's type with the measured range of those that
    have one, the hardware profile and the validity flags against the ``reference`` profile
    (space-separated; the same columns whatever the rows hold)."""
    primary = task.primary_metric
    costs = efficiency_columns(task.type)
    ranges = [f"{c}_{end}" for c in costs if c in RANGED for end in ("lo", "hi")]
    head = [
        "rank",
        "rank_plausible_low",
        "rank_plausible_high",
        "submission",
        "name",
        "method",
        "family",
        "base",
        "date",
        *task.metrics,
        f"{primary}_ci95_low",
        f"{primary}_ci95_high",
        *costs,
        *ranges,
        "hardware",
        "flags",
        "pareto",
        "record_path",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(head)
    for r in rows:
        e = r.entry
        writer.writerow(
            csv_cell(v)
            for v in [
                r.rank,
                r.rank_low or None,
                r.rank_high or None,
                e.submission,
                e.name,
                e.method,
                e.family,
                e.base,
                e.date,
                *(_raw(e, m) for m in task.metrics),
                *e.intervals.get(primary, (None, None)),
                *(_raw(e, m) for m in costs),
                *(_raw(e, m) for m in ranges),
                e.hardware,
                " ".join(e.flags(reference)),
                " ".join(r.pareto),
                e.record,
            ]
        )
    return buffer.getvalue().encode()


def _raw(entry: Entry, name: str) -> object:
    """The value as recorded (an int stays an int), from the metrics or the efficiency map."""
    return entry.metrics[name] if name in entry.metrics else entry.efficiency.get(name)


ALL_TASKS_COLUMNS = (
    "task",
    "primary_metric",
    "rank",
    "of",
    "rank_plausible_low",
    "rank_plausible_high",
    "submission",
    "name",
    "family",
    "method",
    "precision",
    "license",
    "score",
    "ci95_low",
    "ci95_high",
    "latency_ms",
    "examples_per_s",
    "model_memory_mb",
    "parameters_trainable",
    "parameters_effective",
    "hardware",
    "flags",
    "overlap_fraction",
    "clean_score",
    "record_path",
)
"""One line per (task, entry) of the all-tasks export: the same columns whatever the task."""
_EFFICIENCY_COLUMNS = ALL_TASKS_COLUMNS[ALL_TASKS_COLUMNS.index("latency_ms") : ALL_TASKS_COLUMNS.index("hardware")]


def all_tasks_csv(tasks: Sequence[Task], tables: Mapping[str, Sequence[RankedRow]], reference: str = "") -> bytes:
    """Every task's ranking in one file (``downloads/all-tasks.csv``): each row its task, its
    rank "k of N" with the plausible ranks, the primary score and its interval, the main
    efficiency figures, flags and contamination (cells a spreadsheet would run are quoted).
    The header, then :func:`all_tasks_rows` of each task: ``ftbench build`` makes those in its
    task workers and joins them."""
    return all_tasks_header() + b"".join(all_tasks_rows(task, tables.get(task.name, ()), reference) for task in tasks)


def all_tasks_header() -> bytes:
    """The first line of ``downloads/all-tasks.csv``."""
    return _csv_lines([ALL_TASKS_COLUMNS])


def all_tasks_rows(task: Task, rows: Sequence[RankedRow], reference: str = "") -> bytes:
    """One task's lines of ``downloads/all-tasks.csv``."""
    lines = []
    for r in rows:
        e = r.entry
        c = e.contamination
        lines.append(
            [
                task.name,
                task.primary_metric,
                r.rank,
                len(rows),
                r.rank_low or None,
                r.rank_high or None,
                e.submission,
                e.name,
                e.family,
                e.method,
                e.precision,
                e.license,
                _raw(e, task.primary_metric),
                *e.intervals.get(task.primary_metric, (None, None)),
                *(_raw(e, m) for m in _EFFICIENCY_COLUMNS),
                e.hardware,
                " ".join(e.flags(reference)),
                c.fraction if c else None,
                c.clean_score if c else None,
                e.record,
            ]
        )
    return _csv_lines(lines)


def _csv_lines(lines: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for values in lines:
        writer.writerow(csv_cell(v) for v in values)
    return buffer.getvalue().encode()
