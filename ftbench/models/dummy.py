"""A weightless classifier so the whole pipeline can be tested without torch or a download."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ftbench.models.base import ModelInfo


class DummyClassifier:
    """Deterministic scores from a hash of each text, with an optional keyword rule.

    ``keywords`` maps a word to a label id: a text containing the word gets most of its
    probability on that label, so tests can build a model with a known accuracy.
    """

    def __init__(self, n_labels: int, keywords: dict[str, int] | None = None):
        self.n_labels = n_labels
        self.keywords = keywords or {}
        self.info = ModelInfo(
            "dummy", parameters_total=0, parameters_trainable=0, dtype="none", device="cpu", max_length=512
        )

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.n_labels))
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            scores = np.random.default_rng(seed).random(self.n_labels)
            for word, label in self.keywords.items():
                if word in text.split():
                    scores[label] += self.n_labels
            out[row] = scores / scores.sum()
        return out

    def peak_device_memory_mb(self) -> float | None:
        return None
