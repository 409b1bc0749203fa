"""Table fragments built in Python rather than in Jinja loops: the metric cells of a ranking
row and the tables of a result (metrics, per-label scores, confusions, efficiency).

They are the site's largest tables, repeated on every row and every model page, and a Jinja
loop per cell was most of a large board's rendering time. Every contributor or label string
is escaped here, since the fragments reach the templates as markup.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence

import numpy as np
from markupsafe import Markup

from ftbench.display import (
    format_value,
    interval_text,
    is_measured,
    is_percent,
    metric_heading,
    plain_value,
    value_at_precision,
)
from ftbench.leaderboard import Entry
from ftbench.metrics import METRICS
from ftbench.site.context import MAX_MATRIX_LABELS
from ftbench.site.measurement import RANGED, flag_marker, recorded_range, spread

TOP_CONFUSIONS = 10
_MEASURED = {name: is_measured(name) for name in METRICS.names()}  # looked up for every cell


# Efficiency keys that are not ranked metrics, so not in METRICS: (label, unit).
OTHER_FIGURES = {
    "batch_latency_ms_p50": ("Batch latency, median", "ms"),
    "batch_latency_ms_p95": ("Batch latency, 95th percentile", "ms"),
    "load_time_s": ("Model load time", "s"),
    "n_tokens": ("Tokens scored", ""),
    "batch_size": ("Batch size", ""),
    "generation_prompts": ("Generation prompts timed", ""),
    "generation_new_tokens": ("New tokens per generation", ""),
    "resumed_documents": ("Documents resumed from a checkpoint", ""),
    "pass_examples_per_s": ("Throughput of the scoring pass", "ex/s"),
    "pass_streams": ("Batches side by side in the scoring pass (its batch latencies are under it)", ""),
    "pass_alone_peak_memory_mb": ("Process peak, the scoring pass's batches run one at a time", "MiB"),
    "rss_before_load_mb": ("Memory before loading the model", "MiB"),
    "hardware_profile": ("Hardware profile", ""),
    "remeasured_at": ("Figures re-measured at", ""),
    "memory_kind": ("Memory measured as", ""),
    "device": ("Device", ""),
    "dtype": ("Weights dtype", ""),
}


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


@functools.lru_cache(maxsize=4096)
def breakable_label(label: str) -> str:
    """A label name escaped, with a line-break opportunity after each underscore of a long one
    (Banking77's ``balance_not_updated_after_cheque_or_cash_deposit``), so that a table of
    them fits a narrow column without breaking inside words.

    >>> breakable_label("balance_not_updated_after_cheque"), breakable_label("a_b")
    ('balance_<wbr>not_<wbr>updated_<wbr>after_<wbr>cheque', 'a_b')
    """
    text = html_text(label)
    return text.replace("_", "_<wbr>") if len(label) > 16 else text


def metric_cells(
    entry: Entry,
    columns: Sequence[str],
    flags: tuple[str, ...] = (),
    optional: frozenset[str] = frozenset(),
    extra: str = "",
) -> Markup:
    """``<td>`` cells of ``columns``: the formatted value, and the raw one for sorting (the
    first is the primary metric, with its confidence interval and ``extra`` markup after it).
    A measured efficiency figure shows the half-width of its measured range (the range itself
    in the cell's title) and, when the record is ``flags``-ged, the flag marker. Every cell
    names its column (``data-label``, the heading a card layout shows) and the ``optional``
    ones carry ``data-opt`` (hidden until chosen). Built here, not in the template: ten
    cells a row, two interpolations each, were most of a large task page's rendering time.

    >>> str(metric_cells(Entry("s", "S", "lora", "b", "2026-01-01", {"accuracy": 0.5}, {}), ["accuracy", "latency_ms"]))
    '<td class="num primary" data-sort="0.5" data-label="Accuracy (%)">50.00</td>\\n<td class="num" data-sort="" data-label="Latency (batch 1, ms)">—</td>'
    >>> e = Entry("s", "S", "lora", "b", "2026", {}, {"latency_ms": 2, "latency_ms_lo": 1.9, "latency_ms_hi": 2.1})
    >>> print(metric_cells(e, ["accuracy", "latency_ms"], ("cpu-steal",), frozenset({"latency_ms"})).split("\\n")[1][16:155])
    data-sort="2.0" data-label="Latency (batch 1, ms)" data-opt="latency_ms" title="measured range 1.9–2.1 ms">2 <small class="rng">±5%</small>
    """
    cells = []
    for i, column in enumerate(columns):
        value = entry.value(column)
        raw = "" if value is None else repr(value)  # a float's repr needs no escaping
        text, title = html_text(format_value(column, value)), ""
        if i == 0:
            bounds = entry.intervals.get(column)
            text = html_text(value_at_precision(column, value, bounds))
            ci = interval_text(column, bounds)
            if ci:
                text += f' <small class="ci">{ci}</small>'
            text += extra
        elif value is not None and column in RANGED:
            plus, title = spread(column, value, entry.interval(column))
            if plus:
                text += f' <small class="rng">{plus}</small>'
                title = f' title="{title}"'
        if flags and value is not None and _MEASURED.get(column, False):
            text += " " + flag_marker(flags)
        opt = f' data-opt="{column}"' if column in optional else ""
        cells.append(
            f'<td class="num{" primary" if i == 0 else ""}" data-sort="{raw}" data-label="{_heading(column)}"{opt}'
            f"{title}>{text}</td>"
        )
    return Markup("\n".join(cells))  # one cell a line, as before: golden diffs stay readable


@functools.lru_cache(maxsize=256)
def _heading(column: str) -> str:
    return html_text(metric_heading(column))


def interval_bar(bounds: tuple[float, float] | None, value: float | None, scale: tuple[float, float]) -> str:
    """A small inline SVG of a score's 95% interval on the table's common ``scale`` (low, high):
    the interval as a line, the score as a dot, so overlapping intervals are seen at a glance
    (SVG geometry, not a style attribute: the pages' CSP allows no inline styles).

    >>> interval_bar((0.4, 0.6), 0.5, (0.0, 1.0))
    '<svg class="cibar" viewBox="0 0 100 8" aria-hidden="true" focusable="false"><line class="track" x1="0" x2="100" y1="4" y2="4"/><line x1="40.0" x2="60.0" y1="4" y2="4"/><circle cx="50.0" cy="4" r="2.5"/></svg>'
    """
    lo, hi = scale
    if bounds is None or value is None or not hi > lo:
        return ""

    def x(v: float) -> str:
        return f"{100 * min(max((v - lo) / (hi - lo), 0.0), 1.0):.1f}"

    return (
        '<svg class="cibar" viewBox="0 0 100 8" aria-hidden="true" focusable="false">'
        '<line class="track" x1="0" x2="100" y1="4" y2="4"/>'
        f'<line x1="{x(bounds[0])}" x2="{x(bounds[1])}" y1="4" y2="4"/><circle cx="{x(value)}" cy="4" r="2.5"/></svg>'
    )


def metric_rows(
    metrics: Mapping[str, float], primary: str, intervals: Mapping[str, tuple[float, float]] | None = None
) -> Markup:
    """Rows of a record's quality metrics (shares of examples in percent, perplexities as they
    are), the primary one marked, each with its 95% confidence interval where the record has one.

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
        unit = "%" if name not in METRICS or is_percent(name) else ""
        rows.append(
            f'<tr{mark}><th scope="row">{label}</th><td class="num">{value}{unit}</td><td class="num ci">{ci}</td></tr>'
        )
    return Markup("\n".join(rows))


def per_class_rows(per_class: Mapping[str, Mapping[str, object]]) -> Markup:
    """Table rows of per-label precision, recall, F1 (percent) and support.

    Built here for the same reason as :func:`confusion_view`: one row per label of every
    task on every submission page (77 on Banking77) made a Jinja loop the build's hot spot.
    """
    return Markup(
        "\n".join(
            f'<tr><td data-sort="{i}">{breakable_label(label)}</td>{_sortable_pct(s.get("precision"))}'
            f"{_sortable_pct(s.get('recall'))}{_sortable_pct(s.get('f1'))}"
            f'<td class="num" data-sort="{_raw_number(s.get("support"))}">{_number(s.get("support"))}</td></tr>'
            for i, (label, s) in enumerate(per_class.items())
        )
    )


def _sortable_pct(value: object) -> str:
    """A per-label percentage cell, sortable by its raw value (labels sort by their id, the
    task's own order, not alphabetically)."""
    return f'<td class="num" data-sort="{_raw_number(value)}">{_pct(value)}</td>'


def _raw_number(value: object) -> str:
    return repr(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _pct(value: object) -> str:
    return f"{100 * value:.2f}" if isinstance(value, int | float) else "—"


def _number(value: object) -> str:
    return str(value) if isinstance(value, int | float) else "—"


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


EFFICIENCY_ORDER = (
    "latency_ms",
    "examples_per_s",
    "tokens_per_s",
    "prefill_tokens_per_s",
    "decode_tokens_per_s",
    "ttft_ms_p50",
    "ttft_ms_p95",
    "batch_latency_ms_p50",
    "batch_latency_ms_p95",
    "pass_streams",
    "pass_examples_per_s",
    "model_memory_mb",
    "peak_memory_mb",
    "pass_alone_peak_memory_mb",
    "rss_before_load_mb",
    "parameters_total",
    "parameters_base",
    "parameters_trainable",
    "parameters_effective",
    "adapter_size_bytes",
    "model_size_bytes",
    "load_time_s",
)
"""The order a model page lists efficiency figures in: speed, then memory, then size, then
the rest by name (the settings they were measured under last)."""


def _efficiency_key(key: str) -> tuple[int, str]:
    return (EFFICIENCY_ORDER.index(key), "") if key in EFFICIENCY_ORDER else (len(EFFICIENCY_ORDER), key)


def efficiency_rows(efficiency: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(label, text with unit)`` of every flat efficiency figure, speed first, then memory
    and size (:data:`EFFICIENCY_ORDER`), then the rest by name, a measured range beside its
    figure, every number in its metric's format; the nested details (distributions,
    validity, an unmerged adapter's figures) have tables of their own
    (``ftbench.site.measurement``).

    >>> efficiency_rows({"model_memory_mb": 300.0, "latency_ms": 2.5, "latency_ms_lo": 2.4, "latency_ms_hi": 2.6, "latency": {}})
    [('Latency (batch 1)', '2.5 ms (range 2.4–2.6)'), ('Model memory', '300 MiB')]
    """
    out = []
    for key in sorted(efficiency, key=_efficiency_key):
        value = efficiency[key]
        if isinstance(value, Mapping | list) or (key.endswith(("_lo", "_hi")) and key[:-3] in efficiency):
            continue
        if key in METRICS:
            m = METRICS[key]
            unit = "" if m.unit == "B" or key.startswith("parameters") else m.unit
            label, text = m.label, format_value(key, value)
        else:
            label, unit = OTHER_FIGURES.get(key, (key.replace("_", " "), ""))
            text = plain_value(value)
        text += f" {unit}" if unit else ""
        bounds = recorded_range(efficiency, key)
        if bounds is not None:
            text += f" (range {format_value(key, bounds[0])}–{format_value(key, bounds[1])})"
        out.append((label, text))
    return out


def efficiency_table(efficiency: Mapping[str, object]) -> Markup:
    """:func:`efficiency_rows` as table rows (built here: 30 rows a record, on every page).

    >>> print(efficiency_table({"latency_ms": 2.5, "device": "cpu"}))
    <tr><th scope="row">Latency (batch 1)</th><td class="num">2.5 ms</td></tr>
    <tr><th scope="row">Device</th><td class="num">cpu</td></tr>
    """
    return Markup(
        "\n".join(
            f'<tr><th scope="row">{_escaped(label)}</th><td class="num">{html_text(text)}</td></tr>'
            for label, text in efficiency_rows(efficiency)
        )
    )


def lm_efficiency_rows(efficiency: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(label, text with units)`` of a language model's serving figures, in reading order:
    prefill and decode throughput, time to first token, peak memory, the checkpoint as
    published against the weights as evaluated (a GGUF file and its dequantised tensors), and
    the conversion time. Figures the record lacks are left out.

    >>> lm_efficiency_rows({"prefill_tokens_per_s": 155.5, "ttft_ms_p50": 191.7, "ttft_ms_p95": 2174.0})
    [('Prefill', '156 tok/s'), ('Time to first token', '192 ms median, 2,174 ms 95th percentile')]
    """
    e = efficiency
    rows = []
    if _has(e, "prefill_tokens_per_s"):
        rows.append(("Prefill", f"{format_value('prefill_tokens_per_s', e['prefill_tokens_per_s'])} tok/s"))
    if _has(e, "decode_tokens_per_s"):
        text = f"{format_value('decode_tokens_per_s', e['decode_tokens_per_s'])} tok/s"
        if _has(e, "generation_prompts") and _has(e, "generation_new_tokens"):
            text += f" (greedy, batch 1: {e['generation_prompts']} prompts × {e['generation_new_tokens']} new tokens)"
        rows.append(("Decode", text))
    if _has(e, "ttft_ms_p50"):
        text = f"{format_value('ttft_ms_p50', e['ttft_ms_p50'])} ms median"
        if _has(e, "ttft_ms_p95"):
            text += f", {format_value('ttft_ms_p95', e['ttft_ms_p95'])} ms 95th percentile"
        rows.append(("Time to first token", text))
    if _has(e, "peak_memory_mb"):
        kind = {"rss": " (process RSS)", "cuda": " (device memory)"}.get(str(e.get("memory_kind")), "")
        rows.append(("Peak memory", f"{format_value('peak_memory_mb', e['peak_memory_mb'])} MiB{kind}"))
    rows += _size_rows(e)
    if _has(e, "conversion_time_s"):
        seconds = float(e["conversion_time_s"])  # type: ignore[arg-type]
        rows.append(("Conversion time", f"{seconds:.3g} s" + (" (already converted)" if seconds == 0 else "")))
    return rows


def _size_rows(e: Mapping[str, object]) -> list[tuple[str, str]]:
    """The checkpoint as published and the weights as evaluated, when they differ."""
    source, loaded = e.get("source_size_bytes"), e.get("model_size_bytes")
    if not _has(e, "model_size_bytes"):
        return []
    if not _has(e, "source_size_bytes") or source == loaded:
        return [("Weights", format_value("model_size_bytes", loaded))]
    ratio = float(loaded) / float(source) if source else 0.0  # type: ignore[arg-type]
    return [
        ("Checkpoint as published", format_value("source_size_bytes", source)),
        ("Weights as evaluated", f"{format_value('model_size_bytes', loaded)} ({ratio:.1f}× the checkpoint)"),
    ]


def _has(e: Mapping[str, object], key: str) -> bool:
    value = e.get(key)
    return isinstance(value, int | float) and not isinstance(value, bool)


def facts_table(rows: Sequence[tuple[str, str]]) -> Markup:
    """``(label, text)`` pairs as the rows of a two-column table, escaped."""
    return Markup("\n".join(f'<tr><th scope="row">{_escaped(k)}</th><td>{html_text(v)}</td></tr>' for k, v in rows))
