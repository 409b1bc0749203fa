"""Paired comparisons of entries on the same held-out examples (pure, numpy and scipy only).

Two models scored on the same examples are compared example by example, which is far more
sensitive than comparing their two intervals:

- **accuracy**: McNemar's exact test on the examples exactly one of the two gets right (the
  discordant pairs; under "no difference" each goes either way with probability 1/2);
- **every other metric** (macro F1, perplexity over documents, ...): a paired bootstrap: the
  examples are resampled once, and both models are scored on the same resample;
- **many comparisons on one page**: Holm's step-down correction of the p-values;
- **ranks that admit ties**: an entry's rank is 1 + the number of entries significantly better
  than it (Chatbot Arena's rule), so entries that no one beats significantly share rank 1;
- **plausible ranks**: the central 95% of an entry's rank over the bootstrap resamples.

Every function takes plain arrays; :class:`Outcome` is what an entry carries of its record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

RESAMPLES = 1000
"""Bootstrap resamples of paired comparisons and rank intervals."""
SEED = 0
"""Seed of the resampling: the same predictions always give the same comparisons."""
ALPHA = 0.05
"""Significance level after the multiple-comparison correction."""
LEVEL = 0.95
"""Coverage of difference and rank intervals."""


@dataclass(frozen=True, eq=False)
class Outcome:
    """One entry's per-example results, aligned with the task's held-out examples (file order).

    Classification: ``pred`` (label id, -1 where the record has no prediction) and ``prob``
    (the probability of the predicted label). Perplexity: ``documents``, per-document
    ``loglik``, ``tokens``, ``words`` and ``bytes``."""

    pred: np.ndarray | None = None
    """Predicted label per example (int16), or None for a perplexity record."""
    prob: np.ndarray | None = None
    """Probability of the predicted label per example (float32)."""
    documents: Mapping[str, np.ndarray] | None = None
    """Per-document ``loglik``, ``tokens``, ``words``, ``bytes`` (float64) of a perplexity record."""

    @property
    def size(self) -> int:
        """Examples (or documents) it covers."""
        if self.pred is not None:
            return len(self.pred)
        return len(self.documents["loglik"]) if self.documents else 0


def outcome_from_predictions(idx: Sequence[int], pred: Sequence[int], prob: Sequence[float], n: int) -> Outcome:
    """An :class:`Outcome` of ``n`` held-out examples from a record's predictions (``idx``: row
    position of each; rows it lacks read -1).

    >>> o = outcome_from_predictions([2, 0], [1, 0], [0.9, 0.6], 3)
    >>> o.pred.tolist(), [round(float(p), 2) for p in o.prob]
    ([0, -1, 1], [0.6, 0.0, 0.9])
    """
    out = np.full(n, -1, dtype=np.int16)
    conf = np.zeros(n, dtype=np.float32)
    positions = np.asarray(idx, dtype=np.int64)
    keep = (positions >= 0) & (positions < n)
    out[positions[keep]] = np.asarray(pred, dtype=np.int16)[keep]
    conf[positions[keep]] = np.asarray(prob, dtype=np.float32)[keep]
    return Outcome(pred=out, prob=conf)


# ------------------------------------------------------------------ tests of one pair


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two classifiers' accuracy on the same examples."""

    both_right: int
    """Examples both get right."""
    only_a: int
    """Examples only the first gets right."""
    only_b: int
    """Examples only the second gets right."""
    both_wrong: int
    """Examples both get wrong."""
    p_value: float
    """Two-sided exact binomial p-value of the discordant counts (1.0 when there are none)."""


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> McNemar:
    """McNemar's exact test from two boolean "got it right" vectors over the same examples.

    >>> t = mcnemar(np.array([1, 1, 1, 0, 1], bool), np.array([1, 0, 0, 0, 0], bool))
    >>> (t.both_right, t.only_a, t.only_b, t.both_wrong), round(t.p_value, 4)
    ((1, 3, 0, 1), 0.25)
    """
    a, b = np.asarray(a_right, bool), np.asarray(b_right, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    both_right, both_wrong = int(np.sum(a & b)), int(np.sum(~a & ~b))
    return McNemar(both_right, only_a, only_b, both_wrong, float(exact_binomial_p(only_a, only_b)))


def exact_binomial_p(only_a: np.ndarray | int, only_b: np.ndarray | int) -> np.ndarray:
    """Two-sided exact p-values of McNemar's test for discordant counts (elementwise):
    ``min(1, 2 P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1 where ``b + c = 0``.

    >>> [round(float(p), 4) for p in exact_binomial_p(np.array([3, 10, 0]), np.array([0, 10, 0]))]
    [0.25, 1.0, 1.0]
    """
    from scipy.special import betainc  # the binomial CDF, without scipy.stats' import time

    b, c = np.asarray(only_a, dtype=np.float64), np.asarray(only_b, dtype=np.float64)
    n, k = b + c, np.minimum(b, c)
    with np.errstate(invalid="ignore", divide="ignore"):
        # P(X <= k) for X ~ Binomial(n, 1/2) is the regularised incomplete beta I_{1/2}(n - k, k + 1)
        p = np.minimum(1.0, 2.0 * betainc(np.maximum(n - k, 1e-300), k + 1, 0.5))
    return np.where((n > 0) & (k < n), p, 1.0)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error).

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def bootstrap_p(differences: np.ndarray) -> np.ndarray:
    """Two-sided paired-bootstrap p-values from resampled differences (axis 0: resamples):
    twice the smaller share of resamples on either side of zero, counted as ``(k + 1) / (B + 1)``
    so that a finite number of resamples never claims p = 0.

    >>> round(float(bootstrap_p(np.array([0.1, 0.2, -0.1, 0.3]))), 2)
    0.8
    """
    d = np.asarray(differences, dtype=np.float64)
    b = d.shape[0]
    below, above = (d <= 0).sum(axis=0), (d >= 0).sum(axis=0)
    return np.minimum(1.0, 2.0 * (np.minimum(below, above) + 1) / (b + 1))


# ------------------------------------------------------------------ resampling


def resample_weights(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each of ``n`` examples is drawn in each bootstrap resample, ``(resamples, n)``
    (float32): one matrix shared by every entry of a task, so that all comparisons are paired."""
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    shifted = picks + n * np.arange(resamples)[:, None]
    return np.bincount(shifted.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float32)


def metric_samples(
    metric: str,
    outcomes: Sequence[Outcome],
    gold: np.ndarray | None,
    n_labels: int,
    weights: np.ndarray,
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """``metric`` of every entry on every resample, ``(resamples, entries)``.

    Classification: accuracy as one matrix product; any other metric from each resample's
    confusion matrix (``from_confusion``, the metric's own formula). Perplexity: from the
    resampled document totals (``ftbench.perplexity``'s formulas)."""
    if metric == "accuracy" and gold is not None and outcomes and all(o.pred is not None for o in outcomes):
        # every entry at once: one matrix product instead of a pass over the weights per entry
        right = np.column_stack([o.pred == gold for o in outcomes]).astype(np.float32)
        return (weights @ right) / weights.sum(axis=1)[:, None]
    if (
        gold is not None
        and from_confusion is not None
        and n_labels <= ONE_HOT_LABELS
        and outcomes
        and all(o.pred is not None for o in outcomes)
    ):
        return _confusion_samples(
            gold, [o.pred for o in outcomes if o.pred is not None], n_labels, weights, from_confusion
        )
    columns = []
    for outcome in outcomes:
        if outcome.documents is not None:
            columns.append(_document_metric(metric, outcome.documents, weights))
        else:
            assert gold is not None and from_confusion is not None, f"{metric}: no way to resample it"
            columns.append(from_confusion(_resampled_confusion(gold, outcome.pred, n_labels, weights)))
    return np.column_stack(columns) if columns else np.zeros((weights.shape[0], 0))


ONE_HOT_LABELS = 20
"""Up to this many labels, resampled confusion matrices come from matrix products over one-hot
predictions (their cost grows with the labels); above it, from one weighted count per entry."""


def _confusion_samples(
    gold: np.ndarray,
    preds: Sequence[np.ndarray],
    k: int,
    weights: np.ndarray,
    from_confusion: Callable[[np.ndarray], np.ndarray],
    cells: int = 40_000_000,
) -> np.ndarray:
    """A confusion-matrix metric of every entry on every resample, ``(resamples, entries)``:
    for each gold label, the resample weights of its examples times the one-hot predictions of
    a chunk of entries (matrix products), so that the cost is BLAS's, not a pass per entry;
    chunks keep ``resamples x entries x k x k`` under ``cells``."""
    b = weights.shape[0]
    pred = np.stack(preds).astype(np.int64)  # (entries, n); -1: no prediction, counted nowhere
    chunk = max(1, cells // max(b * k * k, 1))
    out = np.empty((b, len(preds)))
    by_gold = [np.flatnonzero(gold == g) for g in range(k)]
    for start in range(0, len(preds), chunk):
        part = pred[start : start + chunk]
        c = part.shape[0]
        matrices = np.zeros((b, c, k, k), dtype=np.float64)
        for g, rows in enumerate(by_gold):
            if rows.size == 0:
                continue
            p = part[:, rows]  # (c, n_g)
            onehot = np.zeros((rows.size, c * k), dtype=np.float32)
            valid = p >= 0
            cols = np.arange(c)[:, None] * k + np.where(valid, p, 0)  # (c, n_g)
            r_idx = np.broadcast_to(np.arange(rows.size)[None, :], p.shape)
            onehot[r_idx[valid], cols[valid]] = 1.0
            matrices[:, :, g, :] = (weights[:, rows] @ onehot).reshape(b, c, k)
        out[:, start : start + c] = from_confusion(np.rint(matrices).reshape(-1, k, k)).reshape(b, c)
    return out


def _resampled_confusion(gold: np.ndarray, pred: np.ndarray | None, k: int, weights: np.ndarray) -> np.ndarray:
    """Confusion matrices of every resample, ``(resamples, k, k)``; examples without a
    prediction count in no cell."""
    assert pred is not None
    valid = pred >= 0
    codes = gold[valid].astype(np.int64) * k + pred[valid]
    w = weights[:, valid]
    cells = k * k
    shifted = codes[None, :] + cells * np.arange(w.shape[0])[:, None]
    counts = np.bincount(shifted.ravel(), weights=w.ravel(), minlength=w.shape[0] * cells)
    return counts.reshape(-1, k, k)


def _document_metric(metric: str, documents: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
    loglik = weights @ documents["loglik"]
    unit = {"token_perplexity": "tokens", "word_perplexity": "words"}.get(metric, "bytes")
    per_unit = -loglik / (weights @ documents[unit])
    return per_unit / math.log(2) if metric == "bits_per_byte" else np.exp(per_unit)


# ------------------------------------------------------------------ a task's comparisons


def win_halves(x: np.ndarray) -> np.ndarray:
    """Twice each entry's wins on every resample (``x``: ``(resamples, n)``, higher is
    better), ties counting half: ``2 x beaten + tied``, so an entry's win rate there is this
    ``/ 2 / (n - 1)``; whole numbers, so a cache can keep them exactly. By sorting, O(n log n)
    a row.

    >>> win_halves(np.array([[3.0, 1.0, 3.0]])).tolist()
    [[3, 0, 3]]
    """
    b, n = x.shape
    if np.isnan(x).any():  # NaN equals nothing: counted as searchsorted counts it
        ordered = np.sort(x, axis=1)
        below = np.stack([np.searchsorted(o, row, side="left") for o, row in zip(ordered, x, strict=True)])
        upto = np.stack([np.searchsorted(o, row, side="right") for o, row in zip(ordered, x, strict=True)])
        return 2 * below + (upto - below - 1)
    # every row at once: in each row sorted, an entry's run of equal values starts after the
    # entries below it and ends after those up to it
    order = np.argsort(x, axis=1, kind="stable")
    s = np.take_along_axis(x, order, axis=1)
    j = np.broadcast_to(np.arange(n), (b, n))
    starts = np.ones((b, n), dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    ends = np.ones((b, n), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, j, 0), axis=1)
    after = np.minimum.accumulate(np.where(ends, j, n - 1)[:, ::-1], axis=1)[:, ::-1] + 1
    below, upto = np.empty((b, n), dtype=np.int64), np.empty((b, n), dtype=np.int64)
    np.put_along_axis(below, order, first, axis=1)
    np.put_along_axis(upto, order, after, axis=1)
    return 2 * below + (upto - below - 1)


def resample_win_rates(halves: np.ndarray) -> np.ndarray:
    """Win rates from :func:`win_halves` (the share of the others beaten, ties half).

    >>> resample_win_rates(np.array([[3, 0, 3]])).tolist()
    [[0.75, 0.0, 0.75]]
    """
    return halves * 0.5 / max(halves.shape[1] - 1, 1)


@dataclass(frozen=True, eq=False)
class Comparisons:
    """Paired comparisons of every pair of a task's entries on its primary metric."""

    method: str
    """The test: ``McNemar exact`` (accuracy) or ``paired bootstrap``."""
    p_raw: np.ndarray
    """``(n, n)`` two-sided p-values, symmetric, 1 on the diagonal."""
    p_holm: np.ndarray
    """The same after Holm's correction over the ``n (n - 1) / 2`` pairs."""
    better: np.ndarray
    """``(n, n)`` booleans: entry i is significantly better than entry j (Holm, at ``ALPHA``)."""
    samples: np.ndarray
    """``(resamples, n)`` the metric on every bootstrap resample (rank intervals, differences)."""
    higher_is_better: bool = True
    """The metric's direction."""
    win_halves: np.ndarray | None = field(default=None, repr=False)
    """``(resamples, n)`` :func:`win_halves` of :attr:`samples` (the overall ranking's
    resampled win rates): made on first use (:meth:`resample_win_rates`), or kept with the
    ranking (``ftbench.board.ranking_cache``)."""

    def resample_win_rates(self) -> np.ndarray:
        """``(resamples, n)`` each entry's win rate on every resample (the share of the others
        it beats there, ties counting half), made once."""
        if self.win_halves is None:
            sign = 1.0 if self.higher_is_better else -1.0
            object.__setattr__(self, "win_halves", win_halves(sign * self.samples))  # a memo on a frozen object
        assert self.win_halves is not None
        return resample_win_rates(self.win_halves)

    def groups(self) -> list[int]:
        """Each entry's rank: 1 + the entries significantly better than it (ties share it)."""
        return [1 + int(n) for n in self.better.sum(axis=0)]

    def difference(self, i: int, j: int, level: float = LEVEL) -> tuple[float, float]:
        """Percentile interval of ``metric(i) - metric(j)`` over the paired resamples."""
        tail = 100 * (1 - level) / 2
        lo, hi = np.percentile(self.samples[:, i] - self.samples[:, j], [tail, 100 - tail])
        return float(lo), float(hi)


def compare_all(
    values: Sequence[float],
    outcomes: Sequence[Outcome],
    gold: np.ndarray | None,
    *,
    metric: str,
    higher_is_better: bool,
    n_labels: int = 0,
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    alpha: float = ALPHA,
) -> Comparisons:
    """Every pair of entries compared on ``metric`` (``values``: each entry's own score, the
    direction of "better"; ``outcomes``: their per-example results on the same examples)."""
    n_items = outcomes[0].size if outcomes else 0
    weights = resample_weights(max(n_items, 1), resamples, seed)
    samples = metric_samples(metric, outcomes, gold, n_labels, weights, from_confusion)
    n = len(outcomes)
    upper = np.triu_indices(n, 1)
    if metric == "accuracy" and gold is not None and all(o.pred is not None for o in outcomes):
        right = np.column_stack([(o.pred == gold) for o in outcomes]).astype(np.float32)
        only = right.T @ (1.0 - right)  # only[i, j]: examples i gets right and j wrong
        p_raw, method = np.ones((n, n)), "McNemar exact"
        p_raw[upper] = exact_binomial_p(only[upper], only.T[upper])  # symmetric: each pair once
        p_raw[upper[::-1]] = p_raw[upper]
    else:
        p_raw = pair_p_values(samples)
        method = "paired bootstrap" if n <= EXACT_PAIRS else "paired bootstrap (normal approximation)"
    np.fill_diagonal(p_raw, 1.0)
    p_holm = np.ones((n, n))
    p_holm[upper] = holm(p_raw[upper])
    p_holm = np.minimum(p_holm, p_holm.T)
    v = np.asarray(values, dtype=np.float64) * (1 if higher_is_better else -1)
    better = (p_holm < alpha) & (v[:, None] > v[None, :])
    return Comparisons(method, p_raw, p_holm, better, samples, higher_is_better)


EXACT_PAIRS = 200
"""Up to this many entries, a paired-bootstrap p-value counts resamples for every pair; above
it, the resampled differences are summarised by their mean and standard deviation (one
covariance product instead of resamples x entries^2 comparisons)."""


def pair_p_values(samples: np.ndarray) -> np.ndarray:
    """``(n, n)`` two-sided paired-bootstrap p-values of every pair of columns of ``samples``
    (``(resamples, n)``): counted over the resamples up to :data:`EXACT_PAIRS` columns, from the
    normal approximation above."""
    return _bootstrap_pairs(samples) if samples.shape[1] <= EXACT_PAIRS else _normal_pairs(samples)


def _normal_pairs(samples: np.ndarray) -> np.ndarray:
    """Two-sided p-values of every pair from the normal approximation of the paired bootstrap:
    z = mean difference / its resampled standard deviation."""
    from scipy.special import ndtr

    centred = samples - samples.mean(axis=0)
    cov = centred.T @ centred / max(samples.shape[0] - 1, 1)
    var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2 * cov
    mean = samples.mean(axis=0)
    diff = mean[:, None] - mean[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, np.abs(diff) / np.sqrt(np.maximum(var, 0)), np.where(diff != 0, np.inf, 0.0))
    return np.minimum(1.0, 2 * ndtr(-z))


def _bootstrap_pairs(samples: np.ndarray, chunk: int = 64) -> np.ndarray:
    n = samples.shape[1]
    p = np.ones((n, n))
    for start in range(0, n, chunk):  # (resamples, chunk, n) at a time keeps memory bounded
        block = samples[:, start : start + chunk, None] - samples[:, None, :]
        p[start : start + chunk] = bootstrap_p(block)
    return p


def rank_intervals(samples: np.ndarray, higher_is_better: bool, level: float = LEVEL) -> list[tuple[int, int]]:
    """Each entry's plausible ranks: the central ``level`` share of its competition rank over
    the bootstrap resamples (``samples``: ``(resamples, entries)``).

    >>> rank_intervals(np.array([[0.9, 0.5], [0.8, 0.6], [0.7, 0.7]]), True)
    [(1, 1), (1, 2)]
    """
    if samples.size == 0:
        return []
    s = samples if higher_is_better else -samples
    # competition rank on each resample: 1 + entries strictly better there
    ranks = 1 + (s[:, None, :] > s[:, :, None]).sum(axis=2) if s.shape[1] <= 256 else _ranks_by_sorting(s)
    tail = 100 * (1 - level) / 2
    lo = np.percentile(ranks, tail, axis=0, method="lower")
    hi = np.percentile(ranks, 100 - tail, axis=0, method="higher")
    return [(int(a), int(b)) for a, b in zip(lo, hi, strict=True)]


def _ranks_by_sorting(s: np.ndarray) -> np.ndarray:
    """Competition ranks per row (1 + values strictly greater), O(n log n) per resample."""
    ordered = np.sort(s, axis=1)
    n = s.shape[1]
    return np.stack(
        [1 + n - np.searchsorted(row_sorted, row, side="right") for row_sorted, row in zip(ordered, s, strict=True)]
    )
