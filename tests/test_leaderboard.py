"""Rankings, Pareto fronts, the overall ranking and baselines, on tables small enough to check
by hand."""

from __future__ import annotations

import doctest

import pytest

from ftbench import display, jobs, leaderboard
from ftbench.leaderboard import (
    Entry,
    RankedRow,
    competition_ranks,
    label_distribution,
    majority_baseline,
    mark_pareto,
    model_family,
    overall_ranking,
    pareto_front,
    rank_entries,
    robust_front,
    task_table,
    uniform_random_baseline,
    win_rates,
)
from ftbench.site import context, downloads, pages, parallel, sanitize, tables
from ftbench.site.charts import axes as chart_axes


def entry(
    sub: str, date: str = "2026-01-01", flags: tuple[str, ...] = (), hardware: str = "cpu: A", **values: float
) -> Entry:
    """An entry whose quality metrics and efficiency figures are given by keyword, measured
    (with the validity ``flags``) on the ``hardware`` profile."""
    quality = {k: v for k, v in values.items() if k in {"accuracy", "f1_macro", "bits_per_byte"}}
    cost: dict = {k: v for k, v in values.items() if k not in quality}
    cost["validity"] = {"flags": list(flags)}
    return Entry(sub, sub.upper(), "lora", "base", date, quality, cost, hardware=hardware)


def test_competition_ranks_share_and_skip():
    assert competition_ranks(["a", "b", "b", "c", "c", "c", "d"]) == [1, 2, 2, 4, 4, 4, 7]
    assert competition_ranks([]) == []


def test_higher_is_better_metric_ranks_best_first_with_ties():
    rows = rank_entries(
        [entry("a", accuracy=0.8), entry("b", accuracy=0.9), entry("c", accuracy=0.8), entry("d", accuracy=0.7)],
        "accuracy",
    )
    assert [(r.rank, r.entry.submission) for r in rows] == [(1, "b"), (2, "a"), (2, "c"), (4, "d")]


def test_lower_is_better_metric_ranks_smallest_first():
    # latency_ms is declared lower-is-better on the metric; nothing else says so
    rows = rank_entries(
        [entry("slow", latency_ms=9.0), entry("fast", latency_ms=1.5), entry("mid", latency_ms=4.0)], "latency_ms"
    )
    assert [r.entry.submission for r in rows] == ["fast", "mid", "slow"]
    assert [r.rank for r in rows] == [1, 2, 3]


def test_ties_list_the_earlier_submission_first_whatever_the_input_order():
    late, early = entry("late", "2026-05-01", accuracy=0.9), entry("early", "2026-02-01", accuracy=0.9)
    for order in ([late, early], [early, late]):
        rows = rank_entries(order, "accuracy")
        assert [(r.rank, r.entry.submission) for r in rows] == [(1, "early"), (1, "late")]


def test_float_noise_does_not_split_a_tie():
    rows = rank_entries([entry("a", accuracy=0.1 + 0.2), entry("b", accuracy=0.3)], "accuracy")
    assert [r.rank for r in rows] == [1, 1]


def test_entries_without_the_metric_or_with_nan_are_not_ranked():
    rows = rank_entries([entry("a", accuracy=0.5), entry("b"), entry("c", accuracy=float("nan"))], "accuracy")
    assert [r.entry.submission for r in rows] == ["a"]


def test_pareto_front_by_hand():
    # (quality, cost): B dominates D (better and cheaper); C is cheapest; A is best
    points = [(0.95, 10.0), (0.90, 5.0), (0.70, 1.0), (0.85, 6.0), (0.70, 2.0)]
    assert pareto_front(points) == {0, 1, 2}


def test_pareto_front_keeps_exact_duplicates_and_drops_equal_quality_dearer():
    assert pareto_front([(0.9, 2.0), (0.9, 2.0), (0.9, 3.0)]) == {0, 1}
    assert pareto_front([]) == set()


def test_pareto_front_follows_the_declared_directions():
    # quality lower-is-better (e.g. an error rate), cost higher-is-better (e.g. throughput)
    points = [(0.1, 100.0), (0.2, 300.0), (0.3, 200.0)]
    assert pareto_front(points, higher_quality=False, lower_cost=False) == {0, 1}


def test_task_table_badges_each_cost_front_separately():
    rows = task_table(
        [
            entry("fast", accuracy=0.80, latency_ms=1.0, model_memory_mb=900.0),
            entry("best", accuracy=0.95, latency_ms=8.0, model_memory_mb=800.0),
            entry("worse", accuracy=0.70, latency_ms=9.0, model_memory_mb=950.0),
            entry("nomem", accuracy=0.90, latency_ms=2.0),
        ],
        "accuracy",
    )
    badges = {r.entry.submission: r.pareto for r in rows}
    assert badges == {
        "best": ("latency_ms", "model_memory_mb"),
        "nomem": ("latency_ms",),
        "fast": ("latency_ms",),
        "worse": (),
    }


def test_mark_pareto_uses_the_metric_direction():
    rows = rank_entries(
        [entry("a", latency_ms=1.0, peak_memory_mb=500.0), entry("b", latency_ms=2.0, peak_memory_mb=100.0)],
        "latency_ms",
    )
    marked = mark_pareto(rows, "latency_ms", costs=("peak_memory_mb",))
    assert [r.pareto for r in marked] == [("peak_memory_mb",), ("peak_memory_mb",)]


def test_a_cost_difference_within_the_measured_spread_earns_no_badge():
    """The issue's case: 4.91 against 5.15 ms is a badge only when the rounds do not overlap."""

    def table(lo: float, hi: float) -> dict:
        rows = task_table(
            [
                entry("better", accuracy=0.88, latency_ms=5.15, latency_ms_lo=5.0, latency_ms_hi=5.3),
                entry("cheaper", accuracy=0.86, latency_ms=4.91, latency_ms_lo=lo, latency_ms_hi=hi),
            ],
            "accuracy",
            costs=("latency_ms",),
        )
        return {r.entry.submission: r.pareto for r in rows}

    assert table(4.7, 5.1) == {"better": ("latency_ms",), "cheaper": ()}  # ranges overlap: not faster
    assert table(4.7, 4.95) == {"better": ("latency_ms",), "cheaper": ("latency_ms",)}  # clearly faster


def _front_by_definition(quality, costs, higher_quality, lower_cost) -> set[int]:
    """:func:`robust_front` as its docstring defines it, pair by pair."""
    sign = 1.0 if higher_quality else -1.0

    def dominates(j: int, i: int) -> bool:
        q_j, q_i = sign * quality[j], sign * quality[i]
        if q_j < q_i or leaderboard.clearly_better(costs[i], costs[j], lower_cost):
            return False
        return q_j > q_i or leaderboard.clearly_better(costs[j], costs[i], lower_cost)

    n = len(quality)
    return {i for i in range(n) if not any(dominates(j, i) for j in range(n) if j != i)}


@pytest.mark.parametrize("seed", range(40))
def test_the_robust_front_equals_its_definition_pair_by_pair(seed, monkeypatch):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # few distinct values: ties of quality, equal and touching ranges are common
    quality = [float(q) for q in rng.integers(0, 6, n) / 5]
    lo = rng.integers(0, 8, n).astype(float)
    costs = [(float(a), float(a + w)) for a, w in zip(lo, rng.integers(0, 3, n), strict=True)]
    monkeypatch.setattr(leaderboard, "FRONT_BLOCK", int(rng.integers(1, 9)))  # blocks of any size
    for higher_quality in (True, False):
        for lower_cost in (True, False):
            front = robust_front(quality, costs, higher_quality=higher_quality, lower_cost=lower_cost)
            assert front == _front_by_definition(quality, costs, higher_quality, lower_cost)


def test_flagged_or_other_hardware_figures_earn_no_badge_and_beat_nobody():
    entries = [
        entry("noisy", accuracy=0.95, latency_ms=1.0, flags=("high-variation",)),
        entry("elsewhere", accuracy=0.99, latency_ms=0.5, hardware="cpu: B"),
        entry("clean", accuracy=0.90, latency_ms=3.0),
    ]
    rows = task_table(entries, "accuracy", costs=("latency_ms",), reference="cpu: A")
    assert {r.entry.submission: r.pareto for r in rows} == {"elsewhere": (), "noisy": (), "clean": ("latency_ms",)}
    assert entries[1].flags("cpu: A") == ("other-hardware",) and entries[1].flags() == ()
    legacy = Entry("old", "OLD", "lora", "base", "2026-01-01", {"accuracy": 0.9}, {"latency_ms": 1.0})
    assert legacy.flags() == ("not-measured",)
    assert leaderboard.reference_profile(entries) == "cpu: A"


def test_win_rates_by_hand():
    rows = [
        RankedRow(1, entry("a"), wins=3),
        RankedRow(2, entry("b"), wins=1),
        RankedRow(2, entry("c"), wins=1),
        RankedRow(4, entry("d"), wins=0),
    ]
    # a beats 3 of 3; b beats d and ties c: (1 + 0.5) / 3; d beats nobody
    assert win_rates(rows) == {"a": 1.0, "b": 0.5, "c": 0.5, "d": 0.0}
    assert win_rates(rows[:1]) == {}


def test_overall_ranking_by_hand():
    t1 = rank_entries([entry("a", accuracy=0.9), entry("b", accuracy=0.8), entry("c", accuracy=0.7)], "accuracy")
    t2 = rank_entries([entry("b", accuracy=0.9), entry("a", accuracy=0.5)], "accuracy")
    t3 = rank_entries([entry("c", accuracy=0.9)], "accuracy")
    overall = overall_ranking({"t1": t1, "t2": t2, "t3": t3})
    # a: (1.0 + 0.0) / 2 = 0.5; b: (0.5 + 1.0) / 2 = 0.75; c covers t1 and t3 but t3 has no
    # opponent, so it rests on one contested task only and is left out
    assert [(o.rank, o.submission, o.mean_win_rate) for o in overall] == [(1, "b", 0.75), (2, "a", 0.5)]
    assert overall[0].tasks == ("t1", "t2") and overall[0].rivals == 2 and overall[1].rivals == 2
    assert overall[0].task_ranks == {"t1": 2, "t2": 1} and overall[0].task_sizes == {"t1": 3, "t2": 2}
    assert overall_ranking({"t1": t1, "t3": t3}, min_tasks=1)[-1].tasks == ("t1",)


def test_the_overall_ranking_counts_each_rival_met_once():
    import random

    rng = random.Random(5)
    subs = [f"s{i}" for i in range(12)]
    tables = {}
    for t in range(5):  # each task with its own subset of the submissions
        members = rng.sample(subs, rng.randint(2, 9))
        tables[f"t{t}"] = rank_entries([entry(s, accuracy=rng.random()) for s in members], "accuracy")
    for o in overall_ranking(tables, min_tasks=1):
        rivals = {
            r.entry.submission
            for rows in tables.values()
            if o.submission in {x.entry.submission for x in rows}
            for r in rows
        } - {o.submission}  # the definition: everyone it shared a task with
        assert o.rivals == len(rivals)


def test_overall_ranking_needs_two_tasks():
    t1 = rank_entries([entry("a", accuracy=0.9), entry("b", accuracy=0.8)], "accuracy")
    assert overall_ranking({"t1": t1}) == []
    assert [o.submission for o in overall_ranking({"t1": t1}, min_tasks=1)] == ["a", "b"]


def test_label_distribution_and_majority_baseline_by_hand():
    gold = [0, 1, 1, 1]
    assert label_distribution(gold, ["neg", "pos"]) == [("neg", 1, 0.25), ("pos", 3, 0.75)]
    scores = majority_baseline(gold, 2, ["accuracy", "precision_macro", "recall_macro", "f1_macro"])
    # always "pos": precision pos = 3/4, neg = 0; recall pos = 1, neg = 0; F1 pos = 6/7
    assert scores["accuracy"] == 0.75
    assert scores["precision_macro"] == pytest.approx(0.375)
    assert scores["recall_macro"] == 0.5
    assert scores["f1_macro"] == pytest.approx(3 / 7)


def test_majority_baseline_tie_takes_the_lowest_label():
    assert majority_baseline([2, 1, 2, 1], 3, ["accuracy"]) == {"accuracy": 0.5}


def test_uniform_random_baseline_is_seeded():
    gold = [0, 1, 2] * 100
    first = uniform_random_baseline(gold, 3, ["accuracy"])
    assert first == uniform_random_baseline(gold, 3, ["accuracy"])
    assert 0.2 < first["accuracy"] < 0.45


def test_families_by_hand():
    assert model_family("classifier", "lora") == "encoder fine-tune"
    assert model_family("classifier", "prompting") == "encoder fine-tune"  # a classifier is never prompted
    assert model_family("causal-lm", "prompting") == "prompted LM"
    for method in ("sft", "lora", "dpo", "full", "instruction-tuning"):
        assert model_family("causal-lm", method) == "tuned LM"
    lm = Entry("a", "A", "prompting", "b", "2026-01-01", {}, {}, kind="causal-lm")
    assert lm.family == "prompted LM" and entry("c").family == "encoder fine-tune"


def test_bits_per_byte_ranks_lower_first_and_fronts_use_language_model_costs():
    rows = task_table(
        [
            entry("big", bits_per_byte=0.9, prefill_tokens_per_s=100.0, parameters_total=1e9),
            entry("small", bits_per_byte=1.2, prefill_tokens_per_s=900.0, parameters_total=1e8),
            entry("worse", bits_per_byte=1.3, prefill_tokens_per_s=800.0, parameters_total=2e8),
        ],
        "bits_per_byte",
        leaderboard.pareto_costs("perplexity"),
    )
    assert [(r.rank, r.entry.submission) for r in rows] == [(1, "big"), (2, "small"), (3, "worse")]
    # faster is better (prefill), smaller is better (parameters): "worse" is beaten on both
    assert [r.pareto for r in rows] == [
        ("prefill_tokens_per_s", "parameters_total"),
        ("prefill_tokens_per_s", "parameters_total"),
        (),
    ]


@pytest.mark.parametrize(
    "module", [leaderboard, display, jobs, chart_axes, context, sanitize, downloads, parallel, pages, tables]
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_resampled_win_rates_count_ties_as_half_on_every_resample():
    import numpy as np

    from ftbench.compare import resample_win_rates, win_halves

    def _boot_win_rates(x):
        return resample_win_rates(win_halves(x))

    def one_row_at_a_time(x):  # the definition: below + half the others equal, over the others
        n = x.shape[1]
        return np.array([[(np.sum(r < v) + 0.5 * (np.sum(r == v) - 1)) / max(n - 1, 1) for v in r] for r in x])

    rng = np.random.default_rng(3)
    for shape in [(40, 25), (5, 2), (3, 1), (0, 4)]:
        tied = rng.integers(0, 4, shape).astype(np.float64)  # many ties
        spread = rng.random(shape)
        for x in (tied, spread, -tied):
            assert np.array_equal(_boot_win_rates(x), one_row_at_a_time(x).reshape(shape))
    with_nan = np.array([[1.0, np.nan, 1.0, 0.5]])
    assert _boot_win_rates(with_nan).tolist() == [[0.5, 1.0, 0.5, 0.0]]  # as numpy sorts NaN: above all
