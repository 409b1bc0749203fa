"""A record proves itself: its numbers are recomputed from its stored predictions and the
task's held-out labels, and any that disagree (or are out of range) refuse the record.

A record arrives as a JSON file that anyone could have edited, so nothing in it is taken on
trust: the predictions must cover exactly the held-out examples, and every quality metric, the
confusion matrix, the per-label scores and the bootstrap intervals must be what those
predictions give against the gold labels (the intervals with the recorded seed and resample
count). ``ftbench check`` refuses such a record with an error, ``ftbench build`` leaves it off
the board, ``ftbench collect`` does not take it.

What this cannot catch is a consistent forgery: predictions changed, and every number
recomputed from them. Only running the model again does (``ftbench verify``, on a sample
drawn anew each run), and CI never takes records from a pull request.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ftbench.errors import Issue
from ftbench.metrics import METRICS, bootstrap_intervals, confusion_counts, per_label_scores, quality_from_confusion
from ftbench.perplexity import perplexity_intervals, perplexity_metrics
from ftbench.runner.choice_scores import choice_probabilities, normalised_choice
from ftbench.scores import document_scores
from ftbench.tasks import Examples, Task

TOLERANCE = 1e-9
"""How far a recorded score may be from its recomputed value (float summation order only)."""


def must_prove(record: Any, task: Task, current: bool) -> bool:
    """Whether a record is audited before it is shown: every record that would be current,
    and every other one scored on the task's current data. Only a stale record scored on data
    that has since changed keeps its numbers as made (they cannot be checked any more)."""
    return current or record.task.data_sha256 == task.data_sha256


def audit_record(record: Any, task: Task, gold: Examples | None, shown: str, *, intervals: bool = False) -> list[Issue]:
    """Every way ``record`` (a ResultRecord) disagrees with itself or with ``gold``, the
    task's held-out examples; ``shown`` names the file in each issue. ``intervals`` also
    recomputes the bootstrap intervals from the recorded seed and resample count (20 ms for an
    SST-2 record, 170 ms for Banking77's 77 labels); without it only their range is checked.
    An empty list means the record proves its numbers."""
    if getattr(record.task, "type", "classification") != task.type:
        return [Issue(shown, "task.type", f"{record.task.type!r}, but the task is a {task.type} task")]
    if task.type == "perplexity":
        return document_issues(record, task, gold, shown, intervals=intervals)
    if record.predictions is None or record.documents is not None:
        return [Issue(shown, "predictions", "a classification record needs its predictions (and no documents)")]
    issues = _shape_issues(record, task, shown)
    if issues:
        return issues
    if gold is None:
        return [Issue(shown, "-", f"cannot be checked: the held-out data of task {task.name!r} is unavailable")]
    pred = np.asarray(record.predictions.pred, dtype=np.int64)
    issues = _example_issues(record, gold, shown)
    if issues:
        return issues
    truth = np.asarray(gold.labels[: len(pred)], dtype=np.int64)
    matrix = confusion_counts(truth, pred, len(task.labels))
    issues += choice_issues(record, task, shown)
    if issues:
        return issues
    normalised = None
    if record.choices is not None:
        norm_pred = normalised_choice(np.asarray(record.choices.loglik), record.choices.chars)
        normalised = confusion_counts(truth, norm_pred, len(task.labels))
    issues += _metric_issues(record.metrics, matrix, task, shown, normalised)
    issues += _table_issues(record, matrix, task, shown)
    issues += _interval_issues(record, task, shown)
    if intervals and not issues and record.intervals is not None:
        issues += _recomputed_interval_issues(record, truth, pred, len(task.labels), shown)
    issues += _efficiency_issues(record.efficiency, shown)
    return issues


def _shape_issues(record: Any, task: Task, shown: str) -> list[Issue]:
    p, n = record.predictions, len(task.labels)
    issues = []
    if not (len(p.idx) == len(p.pred) == len(p.prob)):
        issues.append(Issue(shown, "predictions", "idx, pred and prob differ in length"))
    if len(p.pred) != record.task.num_examples or not p.pred:
        issues.append(
            Issue(
                shown, "task.num_examples", f"says {record.task.num_examples} examples, predictions hold {len(p.pred)}"
            )
        )
    if record.complete and record.task.num_examples != task.num_examples:
        issues.append(
            Issue(shown, "complete", f"complete, but {record.task.num_examples} of {task.num_examples} scored")
        )
    if list(record.task.labels) != list(task.labels):
        issues.append(Issue(shown, "task.labels", "differ from the task's labels"))
    for field in ("data_sha256", "definition_sha256"):
        if getattr(record.task, field) != getattr(task, field):
            issues.append(Issue(shown, f"task.{field}", "differs from the task it is ranked on"))
    pred, prob = np.asarray(p.pred, dtype=np.int64), np.asarray(p.prob, dtype=np.float64)
    if ((pred < 0) | (pred >= n)).any():
        issues.append(Issue(shown, "predictions.pred", f"label ids outside 0..{n - 1}"))
    if not ((prob >= 0.0) & (prob <= 1.0)).all():  # NaN fails both comparisons
        issues.append(Issue(shown, "predictions.prob", "probabilities outside [0, 1]"))
    return issues


def _example_issues(record: Any, gold: Examples, shown: str) -> list[Issue]:
    """The predictions must be for the held-out examples in file order: all of them for a
    complete record, the first ``limit`` for a partial one."""
    idx = list(record.predictions.idx)
    expected = list(gold.idx[: len(idx)])
    if idx == expected:
        return []
    known = set(gold.idx)
    unknown = sum(i not in known for i in idx)
    repeated = len(idx) - len(set(idx))
    detail = ", ".join(
        part
        for part in (
            f"{unknown} not in the held-out split" if unknown else "",
            f"{repeated} repeated" if repeated else "",
            "not in the split's order" if not unknown and not repeated else "",
        )
        if part
    )
    return [Issue(shown, "predictions.idx", f"example ids do not match the held-out split ({detail})")]


def _metric_issues(
    metrics: Mapping[str, float], matrix: np.ndarray, task: Task, shown: str, normalised: np.ndarray | None = None
) -> list[Issue]:
    issues = []
    missing = [m for m in task.metrics if m not in metrics]
    if missing:
        issues.append(Issue(shown, "metrics", f"lacks {', '.join(missing)}"))
    for name, value in sorted(metrics.items()):
        if name not in METRICS or METRICS[name].from_confusion is None:
            issues.append(Issue(shown, f"metrics.{name}", "not a quality metric of this board"))
            continue
        evidence = matrix
        if METRICS[name].evidence == "normalised predictions":
            if normalised is None:
                issues.append(Issue(shown, f"metrics.{name}", "needs the label words' log-likelihoods (choices)"))
                continue
            evidence = normalised
        if not isinstance(value, int | float) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            issues.append(Issue(shown, f"metrics.{name}", f"{value!r} is not a score in [0, 1]"))
            continue
        actual = quality_from_confusion([name], evidence)[name]
        if abs(actual - value) > TOLERANCE:
            issues.append(
                Issue(shown, f"metrics.{name}", f"recorded {value:.6f}, but the stored predictions give {actual:.6f}")
            )
    return issues


def _table_issues(record: Any, matrix: np.ndarray, task: Task, shown: str) -> list[Issue]:
    issues = []
    if record.confusion_matrix != matrix.tolist():
        issues.append(Issue(shown, "confusion_matrix", "differs from the one the stored predictions give"))
    precision, recall, f1, support = per_label_scores(matrix)
    expected = {
        label: {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": support[i]}
        for i, label in enumerate(task.labels)
    }
    if set(record.per_class) != set(expected):
        return [*issues, Issue(shown, "per_class", "labels differ from the task's")]
    for label, scores in expected.items():
        stored = record.per_class[label]
        if set(stored) != set(scores) or not all(
            abs(float(stored[k]) - float(v)) <= TOLERANCE for k, v in scores.items()
        ):
            issues.append(Issue(shown, f"per_class.{label}", "differs from what the stored predictions give"))
            break
    return issues


def choice_issues(record: Any, task: Task, shown: str) -> list[Issue]:
    """A prompted LM's record: every prediction must be the arg-max of its label words'
    log-likelihoods, and its probability their softmax (to the 4 decimals stored)."""
    choices = record.choices
    if choices is None:
        return []
    n, k = len(record.predictions.pred), len(task.labels)
    loglik = np.asarray(choices.loglik, dtype=np.float64) if choices.loglik else np.zeros((0, k))
    if loglik.shape != (n, k) or len(choices.chars) != k:
        return [Issue(shown, "choices", f"needs {n} rows of {k} log-likelihoods and {k} continuation lengths")]
    if not np.isfinite(loglik).all() or (loglik > 0).any():
        return [Issue(shown, "choices.loglik", "log-likelihoods must be finite and at most 0")]
    if loglik.argmax(axis=1).tolist() != list(record.predictions.pred):
        return [Issue(shown, "predictions.pred", "not the label words' highest log-likelihoods")]
    probs = choice_probabilities(loglik)[np.arange(n), loglik.argmax(axis=1)]
    if np.abs(probs - np.asarray(record.predictions.prob)).max(initial=0.0) > 5e-5 + 1e-9:
        return [Issue(shown, "predictions.prob", "not the softmax of the label words' log-likelihoods")]
    return []


def document_issues(
    record: Any, task: Task, gold: Examples | None, shown: str, *, intervals: bool = False
) -> list[Issue]:
    """A perplexity record: its documents must be the held-out ones (words and bytes as
    counted from their text), and every metric and interval what their log-likelihoods give."""
    docs = record.documents
    if docs is None or record.predictions is not None or record.confusion_matrix:
        return [Issue(shown, "documents", "a perplexity record needs per-document scores (and no predictions)")]
    n = len(docs.idx)
    if not (n == len(docs.loglik) == len(docs.tokens) == len(docs.words) == len(docs.bytes)) or n == 0:
        return [Issue(shown, "documents", "idx, loglik, tokens, words and bytes differ in length, or are empty")]
    if n != record.task.num_examples or (record.complete and n != task.num_examples):
        return [Issue(shown, "task.num_examples", f"says {record.task.num_examples} documents, the record holds {n}")]
    for field in ("data_sha256", "definition_sha256"):
        if getattr(record.task, field) != getattr(task, field):
            return [Issue(shown, f"task.{field}", "differs from the task it is ranked on")]
    if gold is None:
        return [Issue(shown, "-", f"cannot be checked: the held-out data of task {task.name!r} is unavailable")]
    if list(docs.idx) != list(gold.idx[:n]):
        return [Issue(shown, "documents.idx", "not the held-out documents in file order")]
    expected = document_scores(gold.head(n), docs.loglik, docs.tokens)
    for field in ("words", "bytes"):
        if list(getattr(docs, field)) != list(getattr(expected, field)):
            return [Issue(shown, f"documents.{field}", "differ from the counts of the held-out documents")]
    issues = []
    actual = perplexity_metrics(expected)
    for name in task.metrics:
        if name not in record.metrics:
            issues.append(Issue(shown, "metrics", f"lacks {name}"))
    for name, value in sorted(record.metrics.items()):
        if name not in actual:
            issues.append(Issue(shown, f"metrics.{name}", "not a perplexity metric"))
        elif not (isinstance(value, int | float) and math.isfinite(value) and _close(value, actual[name])):
            issues.append(Issue(shown, f"metrics.{name}", f"recorded {value!r}, the documents give {actual[name]:.6f}"))
    if record.intervals is None:
        return issues
    for name, (low, high) in sorted(record.intervals.bounds.items()):
        if name not in record.metrics or not (0.0 <= low <= high) or not math.isfinite(high):
            issues.append(
                Issue(shown, f"intervals.bounds.{name}", f"({low!r}, {high!r}) is not an interval of a metric")
            )
    if intervals and not issues:
        spec = record.intervals
        again = perplexity_intervals(expected, spec.resamples, spec.level, spec.seed)
        wrong = [
            m
            for m in sorted(spec.bounds)
            if not all(_close(a, b) for a, b in zip(again[m], spec.bounds[m], strict=True))
        ]
        if wrong:
            issues.append(
                Issue(shown, f"intervals.bounds.{wrong[0]}", "differs from the bootstrap its seed and resamples give")
            )
    return issues + _efficiency_issues(record.efficiency, shown)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(b))


def _interval_issues(record: Any, task: Task, shown: str) -> list[Issue]:
    if record.intervals is None:
        return []
    issues = []
    for name, (low, high) in sorted(record.intervals.bounds.items()):
        if name not in record.metrics:
            issues.append(Issue(shown, f"intervals.bounds.{name}", "an interval for a metric the record lacks"))
        elif not (0.0 <= low <= high <= 1.0):
            issues.append(Issue(shown, f"intervals.bounds.{name}", f"({low!r}, {high!r}) is not an interval in [0, 1]"))
    return issues


def _recomputed_interval_issues(
    record: Any, truth: np.ndarray, pred: np.ndarray, n_labels: int, shown: str
) -> list[Issue]:
    spec = record.intervals
    names = tuple(sorted(spec.bounds))
    actual = _bootstrap(names, truth.tobytes(), pred.tobytes(), n_labels, spec.resamples, spec.level, spec.seed)
    wrong = [
        name
        for name in names
        if not all(abs(a - b) <= TOLERANCE for a, b in zip(actual[name], spec.bounds[name], strict=True))
    ]
    if not wrong:
        return []
    return [Issue(shown, f"intervals.bounds.{wrong[0]}", "differs from the bootstrap its seed and resamples give")]


@functools.lru_cache(maxsize=1024)
def _bootstrap(
    names: tuple[str, ...], truth: bytes, pred: bytes, n_labels: int, resamples: int, level: float, seed: int
) -> dict[str, tuple[float, float]]:
    """:func:`ftbench.metrics.bootstrap_intervals`, remembered for identical predictions (a
    board rebuilt in one process, or records that share their predictions)."""
    y_true, y_pred = np.frombuffer(truth, dtype=np.int64), np.frombuffer(pred, dtype=np.int64)
    return bootstrap_intervals(list(names), y_true, y_pred, n_labels, resamples, level, seed)


def _efficiency_issues(efficiency: Mapping[str, object], shown: str) -> list[Issue]:
    bad = [
        key
        for key, value in sorted(efficiency.items())
        if isinstance(value, float | int) and not isinstance(value, bool) and not (math.isfinite(value) and value >= 0)
    ]
    return [Issue(shown, f"efficiency.{bad[0]}", "must be a finite, non-negative number")] if bad else []
