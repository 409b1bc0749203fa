"""Rankings as pure functions: current results in, ranked tables out (no I/O).

Every direction comes from the metric's declaration in ``ftbench.metrics.METRICS``; nothing
here knows whether a column is "better" high or low on its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ftbench.measure import FLAGS
from ftbench.metrics import METRICS, confusion_counts, quality_from_confusion

# Costs a quality-versus-cost front is drawn against (keys of a record's efficiency map).
PARETO_COSTS = ("latency_ms", "model_memory_mb")
# ... on a perplexity task, where every entry is a language model: how fast it reads text, and
# how large it is (prefill throughput is a benefit: its direction comes from its metric).
LM_PARETO_COSTS = ("prefill_tokens_per_s", "parameters_total")
# Rounding before comparing scores, so that float noise does not split a tie.
_TIE_DECIMALS = 12


FAMILIES = ("encoder fine-tune", "prompted LM", "tuned LM")
"""The kinds of entry a ranking can be filtered by, in the order the site lists them."""


def model_family(kind: str, method: str) -> str:
    """The family of an entry, from its model kind and fine-tuning method: a sequence
    classifier is an ``encoder fine-tune``; a causal LM used as published is a ``prompted LM``;
    one whose weights were trained in any way is a ``tuned LM``.

    >>> model_family("classifier", "lora"), model_family("causal-lm", "prompting"), model_family("causal-lm", "dpo")
    ('encoder fine-tune', 'prompted LM', 'tuned LM')
    """
    if kind != "causal-lm":
        return FAMILIES[0]
    return FAMILIES[1] if method == "prompting" else FAMILIES[2]


def pareto_costs(task_type: str) -> tuple[str, ...]:
    """The costs whose quality fronts a ranking of a ``task_type`` task marks.

    >>> pareto_costs("classification"), pareto_costs("perplexity")
    (('latency_ms', 'model_memory_mb'), ('prefill_tokens_per_s', 'parameters_total'))
    """
    return LM_PARETO_COSTS if task_type == "perplexity" else PARETO_COSTS


@dataclass(frozen=True)
class Entry:
    """One current result: a submission's numbers on one task, as the tables need them."""

    submission: str
    """Submission id."""
    name: str
    """Display name (contributor text: escape or sanitise before showing)."""
    method: str
    """Fine-tuning method."""
    base: str
    """Base checkpoint, as a display label."""
    date: str
    """Submission date, ISO 8601."""
    metrics: Mapping[str, float]
    """Quality metrics of the record."""
    efficiency: Mapping[str, float | int | str | None]
    """Efficiency figures of the record."""
    hardware: str = ""
    """Hardware profile the efficiency figures were measured on (``provenance.hardware_profile``:
    only comparable within one)."""
    record: str = ""
    """Site-relative path of the raw result record behind it."""
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """95% bootstrap intervals of the quality metrics, where the record has them."""
    kind: str = "classifier"
    """Kind of model (the submission's ``model.kind``): ``classifier`` or ``causal-lm``."""

    @property
    def family(self) -> str:
        """Encoder fine-tune, prompted LM or tuned LM (:func:`model_family`)."""
        return model_family(self.kind, self.method)

    def flags(self, reference: str = "") -> tuple[str, ...]:
        """The validity flags of the efficiency figures (``ftbench.measure.FLAGS``): those the
        record carries, ``not-measured`` for a record without any, and ``other-hardware`` when
        ``reference`` is set and the figures come from another profile."""
        validity = self.efficiency.get("validity")
        found = set(validity.get("flags", ())) if isinstance(validity, Mapping) else {"not-measured"}
        found.discard("other-hardware")  # relative to the board's reference, decided here
        if reference and self.hardware != reference:
            found.add("other-hardware")
        return tuple(f for f in FLAGS if f in found)

    def interval(self, name: str) -> tuple[float, float] | None:
        """The measured range of an efficiency figure (its rounds or repeats); the value itself
        for an exact one (parameters, sizes); None when missing."""
        value = self.value(name)
        if value is None:
            return None
        lo, hi = self.efficiency.get(f"{name}_lo"), self.efficiency.get(f"{name}_hi")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and not isinstance(lo, bool):
            return (min(float(lo), value), max(float(hi), value))
        return (value, value)

    def value(self, metric: str) -> float | None:
        """The metric's value from either map; None when missing or not a finite number."""
        raw: object = self.metrics.get(metric)
        if raw is None:
            raw = self.efficiency.get(metric)
        # exact type checks: bool is an int subclass, and this runs for every table cell
        if (type(raw) is float or type(raw) is int) and math.isfinite(raw):
            return float(raw)
        return None


@dataclass(frozen=True)
class RankedRow:
    """An entry with its rank on a task and the quality-cost fronts it lies on."""

    rank: int
    """Competition rank ("1224"): tied entries share a rank, the next rank skips."""
    entry: Entry
    """The result."""
    pareto: tuple[str, ...] = ()
    """Costs (from ``PARETO_COSTS``) against which no other entry beats it on both axes."""


@dataclass(frozen=True)
class OverallRow:
    """A submission's standing across the tasks it has current results on."""

    rank: int
    """Competition rank by mean win rate."""
    submission: str
    """Submission id."""
    tasks: tuple[str, ...]
    """Tasks it has a current result on."""
    mean_win_rate: float
    """Mean over those tasks of the share of other entries it beats (ties count half)."""
    task_ranks: Mapping[str, int] = field(default_factory=dict)
    """Its rank on each task."""


def better_first_key(value: float | None, higher_is_better: bool) -> tuple[int, float]:
    """Sort key that puts the best value first and missing values last.

    >>> sorted([0.2, None, 0.9], key=lambda v: better_first_key(v, True))
    [0.9, 0.2, None]
    """
    if value is None:
        return (1, 0.0)
    rounded = round(value, _TIE_DECIMALS)
    return (0, -rounded if higher_is_better else rounded)


def competition_ranks(keys: Sequence[object]) -> list[int]:
    """Ranks of already-sorted sort keys; equal keys share the rank of the first of them.

    >>> competition_ranks([1, 2, 2, 3])
    [1, 2, 2, 4]
    """
    ranks: list[int] = []
    for i, key in enumerate(keys):
        ranks.append(ranks[-1] if i and key == keys[i - 1] else i + 1)
    return ranks


def rank_entries(entries: Sequence[Entry], metric: str) -> list[RankedRow]:
    """Entries ranked by ``metric`` in its declared direction; ties keep the earlier submission
    first (then the id, so the order never depends on input order). Entries without the
    metric are left out."""
    hib = METRICS[metric].higher_is_better
    scored = [e for e in entries if e.value(metric) is not None]
    scored.sort(key=lambda e: (better_first_key(e.value(metric), hib), e.date, e.submission))
    ranks = competition_ranks([better_first_key(e.value(metric), hib) for e in scored])
    return [RankedRow(rank, entry) for rank, entry in zip(ranks, scored, strict=True)]


def pareto_front(
    points: Sequence[tuple[float, float]], *, higher_quality: bool = True, lower_cost: bool = True
) -> set[int]:
    """Indices of the (quality, cost) points that no other point beats on both axes.

    A point is dominated when another is at least as good on both and strictly better on
    one; exact duplicates of a front point are on the front too. O(n log n).

    >>> sorted(pareto_front([(0.9, 10.0), (0.8, 5.0), (0.7, 8.0), (0.9, 12.0)]))
    [0, 1]
    """
    keys = [(c if lower_cost else -c, -q if higher_quality else q) for q, c in points]
    front: set[int] = set()
    best_quality, best_key = math.inf, None
    # Sweep from cheapest to dearest: a point is on the front iff it beats every cheaper one.
    for i in sorted(range(len(keys)), key=keys.__getitem__):
        quality = keys[i][1]
        if quality < best_quality:
            front.add(i)
            best_quality, best_key = quality, keys[i]
        elif keys[i] == best_key:
            front.add(i)
    return front


def clearly_better(a: tuple[float, float], b: tuple[float, float], lower_is_better: bool = True) -> bool:
    """Whether measured range ``a`` beats range ``b`` beyond the spread of both (they do not
    overlap): the only "faster than" or "smaller than" a board claims.

    >>> clearly_better((4.8, 5.0), (5.1, 5.3)), clearly_better((4.8, 5.2), (5.1, 5.3))
    (True, False)
    """
    return a[1] < b[0] if lower_is_better else a[0] > b[1]


def robust_front(
    quality: Sequence[float],
    costs: Sequence[tuple[float, float]],
    *,
    higher_quality: bool = True,
    lower_cost: bool = True,
) -> set[int]:
    """Indices on the quality-versus-cost front when a cost difference counts only beyond the
    measured spread (``costs``: each point's measured range).

    A point is dominated by another that is at least as good in quality and not clearly worse
    in cost, and better in one of them: better quality, or a clearly lower cost. So an entry
    that is only within-noise cheaper than a better one is not on the front.

    >>> robust_front([0.9, 0.8], [(5.0, 5.3), (4.8, 5.1)])   # 0.8 is not clearly cheaper
    {0}
    >>> sorted(robust_front([0.9, 0.8], [(5.0, 5.3), (3.0, 3.2)]))
    [0, 1]
    """
    n = len(quality)
    sign = 1.0 if higher_quality else -1.0

    def dominates(j: int, i: int) -> bool:
        q_j, q_i = sign * quality[j], sign * quality[i]
        if q_j < q_i or clearly_better(costs[i], costs[j], lower_cost):
            return False
        return q_j > q_i or clearly_better(costs[j], costs[i], lower_cost)

    return {i for i in range(n) if not any(dominates(j, i) for j in range(n) if j != i)}


def mark_pareto(
    rows: Sequence[RankedRow], metric: str, costs: Sequence[str] = PARETO_COSTS, reference: str = ""
) -> list[RankedRow]:
    """The rows with ``pareto`` set for every cost they are on the robust front of (vs
    ``metric``). Only entries whose efficiency is unflagged on the ``reference`` profile (see
    :meth:`Entry.flags`) take part: a flagged figure earns no badge and beats nobody."""
    hib = METRICS[metric].higher_is_better
    badges: dict[int, list[str]] = {i: [] for i in range(len(rows))}
    eligible = [i for i, r in enumerate(rows) if not r.entry.flags(reference)]
    for cost in costs:
        usable = [
            i for i in eligible if rows[i].entry.value(metric) is not None and rows[i].entry.interval(cost) is not None
        ]
        quality = [float(rows[i].entry.value(metric) or 0.0) for i in usable]
        ranges = [rows[i].entry.interval(cost) or (0.0, 0.0) for i in usable]
        front = robust_front(quality, ranges, higher_quality=hib, lower_cost=not METRICS[cost].higher_is_better)
        for j in front:
            badges[usable[j]].append(cost)
    return [RankedRow(r.rank, r.entry, tuple(badges[i])) for i, r in enumerate(rows)]


def task_table(
    entries: Sequence[Entry], metric: str, costs: Sequence[str] = PARETO_COSTS, reference: str = ""
) -> list[RankedRow]:
    """The full ranking of one task: ranked by ``metric``, robust Pareto fronts against
    ``costs`` marked among the entries measured validly on the ``reference`` profile."""
    return mark_pareto(rank_entries(entries, metric), metric, costs, reference)


def reference_profile(entries: Sequence[Entry], configured: str = "") -> str:
    """The board's reference hardware profile: the configured one, else the profile most
    entries were measured on (the first by name on a tie); empty for no entries.

    >>> e = lambda h: Entry("s", "S", "lora", "b", "2026-01-01", {}, {}, hardware=h)
    >>> reference_profile([e("cpu: B"), e("cpu: A"), e("cpu: B")]), reference_profile([e("x")], "cpu: A")
    ('cpu: B', 'cpu: A')
    """
    if configured:
        return configured
    counts = Counter(e.hardware for e in entries if e.hardware)
    return min(counts, key=lambda h: (-counts[h], h)) if counts else ""


def win_rates(rows: Sequence[RankedRow]) -> dict[str, float]:
    """Share of the other entries each submission beats (ties count half); a task with a
    single entry gives no win rate, as there is nobody to beat.

    >>> e = lambda s: Entry(s, s, "lora", "b", "2026-01-01", {}, {})
    >>> win_rates([RankedRow(1, e("a")), RankedRow(1, e("b")), RankedRow(3, e("c"))])
    {'a': 0.75, 'b': 0.75, 'c': 0.0}
    """
    n = len(rows)
    if n < 2:
        return {}
    ties = Counter(r.rank for r in rows)
    rates = {}
    for r in rows:
        beaten = n - (r.rank - 1) - ties[r.rank]
        rates[r.entry.submission] = (beaten + 0.5 * (ties[r.rank] - 1)) / (n - 1)
    return rates


def overall_ranking(tables: Mapping[str, Sequence[RankedRow]], min_tasks: int = 2) -> list[OverallRow]:
    """Submissions with current results on at least ``min_tasks`` tasks, ranked by mean win
    rate over the tasks that have at least two entries (HELM's aggregate)."""
    covered: dict[str, dict[str, int]] = {}
    rates: dict[str, list[float]] = {}
    for task in sorted(tables):
        for sub, rate in win_rates(tables[task]).items():
            rates.setdefault(sub, []).append(rate)
        for row in tables[task]:
            covered.setdefault(row.entry.submission, {})[task] = row.rank
    eligible = [s for s in covered if len(covered[s]) >= min_tasks and s in rates]
    mean = {s: float(np.mean(rates[s])) for s in eligible}
    eligible.sort(key=lambda s: (better_first_key(mean[s], True), -len(covered[s]), s))
    ranks = competition_ranks([better_first_key(mean[s], True) for s in eligible])
    return [
        OverallRow(rank, s, tuple(covered[s]), mean[s], covered[s]) for rank, s in zip(ranks, eligible, strict=True)
    ]


def label_distribution(gold: Sequence[int], labels: Sequence[str]) -> list[tuple[str, int, float]]:
    """``(label, count, share)`` for every label, in label-id order.

    >>> label_distribution([0, 1, 1, 1], ["neg", "pos"])
    [('neg', 1, 0.25), ('pos', 3, 0.75)]
    """
    counts = Counter(gold)
    total = max(len(gold), 1)
    return [(name, counts[i], counts[i] / total) for i, name in enumerate(labels)]


def majority_baseline(gold: Sequence[int], n_labels: int, metrics: Sequence[str]) -> dict[str, float]:
    """Scores of always predicting the most frequent gold label (the lowest id on a tie)."""
    counts = Counter(gold)
    majority = min(range(n_labels), key=lambda i: (-counts[i], i))
    return quality_from_confusion(metrics, confusion_counts(gold, [majority] * len(gold), n_labels))


def uniform_random_baseline(
    gold: Sequence[int], n_labels: int, metrics: Sequence[str], seed: int = 0
) -> dict[str, float]:
    """Scores of predicting a uniformly random label per example (seeded, so reproducible)."""
    pred = np.random.default_rng(seed).integers(0, n_labels, len(gold)).tolist()
    return quality_from_confusion(metrics, confusion_counts(gold, pred, n_labels))
