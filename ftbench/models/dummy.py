"""A weightless classifier so the whole pipeline can be tested without torch or a download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

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

    @contextmanager
    def concurrent(self, streams: int) -> Iterator[int]:
        yield max(streams, 1)  # predict_proba keeps no state: any number of threads may call it

    @contextmanager
    def scoring_pass(self) -> Iterator[None]:
        yield  # nothing to leave out: every text's scores are computed alone

    def peak_device_memory_mb(self) -> float | None:
        return None


class DummyLanguageModel:
    """A weightless bigram language model over bytes: token ids are a text's UTF-8 bytes, and
    log P(token | previous) comes from a fixed seeded table. Every method computes exactly, the
    naive way, so the runners' bookkeeping can be checked against it."""

    VOCAB = 257  # 256 bytes and one prefix token

    def __init__(self, seed: int = 0, device_memory: float | None = None):
        table = np.random.default_rng(seed).normal(size=(self.VOCAB, self.VOCAB))
        self.logprob = table - np.log(np.exp(table).sum(axis=1, keepdims=True))
        self.info = ModelInfo(
            "dummy-lm", parameters_total=0, parameters_trainable=0, dtype="none", device="cpu", max_length=4096
        )
        self.calls = 0
        self._device_memory = device_memory

    def tokenize(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def prefix_token(self) -> int:
        return 256

    def chat(self, message: str) -> str:
        return f"<user>{message}</user><assistant>"

    def _score(self, context: list[int], continuation: list[int]) -> float:
        previous = [*context, *continuation][len(context) - 1 : -1] if context else [256, *continuation[:-1]]
        return float(sum(self.logprob[p, t] for p, t in zip(previous, continuation, strict=True)))

    def loglikelihood(self, windows: Sequence[tuple[list[int], list[int]]]) -> list[float]:
        self.calls += len(windows)
        return [self._score(list(c), list(t)) for c, t in windows]

    def choice_loglikelihoods(
        self, contexts: Sequence[list[int]], choices: Sequence[Sequence[list[int]]], prefix: Sequence[int] = ()
    ) -> list[list[float]]:
        self.calls += 1
        return [
            [self._score([*prefix, *c], list(t)) for t in options] for c, options in zip(contexts, choices, strict=True)
        ]

    def greedy_timing(self, prompt: list[int], new_tokens: int) -> tuple[float, float, int]:
        return 0.001, 0.001 * max(new_tokens - 1, 0), max(new_tokens - 1, 0)

    def peak_device_memory_mb(self) -> float | None:
        return self._device_memory
