"""The comparison page of two entries on a task (``compare/<task>/<first>--<second>.html``):
the paired test the ranking rests on, the difference of their primary metric with its
interval, and the examples on which they disagree. Pure, no I/O.

Which pairs get a page is ``context.compared_pairs`` (adjacent rows and the leader against
every row), on a task whose entries were compared pairwise (``RankedRow.comparisons``). Like
the example browser, a page carries its disagreements as compact inline JSON, renders the
first ``PAGE_SIZE`` of them as HTML and reads the texts from the task's shared data file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ftbench.compare import ALPHA, LEVEL, Comparisons, McNemar, Outcome, mcnemar
from ftbench.display import format_value, is_percent, rank_text
from ftbench.leaderboard import RankedRow
from ftbench.metrics import METRICS
from ftbench.site.context import (
    LEADER_PAIRS,
    Page,
    compare_url,
    compared_pairs,
    entry_dates,
    examples_url,
    model_url,
    page_key,
    task_url,
    updated,
)
from ftbench.site.example_rows import (
    BPB_SCALE,
    DocumentRow,
    bits_text,
    disagreement_rows,
    disagreement_rows_html,
    document_rows_html,
)
from ftbench.site.examples import (
    PAGE_SIZE,
    excerpt,
    has_examples,
    most_confident_first,
    permille,
    script_json,
    task_data_url,
)
from ftbench.tasks import Examples, Task


def compared(rows: Sequence[RankedRow]) -> list[tuple[int, int]]:
    """The pairs of a task's rows that get a comparison page: :func:`compared_pairs`, where
    the task's entries were compared pairwise (none otherwise)."""
    if len(rows) < 2 or rows[0].comparisons is None:
        return []
    return compared_pairs(rows)


def comparison_pages(
    tasks: Sequence[Task],
    tables: Mapping[str, Sequence[RankedRow]],
    held_out: Mapping[str, Examples],
    common: dict[str, Any],
    salt: str = "",
) -> list[Page]:
    """Every comparison page of the board, task by task, in row order (``salt``: see
    ``context.page_key``; a page's key is what :func:`comparison_context` takes of the rows:
    both sides, the test, the difference, and the stamps their outcomes were read with)."""
    pages = []
    for task in tasks:
        rows = tables.get(task.name, ())
        pairs = compared(rows)
        stats = rows[0].comparisons if pairs else None
        if stats is None or (task.type != "perplexity" and task.name not in held_out):
            continue
        intervals = pair_intervals(stats, [(rows[i].index, rows[j].index) for i, j in pairs])
        side = partial(_side_key, task.primary_metric)
        for (i, j), interval in zip(pairs, intervals, strict=True):
            first, second = rows[i].entry.submission, rows[j].entry.submission
            context = partial(comparison_context, task, rows, i, j, held_out.get(task.name), common, interval)
            a, b = rows[i].index, rows[j].index
            p_values = (float(stats.p_raw[a, b]), float(stats.p_holm[a, b]))
            test = (*p_values, bool(stats.better[a, b]), bool(stats.better[b, a]))
            key = page_key(
                salt,
                "compare",
                task.name,
                len(rows),
                stats.method,
                stats.samples.shape[0],
                test,
                interval,
                side(rows[i]),
                side(rows[j]),
            )
            pages.append(Page(compare_url(task.name, first, second), "compare.html.j2", context, key))
    return pages


def _side_key(metric: str, row: RankedRow) -> tuple:
    """What a comparison page shows of one side (see :func:`_side`): its name, rank, score,
    per-example results and dates (not the rest of its record: a record measured again
    leaves its comparisons as they are)."""
    from ftbench.board.ranking_cache import outcome_digest

    e = row.entry
    shown = rank_text(row.rank, row.sharing)  # how many share it is not shown
    return (e.name, e.submission, shown, e.value(metric), outcome_digest(e.outcome), e.date, e.finished)


def pair_intervals(
    stats: Comparisons, pairs: Sequence[tuple[int, int]], level: float = LEVEL
) -> list[tuple[float, float]]:
    """``Comparisons.difference`` of many pairs (columns of ``stats``) in one percentile call:
    a board has thousands of compared pairs, and one call per page cost a millisecond each."""
    if not pairs:
        return []
    first, second = (np.fromiter(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(stats.samples[:, first] - stats.samples[:, second], [tail, 100 - tail], axis=0)
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]


def compare_links(
    task: str, order: Sequence[str], names: Sequence[str], sub: str, at: int | None = None
) -> list[tuple[str, str, str]]:
    """``(relation, name, URL)`` of the comparison pages a model page links to: with the
    leader, the entry above and the entry below (``order``: the task's submissions by rank;
    ``at``: ``sub``'s position in it, when known).

    >>> [(r, n) for r, n, _ in compare_links("t", ["a", "b", "c"], ["A", "B", "C"], "c")]
    [('the leader', 'A'), ('the entry above', 'B')]
    >>> compare_links("t", ["a", "b"], ["A", "B"], "a")
    [('the entry below', 'B', 'compare/t/a--b.html')]
    """
    if at is None:
        if sub not in order:
            return []
        at = order.index(sub)
    p = at
    wanted = [("the leader", 0, p), ("the entry above", p - 1, p), ("the entry below", p, p + 1)]
    return [
        (relation, names[q if q != p else r], compare_url(task, order[q], order[r]))
        for relation, q, r in wanted
        if has_comparison(q, r, len(order)) and not (relation == "the entry above" and q == 0)
    ]


def has_comparison(q: int, r: int, n: int) -> bool:
    """Whether rows ``q`` above ``r`` of a task's ``n`` rows have a comparison page
    (:func:`compared_pairs`, without listing them: a model page asks for each of its tasks).

    >>> [has_comparison(q, r, 30) for q, r in [(0, 1), (0, 20), (0, 21), (4, 5), (4, 6), (29, 30)]]
    [True, True, False, True, False, False]
    """
    return 0 <= q < r < n and (r == q + 1 or (q == 0 and r <= LEADER_PAIRS))


# ------------------------------------------------------------------ what differs


def disagreements(a: Outcome, b: Outcome) -> np.ndarray:
    """Positions of the examples the two predict differently, the most confident first (the
    higher of the two confidences; ties in file order). On more than two labels this includes
    examples both get wrong with different labels, so it can exceed McNemar's discordant pairs.
    """
    assert a.pred is not None and b.pred is not None and a.prob is not None and b.prob is not None
    differ = np.flatnonzero(a.pred != b.pred)
    return most_confident_first(differ, np.maximum(permille(a.prob), permille(b.prob)))


def two_by_two(a: Outcome, b: Outcome, gold: Sequence[int]) -> McNemar:
    """The right/wrong table of two classifiers on the same examples, with McNemar's exact
    p-value of its discordant cells."""
    truth = np.asarray(gold, dtype=np.int64)
    assert a.pred is not None and b.pred is not None
    return mcnemar(a.pred == truth, b.pred == truth)


def document_bits(documents: Mapping[str, np.ndarray]) -> np.ndarray:
    """Bits per byte of each document (0 for an empty one)."""
    nbytes = np.asarray(documents["bytes"], dtype=np.float64)
    return -np.asarray(documents["loglik"], dtype=np.float64) / (np.maximum(nbytes, 1.0) * math.log(2))


def document_rows(a: Outcome, b: Outcome) -> list[list[int]]:
    """``[position, bytes, bits per byte of a, of b]`` of every document (bits per byte in
    ``1 / BPB_SCALE``), the largest difference first (ties in file order)."""
    assert a.documents is not None and b.documents is not None
    bits_a = np.rint(document_bits(a.documents) * BPB_SCALE).astype(np.int64)
    bits_b = np.rint(document_bits(b.documents) * BPB_SCALE).astype(np.int64)
    positions = np.arange(len(bits_a))
    order = np.lexsort((positions, -np.abs(bits_a - bits_b)))
    nbytes = np.asarray(a.documents["bytes"], dtype=np.int64)
    return [[int(i), int(nbytes[i]), int(bits_a[i]), int(bits_b[i])] for i in order]


# ------------------------------------------------------------------ the page


@dataclass(frozen=True)
class Side:
    """One of the two entries, as the page names it."""

    name: str
    """Display name (escaped by the template)."""
    submission: str
    """Submission id."""
    href: str
    """Model page, site-relative."""
    examples_href: str
    """Its example browser on this task ("" where there is none)."""
    rank: str
    """Rank on the task as shown (``=1`` when shared)."""
    value: str
    """Primary metric, formatted."""


def comparison_context(
    task: Task,
    rows: Sequence[RankedRow],
    i: int,
    j: int,
    examples: Examples | None,
    common: dict[str, Any],
    interval: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Rows ``i`` and ``j`` of a task's ranking compared: test, difference (``interval``: its
    95% interval, from :func:`pair_intervals`), disagreements."""
    stats = rows[i].comparisons
    assert stats is not None
    if interval is None:
        interval = stats.difference(rows[i].index, rows[j].index)
    first, second = rows[i], rows[j]
    metric = task.primary_metric
    a, b = first.entry.outcome, second.entry.outcome
    assert a is not None and b is not None
    context: dict[str, Any] = {
        **common,
        "root": "../../",
        "page_title": f"{first.entry.name} and {second.entry.name} on {task.title}",
        "updated": updated(common, entry_dates([first.entry, second.entry])),
        "task": task,
        "task_href": task_url(task.name),
        "a": _side(first, task, examples),
        "b": _side(second, task, examples),
        "entries": len(rows),
        "metric": METRICS[metric].label,
        "percent": is_percent(metric),
        "direction": "higher" if METRICS[metric].higher_is_better else "lower",
        "units": "documents" if task.type == "perplexity" else "examples",
        "unit": "document" if task.type == "perplexity" else "example",
        "test": significance_view(stats, first.index, second.index, len(rows)),
        "difference": difference_view(metric, first, second, interval, stats.samples.shape[0]),
        "data_src": task_data_url(task.name) if examples is not None else "",
        "page_size": PAGE_SIZE,
    }
    if a.documents is not None and b.documents is not None:
        return {**context, **_documents(task, a, b, examples)}
    assert examples is not None
    return {**context, **_labels(task, a, b, examples)}


def _side(row: RankedRow, task: Task, examples: Examples | None) -> Side:
    e = row.entry
    return Side(
        name=e.name,
        submission=e.submission,
        href=model_url(e.submission),
        examples_href=examples_url(e.submission, task.name) if has_examples(e.outcome, examples) else "",
        rank=rank_text(row.rank, row.sharing),
        value=format_value(task.primary_metric, e.value(task.primary_metric)),
    )


def significance_view(stats: Comparisons, i: int, j: int, entries: int) -> dict[str, Any]:
    """The paired test of entries ``i`` and ``j`` (columns of ``stats``) as the page states it."""
    pairs = entries * (entries - 1) // 2
    if stats.better[i, j]:
        verdict = "first"
    elif stats.better[j, i]:
        verdict = "second"
    else:
        verdict = "neither"
    return {
        "method": stats.method,
        "mcnemar": stats.method.startswith("McNemar"),
        "p_raw": p_text(float(stats.p_raw[i, j])),
        "p_holm": p_text(float(stats.p_holm[i, j])),
        "pairs": pairs,
        "alpha": f"{ALPHA:g}",
        "verdict": verdict,
    }


def difference_view(
    metric: str, first: RankedRow, second: RankedRow, interval: tuple[float, float], resamples: int
) -> dict[str, str]:
    """The primary metric of the first minus the second, with its 95% paired-bootstrap interval."""
    low, high = interval
    point = (first.entry.value(metric) or 0.0) - (second.entry.value(metric) or 0.0)
    unit = " pp" if is_percent(metric) else ""
    return {
        "point": signed(metric, point) + unit,
        "low": signed(metric, low) + unit,
        "high": signed(metric, high) + unit,
        "resamples": f"{resamples:,}",
    }


def signed(metric: str, value: float) -> str:
    """A difference of ``metric`` as shown: its display precision, with a sign.

    >>> signed("accuracy", 0.0082), signed("bits_per_byte", -0.01234), signed("accuracy", 0.0)
    ('+0.82', '−0.0123', '0.00')
    """
    text = format_value(metric, abs(value))
    if text.strip("0.,") == "":
        return text
    return ("+" if value > 0 else "−") + text


def p_text(p: float) -> str:
    """A p-value as the page shows it.

    >>> p_text(0.000012), p_text(0.0312), p_text(0.254), p_text(1.0)
    ('< 0.0001', '0.031', '0.25', '1.00')
    """
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def _labels(task: Task, a: Outcome, b: Outcome, examples: Examples) -> dict[str, Any]:
    assert a.pred is not None and b.pred is not None and a.prob is not None and b.prob is not None
    labels = list(task.labels)
    table = two_by_two(a, b, examples.labels)
    order = disagreements(a, b)
    qa, qb = permille(a.prob), permille(b.prob)
    pa, pb = a.pred.astype(np.int64), b.pred.astype(np.int64)
    data = np.column_stack((order, pa[order], qa[order], pb[order], qb[order])).tolist()
    rows = disagreement_rows(order[:PAGE_SIZE], examples, labels, (pa, qa), (pb, qb))
    return {
        "kind": "labels",
        "table": table,
        "disagree": len(order),
        "discordant": table.only_a + table.only_b,
        "table_p": p_text(table.p_value),
        "rows": rows,
        "rows_html": disagreement_rows_html(rows),
        "data": script_json({"task": task.name, "kind": "labels", "rows": data}),
    }


def _documents(task: Task, a: Outcome, b: Outcome, examples: Examples | None) -> dict[str, Any]:
    data = document_rows(a, b)
    texts = examples.texts if examples is not None else ()
    rows = [
        DocumentRow(
            doc=k + 1,
            text=excerpt(texts[k]) if k < len(texts) else "",
            nbytes=nbytes,
            a=bits_text(x),
            b=bits_text(y),
            difference=bits_text(x - y, sign=True),
        )
        for k, nbytes, x, y in data[:PAGE_SIZE]
    ]
    return {
        "kind": "documents",
        "documents": len(data),
        "rows": rows,
        "rows_html": document_rows_html(rows),
        "data": script_json({"task": task.name, "kind": "documents", "rows": data}),
    }
