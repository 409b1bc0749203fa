"""The runtime brought up before a model is loaded, so that the memory a model is charged with
is the model's own. Measured on MiniLM: the first load in a process added 261 MiB of resident
memory, a second identical one 95 MiB; importing transformers, peft and the architecture's
modelling code accounted for 157 MiB of the difference, the first matrix multiply
and attention kernel (library code mapped, thread pools started) for most of the rest.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from pathlib import Path


def warm_runtime(base: Path | None = None) -> None:
    """Import the libraries a transformers model is loaded with (and the modelling code of the
    architecture ``base/config.json`` names), and run one tiny instance of each kernel family
    a model uses; nothing when torch is not loaded (a weightless test model)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    with contextlib.suppress(ImportError, KeyError):
        importlib.import_module("transformers")
        importlib.import_module("peft")
        importlib.import_module("ftbench.models.hf")
        if base is not None and (base / "config.json").is_file():
            with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
                kind = str(json.loads((base / "config.json").read_text(encoding="utf-8"))["model_type"])
                name = kind.replace("-", "_")
                importlib.import_module(f"transformers.models.{name}.modeling_{name}")
            with contextlib.suppress(OSError, ValueError):  # the tokenizer library's own caches
                from transformers import AutoTokenizer

                AutoTokenizer.from_pretrained(base, local_files_only=True)
    with torch.inference_mode():
        x = torch.randn(8, 16)
        linear = torch.nn.Linear(16, 16)
        linear(x)
        torch.nn.functional.gelu(x)
        q = torch.randn(1, 2, 4, 8)
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.nn.functional.layer_norm(x, (16,))
        torch.log_softmax(x, dim=-1)
