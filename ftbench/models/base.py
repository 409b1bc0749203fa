"""The interface every classification backend implements: a few methods, each documented."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
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
    evaluated_bytes: int | None = None
    """Bytes of the base weights as evaluated, when they are not the files loaded (a GGUF
    checkpoint dequantised to safetensors); None otherwise."""
    conversion_seconds: float = 0.0
    """Seconds spent converting the checkpoint before loading it (0 when it was cached)."""
    parameters_base: int | None = None
    """Parameters of the base model alone, before any adapter; None without an adapter."""
    merged: bool | None = None
    """Whether an adapter was merged into the base weights (None: no adapter)."""


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

    def concurrent(self, streams: int) -> AbstractContextManager[int]:
        """Within the context, ``predict_proba`` may be called from as many threads at once as
        the number it gives (at most ``streams``; 1: from one thread only). A CPU model shares
        its compute threads out among the calls there, so that batches run side by side rather
        than each small matrix product being split across the cores. Optional: a backend
        without it is called one batch at a time."""
        ...

    def scoring_pass(self) -> AbstractContextManager[None]:
        """Within the context, ``predict_proba`` serves a scoring pass, where only the
        probabilities count (not its time as deployed): it may leave out work they do not
        depend on (an encoder's last layer at positions its head does not read), giving the
        same probabilities within the rounding of its dtype. Optional: a backend without it
        scores as it serves."""
        ...

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory since the model was loaded, or None on CPU."""
        ...


class LanguageModel(Protocol):
    """A causal language model over token ids: it scores continuations given contexts.

    Log-likelihoods are natural logs summed over a continuation's tokens. Every scoring method
    must return only after the device has finished (timings depend on it).
    """

    info: ModelInfo

    def tokenize(self, text: str) -> list[int]:
        """The text's token ids, without special tokens."""
        ...

    def prefix_token(self) -> int:
        """The token a document's first window is conditioned on: BOS, else EOS."""
        ...

    def chat(self, message: str) -> str:
        """``message`` as the user's turn in the tokenizer's chat template, ending where the
        assistant's reply starts."""
        ...

    def loglikelihood(self, windows: Sequence[tuple[list[int], list[int]]]) -> list[float]:
        """log P(continuation | context) of each ``(context, continuation)`` pair."""
        ...

    def choice_loglikelihoods(
        self, contexts: Sequence[list[int]], choices: Sequence[Sequence[list[int]]], prefix: Sequence[int] = ()
    ) -> list[list[float]]:
        """For each context, log P(choice | prefix + context) of each of its choices. The
        context is read once and shared by its choices (the cost grows with context + choice
        tokens, not context × choices); ``prefix``, common to every context of a run (a chat
        template's system turn, few-shot demonstrations), may be read once and cached."""
        ...

    def greedy_timing(self, prompt: list[int], new_tokens: int) -> tuple[float, float, int]:
        """Generate up to ``new_tokens`` greedily after ``prompt`` (batch 1, cache on):
        ``(seconds to the first token, seconds for the rest, tokens generated after the first)``."""
        ...

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory since the model was loaded, or None on CPU."""
        ...
