"""Per-task leaderboard downloads, ``leaderboard.json`` and ``leaderboard.csv`` (pure, no I/O)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from ftbench.leaderboard import Entry, RankedRow
from ftbench.metrics import METRICS
from ftbench.site_context import EFFICIENCY_COLUMNS
from ftbench.tasks import Task

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _row_dict(row: RankedRow, record_path: str) -> dict:
    e = row.entry
    return {
        "rank": row.rank,
        "submission": e.submission,
        "name": e.name,
        "method": e.method,
        "base": e.base,
        "date": e.date,
        "metrics": dict(e.metrics),
        "efficiency": dict(e.efficiency),
        "hardware": e.hardware,
        "pareto": list(row.pareto),
        "record_path": record_path,
    }


def leaderboard_json(task: Task, rows: Sequence[RankedRow], records: Mapping[str, str], build_date: str) -> bytes:
    """The ranking with every metric and efficiency figure; ``record_path`` is relative to
    the site root. ``records`` maps submission id -> that path."""
    doc = {
        "task": task.name,
        "title": task.title,
        "split": task.split,
        "num_examples": task.num_examples,
        "primary_metric": task.primary_metric,
        "higher_is_better": METRICS[task.primary_metric].higher_is_better,
        "metrics": list(task.metrics),
        "data_sha256": task.data_sha256,
        "build_date": build_date,
        "rows": [_row_dict(r, records.get(r.entry.submission, "")) for r in rows],
    }
    return (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


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


def leaderboard_csv(task: Task, rows: Sequence[RankedRow], records: Mapping[str, str]) -> bytes:
    """One line per ranked entry: identity, every task metric, the efficiency columns."""
    head = [
        "rank",
        "submission",
        "name",
        "method",
        "base",
        "date",
        *task.metrics,
        *EFFICIENCY_COLUMNS,
        "hardware",
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
                e.submission,
                e.name,
                e.method,
                e.base,
                e.date,
                *(_raw(e, m) for m in (*task.metrics, *EFFICIENCY_COLUMNS)),
                e.hardware,
                " ".join(r.pareto),
                records.get(e.submission, ""),
            ]
        )
    return buffer.getvalue().encode()


def _raw(entry: Entry, name: str) -> object:
    """The value as recorded (an int stays an int), from the metrics or the efficiency map."""
    return entry.metrics[name] if name in entry.metrics else entry.efficiency.get(name)
