"""Metrics against hand computations on tables small enough to check by eye."""

from __future__ import annotations

import pytest

from ftbench.metrics import METRICS, confusion, per_class_scores, quality_metrics

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
