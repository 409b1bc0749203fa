"""The example browser of a classification record (``models/<sub>/<task>.html``): its held-out
examples with gold label, prediction and confidence, filterable by confusion cell, by right or
wrong and by confidence; and the data file of each task that these and the comparison pages
share (``examples/<task>.js``). Pure, no I/O.

A page stays light whatever the task's size. The texts live once per task, in a script file
(``fetch()`` does not work from ``file://``, a ``<script src>`` does); a record's page carries
only its predictions and confidences, as two integer arrays of inline JSON; and only the first
page of rows is HTML: the most confident errors, which is also what a reader without
JavaScript sees. ``static/browse.js`` filters and pages through the rest, writing every string
with ``textContent``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

import numpy as np
from markupsafe import Markup, escape

from ftbench.board.ranking_cache import outcome_digest
from ftbench.board.snapshot import CardedSubmission, LoadedRecord, Shard
from ftbench.compare import Outcome
from ftbench.metrics import confusion_counts
from ftbench.site.context import MAX_MATRIX_LABELS, Page, examples_url, model_url, page_key, task_url, updated
from ftbench.site.example_rows import example_rows, example_rows_html
from ftbench.tasks import Examples, Task

PAGE_SIZE = 50
"""Rows per page of the example browser and of a comparison's disagreements."""
TOP_CELLS = 20
"""Confusions listed as filters where a task has too many labels for a matrix."""
EXCERPT = 160
"""Characters of a document a comparison page shows (perplexity tasks)."""
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def task_data_url(task: str) -> str:
    """Site-relative URL of a task's shared data file (labels, gold labels, texts)."""
    return f"examples/{quote(task)}.js"


def has_examples(outcome: Outcome | None, examples: Sized | None) -> bool:
    """Whether a current record gets an example browser: it has per-example predictions
    aligned with the task's readable held-out examples (``examples``: them, or anything of
    their number: a readable task's data has exactly ``Task.num_examples``)."""
    return outcome is not None and outcome.pred is not None and examples is not None and outcome.size == len(examples)


def script_json(value: object) -> Markup:
    """Compact JSON that is safe inside a ``<script>`` element or a script file: no ``<``,
    ``>`` or ``&`` (so no ``</script>``), no line separators.

    >>> str(script_json({"t": "</script>"}))
    '{"t":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True)
    for raw, escaped in _SCRIPT_ESCAPES:
        text = text.replace(raw, escaped)
    return Markup(text)  # safe: JSON with every character that could end the element escaped


def permille(prob: np.ndarray) -> np.ndarray:
    """Confidences as integers 0-1000, the precision the pages show (``97.3%``) and sort by.

    >>> permille(np.array([0.97349, 1.2, 0.0004], dtype=np.float32)).tolist()
    [973, 1000, 0]
    """
    return np.rint(np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0) * 1000).astype(np.int64)


def most_confident_first(positions: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """``positions`` by confidence, highest first; ties in file order (as the script sorts).

    >>> most_confident_first(np.array([0, 1, 2, 3]), np.array([5, 9, 5, 7])).tolist()
    [1, 3, 0, 2]
    """
    positions = np.asarray(positions, dtype=np.int64)
    return positions[np.lexsort((positions, -np.asarray(conf)[positions]))]


def task_data(task: Task, examples: Examples) -> bytes:
    """``examples/<task>.js``: the task's labels, gold labels and texts (a perplexity task's
    documents as excerpts), assigned into the global ``FTB_TASKS`` for the pages to read."""
    texts = [excerpt(t) for t in examples.texts] if task.type == "perplexity" else list(examples.texts)
    payload: dict[str, Any] = {"labels": list(task.labels), "gold": list(examples.labels), "texts": texts}
    if examples.idx != tuple(range(len(examples))):
        payload["idx"] = list(examples.idx)
    line = f"(window.FTB_TASKS = window.FTB_TASKS || {{}})[{script_json(task.name)}] = {script_json(payload)};\n"
    return line.encode()


def excerpt(text: str, size: int = EXCERPT) -> str:
    """The start of a document, whitespace collapsed.

    >>> excerpt(" = Basalt = \\n Basalt is a rock .", 20)
    '= Basalt = Basalt i…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


# ------------------------------------------------------------------ confusions


def confusion_table(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], link: str | None = None, anchors: bool = False
) -> Markup | None:
    """The confusion matrix as table rows, each cell shaded 0-9 by its share of the gold row;
    with ``link`` (the example browser's URL, "" on the browser itself) every non-empty cell
    links to the browser filtered on it (``#cell=<gold>-<pred>``), and with ``anchors`` the
    cell carries that id, so the link lands on the cell even without JavaScript. None when the
    task has too many labels for a readable matrix.

    Built here rather than in the template: it is the largest table of a model page, and a
    Jinja loop per cell dominated build time.
    """
    if len(labels) > MAX_MATRIX_LABELS or len(matrix) != len(labels):
        return None
    target = "" if link is None else escape(link)
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in labels)
    rows = [
        f'<thead><tr><th scope="col"><span class="visually-hidden">Gold \\ predicted</span></th>{head}</tr></thead>',
        "<tbody>",
    ]
    for g, (label, counts) in enumerate(zip(labels, matrix, strict=True)):
        total = sum(counts) or 1
        cells = []
        for p, count in enumerate(map(int, counts)):
            inner = str(count)
            if link is not None and count:
                ident = f' id="cell={g}-{p}"' if anchors else ""
                inner = f'<a href="{target}#cell={g}-{p}"{ident}>{count}</a>'
            cells.append(f'<td class="num h{(18 * count + total) // (2 * total)}">{inner}</td>')
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{"".join(cells)}</tr>')
    rows.append("</tbody>")
    return Markup("\n".join(rows))


def top_cells(matrix: Sequence[Sequence[int]] | np.ndarray, n: int) -> list[tuple[int, int, int]]:
    """The ``n`` most frequent mistakes as ``(gold, predicted, count)``, largest first, ties in
    row order.

    >>> top_cells([[5, 2, 0], [0, 4, 3], [1, 0, 6]], 2)
    [(1, 2, 3), (0, 1, 2)]
    """
    counts = np.array(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        return []
    np.fill_diagonal(counts, 0)
    flat = counts.ravel()
    k = counts.shape[0]
    order = np.argsort(-flat, kind="stable")[:n]  # numpy: a 77-label matrix has 5,929 cells
    return [(int(i) // k, int(i) % k, int(flat[i])) for i in order if flat[i] > 0]


@dataclass(frozen=True)
class Confusion:
    """One frequent mistake, as a link to the examples that make it."""

    gold: str
    """Gold label."""
    pred: str
    """Predicted label."""
    count: int
    """Examples."""
    href: str
    """The example browser filtered on it ("" where there is no browser)."""
    anchor: str
    """Its id on the browser itself (``cell=<gold>-<pred>``)."""


def confusion_links(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], n: int, link: str | None
) -> list[Confusion]:
    """The ``n`` most frequent mistakes with links to the browser (``link``; None: no links)."""
    return [
        Confusion(labels[g], labels[p], count, "" if link is None else f"{link}#cell={g}-{p}", f"cell={g}-{p}")
        for g, p, count in top_cells(matrix, n)
    ]


# ------------------------------------------------------------------ the browser page


def example_pages(
    shard: Shard, tasks: Sequence[Task], held_out: Mapping[str, Examples], common: dict[str, Any], salt: str = ""
) -> list[Page]:
    """One example browser per current classification record of ``shard`` with predictions
    (``salt``: see ``context.page_key``; a page's key is its record's stamp and its
    submission's spec)."""
    by_name = {t.name: t for t in tasks}
    subs = {s.spec.id: s for s in shard.submissions}
    spec_keys = {sub_id: s.spec_key for sub_id, s in subs.items()} if salt else {}
    pages = []
    for loaded in sorted(shard.records, key=lambda r: (r.record.submission.id, r.record.task.name)):
        name, sub_id = loaded.record.task.name, loaded.record.submission.id
        task, examples = by_name.get(name), held_out.get(name)
        if loaded.status != "current" or task is None or sub_id not in subs:
            continue
        if examples is not None and has_examples(loaded.outcome, examples):
            context = partial(examples_context, task, subs[sub_id], loaded, examples, common)
            # what it shows of its record: its predictions and its date (not its efficiency figures)
            shown = (outcome_digest(loaded.outcome), loaded.record.provenance.finished_at[:10])
            key = page_key(salt, "examples", spec_keys.get(sub_id), loaded.href, shown)
            pages.append(Page(examples_url(sub_id, name), "examples.html.j2", context, key))
    return pages


def examples_context(
    task: Task, sub: CardedSubmission, loaded: LoadedRecord, examples: Examples, common: dict[str, Any]
) -> dict[str, Any]:
    """A record's example browser: its confusions (matrix or top list, each cell a filter) and
    its most confident errors, with the compact data the script pages through."""
    outcome = loaded.outcome
    assert outcome is not None and outcome.pred is not None and outcome.prob is not None
    labels = list(loaded.record.task.labels)
    gold = np.asarray(examples.labels, dtype=np.int64)
    pred = outcome.pred.astype(np.int64)
    conf = permille(outcome.prob)
    seen = pred >= 0
    matrix = confusion_counts(gold[seen], pred[seen], len(labels)).tolist()
    wrong = np.flatnonzero(pred != gold)
    rows = example_rows(most_confident_first(wrong, conf)[:PAGE_SIZE], examples, labels, pred, conf)
    return {
        **common,
        "root": "../../",
        "page_title": f"{sub.spec.name} on {task.title}: examples",
        "updated": updated(common, [sub.spec.date.isoformat(), loaded.record.provenance.finished_at[:10]]),
        "name": sub.spec.name,
        "sub_id": sub.spec.id,
        "task": task,
        "model_href": model_url(sub.spec.id),
        "section": f"task-{task.name}",
        "task_href": task_url(task.name),
        "data_src": task_data_url(task.name),
        "total": len(examples),
        "errors": len(wrong),
        "missing": int(np.sum(~seen)),
        "accuracy": f"{100 * float(np.mean(pred == gold)):.2f}" if len(gold) else "—",
        "matrix": confusion_table(labels, matrix, link="", anchors=True),
        "confusions": confusion_links(labels, matrix, TOP_CELLS, "") if len(labels) > MAX_MATRIX_LABELS else [],
        "rows": rows,
        "rows_html": example_rows_html(rows),
        "page_size": PAGE_SIZE,
        "data": script_json({"task": task.name, "pred": pred.tolist(), "conf": conf.tolist()}),
    }
