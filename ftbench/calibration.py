"""Calibration of a classifier's stored probabilities (pure numpy).

A record stores, for every example, the probability the model gave its predicted label (its
confidence). That is exactly what top-label calibration needs: does a model that says 90% get
90% right? Three figures, all lower-is-better:

- **ECE** (expected calibration error): confidences in 15 equal-width bins; the mean gap
  between each bin's accuracy and its mean confidence, weighted by the bin's share;
- **Brier score** (top-label): mean of ``(confidence - right)^2``;
- **log-loss** (top-label): mean of ``-log p`` of the outcome that happened (``confidence``
  when right, ``1 - confidence`` when wrong), probabilities clipped to ``[1e-6, 1 - 1e-6]``.

On a binary task the top-label Brier score and log-loss are the ordinary binary ones (the
probability of the other label is one minus the confidence). On more labels the record does not
keep the other labels' probabilities, so these are the top-label versions (Gupta & Ramdas,
"Top-label calibration", 2022), and say so wherever they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 15
"""Equal-width confidence bins of the ECE and the reliability diagram."""
_CLIP = 1e-6


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram."""

    low: float
    """Lower edge of the confidence bin."""
    high: float
    """Upper edge."""
    count: int
    """Examples whose confidence falls in it."""
    confidence: float
    """Their mean confidence (0 for an empty bin)."""
    accuracy: float
    """The share of them predicted right (0 for an empty bin)."""


@dataclass(frozen=True)
class Calibration:
    """A record's calibration figures and its reliability diagram."""

    ece: float
    """Expected calibration error (top-label, ``BINS`` bins)."""
    brier: float
    """Top-label Brier score."""
    log_loss: float
    """Top-label log-loss (natural log)."""
    bins: tuple[ReliabilityBin, ...]
    """The reliability diagram's bins, lowest confidence first."""
    examples: int
    """Examples it was computed on."""


def reliability_bins(confidence: np.ndarray, right: np.ndarray, bins: int = BINS) -> tuple[ReliabilityBin, ...]:
    """Examples grouped by confidence into ``bins`` equal-width bins (1.0 falls in the last).

    >>> [(b.count, b.accuracy) for b in reliability_bins(np.array([0.1, 0.15, 0.9]), np.array([0, 1, 1]), 2)]
    [(2, 0.5), (1, 1.0)]
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    right_sum = np.bincount(which, weights=ok, minlength=bins)
    out = []
    for i in range(bins):
        n = int(counts[i])
        out.append(
            ReliabilityBin(
                low=i / bins,
                high=(i + 1) / bins,
                count=n,
                confidence=float(conf_sum[i] / n) if n else 0.0,
                accuracy=float(right_sum[i] / n) if n else 0.0,
            )
        )
    return tuple(out)


def calibration(confidence: np.ndarray, right: np.ndarray, bins: int = BINS) -> Calibration:
    """ECE, top-label Brier score and log-loss of ``confidence`` (probability of the predicted
    label) against ``right`` (whether the prediction was right).

    >>> c = calibration(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0]), bins=10)
    >>> round(c.ece, 3), round(c.brier, 4), round(c.log_loss, 4)
    (0.1, 0.135, 0.4095)
    """
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    ok = np.asarray(right, dtype=np.float64)
    n = len(conf)
    if n == 0:
        return Calibration(0.0, 0.0, 0.0, reliability_bins(conf, ok, bins), 0)
    diagram = reliability_bins(conf, ok, bins)
    ece = sum(b.count / n * abs(b.accuracy - b.confidence) for b in diagram)
    happened = np.clip(np.where(ok > 0, conf, 1.0 - conf), _CLIP, 1.0 - _CLIP)
    return Calibration(
        ece=float(ece),
        brier=float(np.mean((conf - ok) ** 2)),
        log_loss=float(-np.mean(np.log(happened))),
        bins=diagram,
        examples=n,
    )
