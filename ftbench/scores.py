"""Scoring a run into record fields: classification metrics with bootstrap intervals over
examples, per-label scores and the confusion matrix; perplexity metrics with intervals over
documents. Pure functions of predictions (or per-document log-likelihoods) and gold data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ftbench.metrics import bootstrap_intervals, confusion, per_class_scores, quality_metrics
from ftbench.perplexity import DocumentScores, count_words, perplexity_intervals, perplexity_metrics
from ftbench.record import Documents, Intervals
from ftbench.tasks import Examples, Task

INTERVAL_LEVEL = 0.95
"""Coverage of every interval a record carries."""
INTERVAL_RESAMPLES = 1000
"""Bootstrap resamples of every interval a record carries."""
INTERVAL_SEED = 0
"""Seed of the resampling."""


def score(task: Task, gold: Sequence[int], pred: Sequence[int]) -> dict[str, Any]:
    """Quality metrics with their confidence intervals, per-class scores and the confusion
    matrix of one classification run (metrics recomputed from other evidence, such as
    ``accuracy_norm``, are left to the caller)."""
    n = len(task.labels)
    names = [m for m in task.metrics if m != "accuracy_norm"]
    return {
        "metrics": quality_metrics(names, gold, pred, n),
        "intervals": Intervals(
            level=INTERVAL_LEVEL,
            resamples=INTERVAL_RESAMPLES,
            seed=INTERVAL_SEED,
            bounds=bootstrap_intervals(names, gold, pred, n, INTERVAL_RESAMPLES, INTERVAL_LEVEL, INTERVAL_SEED),
        ),
        "per_class": per_class_scores(gold, pred, task.labels),
        "confusion_matrix": confusion(gold, pred, n),
    }


def document_scores(examples: Examples, loglik: Sequence[float], tokens: Sequence[int]) -> DocumentScores:
    """The per-document values perplexity is computed from (words and bytes counted from the
    texts, so a record cannot claim other counts)."""
    return DocumentScores(
        loglik=tuple(loglik),
        tokens=tuple(tokens),
        words=tuple(count_words(t) for t in examples.texts),
        bytes=tuple(len(t.encode("utf-8")) for t in examples.texts),
    )


def documents_field(scores: DocumentScores, idx: Sequence[int], max_length: int, context_len: int) -> Documents:
    """The ``documents`` field of a perplexity record."""
    return Documents(
        idx=list(idx),
        loglik=list(scores.loglik),
        tokens=list(scores.tokens),
        words=list(scores.words),
        bytes=list(scores.bytes),
        max_length=max_length,
        context_len=context_len,
    )


def score_documents(task: Task, scores: DocumentScores) -> dict[str, Any]:
    """The task's perplexity metrics and their intervals over documents."""
    metrics = perplexity_metrics(scores)
    bounds = perplexity_intervals(scores, INTERVAL_RESAMPLES, INTERVAL_LEVEL, INTERVAL_SEED)
    return {
        "metrics": {name: metrics[name] for name in task.metrics},
        "intervals": Intervals(
            method="percentile bootstrap over documents",
            level=INTERVAL_LEVEL,
            resamples=INTERVAL_RESAMPLES,
            seed=INTERVAL_SEED,
            bounds={name: bounds[name] for name in task.metrics},
        ),
    }
