"""Causal language models through transformers: rolling log-likelihood of documents, and a
GGUF checkpoint converted once into a cached safetensors folder.

Safety as for the classifiers: safetensors only, no remote code, local files only. A GGUF file
is dequantised by transformers' GGUF support (``gguf_file=``); transformers 5 will not
``save_pretrained`` such a model, so the cache writes the state dict with safetensors and the
config and tokenizer beside it, in a folder named by the GGUF file's sha256 (never pickle).

Registered as the ``hf-causal-lm`` backend (``ftbench.models.backends``).
"""

from __future__ import annotations

import copy
import inspect
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ftbench.errors import FtbenchError
from ftbench.files import file_sha256, replace_folder
from ftbench.models.base import ModelInfo
from ftbench.perplexity import rolling_windows

CACHE_COMPLETE = "ftbench-conversion.json"
"""Written last into a converted folder: a folder without it is an interrupted conversion."""


class CausalLM:
    """A transformers causal LM and its tokenizer on one device: ``ftbench.models.base.LanguageModel``.

    A batch of choices is one forward pass (``ChoiceBatch``): each row is a context followed by
    all its choices' tokens, a four-dimensional mask lets each choice see its context and its
    own earlier tokens only, so a context is read once for all its choices, no key/value cache
    is copied, and cost grows with context + total choice tokens. Rows are left-padded so that
    their ends line up, and only the last positions' vocabulary projection is computed. A prefix
    shared by every context is read once into a cache. A long window's log-likelihood projects
    its hidden states onto the vocabulary a slice at a time (``VOCAB_SLICE``).
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, device: torch.device, info: ModelInfo | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.info = info or ModelInfo(
            "transformers", sum(p.numel() for p in model.parameters()), None, "float32", str(device), 2048
        )

    def prefix_token(self) -> int:
        bos = getattr(self.tokenizer, "bos_token_id", None)
        prefix = bos if bos is not None else getattr(self.tokenizer, "eos_token_id", None)
        if prefix is None:
            raise FtbenchError("the tokenizer has neither a BOS nor an EOS token to start a document with")
        return int(prefix)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat(self, message: str) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise FtbenchError("prompting.chat_template is set, but the tokenizer has no chat template")
        return str(
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
            )
        )

    @torch.inference_mode()
    def continuation_loglik(self, context: list[int], continuation: list[int]) -> float:
        """log P(continuation | context), natural log, summed over the continuation's tokens.
        Returns only after the device has finished."""
        ids = torch.tensor([(context + continuation)[:-1]], device=self.device)
        targets = torch.tensor(continuation, device=self.device)
        split = self._plain_head()
        # no key/value cache: nothing reads it, and building one copies every layer's keys and values
        if split is None:
            logits = self.model(input_ids=ids, use_cache=False).logits[0, -len(continuation) :].float()
            return float(torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).sum().item())
        body, head = split
        hidden = body(input_ids=ids, use_cache=False).last_hidden_state[0, -len(continuation) :]
        return _chunked_logprob(head, hidden, targets)  # waits for the device

    def _plain_head(self) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
        """``(decoder, lm_head)`` when the model's logits are exactly ``lm_head(decoder(...))``
        (architectures known to add no scaling or soft-capping, not wrapped by PEFT); then a
        long window's vocabulary projection can be computed a slice at a time."""
        from transformers import PreTrainedModel

        model = self.model
        if not isinstance(model, PreTrainedModel) or model.config.model_type not in PLAIN_HEAD_TYPES:
            return None
        body, head = getattr(model, "model", None), getattr(model, "lm_head", None)
        if not isinstance(body, torch.nn.Module) or not isinstance(head, torch.nn.Linear):
            return None
        return body, head

    def loglikelihood(self, windows: Sequence[tuple[list[int], list[int]]]) -> list[float]:
        # one window per pass: windows are long (up to the context length) and differ in length
        return [self.continuation_loglik(list(c), list(t)) for c, t in windows]

    def rolling_loglik(self, text: str, max_length: int, context_len: int = 1) -> tuple[float, int]:
        """``(log-likelihood, tokens)`` of a document scored in rolling windows (every token
        predicted once; see :func:`ftbench.perplexity.rolling_windows`)."""
        tokens = self.tokenize(text)
        windows = rolling_windows(tokens, self.prefix_token(), max_length, context_len)
        return sum(self.loglikelihood(windows)), len(tokens)

    @torch.inference_mode()
    def choice_loglikelihoods(
        self, contexts: Sequence[list[int]], choices: Sequence[Sequence[list[int]]], prefix: Sequence[int] = ()
    ) -> list[list[float]]:
        if any(not c for c in contexts) or any(not t for options in choices for t in options):
            raise ValueError("contexts and choices must not be empty")
        batch = _choice_batch(contexts, choices, len(prefix), self._pad_id())
        shared: dict[str, Any] = {}
        if prefix:  # the prefix's cache, one copy per context (the mask's first columns)
            shared = self._with_cache(self._prefix_cache(tuple(prefix), len(contexts)))
        # only the last positions' logits are needed (each context's last token, then the
        # choices' tokens): the vocabulary projection of every position would cost as much as
        # the rest of the model for a 49k-token vocabulary
        out = self.model(
            input_ids=batch.ids.to(self.device),
            attention_mask=batch.mask.to(self.device),
            position_ids=batch.positions.to(self.device),
            use_cache=bool(prefix),
            logits_to_keep=batch.keep,
            **shared,
        )
        logprobs = torch.log_softmax(out.logits.float(), dim=-1).cpu()  # (batch, keep, vocab)
        return [
            [float(logprobs[i, cols, torch.tensor(t)].sum()) for t, cols in zip(options, batch.columns[i], strict=True)]
            for i, options in enumerate(choices)
        ]

    def _prefix_cache(self, prefix: tuple[int, ...], copies: int) -> Any:
        """The key/value cache of ``prefix`` (computed once per prefix), repeated ``copies`` times."""
        if getattr(self, "_prefix", (None,))[0] != prefix:
            out = self.model(
                input_ids=torch.tensor([list(prefix)], device=self.device), use_cache=True, logits_to_keep=1
            )
            self._prefix = (prefix, _cache_of(out))
        cache = copy.deepcopy(self._prefix[1])  # a forward pass extends a cache in place
        cache.reorder_cache(torch.zeros(copies, dtype=torch.long, device=self.device))
        return cache

    @torch.inference_mode()
    def greedy_timing(self, prompt: list[int], new_tokens: int) -> tuple[float, float, int]:
        ids = torch.tensor([prompt], device=self.device)
        start = time.perf_counter()
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        self._synchronize()
        first = time.perf_counter() - start
        cache, generated = _cache_of(out), 0
        start = time.perf_counter()
        for _ in range(new_tokens - 1):
            out = self.model(input_ids=token, use_cache=True, **self._with_cache(cache))
            cache, token = _cache_of(out), out.logits[:, -1].argmax(-1, keepdim=True)
            generated += 1
        self._synchronize()
        return first, time.perf_counter() - start, generated

    def _with_cache(self, cache: Any) -> dict[str, Any]:
        """The cache argument under this transformers version's name (``cache`` from 5.x on)."""
        if not hasattr(self, "_cache_arg"):
            inner = getattr(self.model, "get_base_model", lambda: self.model)()  # through a PEFT wrapper
            params = inspect.signature(type(inner).forward).parameters
            self._cache_arg = "cache" if "cache" in params else "past_key_values"
        return {self._cache_arg: cache}

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _pad_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        return int(pad) if pad is not None else self.prefix_token()

    def peak_device_memory_mb(self) -> float | None:
        if self.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.device) / 2**20


PLAIN_HEAD_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3"})
"""Architectures whose causal-LM logits are the plain ``lm_head`` of the decoder's output."""

VOCAB_SLICE = 3072
"""Vocabulary entries projected at a time when a long window is scored: 2,048 positions x 3,072
fp32 logits are 24 MiB, an allocation the heap reuses, where a window's full logits (and their
log-softmax) are two fresh 400 MiB blocks for a 49,152-token vocabulary. Slicing the vocabulary
rather than the positions reads the projection's weights once per window."""


def _chunked_logprob(head: torch.nn.Linear, hidden: torch.Tensor, targets: torch.Tensor) -> float:
    """Sum over positions of log-softmax(head(hidden))[target], the vocabulary a slice at a
    time (a running log-sum-exp over the slices)."""
    total: torch.Tensor | None = None
    picked = torch.zeros(len(targets), dtype=torch.float32, device=hidden.device)
    for start in range(0, head.weight.shape[0], VOCAB_SLICE):
        stop = start + VOCAB_SLICE
        bias = None if head.bias is None else head.bias[start:stop]
        logits = torch.nn.functional.linear(hidden, head.weight[start:stop], bias).float()
        part = torch.logsumexp(logits, dim=-1)
        total = part if total is None else torch.logaddexp(total, part)
        inside = ((targets >= start) & (targets < stop)).nonzero()[:, 0]
        picked[inside] = logits[inside, targets[inside] - start]
    assert total is not None
    return float((picked - total).sum().item())


def _cache_of(out: Any) -> Any:
    """The key/value cache of a forward pass's output, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


@dataclass(frozen=True)
class ChoiceBatch:
    """Contexts and their choices packed for one forward pass: each row is a context followed
    by every choice's tokens but the last, left-padded; a choice sees its context and its own
    earlier tokens (not the other choices), at the positions it would have after the context."""

    ids: torch.Tensor
    """Token ids, ``(batch, width)``."""
    mask: torch.Tensor
    """Which keys each query sees, ``(batch, 1, width, prefix + width)``, a shared prefix first."""
    positions: torch.Tensor
    """Position ids, ``(batch, width)``, counting from the shared prefix's start."""
    keep: int
    """Last positions whose logits are needed."""
    columns: tuple[tuple[torch.Tensor, ...], ...]
    """Per row and choice: the columns (among the last ``keep``) whose logits predict the
    choice's tokens."""


def _choice_batch(
    contexts: Sequence[list[int]], choices: Sequence[Sequence[list[int]]], prefix: int, pad: int
) -> ChoiceBatch:
    """Pack ``contexts`` and ``choices`` (after ``prefix`` cached tokens) into one batch."""
    rows = [list(c) + [tok for t in options for tok in t[:-1]] for c, options in zip(contexts, choices, strict=True)]
    width = max(len(r) for r in rows)
    keep = max(len(r) - len(c) for r, c in zip(rows, contexts, strict=True)) + 1
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width, prefix + width), dtype=torch.bool)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    padding = torch.arange(width)
    mask[:, padding, prefix + padding] = True  # padding sees itself: no empty row, no NaN
    columns = []
    for i, (row, context, options) in enumerate(zip(rows, contexts, choices, strict=True)):
        start, n = width - len(row), len(context)
        ids[i, start:] = torch.tensor(row)
        body = slice(start, start + n)
        mask[i, body, :prefix] = True
        mask[i, body, prefix + start : prefix + start + n] = torch.ones((n, n), dtype=torch.bool).tril()
        positions[i, body] = prefix + torch.arange(n)
        last, at, own = start + n - 1, start + n, []
        for t in options:
            m = len(t) - 1
            tail = slice(at, at + m)
            mask[i, tail, :prefix] = True
            mask[i, tail, prefix + start : prefix + start + n] = True  # the whole context
            mask[i, tail, prefix + at : prefix + at + m] = torch.ones((m, m), dtype=torch.bool).tril()
            positions[i, tail] = prefix + n + torch.arange(m)
            own.append(torch.tensor([last, *range(at, at + m)]) - (width - keep))
            at += m
        columns.append(tuple(own))
    return ChoiceBatch(ids, mask[:, None], positions, keep, tuple(columns))


def load_causal_lm(
    folder: Path,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    adapter: Path | None = None,
    notes: Sequence[str] = (),
    merge_adapter: bool = True,
) -> CausalLM:
    """A causal LM from a local folder of safetensors weights, config and tokenizer, with an
    optional PEFT adapter (merged into the weights unless ``merge_adapter`` is False or it is a
    prompt-learning one)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=False, local_files_only=True, dtype=dtype
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    all_notes, trainable, base_parameters, merged = list(notes), None, None, None
    if adapter is not None:
        from ftbench.models.hf import apply_adapter

        base_parameters = sum(p.numel() for p in model.parameters())
        model, trainable, merged = apply_adapter(model, adapter, "CAUSAL_LM", merge=merge_adapter)
        all_notes.append("adapter merged into the base weights for inference" if merged else "adapter applied unmerged")
    dev = torch.device(device)
    model.to(dev)  # type: ignore[arg-type]
    config = model.config
    parameters = sum(p.numel() for p in model.parameters())
    info = ModelInfo(
        backend="transformers+peft" if adapter else "transformers",
        parameters_total=parameters,
        parameters_trainable=trainable,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        device=str(dev),
        max_length=int(getattr(config, "max_position_embeddings", 2048) or 2048),
        notes=tuple(all_notes),
        parameters_base=base_parameters,
        merged=merged,
    )
    return CausalLM(model.eval(), tokenizer, dev, info)


def load_language_model(
    base: Path,
    adapter: Path | None,
    gguf_file: str | None,
    precision: str,
    device: str,
    cache_dir: Path,
    seed: int = 0,
    merge_adapter: bool = True,
) -> CausalLM:
    """The model a causal-LM job evaluates: a safetensors folder, or a GGUF file dequantised
    once into the cache (its conversion time and dequantised size are in ``info``)."""
    from ftbench.models.hf import DTYPES, pick_device

    if precision not in ("fp32", "bf16", "fp16"):
        raise FtbenchError(f"precision {precision}: causal LMs are evaluated in fp32, bf16 or fp16")
    dev = pick_device(device)
    if precision == "fp16" and dev.type == "cpu":
        raise FtbenchError("precision fp16 needs a CUDA device (use fp32 or bf16 on CPU)")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    torch.manual_seed(seed)
    folder, notes, converted = base, [], 0.0
    if gguf_file is not None:
        gguf = base / gguf_file
        if not gguf.is_file():
            raise FtbenchError(f"{gguf}: GGUF file not found")
        cached = (cache_dir / file_sha256(gguf) / CACHE_COMPLETE).is_file()
        start = time.perf_counter()
        folder = converted_gguf(gguf, cache_dir)
        converted = 0.0 if cached else time.perf_counter() - start
        notes.append(
            f"{gguf_file}: {gguf_type(gguf)} GGUF weights dequantised by transformers, computed in {precision}"
        )
    lm = load_causal_lm(folder, str(dev), DTYPES[precision], adapter, notes, merge_adapter)
    if gguf_file is not None:
        dequantised = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        lm.info = replace(lm.info, evaluated_bytes=dequantised, conversion_seconds=converted)
    return lm


def converted_gguf(gguf: Path, cache_dir: Path, convert: Callable[[Path, Path], None] | None = None) -> Path:
    """A safetensors folder with the dequantised weights of ``gguf``, converted once and kept
    under ``cache_dir/<sha256 of the GGUF file>``. ``convert(gguf, folder)`` writes the folder
    (default: :func:`convert_gguf`). A half-written conversion is never used: the folder is
    built under a temporary name and renamed when complete."""
    digest = file_sha256(gguf)
    target = cache_dir / digest
    if (target / CACHE_COMPLETE).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{digest[:12]}.", suffix=".tmp"))
    try:
        (convert or convert_gguf)(gguf, work)
        (work / CACHE_COMPLETE).write_text(json.dumps({"gguf": gguf.name, "sha256": digest}, sort_keys=True) + "\n")
        replace_folder(work, target)  # over an incomplete earlier attempt, if any
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantise a GGUF checkpoint with transformers and write it as safetensors (fp32), with
    its config and tokenizer."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # tied tensors share memory, which safetensors refuses: each is written as its own copy
    tensors = {name: tensor.detach().contiguous().clone() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt", "source": gguf.name})
    config = model.config.to_dict()
    config.pop("quantization_config", None)  # the weights written here are plain fp32, not GGUF
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(folder)


def gguf_type(gguf: Path) -> str:
    """The quantisation a GGUF file declares (``general.file_type``), e.g. ``Q4_1``."""
    from gguf import GGUFReader, LlamaFileType

    field = GGUFReader(str(gguf)).fields.get("general.file_type")
    if field is None:
        return "unknown-type"
    value = int(field.parts[field.data[0]][0])
    try:
        return LlamaFileType(value).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"file type {value}"
