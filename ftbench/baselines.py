"""Reference baselines: what a classification task scores without a fine-tuned model, with
every example's prediction, so that each entry can be tested against them example by example.

- ``majority``: always the most frequent label of the train split (of the held-out gold
  labels when the task has no train split, which the result says);
- ``stratified``: a seeded random label per example, drawn with that same label distribution;
- ``uniform``: a seeded uniformly random label (the draws of the site's uniform reference row);
- ``tfidf_logreg``: TF-IDF word 1-2 grams and a logistic regression trained on the train split.

Pure functions of the examples: the same inputs give the same predictions, metrics and
intervals. Only :func:`tfidf_logreg` imports scikit-learn, inside its body. Reading and writing
``baselines/<task>.json`` is ``ftbench.baseline_files``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ftbench.errors import DataIntegrityError, FtbenchError, InvalidInput, Issue, display_path
from ftbench.metrics import METRICS, bootstrap_intervals, confusion_counts, quality_from_confusion
from ftbench.record import Intervals
from ftbench.scores import INTERVAL_LEVEL, INTERVAL_RESAMPLES, INTERVAL_SEED
from ftbench.tasks import Examples, Task, load_examples, load_split, split_sha256

RECIPE_VERSION = 1
"""Version of how the baselines are made: raise it when any recipe changes, and every stored
baseline file made before becomes stale."""
SEED = 0
"""Seed of the random baselines (``stratified``, ``uniform``) and of the logistic regression."""
TFIDF_C = 10.0
"""Inverse L2 strength of the logistic regression: fixed, chosen once by 5-fold cross-validation
on the train splits (C in 1, 10, 100; 10 best or within 0.01 on every task), never on held-out data."""
TFIDF_MAX_ITER = 5000
"""lbfgs iterations allowed; a fit that needs them all is refused as not converged."""
PROB_DECIMALS = 4
"""Decimals of a stored confidence, as in a record's ``predictions.prob``."""


@dataclass(frozen=True)
class Baseline:
    """One baseline's predictions on a task's held-out examples, and their scores."""

    name: str
    """``majority``, ``stratified``, ``uniform`` or ``tfidf_logreg``."""
    description: str
    """How the predictions were made, in a sentence (with the scikit-learn version where used)."""
    fitted_on: str | None
    """Split its parameters were estimated from: the train split, the held-out split itself
    (label counts only, for a task without a train split), or None (``uniform``)."""
    predictions: tuple[int, ...]
    """Predicted label id per held-out example, in example order."""
    confidences: tuple[float, ...]
    """Probability the baseline gave its predicted label (4 decimals): the classifier's for
    ``tfidf_logreg``, 1.0 for ``majority``, the label's share for ``stratified``, 1/k for ``uniform``."""
    metrics: Mapping[str, float]
    """The task's quality metrics of these predictions, name -> value."""
    intervals: Intervals
    """Their 95% bootstrap intervals, drawn exactly as a result record's are."""


@dataclass(frozen=True)
class TaskBaselines:
    """Every baseline of one task, with what they were computed from (to tell when they are stale)."""

    task: str
    """Task id."""
    split: str
    """Held-out split the predictions are for."""
    data_sha256: str
    """sha256 of the held-out file (the task's ``data_sha256`` when they were made)."""
    train_split: str | None
    """The task's train split, None when it has none."""
    train_sha256: str | None
    """sha256 of the train file as its dataset's ``meta.json`` declares it (None: no train split)."""
    idx: tuple[int, ...]
    """Row id of each held-out example, aligned with every baseline's predictions."""
    baselines: tuple[Baseline, ...]
    """In the order ``majority``, ``stratified``, ``uniform``, ``tfidf_logreg`` (the last only
    with a train split)."""
    recipe_version: int = RECIPE_VERSION
    """:data:`RECIPE_VERSION` of the code that made them."""

    def get(self, name: str) -> Baseline | None:
        """The baseline called ``name``, or None."""
        return next((b for b in self.baselines if b.name == name), None)


def scored_metrics(task: Task) -> list[str]:
    """The task's metrics that are computed from predicted labels (what a baseline reports)."""
    return [m for m in task.metrics if METRICS[m].evidence == "predictions"]


def score_baseline(
    task: Task,
    name: str,
    description: str,
    fitted_on: str | None,
    gold: Sequence[int],
    pred: Sequence[int],
    confidences: Sequence[float],
) -> Baseline:
    """A :class:`Baseline` of the given predictions: the task's metrics and their intervals."""
    n, names = len(task.labels), scored_metrics(task)
    bounds = bootstrap_intervals(names, gold, pred, n, INTERVAL_RESAMPLES, INTERVAL_LEVEL, INTERVAL_SEED)
    return Baseline(
        name=name,
        description=description,
        fitted_on=fitted_on,
        predictions=tuple(int(p) for p in pred),
        confidences=tuple(round(float(c), PROB_DECIMALS) for c in confidences),
        metrics=quality_from_confusion(names, confusion_counts(gold, pred, n)),
        intervals=Intervals(level=INTERVAL_LEVEL, resamples=INTERVAL_RESAMPLES, seed=INTERVAL_SEED, bounds=bounds),
    )


def label_source(task: Task, held_out: Examples, train: Examples | None) -> tuple[str, tuple[int, ...]]:
    """``(split, labels)`` the trivial baselines count labels in: the train split when there is
    one, else the held-out gold labels."""
    if train is not None and task.train_split is not None:
        return task.train_split, train.labels
    return task.split, held_out.labels


def label_shares(labels: Sequence[int], n_labels: int) -> np.ndarray:
    """Share of each label id among ``labels`` (0 for an id that does not occur).

    >>> label_shares([0, 1, 1, 1], 3).tolist()
    [0.25, 0.75, 0.0]
    """
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_labels) / max(len(labels), 1)


def _where(split: str, task: Task) -> str:
    return f"the {split} split" if split != task.split else f"the held-out {split} split's gold labels (no train split)"


def majority(task: Task, held_out: Examples, train: Examples | None) -> Baseline:
    """Always the most frequent label of the train split (lowest id on a tie), or of the held-out
    gold labels when the task has no train split."""
    split, labels = label_source(task, held_out, train)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(task.labels))
    label = int(np.argmax(counts))  # argmax takes the first maximum: the lowest id on a tie
    description = (
        f"Always predicts {task.labels[label]!r} (label {label}), the most frequent label of "
        f"{_where(split, task)}: {counts[label]} of {len(labels)} examples."
    )
    n = len(held_out)
    return score_baseline(task, "majority", description, split, held_out.labels, [label] * n, [1.0] * n)


def stratified(task: Task, held_out: Examples, train: Examples | None, seed: int = SEED) -> Baseline:
    """A random label per example, drawn (numpy ``default_rng(seed)``) with the label shares of the
    train split, or of the held-out gold labels when the task has no train split."""
    split, labels = label_source(task, held_out, train)
    shares = label_shares(labels, len(task.labels))
    pred = np.random.default_rng(seed).choice(len(task.labels), size=len(held_out), p=shares)
    description = (
        f"A random label per example, drawn with the label shares of {_where(split, task)} "
        f"(numpy default_rng({seed}).choice)."
    )
    return score_baseline(task, "stratified", description, split, held_out.labels, pred.tolist(), shares[pred].tolist())


def uniform(task: Task, held_out: Examples, seed: int = SEED) -> Baseline:
    """A uniformly random label per example: the same draws as the site's uniform reference row
    (``ftbench.leaderboard.uniform_random_baseline``), now kept example by example."""
    k = len(task.labels)
    pred = np.random.default_rng(seed).integers(0, k, len(held_out)).tolist()
    description = f"A uniformly random label per example among the {k} labels (numpy default_rng({seed}).integers)."
    return score_baseline(task, "uniform", description, None, held_out.labels, pred, [1 / k] * len(pred))


def tfidf_logreg(task: Task, held_out: Examples, train: Examples, seed: int = SEED) -> Baseline:
    """TF-IDF (word 1-2 grams, sublinear tf, min_df=2) and an L2 logistic regression (lbfgs,
    C=:data:`TFIDF_C`) trained on the train split; each held-out example gets the label of highest
    probability (lowest id on a tie) and that probability as its confidence."""
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    _check_train(task, train)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float64)
    model = LogisticRegression(C=TFIDF_C, max_iter=TFIDF_MAX_ITER, random_state=seed)
    model.fit(vectorizer.fit_transform(train.texts), np.asarray(train.labels))
    iterations = int(np.max(model.n_iter_))
    if iterations >= TFIDF_MAX_ITER:
        raise FtbenchError(
            f"task {task.name!r}: the logistic regression did not converge in {TFIDF_MAX_ITER} iterations"
        )
    proba = model.predict_proba(vectorizer.transform(held_out.texts))
    best = proba.argmax(axis=1)
    description = (
        f"TF-IDF of word 1-2 grams (sublinear tf, min_df=2, {len(vectorizer.vocabulary_)} features) and an L2 "
        f"logistic regression (lbfgs, C={TFIDF_C:g}, converged in {iterations} iterations), trained on the "
        f"{task.train_split} split ({len(train)} examples); scikit-learn {sklearn.__version__}."
    )
    pred = model.classes_[best].tolist()
    confidence = proba[np.arange(len(best)), best].tolist()
    return score_baseline(task, "tfidf_logreg", description, task.train_split, held_out.labels, pred, confidence)


def _check_train(task: Task, train: Examples) -> None:
    """The train labels must be task labels, and at least two of them (a classifier needs both)."""
    outside = sorted({y for y in train.labels if not 0 <= y < len(task.labels)})
    if outside:
        raise DataIntegrityError(f"task {task.name!r}: train label {outside[0]} not in 0..{len(task.labels) - 1}")
    if len(set(train.labels)) < 2:
        raise DataIntegrityError(f"task {task.name!r}: the train split holds fewer than two distinct labels")


def task_baselines(task: Task, held_out: Examples, train: Examples | None, train_sha256: str | None) -> TaskBaselines:
    """Every baseline of a classification task (``tfidf_logreg`` only when ``train`` is given)."""
    if task.type != "classification":
        raise ValueError(f"task {task.name!r} is a {task.type} task: baselines are for classification tasks")
    found = [majority(task, held_out, train), stratified(task, held_out, train), uniform(task, held_out)]
    if train is not None:
        found.append(tfidf_logreg(task, held_out, train))
    return TaskBaselines(
        task=task.name,
        split=task.split,
        data_sha256=task.data_sha256,
        train_split=task.train_split if train is not None else None,
        train_sha256=train_sha256 if train is not None else None,
        idx=held_out.idx,
        baselines=tuple(found),
    )


@dataclass(frozen=True)
class BoardBaselines:
    """The baselines of a board's tasks, and the tasks that have none."""

    made: tuple[TaskBaselines, ...]
    """One per classification task, in task order."""
    skipped: tuple[str, ...]
    """``"<task>: why"`` for each task without baselines (perplexity tasks)."""


def board_baselines(tasks: Sequence[Task], data_dir: Path, tasks_dir: Path) -> BoardBaselines:
    """The baselines of every classification task in ``tasks``, from the data under ``data_dir``.

    Every task's data is read before anything is trained, and every problem found is raised
    together as :class:`InvalidInput`, each as ``tasks/<task>.yaml:<field>: message``
    (``data_file`` for the held-out file, ``train_split`` for the train file).
    """
    inputs: list[tuple[Task, Examples, Examples | None, str | None]] = []
    skipped: list[str] = []
    issues: list[Issue] = []
    for task in tasks:
        if task.type != "classification":
            skipped.append(f"{task.name}: a {task.type} task, it has no labels to predict")
            continue
        try:
            inputs.append((task, *_task_data(task, data_dir)))
        except InvalidInput as exc:
            issues.extend(Issue(display_path(tasks_dir / f"{task.name}.yaml"), i.field, i.message) for i in exc.issues)
    if issues:
        raise InvalidInput(issues)
    return BoardBaselines(tuple(task_baselines(*args) for args in inputs), tuple(skipped))


def _task_data(task: Task, data_dir: Path) -> tuple[Examples, Examples | None, str | None]:
    """``(held-out examples, train examples, train sha256)``, both files checked against their sha256."""
    try:
        held_out = load_examples(task, data_dir)
    except (DataIntegrityError, OSError, ValueError) as exc:
        raise InvalidInput([Issue("-", "data_file", str(exc))]) from None
    if task.train_split is None:
        return held_out, None, None
    try:
        train = load_split(data_dir, task.dataset, task.train_split)
    except (DataIntegrityError, OSError, ValueError, KeyError) as exc:
        raise InvalidInput([Issue("-", "train_split", str(exc))]) from None
    return held_out, train, split_sha256(data_dir, task.dataset, task.train_split)
