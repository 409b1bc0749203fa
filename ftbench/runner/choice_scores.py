"""What a prompted language model's label-word log-likelihoods give (pure numpy): the class
probabilities and the choice by log-likelihood per character. The audit of a record reads
them too, without the runner that scores a model (and its imports)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def choice_probabilities(loglik: np.ndarray) -> np.ndarray:
    """Softmax over labels of each row of log-likelihoods.

    >>> choice_probabilities(np.log(np.array([[1.0, 3.0]]))).round(2).tolist()
    [[0.25, 0.75]]
    """
    shifted = loglik - loglik.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def normalised_choice(loglik: np.ndarray, chars: Sequence[int]) -> np.ndarray:
    """Arg-max of log-likelihood per character of each label's continuation.

    >>> normalised_choice(np.array([[-2.0, -3.0]]), [1, 6]).tolist()
    [1]
    """
    return (np.asarray(loglik, dtype=np.float64) / np.asarray(chars, dtype=np.float64)).argmax(axis=1)
