"""How numbers read, wherever they are shown (site pages, downloads, the pull-request report):
values, intervals, column headings, and the one list of efficiency columns a ranking shows.
Pure string work; directions and units come from the metric registry.
"""

from __future__ import annotations

from ftbench.metrics import METRICS

EFFICIENCY_COLUMNS = (
    "latency_ms",
    "examples_per_s",
    "peak_memory_mb",
    "parameters_total",
    "parameters_trainable",
    "adapter_size_bytes",
)
"""The efficiency figures a ranking shows beside the quality metrics, in this order."""


def compact_number(value: float) -> str:
    """Compact label: ``0.5``, ``20``, ``1.5k``, ``2M``.

    >>> compact_number(1500.0), compact_number(22_700_000.0), compact_number(0.5)
    ('1.5k', '22.7M', '0.5')
    """
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def format_value(metric: str, value: object) -> str:
    """A metric's value as shown in a table: quality as a percentage, sizes compacted.

    >>> format_value("accuracy", 0.91234), format_value("adapter_size_bytes", 3 * 2**20)
    ('91.23', '3.0 MiB')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    style = _STYLES.get(metric, "")
    if style == "percent":
        return f"{100 * value:.2f}"
    if style == "count":
        return compact_number(float(f"{value:.3g}"))
    if style == "bytes":
        return _bytes(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


# How each registered metric is displayed (looked up once: this runs for every table cell).
_STYLES = {
    name: "percent"
    if m.kind == "quality"
    else "count"
    if name.startswith("parameters")
    else "bytes"
    if m.unit == "B"
    else ""
    for name, m in METRICS.items()
}


def interval_text(metric: str, bounds: tuple[float, float] | None) -> str:
    """A confidence interval as shown next to its score: ``84.2–87.4`` (percent for quality).

    >>> interval_text("accuracy", (0.8421, 0.8737)), interval_text("accuracy", None)
    ('84.2–87.4', '')
    """
    if not bounds:
        return ""
    scale = 100 if METRICS[metric].kind == "quality" else 1
    return f"{scale * bounds[0]:.1f}–{scale * bounds[1]:.1f}"


def metric_heading(metric: str) -> str:
    """Column heading with its unit: ``Accuracy (%)``, ``Latency (ms)``."""
    m = METRICS[metric]
    unit = "%" if m.kind == "quality" else m.unit
    return f"{m.label} ({unit})" if unit and unit != "B" else m.label


def _bytes(value: float) -> str:
    for limit, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= limit:
            return f"{value / limit:.1f} {unit}"
    return f"{value:.0f} B"
