"""Causal language models through transformers: rolling log-likelihood of documents, and a
GGUF checkpoint converted once into a cached safetensors folder.

Safety as for the classifiers: safetensors only, no remote code, local files only. A GGUF file
is dequantised by transformers' GGUF support (``gguf_file=``); transformers 5 will not
``save_pretrained`` such a model, so the cache writes the state dict with safetensors and the
config and tokenizer beside it, in a folder named by the GGUF file's sha256 (never pickle).

Not yet registered as a backend or wired into tasks (issue #10): the scoring core and the cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ftbench.errors import FtbenchError
from ftbench.files import file_sha256, replace_folder
from ftbench.perplexity import rolling_windows

CACHE_COMPLETE = "ftbench-conversion.json"
"""Written last into a converted folder: a folder without it is an interrupted conversion."""


@dataclass
class CausalLM:
    """A causal LM and its tokenizer, scoring token sequences on one device."""

    model: torch.nn.Module
    """The model, in eval mode."""
    tokenizer: object
    """Its tokenizer."""
    device: torch.device
    """Where it runs."""

    @property
    def prefix_token(self) -> int:
        """The token the first window of a document is conditioned on: BOS, else EOS."""
        bos = getattr(self.tokenizer, "bos_token_id", None)
        prefix = bos if bos is not None else getattr(self.tokenizer, "eos_token_id", None)
        if prefix is None:
            raise FtbenchError("the tokenizer has neither a BOS nor an EOS token to start a document with")
        return int(prefix)

    def token_ids(self, text: str) -> list[int]:
        """The document's tokens, without special tokens (the prefix is added per window)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    @torch.inference_mode()
    def continuation_loglik(self, context: list[int], continuation: list[int]) -> float:
        """log P(continuation | context), natural log, summed over the continuation's tokens.
        Returns only after the device has finished."""
        ids = torch.tensor([(context + continuation)[:-1]], device=self.device)
        logits = self.model(input_ids=ids).logits[0, -len(continuation) :].float()
        targets = torch.tensor(continuation, device=self.device)
        total = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).sum()
        return float(total.item())  # .item() waits for the device

    def rolling_loglik(self, text: str, max_length: int, context_len: int = 1) -> tuple[float, int]:
        """``(log-likelihood, tokens)`` of a document scored in rolling windows (every token
        predicted once; see :func:`ftbench.perplexity.rolling_windows`)."""
        tokens = self.token_ids(text)
        windows = rolling_windows(tokens, self.prefix_token, max_length, context_len)
        return sum(self.continuation_loglik(c, t) for c, t in windows), len(tokens)


def load_causal_lm(folder: Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> CausalLM:
    """A causal LM from a local folder of safetensors weights, config and tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=False, local_files_only=True, dtype=dtype
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    dev = torch.device(device)
    model.to(dev)  # type: ignore[arg-type]
    return CausalLM(model.eval(), tokenizer, dev)


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
