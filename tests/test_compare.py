"""Paired comparisons, rank groups and calibration, checked against independent computations
(scipy's binomial test, scikit-learn's metrics, resampling loops written out here) and against
boards small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import brier_score_loss, f1_score, log_loss

from ftbench.calibration import calibration
from ftbench.compare import (
    Outcome,
    bootstrap_p,
    compare_all,
    exact_binomial_p,
    holm,
    mcnemar,
    metric_samples,
    outcome_from_predictions,
    rank_intervals,
    resample_weights,
)
from ftbench.leaderboard import Entry, overall_ranking, rank_entries
from ftbench.metrics import METRICS
from ftbench.perplexity import DocumentScores, perplexity_intervals


def _outcome(pred) -> Outcome:
    return Outcome(pred=np.asarray(pred, dtype=np.int16), prob=np.full(len(pred), 0.9, np.float32))


def test_mcnemar_matches_scipy_binomtest():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(5, 400))
        a, b = rng.random(n) < rng.random(), rng.random(n) < rng.random()
        t = mcnemar(a, b)
        discordant = t.only_a + t.only_b
        expected = binomtest(t.only_a, discordant, 0.5).pvalue if discordant else 1.0
        assert t.p_value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert t.both_right + t.only_a + t.only_b + t.both_wrong == n


def test_exact_binomial_p_on_large_counts_matches_scipy():
    b, c = np.array([0, 1, 480, 5000, 7]), np.array([9, 0, 520, 5200, 7])
    expected = [binomtest(int(x), int(x + y), 0.5).pvalue for x, y in zip(b, c, strict=True)]
    assert exact_binomial_p(b, c) == pytest.approx(expected, rel=1e-9)


def test_compare_all_uses_mcnemar_on_every_pair_for_accuracy():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 300)
    preds = [np.where(rng.random(300) < q, gold, (gold + 1) % 3) for q in (0.9, 0.85, 0.6)]
    stats = compare_all(
        [float(np.mean(p == gold)) for p in preds],
        [_outcome(p) for p in preds],
        gold,
        metric="accuracy",
        higher_is_better=True,
        n_labels=3,
    )
    assert stats.method == "McNemar exact"
    for i in range(3):
        for j in range(3):
            if i != j:
                assert stats.p_raw[i, j] == pytest.approx(mcnemar(preds[i] == gold, preds[j] == gold).p_value)
    # Holm over the 3 pairs, by hand from the raw p-values
    raw = [stats.p_raw[0, 1], stats.p_raw[0, 2], stats.p_raw[1, 2]]
    order = np.argsort(raw)
    expected = np.empty(3)
    running = 0.0
    for k, idx in enumerate(order):
        running = max(running, min(1.0, (3 - k) * raw[idx]))
        expected[idx] = running
    assert [stats.p_holm[0, 1], stats.p_holm[0, 2], stats.p_holm[1, 2]] == pytest.approx(expected)


def test_holm_by_hand():
    # sorted: 0.001 x 4, 0.01 x 3, 0.02 x 2 = 0.04, 0.5 x 1 (monotone)
    assert holm([0.02, 0.5, 0.001, 0.01]).tolist() == pytest.approx([0.04, 0.5, 0.004, 0.03])
    assert holm([]).tolist() == []


def test_paired_bootstrap_interval_within_monte_carlo_error_of_an_independent_resampling():
    rng = np.random.default_rng(11)
    n, k = 400, 3
    gold = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.7, gold, rng.integers(0, k, n))
    weights = resample_weights(n, 2000, seed=0)
    ours = metric_samples("f1_macro", [_outcome(pred)], gold, k, weights, METRICS["f1_macro"].from_confusion)[:, 0]
    other = np.random.default_rng(12345)  # an independent generator and sklearn's F1
    theirs = []
    for _ in range(2000):
        pick = other.integers(0, n, n)
        theirs.append(f1_score(gold[pick], pred[pick], average="macro", labels=list(range(k)), zero_division=0))
    for q in (2.5, 50, 97.5):
        # Monte Carlo error of a percentile over 2,000 resamples is well under 0.01 here
        assert np.percentile(ours, q) == pytest.approx(np.percentile(theirs, q), abs=0.012)


def test_resampled_accuracy_equals_the_metric_on_each_resample():
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 2, 50)
    pred = rng.integers(0, 2, 50)
    weights = resample_weights(50, 20, seed=1)
    samples = metric_samples("accuracy", [_outcome(pred)], gold, 2, weights)[:, 0]
    picks = np.random.default_rng(1).integers(0, 50, size=(20, 50))  # the same draws, written out
    assert samples == pytest.approx([np.mean(pred[p] == gold[p]) for p in picks], abs=1e-6)


def test_document_resamples_reproduce_the_records_perplexity_intervals():
    scores = DocumentScores((-120.0, -300.0, -80.0, -500.0), (40, 90, 30, 160), (30, 70, 20, 120), (150, 400, 90, 700))
    docs = {
        name: np.asarray(getattr(scores, name), dtype=np.float64) for name in ("loglik", "tokens", "words", "bytes")
    }
    weights = resample_weights(4, 1000, seed=0)
    for metric in ("bits_per_byte", "token_perplexity", "word_perplexity"):
        samples = metric_samples(metric, [Outcome(documents=docs)], None, 0, weights)[:, 0]
        lo, hi = perplexity_intervals(scores)[metric]
        assert np.percentile(samples, [2.5, 97.5]) == pytest.approx([lo, hi], rel=1e-9)


def test_bootstrap_p_counts_both_sides():
    assert bootstrap_p(np.array([1.0] * 99 + [-1.0])) == pytest.approx(2 * 2 / 101)
    assert bootstrap_p(np.zeros(9)) == 1.0


def test_rank_groups_on_a_hand_made_board():
    # 200 examples. A is right on 190; B differs from A on 4 examples (2 each way): not
    # significantly different; C is right on 100 only: both beat it (190 vs 100 discordant).
    gold = np.zeros(200, dtype=np.int16)
    a = gold.copy()
    a[:10] = 1
    b = a.copy()
    b[10:12] = 1  # B wrong where A is right
    b[:2] = 0  # B right where A is wrong
    c = gold.copy()
    c[:100] = 1
    entries = [
        Entry(s, s, "lora", "base", "2026-01-01", {"accuracy": float(np.mean(p == gold))}, {}, outcome=_outcome(p))
        for s, p in (("a", a), ("b", b), ("c", c))
    ]
    rows = rank_entries(entries, "accuracy", gold.tolist(), 2)
    assert [(r.entry.submission, r.rank, r.wins) for r in rows] == [("a", 1, 1), ("b", 1, 1), ("c", 3, 0)]
    assert rows[0].ties == 1 and rows[2].ties == 0
    assert rows[0].comparisons is not None and rows[0].comparisons.p_raw[0, 1] == pytest.approx(1.0)
    assert (rows[0].rank_low, rows[0].rank_high) == (1, 2) and (rows[2].rank_low, rows[2].rank_high) == (3, 3)
    # without per-example results the ranks are the point scores' competition ranks
    plain = rank_entries(
        [Entry(e.submission, e.name, "lora", "base", e.date, e.metrics, {}) for e in entries], "accuracy"
    )
    assert [r.rank for r in plain] == [1, 1, 3]  # A and B both get 190 right


def test_overall_ranking_ties_models_whose_win_rates_are_not_reliably_different():
    gold = np.zeros(300, dtype=np.int16)
    rng = np.random.default_rng(2)

    def model(right: float) -> np.ndarray:
        return np.where(rng.random(300) < right, 0, 1).astype(np.int16)

    tables = {}
    for task in ("t1", "t2"):
        preds = {"strong": model(0.95), "twin": model(0.95), "weak": model(0.55)}
        entries = [
            Entry(s, s, "lora", "b", "2026-01-01", {"accuracy": float(np.mean(p == 0))}, {}, outcome=_outcome(p))
            for s, p in preds.items()
        ]
        tables[task] = rank_entries(entries, "accuracy", gold.tolist(), 2)
    overall = overall_ranking(tables)
    ranks = {o.submission: o.rank for o in overall}
    assert ranks["strong"] == ranks["twin"] == 1 and ranks["weak"] == 3
    assert all(o.tasks == ("t1", "t2") and o.rivals == 2 for o in overall)
    weak = next(o for o in overall if o.submission == "weak")
    assert (weak.rank_low, weak.rank_high) == (3, 3)


def test_rank_intervals_by_hand():
    samples = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [3.0, 1.0, 2.0], [3.0, 2.0, 1.0]])
    assert rank_intervals(samples, True) == [(1, 2), (1, 3), (2, 3)]
    assert rank_intervals(samples, False)[2] == (1, 2)


def test_outcome_aligns_rows_by_position():
    o = outcome_from_predictions([1, 3], [2, 0], [0.5, 0.75], 4)
    assert o.pred.tolist() == [-1, 2, -1, 0] and o.prob.tolist() == [0.0, 0.5, 0.0, 0.75]


def test_calibration_matches_sklearn_on_a_binary_task():
    rng = np.random.default_rng(4)
    p_positive = rng.random(500)
    gold = (rng.random(500) < p_positive).astype(int)
    pred = (p_positive >= 0.5).astype(int)
    confidence = np.where(pred == 1, p_positive, 1 - p_positive)
    c = calibration(confidence, pred == gold)
    assert c.brier == pytest.approx(brier_score_loss(gold, p_positive))
    assert c.log_loss == pytest.approx(log_loss(gold, p_positive), rel=1e-6)
    # ECE by hand: 15 equal-width bins of the confidence
    which = np.minimum((confidence * 15).astype(int), 14)
    gaps = [
        abs(np.mean(pred[which == b] == gold[which == b]) - np.mean(confidence[which == b])) * np.sum(which == b)
        for b in range(15)
        if np.any(which == b)
    ]
    assert c.ece == pytest.approx(sum(gaps) / 500)
    assert sum(b.count for b in c.bins) == 500


def test_an_entry_not_significantly_above_the_best_trivial_baseline_is_marked():
    from ftbench.leaderboard import task_table, trivial_outcomes

    rng = np.random.default_rng(9)
    gold = rng.integers(0, 2, 400).astype(np.int16)
    strong = np.where(rng.random(400) < 0.9, gold, 1 - gold).astype(np.int16)
    lucky = np.where(rng.random(400) < 0.53, gold, 1 - gold).astype(np.int16)
    broken = (1 - gold).astype(np.int16)  # a randomly initialised head can do worse than chance
    entries = [
        Entry(s, s, "lora", "b", "2026-01-01", {"accuracy": float(np.mean(p == gold))}, {}, outcome=_outcome(p))
        for s, p in (("strong", strong), ("lucky", lucky), ("broken", broken))
    ]
    trivial = trivial_outcomes(gold.tolist(), 2)
    floor = max(float(np.mean(o.pred == gold)) for o in trivial)
    rows = {r.entry.submission: r for r in task_table(entries, "accuracy", (), "", gold.tolist(), 2, trivial)}
    assert rows["strong"].baseline == ""
    assert rows["broken"].baseline == "below"
    lucky_acc = float(np.mean(lucky == gold))
    assert rows["lucky"].baseline == ("below" if lucky_acc <= floor else "not above")


def test_contamination_marks_and_the_clean_subset_score_by_hand():
    from ftbench.board.snapshot import contamination_of
    from ftbench.contamination import METHOD, FoundOverlap
    from ftbench.tasks import Examples

    examples = Examples(idx=(0, 1, 2, 3, 4), texts=("a", "b", "c", "d", "e"), labels=(0, 1, 0, 1, 0))
    outcome = _outcome([0, 1, 1, 0, 0])  # right on 0, 1, 4
    found = (
        FoundOverlap("t", "rt", "train", 5, 2, 0, 2, METHOD, (0, 1)),
        FoundOverlap("t", "x", "train", 5, 1, 0, 1, METHOD, (1,)),
    )
    c = contamination_of(outcome, examples, found, "accuracy", 2)
    assert c is not None and c.overlapping == 2 and c.held_out == 5 and c.fraction == 0.4
    assert c.clean_score == pytest.approx(1 / 3)  # examples 2, 3, 4: right on 4 only
    assert [s[0] for s in c.splits] == ["rt/train", "x/train"]
    assert contamination_of(outcome, examples, (), "accuracy", 2) is None


def test_the_one_hot_confusion_path_equals_counting_each_resample():
    from ftbench.compare import _resampled_confusion

    rng = np.random.default_rng(21)
    gold = rng.integers(0, 4, 300)
    preds = [np.where(rng.random(300) < q, gold, rng.integers(0, 4, 300)).astype(np.int16) for q in (0.9, 0.5, 0.2)]
    preds[1][:7] = -1  # examples without a prediction count in no cell
    weights = resample_weights(300, 200, seed=3)
    f1 = METRICS["f1_macro"].from_confusion
    fast = metric_samples("f1_macro", [_outcome(p) for p in preds], gold, 4, weights, f1)
    slow = np.column_stack([f1(_resampled_confusion(gold, p, 4, weights)) for p in preds])
    assert fast == pytest.approx(slow)
