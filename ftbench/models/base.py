"""The interface every classification backend implements: a few methods, each documented."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is, for the record."""

    backend: str
    """Which loader produced it (``transformers``, ``transformers+peft``, ``dummy``)."""
    parameters_total: int
    """Parameters of the model as evaluated (after merging any adapter)."""
    parameters_trainable: int | None
    """Parameters the fine-tune trained, as the adapter declares them; None when unknown."""
    dtype: str
    """Weights' dtype at evaluation (``float32``)."""
    device: str
    """``cpu`` or ``cuda:0``."""
    max_length: int
    """Inputs are truncated to this many tokens."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Anything a reader of the record should know (an untrained head, a merged adapter)."""


class Classifier(Protocol):
    """A text classifier over a task's label ids."""

    info: ModelInfo

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens each text becomes (after truncation), used to sort batches."""
        ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), n_labels)``, for one batch.

        Must return only after the device has finished (timings depend on it).
        """
        ...

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory since the model was loaded, or None on CPU."""
        ...
