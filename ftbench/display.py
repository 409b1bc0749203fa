"""How numbers read, wherever they are shown (site pages, downloads, the pull-request report):
values, intervals, column headings, and the lists of efficiency columns a ranking shows.
Pure string work; directions, units and what a metric is computed from come from the metric
registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ftbench.metrics import METRICS

EFFICIENCY_COLUMNS = (
    "latency_ms",
    "examples_per_s",
    "model_memory_mb",
    "parameters_effective",
    "parameters_trainable",
    "adapter_size_bytes",
)
"""The efficiency figures a classification ranking shows beside the quality metrics, in this order."""
LM_EFFICIENCY_COLUMNS = (
    "prefill_tokens_per_s",
    "decode_tokens_per_s",
    "ttft_ms_p50",
    "model_memory_mb",
    "parameters_effective",
    "model_size_bytes",
)
"""The efficiency figures a perplexity ranking shows (every entry is a language model)."""
PERCENT_EVIDENCE = ("predictions", "normalised predictions")
"""Metrics recomputed from predicted labels are shares of examples: shown as percentages."""


DEFAULT_COLUMNS = frozenset(
    {
        "latency_ms",
        "examples_per_s",
        "model_memory_mb",
        "parameters_trainable",
        "adapter_size_bytes",
        "prefill_tokens_per_s",
        "ttft_ms_p50",
        "model_size_bytes",
    }
)
"""Efficiency columns a ranking shows by default (the decision: speed, memory, what was
trained, what it weighs); the others and the secondary quality metrics are behind the column
chooser."""


def optional_columns(task_type: str, columns: Sequence[str]) -> frozenset[str]:
    """Which of a ranking's metric ``columns`` (primary first) are hidden until chosen.

    >>> sorted(optional_columns("classification", ["accuracy", "f1_macro", "latency_ms", "parameters_effective"]))
    ['f1_macro', 'parameters_effective']
    """
    shown = set(DEFAULT_COLUMNS)
    if task_type == "perplexity":
        shown.add("parameters_effective")  # a language model's size is what it computes with
    return frozenset(c for c in columns[1:] if c not in shown)


def rank_text(rank: int, sharing: int) -> str:
    """A rank as the site and the report show it: ``=2`` when ``sharing`` (entries with that
    rank) is above one.

    >>> rank_text(2, 2), rank_text(2, 1)
    ('=2', '2')
    """
    return f"={rank}" if sharing > 1 else str(rank)


def delta_text(metric: str, value: float | None, leader: float | None) -> str:
    """A score's difference to the leader's, as a ranking shows it: points for shares of
    examples, the metric's own scale otherwise; "" for the leader itself or a missing value.

    >>> delta_text("accuracy", 0.8622, 0.8704), delta_text("bits_per_byte", 1.0296, 1.0156)
    ('−0.8', '+0.0140')
    >>> delta_text("accuracy", 0.9, 0.9)
    ''
    """
    if value is None or leader is None or value == leader:
        return ""
    d = display_scale(metric) * (value - leader)
    text = f"{d:+.1f}" if is_percent(metric) else f"{d:+.4f}" if _STYLES.get(metric) == "bits" else f"{d:+.2f}"
    return text.replace("-", "−")


def efficiency_columns(task_type: str) -> tuple[str, ...]:
    """The efficiency columns of a ranking of a task of ``task_type``.

    >>> efficiency_columns("perplexity")[0], efficiency_columns("classification")[0]
    ('prefill_tokens_per_s', 'latency_ms')
    """
    return LM_EFFICIENCY_COLUMNS if task_type == "perplexity" else EFFICIENCY_COLUMNS


def is_measured(metric: str) -> bool:
    """Whether a figure is timed or metered by the run (latency, throughput, memory), so that
    a record's validity flags (``ftbench.measure.FLAGS``) apply to it; counts and sizes are
    exact on any machine.

    >>> is_measured("latency_ms"), is_measured("parameters_effective"), is_measured("adapter_size_bytes")
    (True, False, False)
    """
    m = METRICS[metric]
    return m.kind == "efficiency" and m.unit not in ("", "B")


def is_percent(metric: str) -> bool:
    """Whether ``metric`` is a share of examples, shown ×100 with a ``%``.

    >>> is_percent("accuracy"), is_percent("accuracy_norm"), is_percent("bits_per_byte"), is_percent("latency_ms")
    (True, True, False, False)
    """
    if metric not in METRICS:
        return False
    m = METRICS[metric]
    return m.kind == "quality" and m.evidence in PERCENT_EVIDENCE


def display_scale(metric: str) -> float:
    """What a value is multiplied by before it is shown (or charted): 100 for percentages."""
    return 100.0 if is_percent(metric) else 1.0


def compact_number(value: float) -> str:
    """Compact label: ``0.5``, ``20``, ``1.5k``, ``2M``.

    >>> compact_number(1500.0), compact_number(22_700_000.0), compact_number(0.5)
    ('1.5k', '22.7M', '0.5')
    """
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def plain_value(value: object) -> str:
    """A figure that is not a registered metric, as shown: 3 significant digits (from 1,000
    whole, with separators), ``—`` for none.

    >>> plain_value(0.45738), plain_value(12345.6), plain_value(7), plain_value(None)
    ('0.457', '12,346', '7', '—')
    """
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


def format_value(metric: str, value: object) -> str:
    """A metric's value as shown in a table: shares of examples as a percentage, perplexities
    with 2 decimals, bits per byte with 4, sizes compacted.

    >>> format_value("accuracy", 0.91234), format_value("adapter_size_bytes", 3 * 2**20)
    ('91.23', '3.0 MiB')
    >>> format_value("bits_per_byte", 1.03807), format_value("token_perplexity", 19.7721)
    ('1.0381', '19.77')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    style = _STYLES.get(metric, "")
    if style == "percent":
        return f"{100 * value:.2f}"
    if style == "perplexity":
        return f"{value:,.2f}"
    if style == "bits":
        return f"{value:.4f}"
    if style == "count":
        return compact_number(float(f"{value:.3g}"))
    if style == "bytes":
        return _bytes(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _style(name: str) -> str:
    m = METRICS[name]
    if is_percent(name):
        return "percent"
    if m.kind == "quality":  # from documents: perplexities, and bits per byte
        return "perplexity" if name.endswith("perplexity") else "bits"
    if name.startswith("parameters"):
        return "count"
    return "bytes" if m.unit == "B" else ""


# How each registered metric is displayed (looked up once: this runs for every table cell).
_STYLES = {name: _style(name) for name in METRICS.names()}
_INTERVAL_DECIMALS = {"percent": 1, "perplexity": 2, "bits": 3}


def interval_text(metric: str, bounds: tuple[float, float] | None) -> str:
    """A confidence interval as shown next to its score: ``84.2–87.4`` (percent for shares of
    examples, the metric's own scale otherwise).

    >>> interval_text("accuracy", (0.8421, 0.8737)), interval_text("accuracy", None)
    ('84.2–87.4', '')
    >>> interval_text("bits_per_byte", (0.91824, 1.06527)), interval_text("word_perplexity", (23.978, 41.9459))
    ('0.918–1.065', '23.98–41.95')
    """
    if not bounds:
        return ""
    scale = display_scale(metric)
    decimals = _INTERVAL_DECIMALS.get(_STYLES.get(metric, ""), 1)
    return f"{scale * bounds[0]:.{decimals}f}–{scale * bounds[1]:.{decimals}f}"


def value_at_precision(metric: str, value: float | None, bounds: tuple[float, float] | None) -> str:
    """A score rounded to what its interval supports: two significant digits of the interval's
    half-width (a score of 86.22 with a half-width of 1.6 points reads ``86.2``), never more
    decimals than :func:`format_value` shows; as :func:`format_value` without an interval.

    >>> value_at_precision("accuracy", 0.86224, (0.846, 0.878)), value_at_precision("accuracy", 0.86224, None)
    ('86.2', '86.22')
    >>> value_at_precision("bits_per_byte", 1.01563, (1.0101, 1.0212)), value_at_precision("accuracy", 0.5, (0.3, 0.7))
    ('1.0156', '50')
    """
    full = format_value(metric, value)
    if value is None or not bounds or _STYLES.get(metric, "") not in _ROUNDED:
        return full
    scale = display_scale(metric)
    half = scale * abs(bounds[1] - bounds[0]) / 2
    if not math.isfinite(half) or half <= 0:
        return full
    decimals = max(0, 1 - math.floor(math.log10(half)))
    decimals = min(decimals, _ROUNDED[_STYLES.get(metric, "")])
    return f"{scale * value:,.{decimals}f}"


_ROUNDED = {"percent": 2, "perplexity": 2, "bits": 4}
"""Styles rounded to their interval, with the most decimals each shows."""


def value_unit(metric: str) -> str:
    """The unit a formatted value is read in: ``%``, ``ms``, ``tok/s``; "" for perplexities,
    counts and sizes (a size carries its own unit).

    >>> value_unit("accuracy"), value_unit("ttft_ms_p50"), value_unit("bits_per_byte")
    ('%', 'ms', '')
    """
    if is_percent(metric):
        return "%"
    m = METRICS[metric]
    return "" if m.kind == "quality" or m.unit == "B" else m.unit


def metric_heading(metric: str) -> str:
    """Column heading with its unit: ``Accuracy (%)``, ``Bits per byte``; a label that ends in
    a parenthesis takes the unit inside it (``Latency (batch 1, ms)``).

    >>> metric_heading("accuracy"), metric_heading("prefill_tokens_per_s"), metric_heading("token_perplexity")
    ('Accuracy (%)', 'Prefill (tok/s)', 'Token perplexity')
    >>> metric_heading("latency_ms")
    'Latency (batch 1, ms)'
    """
    unit = value_unit(metric)
    label = METRICS[metric].label
    if unit and label.endswith(")"):
        return f"{label[:-1]}, {unit})"
    return f"{label} ({unit})" if unit else label


def direction(metric: str) -> str:
    """``higher`` or ``lower``: which way is better, as a page says it."""
    return "higher" if METRICS[metric].higher_is_better else "lower"


def _bytes(value: float) -> str:
    for limit, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= limit:
            return f"{value / limit:.1f} {unit}"
    return f"{value:.0f} B"
