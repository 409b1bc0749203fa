"""Weight files read as data before any library sees them: safetensors headers, adapter
configs and model configs are checked against each other, so that a submission cannot make
the loader allocate more than its files hold (a ``config.json`` declaring 300 layers over a
700 KB file, a LoRA ``r`` of 100,000) or crash it with a malformed header.

Only the small headers are read (never the tensors), without torch: ``ftbench validate`` runs
these checks in seconds on any machine.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import struct
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 16 * 1024 * 1024
"""A safetensors header is a JSON index of the tensors; real ones are kilobytes."""
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
PEFT_TYPES = {"LORA", "ADALORA", "IA3", "LOHA", "LOKR", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING", "VERA", "BOFT"}
MAX_RANK = 1024
"""Largest LoRA rank accepted (published recipes stay far below it)."""
PARAMETER_SLACK = 2.0
"""How far a config's implied parameter count may exceed what the weight files hold (tied
embeddings, buffers, estimates) before it is refused."""


def safetensors_header(path: Path) -> dict[str, Any]:
    """The tensor index of a safetensors file, after checking that it describes the file:
    a bounded header length, known dtypes, shapes and byte ranges that agree and stay inside
    the file without overlapping. Raises ValueError saying what is wrong."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", head)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"header length {length} does not fit the file ({size} bytes)")
        try:
            header = json.loads(handle.read(length))
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    _check_tensors(header, size - 8 - length)
    return header


def _check_tensors(header: dict[str, Any], data_bytes: int) -> None:
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise ValueError("__metadata__ must map strings to strings")
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"tensor {name!r}: needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"tensor {name!r}: shape must be a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise ValueError(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_bytes or end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ValueError(f"tensor {name!r}: its bytes do not match its shape or lie outside the file")
        ranges.append((begin, end))
    ranges.sort()
    if any(a_end > b_begin for (_, a_end), (b_begin, _) in itertools.pairwise(ranges)):
        raise ValueError("tensors overlap")


def header_parameters(header: dict[str, Any]) -> int:
    """Number of values the tensors of a header hold."""
    return sum(math.prod(e["shape"]) for name, e in header.items() if name != "__metadata__")


_HEAD = re.compile(r"(^|\.)(classifier|score|modules_to_save)(\.|$)")


def saves_head(header: dict[str, Any]) -> bool:
    """True when a file's tensors include a classification head (a model's ``classifier`` or
    ``score``, or an adapter's peft ``modules_to_save``)."""
    return any(_HEAD.search(name) for name in header if name != "__metadata__")


def adapter_problems(folder: Path) -> list[tuple[str, str]]:
    """``(field, message)`` for what is wrong with a PEFT adapter folder's config and weights."""
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        return [("adapter_config.json", f"not readable as JSON ({exc})")]
    if not isinstance(config, dict):
        return [("adapter_config.json", "must be a JSON object")]
    try:
        header = safetensors_header(folder / "adapter_model.safetensors")
    except (OSError, ValueError) as exc:
        return [("adapter_model.safetensors", str(exc))]
    problems = []
    peft_type = config.get("peft_type")
    if not isinstance(peft_type, str):
        peft_type = repr(peft_type)
    if peft_type not in PEFT_TYPES:
        problems.append(("adapter_config.json:peft_type", f"{peft_type!r} is not a PEFT method ftbench knows"))
    if peft_type in {"LORA", "ADALORA"}:
        problems += _lora_problems(config, header)
    if config.get("task_type") in (None, "SEQ_CLS") and not saves_head(header):
        problems.append(
            (
                "adapter_model.safetensors:warning",
                "saves no classification head (peft modules_to_save): unless the base checkpoint has one, "
                "evaluation refuses it, as its head would be random",
            )
        )
    return problems


def _lora_problems(config: dict[str, Any], header: dict[str, Any]) -> list[tuple[str, str]]:
    rank = config.get("r")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= MAX_RANK:
        return [("adapter_config.json:r", f"must be an integer from 1 to {MAX_RANK}, got {rank!r}")]
    ranks = {
        e["shape"][0]
        for name, e in header.items()
        if name.endswith("lora_A.weight") and isinstance(e, dict) and e.get("shape")
    }
    overrides = config.get("rank_pattern")
    allowed = {v for v in overrides.values() if isinstance(v, int)} if isinstance(overrides, dict) else set()
    if ranks and ranks - {rank} - allowed:
        return [("adapter_config.json:r", f"says {rank}, but the weights have rank {sorted(ranks)}")]
    return []


def model_problems(folder: Path) -> list[tuple[str, str]]:
    """``(field, message)`` for a full checkpoint folder whose config implies far more
    parameters than its safetensors files hold, or whose headers are malformed."""
    held = 0
    for path in sorted(folder.glob("*.safetensors")):
        try:
            held += header_parameters(safetensors_header(path))
        except (OSError, ValueError) as exc:
            return [(path.name, str(exc))]
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        return [("config.json", f"not readable as JSON ({exc})")]
    implied = implied_parameters(config) if isinstance(config, dict) else None
    if implied is not None and implied > PARAMETER_SLACK * held + 1_000_000:
        return [("config.json", f"describes about {implied:,} parameters, but the weights hold {held:,}")]
    return []


def implied_parameters(config: dict[str, Any]) -> int | None:
    """A lower-bound estimate of a transformer's parameters from its config (embeddings and
    per-layer attention and MLP weights), or None when the config does not say.

    >>> implied_parameters({"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536})
    22337280
    """
    values = [config.get(k) for k in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size")]
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    if len(numbers) != len(values):
        return None
    vocab, hidden, layers, inner = numbers
    return vocab * hidden + layers * (4 * hidden * hidden + 2 * hidden * inner)


GGUF_VERSIONS = (2, 3)
MAX_GGUF_TENSORS = 100_000
MAX_GGUF_METADATA = 100_000


def gguf_problems(path: Path) -> list[tuple[str, str]]:
    """What is wrong with a GGUF file's fixed header, read as data: the magic, a known
    version, and tensor and metadata counts a real checkpoint has (a forged count would make
    a reader allocate for it). The rest is parsed by the ``gguf`` library at evaluation.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
    ...     _ = f.write(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 1)); f.flush()
    ...     gguf_problems(Path(f.name))
    [('-', 'GGUF header declares 1099511627776 tensors')]
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(24)
    except OSError as exc:
        return [("-", f"cannot be read ({exc.strerror or exc})")]
    if len(head) < 24 or head[:4] != b"GGUF":
        return [("-", "not a GGUF file (no GGUF magic)")]
    version, tensors, metadata = struct.unpack("<IQQ", head[4:24])
    if version not in GGUF_VERSIONS:
        return [("-", f"GGUF version {version} (known: {', '.join(map(str, GGUF_VERSIONS))})")]
    if tensors > MAX_GGUF_TENSORS:
        return [("-", f"GGUF header declares {tensors} tensors")]
    if metadata > MAX_GGUF_METADATA:
        return [("-", f"GGUF header declares {metadata} metadata entries")]
    return []
