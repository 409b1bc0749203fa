"""Greedy generation timings of a language model: time to first token and decode rate, over a
fixed set of prompts (batch 1, cache on), so prompted and tuned LMs are costed as they are
served, beside the scoring throughput.
"""

from __future__ import annotations

from collections.abc import Sequence

from ftbench.efficiency import percentile
from ftbench.models.base import LanguageModel

GENERATION_PROMPTS = 8
"""Prompts timed (the first ones of the held-out split, cut to ``PROMPT_TOKENS``)."""
PROMPT_TOKENS = 128
"""At most this many tokens of each prompt."""
NEW_TOKENS = 32
"""Tokens generated after each prompt."""


def measure_generation(
    model: LanguageModel, texts: Sequence[str], new_tokens: int = NEW_TOKENS, prompts: int = GENERATION_PROMPTS
) -> dict[str, float | int]:
    """TTFT percentiles and decode tokens/s over the first ``prompts`` texts (one warm-up
    generation first, untimed)."""
    encoded = [model.tokenize(t)[-PROMPT_TOKENS:] or [model.prefix_token()] for t in texts[:prompts]]
    if not encoded:
        return {}
    model.greedy_timing(encoded[0], 2)
    ttft, decode_s, decoded = [], 0.0, 0
    for ids in encoded:
        first, rest, n = model.greedy_timing(ids, new_tokens)
        ttft.append(1000 * first)
        decode_s += rest
        decoded += n
    return {
        "ttft_ms_p50": percentile(ttft, 50),
        "ttft_ms_p95": percentile(ttft, 95),
        "decode_tokens_per_s": decoded / decode_s if decode_s else 0.0,
        "generation_prompts": len(encoded),
        "generation_new_tokens": new_tokens,
    }
