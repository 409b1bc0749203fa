"""How the site shows the way an efficiency figure was measured (``ftbench.measure``): a
figure's measured range, its validity flags, and a model page's measurement blocks (the batch-1
latency distribution, the throughput repeats, memory, parameters, the machine and what else ran
on it, an adapter merged against unmerged). Pure, no I/O.

Records are read defensively: one from before the method has none of the details, and each
block then says "not measured" rather than failing. Every string a record holds is escaped
where it becomes markup (``flag_marker`` here, ``tables.facts_table`` for the blocks).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence

from ftbench.display import format_value, plain_value
from ftbench.leaderboard import Entry, clearly_better
from ftbench.measure import FLAGS
from ftbench.metrics import METRICS

NOT_MEASURED = "not measured"
RANGED = ("latency_ms", "examples_per_s", "tokens_per_s", "prefill_tokens_per_s", "model_memory_mb")
"""Figures a record gives with their measured range (``<name>_lo``, ``<name>_hi``)."""

Rows = list[tuple[str, str]]


def record_flags(efficiency: Mapping[str, object], hardware: str, reference: str) -> tuple[str, ...]:
    """A record's validity flags, decided as the rankings decide them (``Entry.flags``): its
    own, ``not-measured`` when it has none, ``other-hardware`` off the ``reference`` profile.

    >>> record_flags({}, "cpu: A", "cpu: B")
    ('other-hardware', 'not-measured')
    """
    return Entry("", "", "", "", "", {}, efficiency, hardware=hardware).flags(reference)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def flag_text(flags: tuple[str, ...]) -> str:
    """The flags with what each means, as one line.

    >>> flag_text(("cpu-steal",))
    'cpu-steal: the hypervisor took a large share of the CPU time while it was measured'
    """
    return "; ".join(f"{f}: {FLAGS.get(f, 'unknown flag')}" for f in flags)


@functools.lru_cache(maxsize=64)
def flag_marker(flags: tuple[str, ...]) -> str:
    """The ⚑ a flagged figure carries (HTML), naming its flags and their meaning in its title:
    shown on hover, and the accessible name a screen reader reads; "" for none.

    >>> flag_marker(()), flag_marker(("few-iterations",))[:60]
    ('', '<span class="flag" role="img" title="Flagged, not compared: ')
    """
    if not flags:
        return ""
    text = html.escape(f"Flagged, not compared: {flag_text(flags)}", quote=True)
    return f'<span class="flag" role="img" title="{text}">⚑</span>'  # role="img": the title is its name


def spread(metric: str, value: float, bounds: tuple[float, float] | None) -> tuple[str, str]:
    """``(±text, title)`` of a ranked cell: the measured range's half-width against the value,
    and the range itself; empty for an exact figure.

    >>> spread("latency_ms", 2.0, (1.94, 2.06))
    ('±3%', 'measured range 1.94–2.06 ms')
    """
    if bounds is None or bounds[0] == bounds[1] or not value:
        return "", ""
    share = 100 * (bounds[1] - bounds[0]) / 2 / abs(value)
    text = f"±{share:.0f}%" if share >= 10 or share == round(share) else f"±{share:.2g}%"
    return text, f"measured range {range_text(metric, bounds)} {METRICS[metric].unit}".rstrip()


def range_text(metric: str, bounds: tuple[float, float]) -> str:
    """``1.94–2.06``, each end formatted as the figure is."""
    return f"{format_value(metric, bounds[0])}–{format_value(metric, bounds[1])}"


def recorded_range(e: Mapping[str, object], name: str) -> tuple[float, float] | None:
    """The ``<name>_lo``/``_hi`` a record holds, None when it has none."""
    lo, hi = e.get(f"{name}_lo"), e.get(f"{name}_hi")
    return (float(lo), float(hi)) if _number(lo) and _number(hi) else None  # type: ignore[arg-type]


def latency_rows(e: Mapping[str, object]) -> Rows:
    """The batch-1 latency distribution: percentiles, mean and spread, how many calls."""
    lat = e.get("latency")
    if not isinstance(lat, Mapping):
        rows = [("Distribution", f"{NOT_MEASURED} (the record predates the measurement method)")]
        if _number(e.get("latency_ms")):
            rows.append(("Latency recorded", f"{_ms(e['latency_ms'])} (method unknown)"))
        return rows
    tail = " · ".join(_ms(lat.get(p), unit=False) for p in ("p90", "p95", "p99"))
    mean = f"{_ms(lat.get('mean'), unit=False)} ± {_ms(lat.get('std'))}"
    over = _plain(lat.get("duration_s"))
    calls = f"{_count(lat.get('n'))} calls in {_count(lat.get('rounds'))} rounds over {over} s"
    rows = [
        ("Median (p50)", _ms(lat.get("p50")) + _range_note(e, "latency_ms", "rounds' means")),
        ("p90 · p95 · p99", f"{tail} ms"),
        ("Mean ± std", f"{mean} (CV {_pct(lat.get('cv'))})"),
        ("Fastest – slowest", f"{_ms(lat.get('min'), unit=False)}–{_ms(lat.get('max'))}"),
        ("Iterations", f"{calls} (rounds' CV {_pct(lat.get('round_cv'))})"),
    ]
    if _number(lat.get("tokens")):
        rows.append(("Tokens per call", _count(lat["tokens"])))
    return rows


def throughput_rows(e: Mapping[str, object]) -> Rows:
    """Throughput: the median of the repeats with their range, and what a repeat is."""
    run = e.get("throughput")
    if not isinstance(run, Mapping):
        rows = [("Repeats", f"{NOT_MEASURED} (one timed pass)")]
        if _number(e.get("examples_per_s")):
            rows.append(("Examples/s recorded", f"{format_value('examples_per_s', e['examples_per_s'])} ex/s"))
        return rows
    rows = []
    for key, label, unit in (("examples_per_s", "Examples/s", "ex/s"), ("tokens_per_s", "Tokens/s", "tok/s")):
        if _number(e.get(key)):
            rows.append((label, f"{format_value(key, e[key])} {unit} median" + _range_note(e, key, "repeats")))
    seconds = ", ".join(_plain(s) for s in run.get("seconds") or [] if _number(s)) or "—"
    sample = f"{_count(run.get('examples'))} examples, {_count(run.get('tokens'))} tokens"
    rows.append(("Repeats", f"{_count(run.get('repeats'))} × {sample}: {seconds} s (CV {_pct(run.get('cv'))})"))
    if _number(e.get("pass_examples_per_s")) and _number(e.get("wall_time_s")):
        rate = format_value("examples_per_s", e["pass_examples_per_s"])
        rows.append(("Full scoring pass", f"{rate} ex/s, {_seconds(e['wall_time_s'])} s" + _streams_note(e)))
    return rows


def _streams(e: Mapping[str, object]) -> int:
    """Batches the scoring pass ran side by side (1: one at a time, or not recorded)."""
    streams = e.get("pass_streams")
    return streams if isinstance(streams, int) and not isinstance(streams, bool) and streams > 1 else 1


def _streams_note(e: Mapping[str, object]) -> str:
    streams = _streams(e)
    return f" (after its first batch, {streams} batches at a time, the threads shared out)" if streams > 1 else ""


def memory_rows(e: Mapping[str, object]) -> Rows:
    """Memory: what the model takes (with its range), the process peak, the baseline before loading."""
    kind = {"rss": "process RSS", "cuda": "device memory"}.get(str(e.get("memory_kind")), "")
    if _number(e.get("model_memory_mb")):
        rows = [("Model memory", _mib(e["model_memory_mb"]) + _range_note(e, "model_memory_mb", "repeats"))]
    else:
        rows = [("Model memory", NOT_MEASURED)]
    if _number(e.get("peak_memory_mb")):
        side = _streams(e) > 1
        note = ", during the scoring pass; only its batches run one at a time count toward model memory" if side else ""
        rows.append(("Process peak", _mib(e["peak_memory_mb"]) + (f" ({kind}{note})" if kind else "")))
    if _number(e.get("rss_before_load_mb")):
        rows.append(("Before loading the model", _mib(e["rss_before_load_mb"])))
    peaks = [p for p in e.get("memory_peaks_mb") or [] if _number(p)]  # type: ignore[attr-defined]
    if peaks:
        rows.append(("Peak of each repeat", ", ".join(format_value("peak_memory_mb", p) for p in peaks) + " MiB"))
    return rows


def parameter_rows(e: Mapping[str, object]) -> Rows:
    """Parameters of the base, those trained, as evaluated, and as deployed."""
    names = [
        ("parameters_base", "Base"),
        ("parameters_trainable", "Trained"),
        ("parameters_total", "As evaluated"),
        ("parameters_effective", "Effective (as deployed)"),
    ]
    return [(label, _count(e.get(key)) if _number(e.get(key)) else "not recorded") for key, label in names]


def machine_rows(
    e: Mapping[str, object], hardware: Mapping[str, object], profile: str, reference: str, flags: Sequence[str]
) -> Rows:
    """Where it ran (profile against the board's reference, threads), its validity flags with
    their meaning, and the contention read while measuring."""
    if not reference or profile == reference:
        where = profile + (" (the board's reference)" if reference else "")
    else:
        where = f"{profile} (not the board's reference, {reference}: not compared)"
    rows = [("Hardware profile", where), ("Threads", _threads(hardware))]
    rows += [(f"⚑ {f}", FLAGS.get(f, "unknown flag")) for f in flags] or [("Validity", "no flags")]
    validity = e.get("validity")
    validity = validity if isinstance(validity, Mapping) else {}
    readings, policy = validity.get("contention"), validity.get("policy")
    if not isinstance(readings, Mapping):
        return [*rows, ("Contention", NOT_MEASURED)]
    policy = policy if isinstance(policy, Mapping) else {}
    rows.append(("Other processes' CPU", _pct(readings.get("other_cpu_share")) + _limit(policy, "max_other_cpu")))
    rows.append(("Hypervisor steal", _pct(readings.get("steal_share")) + _limit(policy, "max_steal")))
    rows.append(("This process", f"{_pct(readings.get('process_utilisation'))} of its threads' time"))
    if _number(readings.get("load_start")) and _number(readings.get("load_end")):
        rows.append(("Load average", f"{_plain(readings['load_start'])} → {_plain(readings['load_end'])}"))
    if policy:
        rows.append(("Policy", policy_text(policy)))
    return rows


def policy_text(p: Mapping[str, object]) -> str:
    """A measurement policy in one line.

    >>> from dataclasses import asdict
    >>> from ftbench.measure import DEFAULT_POLICY
    >>> policy_text(asdict(DEFAULT_POLICY))
    '≥50 calls and ≥2 s (≤20 s) over 16 inputs; 3 repeats of ≥8,192 tokens; CV ≤10%'
    """
    return (
        f"≥{_plain(p.get('min_iterations'))} calls and ≥{_plain(p.get('min_seconds'))} s "
        f"(≤{_plain(p.get('max_seconds'))} s) over {_plain(p.get('latency_sample'))} inputs; "
        f"{_plain(p.get('throughput_repeats'))} repeats of ≥{_count(p.get('throughput_tokens'))} tokens; "
        f"CV ≤{_pct(p.get('max_cv'), 0)}"
    )


UNMERGED_FIGURES = (
    ("latency_ms", "Latency, batch 1 (ms)"),
    ("examples_per_s", "Throughput (ex/s)"),
    ("model_memory_mb", "Model memory (MiB)"),
    ("peak_memory_mb", "Process peak (MiB)"),
    ("load_time_s", "Load time (s)"),
    ("parameters_total", "Parameters"),
)
"""What an adapter's merged and unmerged forms are compared on."""


def unmerged_rows(e: Mapping[str, object]) -> list[tuple[str, str, str, str]]:
    """``(figure, merged, unmerged, unmerged ÷ merged)`` for an adapter measured both ways;
    [] when the record has no unmerged measurement. A ratio says whether the two differ beyond
    their measured ranges."""
    other = e.get("unmerged")
    if not isinstance(other, Mapping):
        return []
    out = []
    for key, label in UNMERGED_FIGURES:
        mine, theirs = _figure(e, key), _figure(other, key)
        if mine is None or theirs is None:
            continue
        ratio = _ratio(e, other, key, mine, theirs)
        out.append((label, _with_range(e, key, mine), _with_range(other, key, theirs), ratio))
    flags = [", ".join(_flags_of(x)) or "none" for x in (e, other)]
    return [*out, ("Validity flags", flags[0], flags[1], "")]


def _figure(e: Mapping[str, object], key: str) -> float | None:
    value = e.get(key)
    # an unmerged run records its repeats' peaks only; a side-by-side pass's peak is the pass's,
    # so the merged form is compared on its repeats' peaks too
    if key == "peak_memory_mb" and (not _number(value) or _streams(e) > 1):
        peaks = [p for p in e.get("memory_peaks_mb") or [] if _number(p)]  # type: ignore[attr-defined]
        value = max(peaks) if peaks else value
    return float(value) if _number(value) else None  # type: ignore[arg-type]


def _with_range(e: Mapping[str, object], key: str, value: float) -> str:
    text = _count(value) if key.startswith("parameters") else _plain_figure(key, value)
    bounds = recorded_range(e, key)
    return text + (f" ({range_text(key, bounds)})" if bounds and bounds[0] != bounds[1] else "")


def _ratio(a: Mapping[str, object], b: Mapping[str, object], key: str, mine: float, theirs: float) -> str:
    if not mine:
        return "—"
    ratio = theirs / mine
    text = f"{ratio:.4f}×" if abs(ratio - 1) < 0.01 else f"{ratio:.2f}×"
    ra, rb = recorded_range(a, key), recorded_range(b, key)
    if ra is None or rb is None or key not in METRICS:
        return text
    lower = not METRICS[key].higher_is_better
    beyond = clearly_better(ra, rb, lower) or clearly_better(rb, ra, lower)
    return f"{text}, {'beyond' if beyond else 'within'} the ranges"


def _flags_of(e: Mapping[str, object]) -> list[str]:
    validity = e.get("validity")
    flags = validity.get("flags") if isinstance(validity, Mapping) else None
    return [str(f) for f in flags] if isinstance(flags, list) else [NOT_MEASURED]


def _threads(hardware: Mapping[str, object]) -> str:
    parts = []
    if hardware.get("torch_threads") is not None:
        parts.append(f"{hardware['torch_threads']} compute")
    if hardware.get("torch_interop_threads") is not None:
        parts.append(f"{hardware['torch_interop_threads']} inter-op")
    cpus = hardware.get("cpu_affinity") or hardware.get("cpu_cores_logical")
    if cpus is not None:
        parts.append(f"{cpus} CPUs usable")
    return ", ".join(parts) or "not recorded"


def _range_note(e: Mapping[str, object], key: str, over: str) -> str:
    bounds = recorded_range(e, key)
    return f" ({over} {range_text(key, bounds)})" if bounds else ""


def _limit(policy: Mapping[str, object], key: str) -> str:
    return f" (limit {_pct(policy[key], 0)})" if _number(policy.get(key)) else ""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain_figure(key: str, value: float) -> str:
    return format_value(key, value) if key in METRICS else plain_value(value)


def _ms(value: object, unit: bool = True) -> str:
    text = format_value("latency_ms", value) if _number(value) else "—"
    return f"{text} ms" if unit and text != "—" else text


def _mib(value: object) -> str:
    return f"{format_value('model_memory_mb', value)} MiB"


def _pct(value: object, decimals: int = 1) -> str:
    return f"{100 * value:.{decimals}f}%" if _number(value) else "—"  # type: ignore[operator]


def _count(value: object) -> str:
    return f"{value:,.0f}" if _number(value) else "—"


def _seconds(value: object) -> str:
    """A duration as read off a clock: three significant digits, whole seconds from 100.

    >>> [_seconds(v) for v in (7.126956, 2.1041, 0.51234, 123.4, None)]
    ['7.13', '2.10', '0.512', '123', '—']
    """
    if not _number(value):
        return "—"
    v = float(value)  # type: ignore[arg-type]
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:#.3g}"


def _plain(value: object) -> str:
    if not _number(value):
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)
