"""The board-wide pages' contexts: home, task rankings, markdown pages, 404 (pure, no I/O).
Model pages are in ``model_page``: they are built shard by shard, in the build's workers."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ftbench.board.snapshot import Board, task_tables
from ftbench.display import (
    delta_text,
    efficiency_columns,
    format_value,
    interval_text,
    is_measured,
    is_percent,
    metric_heading,
    optional_columns,
    rank_text,
    value_at_precision,
)
from ftbench.leaderboard import FAMILIES, Entry, OverallRow, RankedRow, overall_ranking, pareto_costs
from ftbench.metrics import METRICS
from ftbench.site.context import (
    TOP_N,
    BaselineRow,
    Page,
    baselines,
    chart_svgs,
    compare_url,
    dataset_card,
    entry_dates,
    model_url,
    page_key,
    salt_of,
    task_url,
    updated,
)
from ftbench.site.kept_charts import KeptCharts
from ftbench.site.measurement import flag_marker
from ftbench.site.sanitize import markdown_title, render_markdown
from ftbench.site.tables import interval_bar, metric_cells
from ftbench.tasks import Task

PARETO_BADGES = {
    "latency_ms": "latency",
    "model_memory_mb": "memory",
    "prefill_tokens_per_s": "prefill",
    "parameters_total": "size",
}
"""The badge a row gets for each cost front it lies on (``ftbench.leaderboard.pareto_costs``)."""
METHODOLOGY = "methodology"
"""The markdown page (``pages/methodology.md``) that explains how efficiency is measured."""


def families(rows: Sequence[RankedRow]) -> list[str]:
    """The families present among ``rows``, in the order of ``ftbench.leaderboard.FAMILIES``."""
    present = {r.entry.family for r in rows}
    return [f for f in FAMILIES if f in present]


def home_cost(task: Task) -> str:
    """The one cost a home-page card shows beside a task's primary metric."""
    return "prefill_tokens_per_s" if task.type == "perplexity" else "latency_ms"


def task_size(task: Task) -> str:
    """``1,821 examples · 2 labels`` or ``62 documents``, as a page describes a held-out split."""
    if task.type == "perplexity":
        return f"{task.num_examples:,} documents"
    return f"{task.num_examples:,} examples · {len(task.labels)} labels"


def build_pages(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]] | None = None,
    shared: str = "",
    with_tasks: bool = True,
) -> list[Page]:
    """The board-wide HTML pages (home, tasks, static pages, 404) in a stable order; contexts
    are built when rendered. Model pages come from :func:`model_pages`, shard by shard.
    ``shared``: the stamp of the inputs every page depends on (``stamp.input_stamps``), which
    gives the pages their keys; a task page's key adds its entries' stamps, and the home page's
    what it shows of every task (:func:`home_key`). ``with_tasks=False``: the task pages left
    out (:func:`task_pages`: ``ftbench build`` renders them in its workers)."""
    tables = task_tables(board) if tables is None else tables
    common = board_common(board)
    salt = salt_of(shared, common)
    home = partial(home_context, board, tables, None, common)
    pages = [Page("index.html", "home.html.j2", home, home_key(board, salt, home_digests(board, tables, shared)))]
    if with_tasks:
        pages += task_pages(board, tables, shared)
    pages += [
        Page(
            f"{quote(name)}.html",
            "page.html.j2",
            partial(markdown_context, name, text, common),
            page_key(salt, "page", name, text),
        )
        for name, text in sorted(board.pages.items())
    ]
    context = partial(not_found_context, board.base_url, common)
    pages.append(Page("404.html", "404.html.j2", context, page_key(salt, "404", board.base_url)))
    return pages


def task_pages(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    shared: str = "",
    only: Sequence[Task] | None = None,
    charts: Mapping[str, Callable[[], list[Any]]] | None = None,
    kept: tuple[Path, bool] | None = None,
) -> list[Page]:
    """One page per task (those in ``only``, if given), keyed by its entries' stamps (see
    :func:`build_pages`); ``charts``: what gives a task's charts, where they are made apart;
    ``kept``: else the folder charts are kept in between builds, and whether to draw every
    chart anew (``kept_charts``)."""
    common = board_common(board)
    salt = salt_of(shared, common)
    pages = []
    for t in board.tasks if only is None else only:
        made = (charts or {}).get(t.name)
        if made is None and kept is not None:
            store = KeptCharts(kept[0], shared, t.name, kept[1])
            made = partial(task_charts, board, t, tables[t.name], store)
        context = partial(task_context, board, t, tables[t.name], common, made)
        pages.append(Page(task_url(t.name), "task.html.j2", context, task_page_key(board, t, salt)))
    return pages


def task_page_key(board: Board, task: Task, salt: str) -> str:
    """The key of a task's page (``context.page_key``): its entries' stamps, under ``salt``."""
    return page_key(salt, "task", task.name, task_inputs(board, task))


def task_page_kept(board: Board, task: Task, salt: str, keys: Mapping[str, Any]) -> bool:
    """Whether the task's page has the key the last build gave it (``keys``: the last build's
    manifest), so that it will not be rendered again."""
    kept = keys.get(task_url(task.name))
    return isinstance(kept, list) and bool(kept) and kept[0] == task_page_key(board, task, salt)


def task_inputs(board: Board, task: Task) -> list[tuple[str, str]]:
    """What a task's page and downloads rest on beyond every page's inputs: each current
    entry's record and the stamp it was read with."""
    return [(e.record, e.stamp) for e in board.summary.entries.get(task.name, ())]


def board_common(board: Board) -> dict[str, Any]:
    """The frame every page of ``board`` shows (:func:`common_context`)."""
    return common_context(
        board.title, board.fixed_date, board.pages, board.tasks, board.reference_hardware, board.repository_url
    )


def common_context(
    title: str,
    fixed_date: str,
    pages: Mapping[str, str],
    tasks: Sequence[Task],
    reference: str = "",
    repository: str = "",
) -> dict[str, Any]:
    """What every page's frame shows: title, navigation, the task list; and what the task and
    model pages say of efficiency: the board's reference hardware profile, and the methodology
    page (``pages/methodology.md``) when the board has one. ``fixed_date``: the date every page
    shows when the build fixes one (SOURCE_DATE_EPOCH), else "" (each page shows the date of
    the newest input it rests on: :func:`ftbench.site.context.updated`), so that a new record
    changes only the pages that show it."""
    nav = [("index.html", "Leaderboard")]
    nav += [(f"{quote(n)}.html", n.replace("_", " ").capitalize()) for n in sorted(pages)]
    return {
        "site_title": title,
        "fixed_date": fixed_date,
        "nav": nav,
        "all_tasks": [(t.name, t.title, task_url(t.name)) for t in tasks],
        "repository": repository,
        "submissions_url": f"{repository}/tree/HEAD/submissions" if repository else "",
        "reference_hardware": reference,
        "methodology": f"{METHODOLOGY}.html" if METHODOLOGY in pages else "",
    }


NOT_FOUND_SCRIPT = (
    "(function(){var base=document.currentScript.getAttribute('data-base');"
    "if(location.protocol==='file:'||!base)return;"
    "document.querySelectorAll('[href],[src]').forEach(function(e){"
    "var a=e.hasAttribute('href')?'href':'src',v=e.getAttribute(a);"
    "if(!/^([a-z][a-z0-9+.-]*:|\\/|#)/i.test(v))e.setAttribute(a,base+v);});})();"
)
"""The 404 page's one inline script (allowed by its hash alone): a server shows that page for
a missing address at any depth, where the page's relative links would miss; served over HTTP
it turns them into links under the site's base URL. From disk the relative links work as they
are, so the page is right with or without it."""


def not_found_context(base_url: str, common: dict[str, Any]) -> dict[str, Any]:
    """The 404 page: links relative to the site root (right from disk and at the top level),
    made absolute under ``base_url`` by :data:`NOT_FOUND_SCRIPT` when served."""
    digest = base64.b64encode(hashlib.sha256(NOT_FOUND_SCRIPT.encode()).digest()).decode()
    return {
        **common,
        "root": "",
        "page_title": "Page not found",
        "updated": updated(common, ()),
        "base_url": base_url,
        "inline_script": Markup(NOT_FOUND_SCRIPT),
        "script_hash": digest,
    }


def home_key(board: Board, salt: str, digests: Mapping[str, str]) -> str:
    """The home page's key (``context.page_key``): the board's counts and date, and what it
    shows of each task (``digests``: :func:`home_digests`), so that a change no row of the
    home page shows (a record measured again, outside a task's top rows) leaves it as it is."""
    summary = board.summary
    counts = (summary.submissions, summary.current, summary.not_current)
    return page_key(salt, "home", board.build_date, counts, [digests[t.name] for t in board.tasks])


def home_digests(
    board: Board, tables: Mapping[str, Sequence[RankedRow]], shared: str, only: Sequence[Task] | None = None
) -> dict[str, str]:
    """:func:`home_task_digest` of every task (of those in ``only``, if given)."""
    from ftbench.board.ranking_cache import ranking_key

    entries = board.summary.entries
    return {
        t.name: home_task_digest(
            t,
            tables.get(t.name, ()),
            ranking_key(shared, t.name, t.primary_metric, entries.get(t.name, ()), t.type),
            board.reference_hardware,
        )
        for t in (board.tasks if only is None else only)
    }


def home_task_digest(task: Task, rows: Sequence[RankedRow], quality: str, reference: str) -> str:
    """A digest of what the home page shows of one task's ranking: for every row, the entry's
    name, kind, method, precision, license, size, date and primary score with its interval, rank and
    ties (the matrix, the filters, the progress list); the cost and its flags of the top rows
    (the task's card); and ``quality``, the key of the task's quality ranking
    (``ftbench.board.ranking_cache.ranking_key``), which the overall ranking rests on."""
    metric, cost = task.primary_metric, home_cost(task)
    shown = [
        (
            r.entry.submission,
            r.entry.name,
            r.entry.kind,
            r.entry.method,
            r.entry.precision,
            r.entry.license,
            r.entry.date,
            r.entry.value(metric),
            r.entry.intervals.get(metric),
            r.entry.value("parameters_effective"),
            r.entry.value("parameters_total"),
            r.rank,
            r.sharing,
        )
        for r in rows
    ]
    top = [(r.entry.value(cost), r.entry.flags(reference)) for r in rows[:TOP_N]]
    return hashlib.sha256(repr((task.name, quality, shown, top)).encode()).hexdigest()


def home_context(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    overall: Sequence[OverallRow] | None,
    common: dict[str, Any],
) -> dict[str, Any]:
    """The front page: what is measured, the overall ranking (``overall``: made from
    ``tables`` when None), each task's top entries."""
    overall = overall_ranking(tables) if overall is None else overall
    entries = {r.entry.submission: r.entry for rows in tables.values() for r in rows}
    summaries = [
        {
            "task": t,
            "href": task_url(t.name),
            "metric": metric_heading(t.primary_metric),
            "direction": "higher" if t.higher_is_better else "lower",
            "size": task_size(t),
            "cost": metric_heading(home_cost(t)),
            "count": len(tables[t.name]),
            "top": [
                _compact_row(
                    r,
                    t.primary_metric,
                    home_cost(t),
                    board.reference_hardware,
                    sum(1 for x in tables[t.name] if x.rank == r.rank),
                )
                for r in tables[t.name][:TOP_N]
            ],
        }
        for t in board.tasks
    ]
    sharing = {t: {r.entry.submission: r.sharing for r in rows} for t, rows in tables.items()}
    overall_ranks = Counter(o.rank for o in overall)
    overall_rows = [
        {
            "rank": o.rank,
            "rank_text": rank_text(o.rank, overall_ranks[o.rank]),
            "of": len(overall),
            "plausible": f"{o.rank_low}–{o.rank_high}" if o.rank_low and o.rank_low != o.rank_high else "",
            "name": entries[o.submission].name,
            "href": model_url(o.submission),
            "method": entries[o.submission].method,
            "family": entries[o.submission].family,
            "n_tasks": len(o.tasks),
            "rivals": o.rivals,
            "win_rate": f"{100 * o.mean_win_rate:.0f}",
            "win_rate_raw": o.mean_win_rate,
            "ranks": [(t, rank_text(o.task_ranks[t], sharing[t][o.submission]), o.task_sizes[t]) for t in o.tasks],
            "alone": [t for t in o.task_ranks if o.task_sizes.get(t) == 1],
        }
        for o in overall
    ]
    matrix = score_matrix(board, tables, overall)
    history = progress(board.tasks, tables)
    return {
        **common,
        "root": "",
        "page_title": board.title,
        "updated": board.build_date,
        "matrix": matrix,
        "progress": history,
        "all_tasks_csv": "downloads/all-tasks.csv",
        "matrix_filters": {
            key: sorted({row[key] for row in matrix["rows"]})
            for key in ("family", "method", "precision", "size", "license")
        },
        "summaries": summaries,
        "overall": overall_rows,
        "families": [f for f in FAMILIES if f in {row["family"] for row in overall_rows}],
        "n_tasks": len(board.tasks),
        "n_submissions": board.summary.submissions,
        "n_current": board.summary.current,
        "n_not_current": board.summary.not_current,
    }


SIZE_BUCKETS = ((50e6, "under 50 M"), (500e6, "50–500 M"), (5e9, "0.5–5 B"), (float("inf"), "over 5 B"))
"""Parameter-count buckets of the home page's size filter (parameters a forward pass uses)."""


def size_bucket(entry: Entry) -> str:
    """The size filter's bucket of an entry, from its effective (else total) parameters.

    >>> size_bucket(Entry("s", "S", "lora", "b", "2026", {}, {"parameters_effective": 22.7e6}))
    'under 50 M'
    """
    n = entry.value("parameters_effective") or entry.value("parameters_total")
    if n is None:
        return "unknown"
    return next(label for limit, label in SIZE_BUCKETS if n < limit)


def progress(tasks: Sequence[Task], tables: Mapping[str, Sequence[RankedRow]]) -> list[dict[str, Any]]:
    """Progress over time: on each task, every submission that set a new best primary score
    when it was submitted (by submission date, earliest first), with the gain over the
    previous best; newest first across tasks."""
    out: list[dict[str, Any]] = []
    for t in tasks:
        hib = METRICS[t.primary_metric].higher_is_better
        best: float | None = None
        for r in sorted(tables.get(t.name, ()), key=lambda r: (r.entry.date, r.entry.submission)):
            value = r.entry.value(t.primary_metric)
            if value is None or (best is not None and (value <= best if hib else value >= best)):
                continue
            out.append(
                {
                    "date": r.entry.date,
                    "task": t.name,
                    "task_href": task_url(t.name),
                    "name": r.entry.name,
                    "href": model_url(r.entry.submission),
                    "score": value_at_precision(t.primary_metric, value, r.entry.intervals.get(t.primary_metric)),
                    "gain": delta_text(t.primary_metric, value, best) if best is not None else "first entry",
                    "metric": metric_heading(t.primary_metric),
                    "step": len(out),
                }
            )
            best = value
    return sorted(out, key=lambda p: (p["date"], p["task"], p["step"]), reverse=True)


def score_matrix(
    board: Board, tables: Mapping[str, Sequence[RankedRow]], overall: Sequence[OverallRow]
) -> dict[str, Any]:
    """The home page's model × task matrix: every submission with a current result (in overall
    order, then by name), every task with entries, each cell the primary score with its
    interval and its rank "k of N"; the cells ranked 1 are the best of their column (several
    when tied)."""
    tasks = [t for t in board.tasks if tables.get(t.name)]
    order = {o.submission: i for i, o in enumerate(overall)}
    entries: dict[str, Entry] = {}
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for t in tasks:
        rows = tables[t.name]
        for r in rows:
            e = r.entry
            entries.setdefault(e.submission, e)
            value = e.value(t.primary_metric)
            cells[(e.submission, t.name)] = {
                "score": value_at_precision(t.primary_metric, value, e.intervals.get(t.primary_metric)),
                "ci": interval_text(t.primary_metric, e.intervals.get(t.primary_metric)),
                "rank": f"{rank_text(r.rank, r.sharing)} of {len(rows)}",
                "best": r.rank == 1 and len(rows) > 1,
                "raw": value,
                "title": rank_title(r, len(rows)),
            }
    subs = sorted(entries, key=lambda s: (order.get(s, len(order)), entries[s].name.casefold(), s))
    return {
        "tasks": [
            {"name": t.name, "title": t.title, "href": task_url(t.name), "metric": metric_heading(t.primary_metric)}
            for t in tasks
        ],
        "rows": [
            {
                "name": entries[s].name,
                "href": model_url(s),
                "family": entries[s].family,
                "method": entries[s].method,
                "precision": entries[s].precision or "unknown",
                "license": entries[s].license or "unknown",
                "size": size_bucket(entries[s]),
                "cells": [cells.get((s, t.name)) for t in tasks],
            }
            for s in subs
        ],
    }


def _compact_row(row: RankedRow, metric: str, cost: str, reference: str, sharing: int = 1) -> dict[str, Any]:
    e = row.entry
    flags = e.flags(reference) if e.value(cost) is not None and is_measured(cost) else ()
    return {
        "rank": row.rank,
        "rank_text": rank_text(row.rank, sharing),
        "name": e.name,
        "href": model_url(e.submission),
        "method": e.method,
        "family": e.family,
        "score": value_at_precision(metric, e.value(metric), e.intervals.get(metric)),
        "cost": format_value(cost, e.value(cost)),
        "flag": Markup(flag_marker(flags)),
    }


def task_charts(board: Board, task: Task, rows: Sequence[RankedRow], kept: KeptCharts | None = None) -> list[Any]:
    """A task page's charts of quality against its costs (``context.chart_svgs``), with the
    majority baseline's score marked (``kept``: where charts are kept between builds)."""
    refs = baselines(task, board.gold.get(task.name), board.baselines.get(task.name))
    majority = refs[0].scores[task.primary_metric] if refs else None
    return chart_svgs(task, rows, "../", majority, board.reference_hardware, kept)


def task_context(
    board: Board,
    task: Task,
    rows: Sequence[RankedRow],
    common: dict[str, Any],
    charts: Callable[[], list[Any]] | None = None,
) -> dict[str, Any]:
    """A task's full ranking, charts (``charts``: what gives them, where they are made apart:
    :func:`task_charts`), baselines, dataset card and downloads."""
    gold = board.gold.get(task.name)
    metrics = [task.primary_metric, *(m for m in task.metrics if m != task.primary_metric)]
    columns = [*metrics, *efficiency_columns(task.type)]
    refs = baselines(task, gold, board.baselines.get(task.name))
    majority = refs[0].scores[task.primary_metric] if refs else None
    floor = best_baseline(task, refs)
    reference = board.reference_hardware
    others = sorted({r.entry.hardware for r in rows if reference and r.entry.hardware != reference})
    optional = optional_columns(task.type, columns)
    scale = score_scale(rows, task.primary_metric)
    leader = rows[0].entry.value(task.primary_metric) if rows else None
    return {
        **common,
        "root": "../",
        "page_title": task.title,
        "updated": updated(common, entry_dates(r.entry for r in rows)),
        "task": task,
        "primary": METRICS[task.primary_metric],
        "columns": [_column(m, optional) for m in columns],
        "rows": [
            _table_row(
                r,
                columns,
                reference,
                floor,
                rows[i + 1] if i + 1 < len(rows) else None,
                task.name,
                len(rows),
                r.sharing,
                optional,
                _score_extra(r, task.primary_metric, leader, scale),
            )
            for i, r in enumerate(rows)
        ],
        "floor": format_value(task.primary_metric, floor) if floor is not None else "",
        "test_method": rows[0].comparisons.method if rows and rows[0].comparisons is not None else "",
        "percent": is_percent(task.primary_metric),
        "size": task_size(task),
        "units": "documents" if task.type == "perplexity" else "examples",
        "badges": [PARETO_BADGES[c] for c in pareto_costs(task.type)],
        "families": families(rows),
        "methods": sorted({r.entry.method for r in rows}),
        "bases": sorted({r.entry.base for r in rows}),
        "other_profiles": others,
        "other_rows": sum(1 for r in rows if r.entry.hardware in others),
        "flagged_rows": sum(1 for r in rows if set(r.entry.flags(reference)) - {"other-hardware"}),
        "has_trained_baseline": any(not b.trivial for b in refs),
        "baselines": [
            (
                b,
                [format_value(m, b.scores.get(m)) for m in metrics],
                interval_text(task.primary_metric, b.intervals.get(task.primary_metric)),
            )
            for b in refs
        ],
        "charts": charts() if charts is not None else chart_svgs(task, rows, "../", majority, reference),
        "card": dataset_card(task, gold),
        "downloads": {kind: f"downloads/{quote(task.name)}/leaderboard.{kind}" for kind in ("json", "csv")},
    }


def _column(metric: str, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    m = METRICS[metric]
    return {
        "key": metric,
        "optional": metric in optional,
        "label": metric_heading(metric),
        "title": m.description,
        "kind": m.kind,
        "sort": "descending" if m.higher_is_better else "ascending",
    }


@dataclass(frozen=True)
class TableRow:
    """One row of a task's ranking table, as the template shows it.

    An object rather than a dict: Jinja looks ``row.name`` up as an attribute first, and a
    dict's failed attribute lookup (an exception) cost a second per 10,000-row board.
    """

    rank: int
    """Rank: 1 + the entries significantly better (ties share it)."""
    rank_text: str
    """The rank as shown: ``=2`` when shared."""
    rank_title: str
    """What the rank means for this row (tooltip): "k of N", ties, plausible ranks."""
    plausible: str
    """Plausible ranks (``1–3``) from the bootstrap of the ranking, "" when not computed."""
    compare_next: str
    """Comparison page with the next row, site-relative ("" for the last row)."""
    next_name: str
    """The next row's display name (for the link's accessible label)."""
    submission: str
    """Submission id."""
    name: str
    """Display name (escaped by the template)."""
    href: str
    """Model page URL, site-relative."""
    method: str
    """Fine-tuning method."""
    family: str
    """Encoder fine-tune, prompted LM or tuned LM."""
    base: str
    """Base checkpoint label."""
    base_short: str
    """Its short form for the cell."""
    date: str
    """Submission date."""
    hardware: str
    """Hardware profile the efficiency figures come from."""
    other_profile: bool
    """Measured on a profile other than the board's reference: shown, not compared."""
    record: str
    """Raw record URL, site-relative."""
    pareto: tuple[str, ...]
    """Badges of the fronts it is on."""
    below_baseline: str
    """``below baseline`` or ``not above baseline``: not significantly better than the best
    trivial baseline (majority class, stratified random) on the primary metric; else ""."""
    cells: Markup
    """The metric cells, one ``<td>`` each with its sortable raw value."""
    overlap: str = ""
    """``overlap 1.6% · clean 80.8``: its declared training data contains held-out examples
    (the share), and its primary score without them; "" when none was found."""
    overlap_title: str = ""
    """The same in full (tooltip)."""


def best_baseline(task: Task, refs: Sequence[BaselineRow]) -> float | None:
    """The best trivial baseline's score on the task's primary metric, in its direction."""
    scores = [r.scores[task.primary_metric] for r in refs if r.trivial and task.primary_metric in r.scores]
    if not scores:
        return None
    return max(scores) if METRICS[task.primary_metric].higher_is_better else min(scores)


def _table_row(
    row: RankedRow,
    columns: Sequence[str],
    reference: str,
    floor: float | None = None,
    following: RankedRow | None = None,
    task: str = "",
    size: int = 0,
    sharing: int = 1,
    optional: frozenset[str] = frozenset(),
    extra: str = "",
) -> TableRow:
    e = row.entry
    flags = e.flags(reference)
    return TableRow(
        rank=row.rank,
        rank_text=rank_text(row.rank, sharing),
        rank_title=rank_title(row, size),
        plausible=f"{row.rank_low}–{row.rank_high}" if row.rank_low and row.rank_low != row.rank_high else "",
        compare_next=(
            compare_url(task, e.submission, following.entry.submission)
            if following and task and row.comparisons is not None
            else ""
        ),
        next_name=following.entry.name if following else "",
        submission=e.submission,
        name=e.name,
        href=model_url(e.submission),
        method=e.method,
        family=e.family,
        base=e.base,
        base_short=short_base(e.base),
        date=e.date,
        hardware=e.hardware,
        other_profile="other-hardware" in flags,
        record=quote(e.record),
        pareto=tuple(PARETO_BADGES[c] for c in row.pareto),
        below_baseline=baseline_mark(row, columns[0], floor),
        cells=metric_cells(e, columns, flags, optional, extra),
        overlap=overlap_text(e, columns[0])[0],
        overlap_title=overlap_text(e, columns[0])[1],
    )


def overlap_text(entry: Entry, metric: str) -> tuple[str, str]:
    """The contamination mark of a row and its tooltip ("" for a clean one).

    >>> from ftbench.leaderboard import Contamination
    >>> c = Contamination((("rt/train", 3, 0.3),), 3, 10, 0.5)
    >>> e = Entry("s", "S", "lora", "b", "2026", {}, {}, contamination=c)
    >>> overlap_text(e, "accuracy")[0]
    'overlap 30.0% · clean 50.00'
    """
    c = entry.contamination
    if c is None:
        return "", ""
    share = f"{100 * c.fraction:.1f}%"
    clean = f" · clean {format_value(metric, c.clean_score)}" if c.clean_score is not None else ""
    splits = "; ".join(f"{name}: {n:,} of the {c.held_out:,} held-out examples" for name, n, _ in c.splits)
    title = f"Its declared training data contains held-out examples ({splits}; {share} in all)."
    if c.clean_score is not None:
        title += (
            f" {METRICS[metric].label} on the {c.clean_examples:,} others (the clean subset): "
            f"{format_value(metric, c.clean_score)}, against {format_value(metric, entry.value(metric))} on all."
        )
    return f"overlap {share}{clean}", title


def score_scale(rows: Sequence[RankedRow], metric: str) -> tuple[float, float]:
    """The common scale of a ranking's inline interval bars: from the lowest interval bound
    (or score) to the highest, padded by a twentieth on each side."""
    points = [v for r in rows for v in (*r.entry.intervals.get(metric, ()), r.entry.value(metric)) if v is not None]
    if not points:
        return (0.0, 0.0)
    lo, hi = min(points), max(points)
    pad = (hi - lo) / 20 or abs(hi) / 100 or 1.0
    return (lo - pad, hi + pad)


def _score_extra(row: RankedRow, metric: str, leader: float | None, scale: tuple[float, float]) -> str:
    """What the primary cell adds after the score: the difference to the leader and the bar."""
    e = row.entry
    delta = delta_text(metric, e.value(metric), leader)
    unit = " pts" if is_percent(metric) else ""
    text = f' <small class="delta" title="difference to the leader">{delta}{unit}</small>' if delta else ""
    return text + interval_bar(e.intervals.get(metric), e.value(metric), scale)


def baseline_mark(row: RankedRow, metric: str, floor: float | None) -> str:
    """``below baseline`` / ``not above baseline`` for a row not significantly better than the
    best trivial baseline (the paired test's verdict, ``RankedRow.baseline``); without one, a
    point score at or below the baseline's ``floor`` reads ``below baseline``."""
    if row.baseline:
        return f"{row.baseline} baseline"
    value = row.entry.value(metric)
    if floor is None or value is None or row.comparisons is not None:
        return ""
    higher = METRICS[metric].higher_is_better
    return "below baseline" if (value <= floor if higher else value >= floor) else ""


def rank_title(row: RankedRow, size: int) -> str:
    """What a row's rank means, in words (the rank cell's tooltip)."""
    better = row.rank - 1
    ties = max(size - 1 - row.wins - better, 0)
    if row.comparisons is None:
        text = f"Rank {row.rank} of {size} by the point score"
        return text + (f", tied with {ties} other{'s' if ties > 1 else ''}." if ties else ".")
    who = "no entry is" if not better else f"{better} {'entry is' if better == 1 else 'entries are'}"
    text = f"Rank {row.rank} of {size}: {who} significantly better ({row.comparisons.method}, Holm-corrected)"
    if ties:
        text += f"; not significantly different from {ties} other{'s' if ties > 1 else ''}"
    if row.rank_low:
        text += f". Plausible positions by score: {row.rank_low}–{row.rank_high} (95% of bootstrap resamples)"
    return text + "."


def short_base(label: str) -> str:
    """``owner/name@abc1234`` -> ``name`` (the table cell keeps the full label as a tooltip).

    >>> short_base("sentence-transformers/all-MiniLM-L6-v2@c9745ed"), short_base("./model")
    ('all-MiniLM-L6-v2', './model')
    """
    return label.split("@", 1)[0].rsplit("/", 1)[-1] if "@" in label else label


def markdown_context(name: str, text: str, common: dict[str, Any]) -> dict[str, Any]:
    """A static page written in markdown (``pages/<name>.md``)."""
    return {
        **common,
        "root": "",
        "page_title": markdown_title(text, name.title()),
        "updated": updated(common, ()),
        "body": render_markdown(text),
    }
