"""Metrics against hand computations on tables small enough to check by eye."""

from __future__ import annotations

import numpy as np
import pytest

from ftbench.metrics import (
    METRICS,
    bootstrap_intervals,
    confusion,
    confusion_counts,
    per_class_scores,
    per_label_scores,
    quality_from_confusion,
    quality_metrics,
)

# gold / predicted over three labels (0, 1, 2):
GOLD = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
PRED = [0, 0, 1, 1, 2, 2, 2, 2, 0, 0]
# By hand: confusion rows = gold, columns = predicted
#   gold 0: 2 -> 0, 1 -> 1           [2, 1, 0]
#   gold 1: 1 -> 1, 1 -> 2           [0, 1, 1]
#   gold 2: 2 -> 0, 3 -> 2           [2, 0, 3]
# precision: label0 2/4, label1 1/2, label2 3/4 ; recall: 2/3, 1/2, 3/5
HAND_P = [2 / 4, 1 / 2, 3 / 4]
HAND_R = [2 / 3, 1 / 2, 3 / 5]
HAND_F = [2 * p * r / (p + r) for p, r in zip(HAND_P, HAND_R, strict=True)]


def test_confusion_by_hand():
    assert confusion(GOLD, PRED, 3) == [[2, 1, 0], [0, 1, 1], [2, 0, 3]]


def test_accuracy_and_macro_scores_by_hand():
    scores = quality_metrics(["accuracy", "precision_macro", "recall_macro", "f1_macro"], GOLD, PRED, 3)
    assert scores["accuracy"] == pytest.approx(6 / 10)
    assert scores["precision_macro"] == pytest.approx(sum(HAND_P) / 3)
    assert scores["recall_macro"] == pytest.approx(sum(HAND_R) / 3)
    assert scores["f1_macro"] == pytest.approx(sum(HAND_F) / 3)


def test_per_class_by_hand():
    scores = per_class_scores(GOLD, PRED, ["a", "b", "c"])
    assert [scores[k]["precision"] for k in "abc"] == pytest.approx(HAND_P)
    assert [scores[k]["recall"] for k in "abc"] == pytest.approx(HAND_R)
    assert [scores[k]["f1"] for k in "abc"] == pytest.approx(HAND_F)
    assert [scores[k]["support"] for k in "abc"] == [3, 2, 5]


def test_label_never_predicted_counts_as_zero():
    # label 2 exists in the task but is neither gold nor predicted: it still counts in the macro mean
    scores = quality_metrics(["precision_macro", "recall_macro"], [0, 1], [0, 1], 3)
    assert scores["precision_macro"] == pytest.approx(2 / 3)
    assert scores["recall_macro"] == pytest.approx(2 / 3)


def test_directions_are_declared_once():
    assert METRICS["accuracy"].higher_is_better
    assert not METRICS["latency_ms"].higher_is_better
    assert not METRICS["peak_memory_mb"].higher_is_better
    assert METRICS["examples_per_s"].higher_is_better


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="duplicate metric name"):
        METRICS.add("accuracy", METRICS["accuracy"])


def test_efficiency_figure_is_not_computed_from_predictions():
    with pytest.raises(ValueError, match="efficiency figure"):
        quality_metrics(["latency_ms"], [0], [0], 2)


@pytest.mark.parametrize("seed", range(6))
def test_confusion_matrix_forms_equal_scikit_learn(seed):
    # random labels over 2-9 classes, some never predicted and some never present
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    gold = rng.integers(0, max(n - seed % 2, 1), 60).tolist()
    pred = rng.integers(seed % 3, n, 60).tolist()
    cm = confusion_counts(gold, pred, n)
    assert cm.tolist() == confusion(gold, pred, n)
    names = [name for name, m in METRICS.items() if m.evidence == "predictions"]
    assert names == ["accuracy", "f1_macro", "precision_macro", "recall_macro"]
    exact = quality_metrics(names, gold, pred, n)
    assert quality_from_confusion(names, cm) == pytest.approx(exact, abs=1e-12)
    _, _, f, s = per_label_scores(cm)
    labels = [str(i) for i in range(n)]
    sk = per_class_scores(gold, pred, labels)
    assert [sk[k]["f1"] for k in labels] == pytest.approx(f.tolist(), abs=1e-12)
    assert [sk[k]["support"] for k in labels] == s.tolist()


def test_bootstrap_intervals_cover_the_score_and_narrow_with_more_examples():
    rng = np.random.default_rng(3)
    names = ["accuracy", "f1_macro", "precision_macro", "recall_macro"]

    def run(n: int) -> tuple[dict, dict]:
        gold = rng.integers(0, 3, n).tolist()
        pred = [g if rng.random() < 0.8 else (g + 1) % 3 for g in gold]
        return quality_metrics(names, gold, pred, 3), bootstrap_intervals(names, gold, pred, 3, resamples=400)

    small_scores, small = run(200)
    large_scores, large = run(5000)
    for name in names:
        assert small[name][0] <= small_scores[name] <= small[name][1]
        assert large[name][0] <= large_scores[name] <= large[name][1]
        assert large[name][1] - large[name][0] < 0.5 * (small[name][1] - small[name][0])
    # an accuracy interval is about +-1.96 standard errors of a proportion
    p = large_scores["accuracy"]
    assert large["accuracy"][1] - large["accuracy"][0] == pytest.approx(2 * 1.96 * (p * (1 - p) / 5000) ** 0.5, rel=0.2)
    # seeded: the same predictions give the same interval
    gold, pred = [0, 1, 1, 0] * 10, [0, 1, 0, 0] * 10
    assert bootstrap_intervals(names, gold, pred, 2) == bootstrap_intervals(names, gold, pred, 2)
