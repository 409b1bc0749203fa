"""A causal LM as a classifier: each label word is scored as the continuation of the
example's prompt (lm-evaluation-harness's multiple-choice ``loglikelihood`` requests).

Tokenisation follows lm-eval's ``_encode_pair``: trailing spaces of the context move to the
continuation, the context is encoded alone, the continuation is what encoding context and
continuation together adds after it. A prompt is read once for all its label words
(``LanguageModel.choice_loglikelihoods``), prompts of similar length are batched, and the
batches are timed as the classifier runner times its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ftbench.efficiency import PeakMemory
from ftbench.measure import (
    DEFAULT_POLICY,
    CpuTimes,
    Measurement,
    Policy,
    batch_sample,
    measure,
    read_cpu,
    spread_sample,
    with_prefill,
)
from ftbench.models.base import LanguageModel
from ftbench.runner.choice_scores import choice_probabilities, normalised_choice
from ftbench.runner.classifier import batch_figures, length_sorted_batches


@dataclass(frozen=True)
class ChoiceRun:
    """Label-word log-likelihoods and timings of one pass over a task's prompts."""

    loglik: np.ndarray
    """log P(label word | prompt), shape ``(n_examples, n_labels)``, in the prompts' order."""
    chars: tuple[int, ...]
    """Characters of each label's continuation (the length normalisation of ``acc_norm``)."""
    n_tokens: int
    """Prompt and continuation tokens read (each prompt once)."""
    wall_time_s: float
    """Seconds of the timed pass (tokenising included)."""
    batch_size: int
    """Prompts per batch."""
    batch_latency_ms: tuple[float, ...]
    """Wall time of each batch."""
    peak_memory_mb: float
    """Peak memory during the pass (device memory on GPU, process RSS on CPU)."""
    memory_kind: str
    """``cuda`` or ``rss``."""
    measurement: Measurement | None = None
    """The efficiency measurement after the pass (None when it was not asked for)."""

    @property
    def predictions(self) -> list[int]:
        """The label with the highest log-likelihood (lm-eval's ``acc``)."""
        return self.loglik.argmax(axis=1).tolist()

    @property
    def normalised_predictions(self) -> list[int]:
        """The label with the highest log-likelihood per character (lm-eval's ``acc_norm``)."""
        return normalised_choice(self.loglik, self.chars).tolist()

    @property
    def probs(self) -> np.ndarray:
        """The label-word likelihoods renormalised over the labels (a softmax of ``loglik``)."""
        return choice_probabilities(self.loglik)

    def efficiency(self) -> dict[str, float]:
        """Throughput and latency figures of the pass (every token read is a prefill token)."""
        figures = batch_figures(self, len(self.loglik))
        return with_prefill(figures)


def encode_pair(model: LanguageModel, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's ``_encode_pair``: ``(context tokens, continuation tokens)``; whitespace that
    ends the context (a chat template's last newline) is moved to the continuation."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = model.tokenize(context + continuation)
    ctx = model.tokenize(context)
    return ctx, whole[len(ctx) :]


def encode_prompts(
    model: LanguageModel, contexts: Sequence[str], continuations: Sequence[str], max_length: int
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Token ids of every prompt and of its label continuations. The context keeps its last
    tokens when a prompt with its longest continuation would exceed ``max_length``."""
    prompts, options = [], []
    for context in contexts:
        pairs = [encode_pair(model, context, c) for c in continuations]
        ctx = pairs[0][0]
        if any(p[0] != ctx for p in pairs):  # only trailing spaces can differ, and they were moved
            raise ValueError("the context's tokens differ between label words")
        conts = [p[1] for p in pairs]
        if any(not c for c in conts):
            raise ValueError("a label word encodes to no tokens after the prompt")
        room = max_length - max(len(c) for c in conts)
        prompts.append(ctx[-room:] if len(ctx) > room else ctx)
        options.append(conts)
    return prompts, options


SHARED_PREFIX_MIN = 8
"""A prefix common to every prompt is cached only from this many tokens on."""


def shared_prefix(prompts: Sequence[list[int]], minimum: int = SHARED_PREFIX_MIN) -> list[int]:
    """The tokens every prompt starts with (each keeps at least one of its own); empty when
    fewer than ``minimum``.

    >>> shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5, 6], [1, 2, 3]], minimum=2)
    [1, 2]
    """
    if not prompts:
        return []
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return list(first[:n]) if n >= minimum else []


def run_choices(
    model: LanguageModel,
    contexts: Sequence[str],
    continuations: Sequence[str],
    batch_size: int,
    progress: bool = True,
    description: str = "scoring label words",
    words: Sequence[str] | None = None,
    warmup: bool = True,
    policy: Policy | None = DEFAULT_POLICY,
    threads: int = 1,
) -> ChoiceRun:
    """Score every label continuation after every context; one warm-up batch first, untimed
    (``warmup=False``: none, for a caller that has warmed the model up itself), then measure
    with ``policy`` (None: no measurement). ``words``: the label words whose characters
    normalise ``acc_norm`` (lm-eval divides by the choice's length without its delimiter);
    default: the continuations."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    max_length = model.info.max_length
    since = read_cpu()
    if warmup:
        warm = encode_prompts(model, contexts[:batch_size], continuations, max_length)
        model.choice_loglikelihoods(*warm)  # first call pays one-off costs
    with PeakMemory() as memory:
        start = time.perf_counter()
        prompts, options = encode_prompts(model, contexts, continuations, max_length)
        full = sum(len(p) for p in prompts)
        prefix = shared_prefix(prompts)
        prompts = [p[len(prefix) :] for p in prompts]
        lengths = [len(p) for p in prompts]
        loglik = np.zeros((len(prompts), len(continuations)), dtype=np.float64)
        batch_ms = []
        batches = length_sorted_batches(lengths, batch_size)
        with tqdm(total=len(prompts), desc=description, unit="ex", disable=not progress, leave=False) as bar:
            for batch in batches:
                t0 = time.perf_counter()
                scores = model.choice_loglikelihoods([prompts[i] for i in batch], [options[i] for i in batch], prefix)
                batch_ms.append(1000 * (time.perf_counter() - t0))
                loglik[batch] = scores
                bar.update(len(batch))
        wall = time.perf_counter() - start
    measurement = None
    if policy is not None:
        measurement = _measure(model, prompts, options, prefix, batches, policy, threads, since)
    device_peak = model.peak_device_memory_mb()
    read = full + sum(len(c) for conts in options for c in conts)
    return ChoiceRun(
        loglik=loglik,
        chars=tuple(len(w) for w in (continuations if words is None else words)),
        n_tokens=int(read),
        wall_time_s=wall,
        batch_size=batch_size,
        batch_latency_ms=tuple(batch_ms),
        peak_memory_mb=device_peak if device_peak is not None else memory.peak_mb,
        memory_kind="cuda" if device_peak is not None else "rss",
        measurement=measurement,
    )


def measure_choices(
    model: LanguageModel,
    contexts: Sequence[str],
    continuations: Sequence[str],
    batch_size: int,
    policy: Policy = DEFAULT_POLICY,
    threads: int = 1,
) -> Measurement:
    """The efficiency measurement alone, without a scoring pass (one warm-up batch first)."""
    since = read_cpu()
    prompts, options = encode_prompts(model, contexts, continuations, model.info.max_length)
    prefix = shared_prefix(prompts)
    prompts = [p[len(prefix) :] for p in prompts]
    batches = length_sorted_batches([len(p) for p in prompts], batch_size)
    warm = batches[len(batches) // 2]
    model.choice_loglikelihoods([prompts[i] for i in warm], [options[i] for i in warm], prefix)
    return _measure(model, prompts, options, prefix, batches, policy, threads, since)


def _measure(
    model: LanguageModel,
    prompts: list[list[int]],
    options: list[list[list[int]]],
    prefix: list[int],
    batches: list[list[int]],
    policy: Policy,
    threads: int,
    since: CpuTimes,
) -> Measurement:
    """Batch-1 latency of prompts spread over the lengths; throughput over whole batches."""
    read = [len(prefix) + len(p) + sum(len(c) for c in o) for p, o in zip(prompts, options, strict=True)]
    single = spread_sample(read, policy.latency_sample)
    chosen = [batches[j] for j in batch_sample(batches, read, policy.throughput_tokens)]

    def run_sample() -> None:
        for batch in chosen:
            model.choice_loglikelihoods([prompts[i] for i in batch], [options[i] for i in batch], prefix)

    return measure(
        lambda k: model.choice_loglikelihoods([prompts[single[k]]], [options[single[k]]], prefix),
        len(single),
        run_sample,
        sum(len(b) for b in chosen),
        sum(read[i] for b in chosen for i in b),
        threads,
        policy,
        since,
    )
