"""One context per page: home, task, submission, markdown pages, 404 (pure, no I/O)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from ftbench.leaderboard import OverallRow, RankedRow, overall_ranking
from ftbench.metrics import METRICS
from ftbench.sanitize import markdown_title, render_markdown
from ftbench.site_context import (
    EFFICIENCY_COLUMNS,
    TOP_N,
    Board,
    CardedSubmission,
    LoadedRecord,
    Page,
    baselines,
    chart_svgs,
    dataset_card,
    format_value,
    metric_heading,
    model_url,
    render_card,
    task_tables,
    task_url,
)
from ftbench.site_results import result_view
from ftbench.tasks import Task

PARETO_BADGES = {"latency_ms": "latency", "peak_memory_mb": "memory"}


def build_pages(board: Board, tables: Mapping[str, Sequence[RankedRow]] | None = None) -> list[Page]:
    """Every HTML page of the site, in a stable order; contexts are built when rendered.

    Task pages come right after the home page: rendered in parallel, they then fall to one
    worker, which alone pays for importing scikit-learn (for the baselines).
    """
    tables = task_tables(board) if tables is None else tables
    common = _common(board)
    pages = [Page("index.html", "home.html.j2", partial(home_context, board, tables, overall_ranking(tables), common))]
    pages += [
        Page(f"tasks/{quote(t.name)}.html", "task.html.j2", partial(task_context, board, t, tables[t.name], common))
        for t in board.tasks
    ]
    by_sub: dict[str, list[LoadedRecord]] = {}
    for r in board.records:
        by_sub.setdefault(r.record.submission.id, []).append(r)
    standings = {task: ({r.entry.submission: r.rank for r in rows}, len(rows)) for task, rows in tables.items()}
    pages += [
        Page(
            f"models/{quote(s.spec.id)}.html",
            "model.html.j2",
            partial(model_context, board, s, by_sub.get(s.spec.id, []), standings, common),
        )
        for s in board.submissions
    ]
    pages += [
        Page(f"{quote(name)}.html", "page.html.j2", partial(markdown_context, name, text, common))
        for name, text in sorted(board.pages.items())
    ]
    pages.append(
        Page("404.html", "404.html.j2", partial(dict, common, root=board.base_url, page_title="Page not found"))
    )
    return pages


def _common(board: Board) -> dict[str, Any]:
    nav = [("index.html", "Leaderboard")]
    nav += [(f"{quote(n)}.html", n.replace("_", " ").capitalize()) for n in sorted(board.pages)]
    return {
        "site_title": board.title,
        "build_date": board.build_date,
        "nav": nav,
        "all_tasks": [(t.name, t.title, task_url(t.name)) for t in board.tasks],
    }


def home_context(
    board: Board, tables: Mapping[str, Sequence[RankedRow]], overall: Sequence[OverallRow], common: dict[str, Any]
) -> dict[str, Any]:
    """The front page: what is measured, the overall ranking, each task's top entries."""
    specs = {s.spec.id: s.spec for s in board.submissions}
    summaries = [
        {
            "task": t,
            "href": task_url(t.name),
            "metric": metric_heading(t.primary_metric),
            "direction": "higher" if t.higher_is_better else "lower",
            "count": len(tables[t.name]),
            "top": [_compact_row(r, t.primary_metric) for r in tables[t.name][:TOP_N]],
        }
        for t in board.tasks
    ]
    overall_rows = [
        {
            "rank": o.rank,
            "name": specs[o.submission].name,
            "href": model_url(o.submission),
            "method": specs[o.submission].fine_tuning.method,
            "n_tasks": len(o.tasks),
            "win_rate": f"{100 * o.mean_win_rate:.1f}",
            "win_rate_raw": o.mean_win_rate,
            "ranks": [(t, o.task_ranks[t]) for t in o.tasks],
        }
        for o in overall
    ]
    n_current = sum(1 for r in board.records if r.status == "current")
    return {
        **common,
        "root": "",
        "page_title": board.title,
        "summaries": summaries,
        "overall": overall_rows,
        "n_tasks": len(board.tasks),
        "n_submissions": len(board.submissions),
        "n_current": n_current,
        "n_not_current": len(board.records) - n_current,
    }


def _compact_row(row: RankedRow, metric: str) -> dict[str, Any]:
    e = row.entry
    return {
        "rank": row.rank,
        "name": e.name,
        "href": model_url(e.submission),
        "method": e.method,
        "score": format_value(metric, e.value(metric)),
        "latency": format_value("latency_ms", e.value("latency_ms")),
    }


def task_context(board: Board, task: Task, rows: Sequence[RankedRow], common: dict[str, Any]) -> dict[str, Any]:
    """A task's full ranking, charts, baselines, dataset card and downloads."""
    gold = board.gold.get(task.name)
    metrics = [task.primary_metric, *(m for m in task.metrics if m != task.primary_metric)]
    columns = [*metrics, *EFFICIENCY_COLUMNS]
    refs = baselines(task, gold)
    majority = refs[0][1][task.primary_metric] if refs else None
    hrefs = {r.record.submission.id: quote(r.href) for r in board.records if r.record.task.name == task.name}
    return {
        **common,
        "root": "../",
        "page_title": task.title,
        "task": task,
        "primary": METRICS[task.primary_metric],
        "columns": [_column(m) for m in columns],
        "rows": [_table_row(r, columns, hrefs.get(r.entry.submission, "")) for r in rows],
        "methods": sorted({r.entry.method for r in rows}),
        "bases": sorted({r.entry.base for r in rows}),
        "hardware": sorted({r.entry.hardware for r in rows}),
        "baselines": [(name, [format_value(m, scores.get(m)) for m in metrics]) for name, scores in refs],
        "charts": chart_svgs(task, rows, "../", majority),
        "card": dataset_card(task, gold),
        "downloads": {kind: f"downloads/{quote(task.name)}/leaderboard.{kind}" for kind in ("json", "csv")},
    }


def _column(metric: str) -> dict[str, Any]:
    m = METRICS[metric]
    return {
        "label": metric_heading(metric),
        "title": m.description,
        "kind": m.kind,
        "sort": "descending" if m.higher_is_better else "ascending",
    }


def _table_row(row: RankedRow, columns: Sequence[str], record_href: str) -> dict[str, Any]:
    e = row.entry
    values = [e.value(c) for c in columns]
    return {
        "rank": row.rank,
        "submission": e.submission,
        "name": e.name,
        "href": model_url(e.submission),
        "method": e.method,
        "base": e.base,
        "base_short": short_base(e.base),
        "date": e.date,
        "hardware": e.hardware,
        "record": record_href,
        "pareto": [PARETO_BADGES[c] for c in row.pareto],
        "cells": [(format_value(c, v), "" if v is None else repr(v)) for c, v in zip(columns, values, strict=True)],
    }


def model_context(
    board: Board,
    sub: CardedSubmission,
    records: Sequence[LoadedRecord],
    standings: Mapping[str, tuple[Mapping[str, int], int]],
    common: dict[str, Any],
) -> dict[str, Any]:
    """A submission: model card, fine-tuning, per-task results with provenance, reproduction.
    ``standings`` maps task -> (submission id -> rank, number of ranked entries)."""
    spec = sub.spec
    tasks = {t.name: t for t in board.tasks}
    records = sorted(records, key=lambda r: (r.record.task.name, r.status))
    results = [result_view(r, tasks.get(r.record.task.name), standings, spec.id) for r in records]
    seen = {r.record.task.name for r in records if r.status != "orphan"}
    return {
        **common,
        "root": "../",
        "page_title": spec.name,
        "spec": spec,
        "card": render_card(sub.card),
        "results": results,
        "missing": sorted(set(spec.tasks) - seen),
        "weights": [(name, *(w.label if w else "—" for w in spec.weights_for(name))) for name in sorted(spec.tasks)],
        "hyperparameters": sorted(spec.fine_tuning.hyperparameters.items()),
        "train_command": spec.fine_tuning.script,
        "github": f"https://github.com/{quote(spec.submitter.github)}" if spec.submitter.github else "",
        "evaluate_all": shlex.join(["ftbench", "evaluate", f"submissions/{spec.id}"]),
    }


def short_base(label: str) -> str:
    """``owner/name@abc1234`` -> ``name`` (the table cell keeps the full label as a tooltip).

    >>> short_base("sentence-transformers/all-MiniLM-L6-v2@c9745ed"), short_base("./model")
    ('all-MiniLM-L6-v2', './model')
    """
    return label.split("@", 1)[0].rsplit("/", 1)[-1] if "@" in label else label


def markdown_context(name: str, text: str, common: dict[str, Any]) -> dict[str, Any]:
    """A static page written in markdown (``pages/<name>.md``)."""
    return {**common, "root": "", "page_title": markdown_title(text, name.title()), "body": render_markdown(text)}
