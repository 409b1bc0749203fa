"""Sequence-classification models through transformers, with optional PEFT adapters.

Safety: only safetensors weights are loaded (``use_safetensors=True``), remote code is never
enabled, and every load is ``local_files_only`` (files were fetched, pinned, by ``resolve``).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from ftbench.errors import FtbenchError
from ftbench.models.base import ModelInfo
from ftbench.models.first_token import AGREEMENT, agrees, first_token_only, last_layers
from ftbench.weightfiles import safetensors_header, saves_head

# The load report lists the classification head as "missing" before the adapter supplies it;
# what matters for the user is in ModelInfo.notes and the record, not in library chatter.
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

SDPA_BACKENDS = (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH)
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` picks the first CUDA device when there is one, else the CPU."""
    if requested == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FtbenchError(f"--device {requested}: no CUDA device is available")
    return device


class HFClassifier:
    """A transformers sequence classifier (base checkpoint, optionally + merged adapter).

    On CUDA, batches are padded to a multiple of 8 tokens and cuDNN's attention backend is left
    out: it builds an execution plan for every new (batch, length) shape, which made bf16
    evaluation of length-sorted batches an order of magnitude slower than fp32 on an H200.
    """

    def __init__(
        self, model: torch.nn.Module, tokenizer, device: torch.device, info: ModelInfo, cudnn_attention: bool = False
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.info = info
        self.pad_multiple = 8 if device.type == "cuda" else None
        self.backends = list(SDPA_BACKENDS)
        if cudnn_attention:
            self.backends.append(SDPBackend.CUDNN_ATTENTION)
        self._features: dict[str, dict] = {}  # tokenised by token_lengths, reused by predict_proba
        self._backends_set = False  # True inside concurrent(): the attention backends are set once
        self._first_token: bool | None = None  # whether scoring passes take the shortcut (checked once)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.info.max_length)
        keys = list(enc.keys())
        self._features = {t: {k: enc[k][i] for k in keys} for i, t in enumerate(texts)}
        return [len(ids) for ids in enc["input_ids"]]

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        enc = self._encode(texts).to(self.device)
        with nullcontext() if self._backends_set else sdpa_kernel(self.backends):
            logits = self.model(**enc).logits
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return probs

    @contextmanager
    def concurrent(self, streams: int) -> Iterator[int]:
        """On a CPU, ``streams`` batches at a time, torch's threads shared out among them: the
        encoder's matrices (a few thousand rows by 384) are too small to split well across
        cores, so side-by-side batches finish a pass sooner, with the same predictions (the
        probabilities within float32 rounding: a small product may split its work otherwise). The
        attention backends are set once for all threads (setting them per call from several
        threads would race). On a GPU: one stream, as before."""
        threads = torch.get_num_threads()
        streams = min(streams, threads)
        if streams <= 1 or self.device.type != "cpu":
            yield 1
            return
        torch.set_num_threads(threads // streams)
        self._backends_set = True
        try:
            with sdpa_kernel(self.backends):
                yield streams
        finally:
            self._backends_set = False
            torch.set_num_threads(threads)

    @contextmanager
    def scoring_pass(self) -> Iterator[None]:
        """Within the context the last encoder layer runs at the first token only, where the
        model's head reads it (``ftbench.models.first_token``), once the shortcut has given the
        full forward's probabilities on texts of this pass (checked at the first pass; a model
        that does not agree, or cannot take it, runs as it is). The outcome is in ``info.notes``."""
        if self._first_token is None:
            self._first_token = self._check_first_token()
        with first_token_only(self.model) if self._first_token else nullcontext():
            yield

    def _check_first_token(self) -> bool:
        if last_layers(self.model) is None:
            return False
        sample = sorted(self._features, key=lambda t: len(self._features[t]["input_ids"]))
        texts = (
            [*sample[:4], *sample[-4:]] if sample else ["A short check.", "A longer sentence, to check with padding."]
        )
        tolerance = AGREEMENT.get(next(self.model.parameters()).dtype, AGREEMENT[torch.float32])
        with sdpa_kernel(self.backends):
            same = agrees(self.model, self._encode(texts).to(self.device), tolerance)
        note = (
            "scoring pass: the last encoder layer at the first token only, the one the head reads "
            f"(class probabilities within {tolerance:g} of the full forward on this pass's texts)"
            if same
            else "scoring pass: full forward (the last-layer shortcut did not reproduce it on this pass's texts)"
        )
        self.info = dataclasses.replace(self.info, notes=(*self.info.notes, note))
        return same

    def _encode(self, texts: Sequence[str]):
        """Padded tensors for a batch; texts seen by ``token_lengths`` are not tokenised again."""
        if all(t in self._features for t in texts):
            return self.tokenizer.pad(
                [self._features[t] for t in texts],
                padding=True,
                pad_to_multiple_of=self.pad_multiple,
                return_tensors="pt",
            )
        return self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.info.max_length,
            pad_to_multiple_of=self.pad_multiple,
            return_tensors="pt",
        )

    def peak_device_memory_mb(self) -> float | None:
        if self.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.device) / 2**20


def load_classifier(
    base_dir: Path,
    adapter_dir: Path | None,
    labels: Sequence[str],
    precision: str = "fp32",
    device: str = "auto",
    seed: int = 0,
    cudnn_attention: bool = False,
    merge_adapter: bool = True,
) -> HFClassifier:
    """Load ``base_dir`` as a classifier over ``labels``, apply ``adapter_dir`` (merged unless
    ``merge_adapter`` is False: the adapter as deployed unmerged)."""
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    config = AutoConfig.from_pretrained(base_dir, trust_remote_code=False, local_files_only=True)
    notes = _head_notes(config, labels, adapter_dir, seed)
    torch.manual_seed(seed)  # a head missing from the checkpoint starts the same every run
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        use_safetensors=True,
        trust_remote_code=False,
        local_files_only=True,
        **_dtype_kwargs(precision, dev),
    )
    trainable, base_parameters, merged = None, None, None
    if adapter_dir is not None:
        base_parameters = sum(p.numel() for p in model.parameters())
        model, trainable, merged = apply_adapter(model, adapter_dir, merge=merge_adapter)
        notes.append("adapter merged into the base weights for inference" if merged else "adapter applied unmerged")
    model.to(dev).eval()
    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    parameters = sum(p.numel() for p in model.parameters())
    info = ModelInfo(
        backend="transformers+peft" if adapter_dir else "transformers",
        parameters_total=parameters,
        parameters_trainable=trainable,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        device=str(dev),
        max_length=_max_length(config, tokenizer),
        notes=tuple(notes),
        parameters_base=base_parameters,
        merged=merged,
    )
    return HFClassifier(model, tokenizer, dev, info, cudnn_attention)


def _dtype_kwargs(precision: str, device: torch.device) -> dict:
    if precision in DTYPES:
        if precision == "fp16" and device.type == "cpu":
            raise FtbenchError("precision fp16 needs a CUDA device (use fp32 or bf16 on CPU)")
        return {"dtype": DTYPES[precision]}
    if device.type != "cuda":
        raise FtbenchError(f"precision {precision} (quantised base) needs a CUDA device")
    try:
        from transformers import BitsAndBytesConfig
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise FtbenchError(f"precision {precision} needs bitsandbytes: pip install bitsandbytes") from exc
    quant = (
        BitsAndBytesConfig(load_in_8bit=True)
        if precision == "int8"
        else BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    )
    return {"quantization_config": quant}


def _head_notes(config, labels: Sequence[str], adapter_dir: Path | None, seed: int) -> list[str]:
    """Refuse a model whose classification head would be random: in neither the checkpoint
    nor the adapter (such a model ranks by luck, and can rank first on a binary task)."""
    archs = config.architectures or []
    has_head = any(a.endswith("ForSequenceClassification") for a in archs)
    if has_head and getattr(config, "num_labels", len(labels)) != len(labels):
        raise FtbenchError(f"checkpoint has {config.num_labels} labels, the task has {len(labels)}")
    if has_head:
        return []
    if adapter_dir is None or not saves_head(safetensors_header(adapter_dir / "adapter_model.safetensors")):
        where = "the checkpoint has none" + ("" if adapter_dir is None else " and the adapter saves none")
        raise FtbenchError(
            f"no trained classification head ({where}): it would be initialised at random. Train the head "
            "with the adapter (peft modules_to_save) or submit a checkpoint that has one"
        )
    return []


def apply_adapter(model, adapter_dir: Path, task_type: str = "SEQ_CLS", merge: bool = True):
    """``(model, trained parameters, merged)``: the PEFT adapter applied, merged into the
    weights unless ``merge`` is False or it is a prompt-learning one (virtual tokens: nothing
    to merge)."""
    from peft import PeftConfig, PeftModel

    config = PeftConfig.from_pretrained(str(adapter_dir))
    if config.task_type not in (None, task_type):
        raise FtbenchError(
            f"{adapter_dir}/adapter_config.json: task_type {config.task_type} "
            f"is not {task_type} (an adapter for this kind of model is needed)"
        )
    peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    trainable = adapter_parameter_count(adapter_dir / "adapter_model.safetensors")
    if config.is_prompt_learning or not merge:  # prefix/prompt tuning: virtual tokens, nothing to merge
        return peft_model, trainable, False
    return peft_model.merge_and_unload(), trainable, True


def adapter_parameter_count(path: Path) -> int:
    """Parameters stored in an adapter file: the LoRA/IA3 weights plus any saved heads."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
            total += int(np.prod(handle.get_slice(key).get_shape()))
    return total


def _max_length(config, tokenizer) -> int:
    limits = [512, getattr(config, "max_position_embeddings", 512)]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 100_000:
        limits.append(tokenizer.model_max_length)
    return int(min(limits))
