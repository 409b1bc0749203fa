"""An encoder classifier's last layer at the one position its head reads.

A BERT sequence classifier's head reads the last layer's output at the first token only (the
pooler takes ``hidden_states[:, 0]``). The last layer's other positions are computed and thrown
away: its queries, attention output, output projection and feed-forward block at every other
token, which is 10 of the 12 weight matrices' worth of work in that layer (about 14% of MiniLM-L6's
forward FLOPs). :func:`first_token_only` computes that layer at the first position only (its keys
and values still at every position, which the first position attends to): the same logits up to
float32 rounding, with less work. The scoring pass uses it (``HFClassifier.scoring_pass``); the
efficiency measurement does not (it times the model as transformers runs it, as deployed).

Only architectures whose head is known to read the first position alone, and whose last layer has
the structure used here, take the shortcut (:data:`FIRST_TOKEN_HEADS`); any other model runs as
it is. :func:`agrees` checks the shortcut against the full forward on real inputs before a pass
uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

FIRST_TOKEN_HEADS = frozenset({"BertForSequenceClassification"})
"""Classifier classes whose head reads the last layer at the first position only, on an encoder
of ``BertLayer``s (transformers' ``BertPooler`` reads ``hidden_states[:, 0]``)."""

AGREEMENT = {torch.float32: 1e-5, torch.float16: 2e-2, torch.bfloat16: 2e-2}
"""Largest difference in any class probability between the shortcut and the full forward that
:func:`agrees` accepts, by the weights' dtype: the rounding of the same sums taken in another
order (a structural mistake moves probabilities by far more)."""


class FirstTokenLayer(torch.nn.Module):
    """A ``BertLayer`` computed at the first position only: the first token's query attends to
    every position's key and value, then the attention output, residual, layer norm and
    feed-forward block run on that one row. Its output has one position (``[:, :1]``)."""

    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.layer: Any = layer  # a BertLayer (``last_layers`` checked it)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args, **kwargs) -> Any:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        from transformers.models.bert.modeling_bert import eager_attention_forward

        attention = self.layer.attention.self
        first = hidden_states[:, :1]
        heads = (hidden_states.shape[0], -1, attention.num_attention_heads, attention.attention_head_size)
        query = attention.query(first).view(heads).transpose(1, 2)
        key = attention.key(hidden_states).view(heads).transpose(1, 2)
        value = attention.value(hidden_states).view(heads).transpose(1, 2)
        if attention_mask is not None and attention_mask.dim() == 4 and attention_mask.shape[-2] > 1:
            attention_mask = attention_mask[:, :, :1, :]  # the first query's row of the mask
        attend = ALL_ATTENTION_FUNCTIONS.get_interface(attention.config._attn_implementation, eager_attention_forward)
        out, _ = attend(attention, query, key, value, attention_mask, dropout=0.0, scaling=attention.scaling)
        out = self.layer.attention.output(out.reshape(first.shape[0], 1, -1).contiguous(), first)
        return self.layer.feed_forward_chunk(out)


def last_layers(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The encoder's layer list when ``model`` (a transformers classifier, or a PEFT model around
    one) can take the shortcut: its class reads the first position alone and its last layer is a
    plain encoder layer (no cross-attention, no decoder, no chunked feed-forward); else None."""
    base = getattr(model, "get_base_model", None)  # a PEFT model: the transformers model inside
    inner = base() if callable(base) else model
    if type(inner).__name__ not in FIRST_TOKEN_HEADS:
        return None
    encoder = getattr(getattr(inner, getattr(inner, "base_model_prefix", ""), None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, torch.nn.ModuleList) or not len(layers):
        return None
    last = layers[-1]
    if (
        type(last).__name__ != "BertLayer"
        or getattr(last, "is_decoder", True)
        or getattr(last, "add_cross_attention", True)
        or getattr(last, "chunk_size_feed_forward", 1) != 0
    ):
        return None
    return layers


@contextmanager
def first_token_only(model: torch.nn.Module) -> Iterator[bool]:
    """Within the context, ``model``'s last encoder layer runs at the first position only; gives
    whether it does (False: the model cannot take the shortcut and runs as it is). The model is
    left as it was on leaving."""
    layers = last_layers(model)
    if layers is None:
        yield False
        return
    full = layers[-1]
    layers[-1] = FirstTokenLayer(full)
    try:
        yield True
    finally:
        layers[-1] = full


def agrees(model: torch.nn.Module, inputs: dict[str, torch.Tensor], tolerance: float) -> bool:
    """Whether the shortcut gives the full forward's class probabilities on ``inputs`` (a padded
    batch) within ``tolerance`` (:data:`AGREEMENT`). A shortcut that fails to run at all (a
    transformers whose layers are called otherwise) does not agree: the model runs as it is."""
    with torch.inference_mode():
        full = torch.softmax(model(**inputs).logits.float(), dim=-1)
        with first_token_only(model) as taken:
            if not taken:
                return False
            try:
                short = torch.softmax(model(**inputs).logits.float(), dim=-1)
            except Exception:  # any failure of the shortcut: the full forward instead
                return False
    return short.shape == full.shape and bool((full - short).abs().max() <= tolerance)
