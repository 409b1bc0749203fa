"""Language-model perplexity as pure functions: documents from a corpus, the rolling windows
every token is scored in, and the metrics from per-document log-likelihoods (no torch).

The scoring method is lm-evaluation-harness's ``loglikelihood_rolling``: a document's tokens
are cut into windows of at most ``max_length`` predicted tokens; the first window is
conditioned on a prefix token (BOS, else EOS), each later one on the tokens before it — one
token by default (``context_len=1``, lm-eval's setting), more with a larger ``context_len``
(a sliding window: more context per token, more compute). Every token is predicted exactly
once. The metrics follow lm-eval's ``wikitext`` task: token, word and byte perplexity and bits
per byte, each aggregated over the corpus (total log-likelihood over total count).

Not yet wired into tasks, records or the site (issue #10): the pieces a perplexity task needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ARTICLE = re.compile(r"^ = [^=].* = $")


def split_articles(text: str) -> list[str]:
    """WikiText's articles: a line `` = Title = `` (a single ``=``) starts a new one; section
    headings (`` = = Section = = ``) stay inside their article.

    >>> [a.splitlines()[0] for a in split_articles(" \\n = A = \\n\\n x\\n = = s = = \\n = B = \\n y\\n")]
    [' = A = ', ' = B = ']
    """
    articles: list[list[str]] = []
    for line in text.split("\n"):
        if _ARTICLE.match(line) or not articles:
            articles.append([])
        articles[-1].append(line)
    docs = ["\n".join(lines) for lines in articles]
    return [d for d in docs if d.strip()]


def rolling_windows(
    tokens: Sequence[int], prefix: int, max_length: int, context_len: int = 1
) -> list[tuple[list[int], list[int]]]:
    """``(context, continuation)`` windows that predict every token of ``tokens`` exactly once;
    a model scores each continuation given the context before it (lm-eval's
    ``get_rolling_token_windows`` followed by ``make_disjoint_window``).

    >>> rolling_windows([1, 2, 3, 4, 5], prefix=0, max_length=2)
    [([0], [1, 2]), ([2], [3, 4]), ([3, 4], [5])]
    >>> rolling_windows([1, 2, 3, 4, 5], prefix=0, max_length=3, context_len=2)
    [([0], [1, 2, 3]), ([2, 3], [4, 5])]
    """
    if not 1 <= context_len <= max_length:
        raise ValueError("context_len must be between 1 and max_length")
    tokens = list(tokens)
    if not tokens:
        return []
    pred_len = max_length - context_len + 1
    first = min(max_length, len(tokens))
    windows = [([prefix, *tokens[: first - 1]], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, pred_len)
        end = predicted + n
        context = tokens[max(0, end - max_length - 1) : end - 1]
        windows.append((context, tokens[end - n : end]))
        predicted += n
    return [_disjoint(context, continuation) for context, continuation in windows]


def _disjoint(context: list[int], continuation: list[int]) -> tuple[list[int], list[int]]:
    """The context without the tokens the continuation repeats (``make_disjoint_window``)."""
    return context[: len(context) - (len(continuation) - 1)], continuation


@dataclass(frozen=True)
class DocumentScores:
    """Per-document log-likelihoods and counts: everything the metrics are computed from."""

    loglik: tuple[float, ...]
    """Natural-log likelihood of each document's tokens."""
    tokens: tuple[int, ...]
    """Tokens predicted in each document."""
    words: tuple[int, ...]
    """Whitespace-separated words in each document."""
    bytes: tuple[int, ...]
    """UTF-8 bytes of each document."""


def count_words(text: str) -> int:
    """Words as lm-eval's ``wikitext`` task counts them: the pieces of a split on runs of
    whitespace (leading and trailing whitespace each add one empty piece, as there).

    >>> count_words(" = A = \\n x y ")
    7
    """
    return len(re.split(r"\s+", text))


def perplexity_metrics(scores: DocumentScores) -> dict[str, float]:
    """Token, word and byte perplexity and bits per byte of a corpus (lower is better).

    >>> m = perplexity_metrics(DocumentScores((-2.0, -4.0), (2, 4), (1, 2), (4, 8)))
    >>> round(m["token_perplexity"], 4), round(m["bits_per_byte"], 4)
    (2.7183, 0.7213)
    """
    loglik = float(sum(scores.loglik))
    return _metrics(loglik, sum(scores.tokens), sum(scores.words), sum(scores.bytes))


def _metrics(loglik: float, tokens: float, words: float, n_bytes: float) -> dict[str, float]:
    return {
        "token_perplexity": math.exp(-loglik / tokens),
        "word_perplexity": math.exp(-loglik / words),
        "byte_perplexity": math.exp(-loglik / n_bytes),
        "bits_per_byte": -loglik / n_bytes / math.log(2),
    }


def perplexity_intervals(
    scores: DocumentScores, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of :func:`perplexity_metrics` over documents: the
    documents are resampled with replacement (seeded), and each metric is recomputed from the
    resampled totals."""
    ll = np.asarray(scores.loglik, dtype=np.float64)
    counts = np.asarray([scores.tokens, scores.words, scores.bytes], dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(ll), size=(resamples, len(ll)))
    total_ll = ll[picks].sum(axis=1)
    tokens, words, n_bytes = (counts[i][picks].sum(axis=1) for i in range(3))
    values = {
        "token_perplexity": np.exp(-total_ll / tokens),
        "word_perplexity": np.exp(-total_ll / words),
        "byte_perplexity": np.exp(-total_ll / n_bytes),
        "bits_per_byte": -total_ll / n_bytes / math.log(2),
    }
    tail = 100 * (1 - level) / 2
    out = {}
    for name, series in values.items():
        low, high = np.percentile(series, [tail, 100 - tail])
        out[name] = (float(low), float(high))
    return out
