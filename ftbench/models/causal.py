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
from dataclasses import replace
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

    Contexts of a batch of choices are left-padded so that they all end at the same position,
    and only that position's vocabulary projection is computed; position ids come from the
    attention mask, so padding changes no score. A key/value cache is built only when needed:
    for choices of more than one token (they continue from the contexts' cache, repeated per
    choice) and for a prefix shared by every context (read once). Measured on SST-2 prompts,
    right padding with the projection at every row's last position was slower (15.4–16.0 s
    against 13.5–14.1 s for 256 prompts), and building an unneeded cache cost as much again.
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
        # no key/value cache: nothing reads it, and building one copies every layer's keys and values
        logits = self.model(input_ids=ids, use_cache=False).logits[0, -len(continuation) :].float()
        targets = torch.tensor(continuation, device=self.device)
        total = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).sum()
        return float(total.item())  # .item() waits for the device

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
        ids, mask = _left_padded(contexts, self._pad_id())
        ids, mask = ids.to(self.device), mask.to(self.device)
        longer = any(len(t) > 1 for options in choices for t in options)
        shared: dict[str, Any] = {}
        if prefix:  # the prefix's cache, one copy per context; the mask covers prefix + context
            shared = self._with_cache(self._prefix_cache(tuple(prefix), len(contexts)))
            mask = torch.cat([torch.ones((len(contexts), len(prefix)), dtype=mask.dtype, device=self.device), mask], 1)
        # only the last position's logits are needed: the vocabulary projection of every
        # position would cost as much as the rest of the model for a 49k-token vocabulary
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=_positions(mask)[:, -ids.shape[1] :],
            use_cache=longer or bool(prefix),
            logits_to_keep=1,
            **shared,
        )
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (batch, vocab)
        scores = [[float(first[i, t[0]]) for t in options] for i, options in enumerate(choices)]
        if longer:
            self._add_rest(_cache_of(out), mask, choices, scores)
        return scores  # float() above copied every value off the device

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

    def _add_rest(self, cache: Any, mask: torch.Tensor, choices: Sequence[Sequence[list[int]]], scores: list) -> None:
        """Add the log-probabilities of the choices' tokens after the first, read on top of
        the contexts' cache (each context's cache repeated once per such choice)."""
        rows = [(i, j) for i, options in enumerate(choices) for j, t in enumerate(options) if len(t) > 1]
        width = max(len(choices[i][j]) - 1 for i, j in rows)
        source = torch.tensor([i for i, _ in rows], device=self.device)
        cache.reorder_cache(source)
        ids = torch.full((len(rows), width), self._pad_id(), dtype=torch.long)
        new = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (i, j) in enumerate(rows):
            rest = choices[i][j][:-1]
            ids[r, : len(rest)] = torch.tensor(rest)
            new[r, : len(rest)] = 1
        full_mask = torch.cat([mask[source], new.to(self.device)], dim=1)
        positions = (full_mask.cumsum(1) - 1).clamp(min=0)[:, -width:]
        logits = self.model(
            input_ids=ids.to(self.device), attention_mask=full_mask, position_ids=positions, **self._with_cache(cache)
        ).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        for r, (i, j) in enumerate(rows):
            target = choices[i][j][1:]
            picked = logprobs[r, torch.arange(len(target)), torch.tensor(target, device=self.device)]
            scores[i][j] += float(picked.sum())

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
            params = inspect.signature(type(self.model).forward).parameters
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


def _cache_of(out: Any) -> Any:
    """The key/value cache of a forward pass's output, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _left_padded(rows: Sequence[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows left-padded to one length, and their attention mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 at each row's first real token (padding does not count)."""
    return (mask.cumsum(1) - 1).clamp(min=0)


def load_causal_lm(
    folder: Path,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    adapter: Path | None = None,
    notes: Sequence[str] = (),
) -> CausalLM:
    """A causal LM from a local folder of safetensors weights, config and tokenizer, with an
    optional PEFT adapter (a LoRA is merged into the weights; others run unmerged)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=False, local_files_only=True, dtype=dtype
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    all_notes, trainable = list(notes), None
    if adapter is not None:
        from ftbench.models.hf import apply_adapter

        model, trainable, merged = apply_adapter(model, adapter, "CAUSAL_LM")
        all_notes.append("adapter merged into the base weights for inference" if merged else "adapter applied unmerged")
    dev = torch.device(device)
    model.to(dev)  # type: ignore[arg-type]
    config = model.config
    info = ModelInfo(
        backend="transformers+peft" if adapter else "transformers",
        parameters_total=sum(p.numel() for p in model.parameters()),
        parameters_trainable=trainable,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        device=str(dev),
        max_length=int(getattr(config, "max_position_embeddings", 2048) or 2048),
        notes=tuple(all_notes),
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
    lm = load_causal_lm(folder, str(dev), DTYPES[precision], adapter, notes)
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
