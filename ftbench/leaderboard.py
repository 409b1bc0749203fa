"""Rankings as pure functions: current results in, ranked tables out (no I/O).

Every direction comes from the metric's declaration in ``ftbench.metrics.METRICS``; nothing
here knows whether a column is "better" high or low on its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ftbench.calibration import Calibration
from ftbench.compare import (
    ALPHA,
    Comparisons,
    Outcome,
    bootstrap_p,
    compare_all,
    exact_binomial_p,
    holm,
    metric_samples,
    pair_p_values,
    rank_intervals,
    resample_weights,
)
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
class Contamination:
    """How much of a task's held-out split an entry's declared training data contains
    (``ftbench contamination``), and what the entry scores without those examples."""

    splits: tuple[tuple[str, int, float], ...]
    """``(dataset/split, overlapping held-out examples, their share)`` of each declared split
    found to overlap."""
    overlapping: int
    """Held-out examples in at least one of them."""
    held_out: int
    """Examples in the held-out split."""
    clean_score: float | None
    """The primary metric on the other examples, the clean subset (None when unknown)."""

    @property
    def fraction(self) -> float:
        """Share of the held-out split in at least one declared training split."""
        return self.overlapping / self.held_out if self.held_out else 0.0

    @property
    def clean_examples(self) -> int:
        """Held-out examples in none of them."""
        return self.held_out - self.overlapping


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
    outcome: Outcome | None = field(default=None, compare=False, repr=False)
    """Per-example results (``ftbench.compare.Outcome``), for paired comparisons; None when
    not at hand (then ranks fall back to the point scores)."""
    calibration: Calibration | None = field(default=None, compare=False, repr=False)
    """Calibration of the stored probabilities (classification records): its figures; the
    board's entries leave its reliability bins out (model pages draw them from the record)."""
    contamination: Contamination | None = None
    """Measured overlap of its declared training data with the held-out split, if any."""
    precision: str = ""
    """Precision of the weights as evaluated (``fp32``, ``bf16``, ``int4`` for a quantised base)."""
    license: str = ""
    """The submission's license, as its ``submission.yaml`` declares it (contributor text)."""
    finished: str = ""
    """When its record was made (``YYYY-MM-DD``): with ``date``, how new the numbers a page
    shows of it are."""
    stamp: str = field(default="", compare=False, repr=False)
    """Stamps of its record file and submission folder when read: the keys of the pages that
    show it rest on them (``ftbench.site.context.page_key``)."""

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
    """1 + the entries significantly better than it on the primary metric (paired tests, Holm
    corrected: ``ftbench.compare``), so entries no one beats significantly share a rank; without
    per-example results, the competition rank of the point scores ("1224")."""
    entry: Entry
    """The result."""
    pareto: tuple[str, ...] = ()
    """Costs (from ``PARETO_COSTS``) against which no other entry beats it on both axes."""
    rank_low: int = 0
    """Best plausible rank (bootstrap of the ranking, 95%); 0 when not computed."""
    rank_high: int = 0
    """Worst plausible rank."""
    wins: int = 0
    """Entries it is significantly better than (its ties are the others not better than it)."""
    index: int = -1
    """Its column in ``comparisons``."""
    comparisons: Comparisons | None = field(default=None, compare=False, repr=False)
    """Every pairwise test of the task's entries (shared by the task's rows)."""
    baseline: str = ""
    """``below`` or ``not above`` the best trivial baseline (paired test), else empty."""
    sharing: int = 1
    """Rows of its table with the same rank, itself included (``=k`` when more than one)."""

    @property
    def ties(self) -> int:
        """Entries neither significantly better nor significantly worse than it."""
        n = len(self.comparisons.p_raw) if self.comparisons is not None else 0
        return max(n - 1 - self.wins - (self.rank - 1), 0)


@dataclass(frozen=True)
class OverallRow:
    """A submission's standing across the contested tasks it has current results on."""

    rank: int
    """1 + the submissions whose mean win rate is significantly higher (paired bootstrap over
    the tasks' examples, Holm corrected); the competition rank where tests are not at hand."""
    submission: str
    """Submission id."""
    tasks: tuple[str, ...]
    """Contested tasks (two or more entries) it has a current result on: what the rank rests on."""
    mean_win_rate: float
    """Mean over those tasks of the share of other entries it beats significantly (ties count half)."""
    task_ranks: Mapping[str, int] = field(default_factory=dict)
    """Its rank on every task it has a current result on."""
    rivals: int = 0
    """Other submissions it meets on those tasks."""
    rank_low: int = 0
    """Best plausible overall rank (bootstrap, 95%); 0 when not computed."""
    rank_high: int = 0
    """Worst plausible overall rank."""
    task_sizes: Mapping[str, int] = field(default_factory=dict)
    """Entries on each task it has a result on (its rank there reads "k of N")."""


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


def rank_entries(
    entries: Sequence[Entry], metric: str, gold: Sequence[int] | None = None, n_labels: int = 0
) -> list[RankedRow]:
    """Entries ordered by ``metric`` in its declared direction (ties keep the earlier
    submission first, then the id, so the order never depends on input order); entries without
    the metric are left out. Where every entry has per-example results (and ``gold`` labels for
    a classification task), ranks come from paired tests (:func:`ftbench.compare.compare_all`):
    1 + the entries significantly better, with plausible-rank intervals; otherwise from the
    point scores."""
    hib = METRICS[metric].higher_is_better
    scored = [e for e in entries if e.value(metric) is not None]
    scored.sort(key=lambda e: (better_first_key(e.value(metric), hib), e.date, e.submission))
    stats = _comparisons(scored, metric, gold, n_labels)
    if stats is None:
        keys = [better_first_key(e.value(metric), hib) for e in scored]
        ranks = competition_ranks(keys)
        wins = [sum(1 for k in keys if k > key) for key in keys]
        sharing = Counter(ranks)
        return [RankedRow(r, e, wins=w, sharing=sharing[r]) for r, e, w in zip(ranks, scored, wins, strict=True)]
    plausible = rank_intervals(stats.samples, hib)
    wins = stats.better.sum(axis=1)
    groups = stats.groups()
    sharing = Counter(groups)
    return [
        RankedRow(rank, e, (), lo, hi, int(wins[i]), i, stats, sharing=sharing[rank])
        for i, (rank, e, (lo, hi)) in enumerate(zip(groups, scored, plausible, strict=True))
    ]


def _comparisons(
    entries: Sequence[Entry], metric: str, gold: Sequence[int] | None, n_labels: int
) -> Comparisons | None:
    """Paired comparisons of the entries, or None when some lack per-example results."""
    outcomes = [e.outcome for e in entries]
    if len(entries) < 2 or any(o is None for o in outcomes):
        return None
    documents = all(o.documents is not None for o in outcomes if o is not None)
    if not documents and (gold is None or any(o is None or o.size != len(gold) for o in outcomes)):
        return None
    if documents and len({o.size for o in outcomes if o is not None}) != 1:
        return None
    return compare_all(
        [float(e.value(metric) or 0.0) for e in entries],
        [o for o in outcomes if o is not None],
        None if documents else np.asarray(gold),
        metric=metric,
        higher_is_better=METRICS[metric].higher_is_better,
        n_labels=n_labels,
        from_confusion=METRICS[metric].from_confusion,
    )


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
    if not n:
        return set()
    q = (1.0 if higher_quality else -1.0) * np.asarray(quality, dtype=np.float64)
    lo = np.asarray([c[0] for c in costs], dtype=np.float64)
    hi = np.asarray([c[1] for c in costs], dtype=np.float64)
    dominated = np.zeros(n, dtype=bool)
    # every pair at once (:func:`clearly_better` elementwise), a block of candidates at a time:
    # j dominates i when at least as good, not clearly dearer, and better in one of the two
    for at in range(0, n, FRONT_BLOCK):
        i = np.arange(at, min(at + FRONT_BLOCK, n))
        cheaper = hi[:, None] < lo[None, i] if lower_cost else lo[:, None] > hi[None, i]  # j clearly beats i
        dearer = hi[i][None, :] < lo[:, None] if lower_cost else lo[i][None, :] > hi[:, None]  # i clearly beats j
        q_j, q_i = q[:, None], q[None, i]
        beats = (q_j >= q_i) & ~dearer & ((q_j > q_i) | cheaper)
        beats[i, np.arange(len(i))] = False  # not by itself
        dominated[i] = beats.any(axis=0)
    return {int(i) for i in np.flatnonzero(~dominated)}


FRONT_BLOCK = 2048
"""Candidates :func:`robust_front` compares with every point at once (bounds its memory)."""


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
    return [replace(r, pareto=tuple(badges[i])) for i, r in enumerate(rows)]


def task_table(
    entries: Sequence[Entry],
    metric: str,
    costs: Sequence[str] = PARETO_COSTS,
    reference: str = "",
    gold: Sequence[int] | None = None,
    n_labels: int = 0,
    trivial: Sequence[Outcome] = (),
) -> list[RankedRow]:
    """The full ranking of one task: ranked by ``metric`` (paired tests where the entries'
    per-example results and the ``gold`` labels are at hand), robust Pareto fronts against
    ``costs`` marked among the entries measured validly on the ``reference`` profile, and
    rows not significantly above the best of the ``trivial`` baselines marked."""
    return mark_pareto(quality_table(entries, metric, gold, n_labels, trivial), metric, costs, reference)


def quality_table(
    entries: Sequence[Entry],
    metric: str,
    gold: Sequence[int] | None = None,
    n_labels: int = 0,
    trivial: Sequence[Outcome] = (),
) -> list[RankedRow]:
    """The part of :func:`task_table` that rests on the entries' quality alone (their scores,
    per-example results, dates and ids): ranks, plausible ranks and baseline marks, without
    the fronts (which rest on their costs too)."""
    return mark_baseline(rank_entries(entries, metric, gold, n_labels), metric, gold, n_labels, trivial)


def mark_baseline(
    rows: Sequence[RankedRow],
    metric: str,
    gold: Sequence[int] | None,
    n_labels: int,
    trivial: Sequence[Outcome],
) -> list[RankedRow]:
    """The rows with ``baseline`` set where an entry is not significantly better than the best
    trivial baseline (by ``metric``): ``below`` when its score is not above the baseline's at
    all, ``not above`` when the paired test (McNemar for accuracy, the paired bootstrap
    otherwise; Holm over the rows) finds no significant difference."""
    if not trivial or gold is None or not rows:
        return list(rows)
    hib = METRICS[metric].higher_is_better
    truth = np.asarray(gold)
    scores = [_score(metric, o, truth, n_labels) for o in trivial]
    best = trivial[max(range(len(scores)), key=lambda i: scores[i] if hib else -scores[i])]
    floor = max(scores) if hib else min(scores)
    tested = [i for i, r in enumerate(rows) if r.entry.outcome is not None and r.entry.outcome.size == len(truth)]
    p = dict(zip(tested, holm(_against(best, [rows[i] for i in tested], metric, truth, n_labels)), strict=True))
    out = []
    for i, r in enumerate(rows):
        value = r.entry.value(metric)
        above = value is not None and (value > floor if hib else value < floor)
        mark = "below" if not above else ("not above" if p.get(i, 0.0) >= ALPHA else "")
        out.append(replace(r, baseline=mark))
    return out


def _against(baseline: Outcome, rows: Sequence[RankedRow], metric: str, gold: np.ndarray, n_labels: int) -> np.ndarray:
    """Two-sided p-values of each row against ``baseline``: McNemar's exact test for accuracy,
    else the paired bootstrap on the resamples the rows' own comparisons were drawn from."""
    if not rows:
        return np.zeros(0)
    outcomes = [r.entry.outcome for r in rows]
    assert all(o is not None and o.pred is not None for o in outcomes) and baseline.pred is not None
    if metric == "accuracy":
        base = baseline.pred == gold
        right = np.column_stack([o.pred == gold for o in outcomes if o is not None and o.pred is not None])
        only_row = (right & ~base[:, None]).sum(axis=0)
        only_base = (~right & base[:, None]).sum(axis=0)
        return exact_binomial_p(only_row, only_base)
    weights = resample_weights(len(gold))
    confusion = METRICS[metric].from_confusion
    base_samples = metric_samples(metric, [baseline], gold, n_labels, weights, confusion)[:, 0]
    stats = rows[0].comparisons
    if stats is not None and stats.samples.shape[0] == weights.shape[0]:
        samples = stats.samples[:, [r.index for r in rows]]
    else:
        samples = metric_samples(metric, [o for o in outcomes if o is not None], gold, n_labels, weights, confusion)
    return bootstrap_p(samples - base_samples[:, None])


def _score(metric: str, outcome: Outcome, gold: np.ndarray, n_labels: int) -> float:
    """``metric`` of a baseline's predictions."""
    assert outcome.pred is not None
    return float(quality_from_confusion([metric], confusion_counts(gold, outcome.pred, n_labels))[metric])


def trivial_outcomes(gold: Sequence[int], n_labels: int, seed: int = 0) -> list[Outcome]:
    """The trivial baselines' predictions from the held-out labels alone: the majority class and
    a uniformly random label (seeded), as :func:`majority_baseline` and
    :func:`uniform_random_baseline` score them."""
    counts = Counter(gold)
    majority = min(range(n_labels), key=lambda i: (-counts[i], i))
    uniform = np.random.default_rng(seed).integers(0, n_labels, len(gold))
    ones = np.ones(len(gold), np.float32)
    return [
        Outcome(pred=np.full(len(gold), majority, dtype=np.int16), prob=ones),
        Outcome(pred=uniform.astype(np.int16), prob=ones / max(n_labels, 1)),
    ]


def reference_profile(entries: Sequence[Entry], configured: str = "") -> str:
    """The board's reference hardware profile: the configured one, else the profile most
    entries were measured on (the first by name on a tie); empty for no entries.

    >>> e = lambda h: Entry("s", "S", "lora", "b", "2026-01-01", {}, {}, hardware=h)
    >>> reference_profile([e("cpu: B"), e("cpu: A"), e("cpu: B")]), reference_profile([e("x")], "cpu: A")
    ('cpu: B', 'cpu: A')
    """
    return reference_from_counts(Counter(e.hardware for e in entries if e.hardware), configured)


def reference_from_counts(counts: Mapping[str, int], configured: str = "") -> str:
    """:func:`reference_profile` from the entries' profiles counted.

    >>> reference_from_counts({"cpu: A": 2, "cpu: B": 2, "cpu: C": 1})
    'cpu: A'
    """
    if configured:
        return configured
    return min(counts, key=lambda h: (-counts[h], h)) if counts else ""


def win_rates(rows: Sequence[RankedRow]) -> dict[str, float]:
    """Share of the other entries each submission beats (significantly, where the rows carry
    paired tests; ties count half); a task with a single entry gives no win rate, as there is
    nobody to beat.

    >>> e = lambda s: Entry(s, s, "lora", "b", "2026-01-01", {}, {})
    >>> win_rates([RankedRow(1, e("a"), wins=1), RankedRow(1, e("b"), wins=1), RankedRow(3, e("c"))])
    {'a': 0.75, 'b': 0.75, 'c': 0.0}
    """
    n = len(rows)
    if n < 2:
        return {}
    return {r.entry.submission: (r.wins + 0.5 * (n - 1 - r.wins - (r.rank - 1))) / (n - 1) for r in rows}


def overall_ranking(tables: Mapping[str, Sequence[RankedRow]], min_tasks: int = 2) -> list[OverallRow]:
    """Submissions with current results on at least ``min_tasks`` contested tasks (two or more
    entries), ranked by mean win rate over those tasks (HELM's aggregate), where a win is a
    significant one (:func:`win_rates`). Ranks admit ties as the task ranks do: 1 + the
    submissions whose mean win rate is significantly higher over the joint bootstrap of the
    tasks' examples, with plausible-rank intervals from the same resamples."""
    contested = {t: rows for t, rows in sorted(tables.items()) if len(rows) >= 2}
    covered: dict[str, dict[str, int]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for task in sorted(tables):
        for row in tables[task]:
            covered.setdefault(row.entry.submission, {})[task] = row.rank
            sizes.setdefault(row.entry.submission, {})[task] = len(tables[task])
    rates: dict[str, list[float]] = {}
    members = {task: {r.entry.submission for r in rows} for task, rows in contested.items()}
    tasks_of: dict[str, list[str]] = {}
    for task, rows in contested.items():
        for sub, rate in win_rates(rows).items():
            rates.setdefault(sub, []).append(rate)
            tasks_of.setdefault(sub, []).append(task)
    # the rivals a submission met: everyone on its contested tasks but itself, counted once per
    # set of tasks (most submissions share theirs), not once per submission
    union = {tasks: len(set().union(*(members[t] for t in tasks))) for tasks in {tuple(v) for v in tasks_of.values()}}
    met = {sub: union[tuple(tasks)] - 1 for sub, tasks in tasks_of.items()}
    eligible = sorted(s for s in rates if len(rates[s]) >= min_tasks)
    mean = {s: float(np.mean(rates[s])) for s in eligible}
    eligible.sort(key=lambda s: (better_first_key(mean[s], True), -len(rates[s]), s))
    boots = _boot_mean_win_rates(contested, eligible)
    if boots is None:
        ranks = competition_ranks([better_first_key(mean[s], True) for s in eligible])
        plausible = [(0, 0)] * len(eligible)
    else:
        ranks, plausible = _ranks_from_boots(boots, [mean[s] for s in eligible])
    return [
        OverallRow(
            rank,
            s,
            tuple(t for t in contested if t in covered[s]),
            mean[s],
            covered[s],
            met[s],
            lo,
            hi,
            sizes[s],
        )
        for rank, s, (lo, hi) in zip(ranks, eligible, plausible, strict=True)
    ]


def _boot_mean_win_rates(contested: Mapping[str, Sequence[RankedRow]], subs: Sequence[str]) -> np.ndarray | None:
    """``(resamples, subs)`` mean win rate of each submission on every joint resample of the
    contested tasks (None where a task has no paired tests)."""
    if not subs:
        return None
    total: np.ndarray | None = None
    counts = np.zeros(len(subs))
    column = {s: i for i, s in enumerate(subs)}
    for rows in contested.values():
        stats = rows[0].comparisons
        if stats is None:
            return None
        boot_rates = stats.resample_win_rates()  # (resamples, n)
        if total is None:
            total = np.zeros((boot_rates.shape[0], len(subs)))
        for r in rows:
            if r.entry.submission in column:
                total[:, column[r.entry.submission]] += boot_rates[:, r.index]
                counts[column[r.entry.submission]] += 1
    return None if total is None else total / np.maximum(counts, 1)


def _ranks_from_boots(boots: np.ndarray, point: Sequence[float]) -> tuple[list[int], list[tuple[int, int]]]:
    """Ranks with ties (1 + significantly better, Holm) and plausible ranks from resamples."""
    n = boots.shape[1]
    upper = np.triu_indices(n, 1)
    raw = pair_p_values(boots)
    p = np.ones((n, n))
    p[upper] = holm(raw[upper])
    p = np.minimum(p, p.T)
    v = np.asarray(point)
    better = (p < ALPHA) & (v[:, None] > v[None, :])
    return [1 + int(k) for k in better.sum(axis=0)], rank_intervals(boots, True)


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
    pred = trivial_outcomes(gold, n_labels)[0].pred
    return quality_from_confusion(metrics, confusion_counts(gold, pred, n_labels))  # type: ignore[arg-type]


def uniform_random_baseline(
    gold: Sequence[int], n_labels: int, metrics: Sequence[str], seed: int = 0
) -> dict[str, float]:
    """Scores of predicting a uniformly random label per example (seeded, so reproducible)."""
    pred = trivial_outcomes(gold, n_labels, seed)[1].pred
    return quality_from_confusion(metrics, confusion_counts(gold, pred, n_labels))  # type: ignore[arg-type]
