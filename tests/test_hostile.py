"""Hostile submissions (catalogue of issue #9): each is refused by `ftbench validate` with a
`path:field: message` line, within a time and memory bound the harness enforces (a separate
process under RLIMIT_AS and a timeout, not a timing assertion), and the rest of the board
still builds."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import valid_spec
from ftbench.testing import write_submission_folder

TIME_LIMIT_S = 30
MEMORY_LIMIT = 1 << 30  # address space of the validating process: 1 GiB


def _alias_bomb() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        prev = f"*l{level - 1}"
        lines.append(f"l{level}: &l{level} [{', '.join([prev] * 9)}]")
    return "\n".join(lines) + "\n"


def _spec_text(**changes) -> str:
    import yaml

    return yaml.safe_dump({**valid_spec(), **changes}, sort_keys=False)


def _safetensors(tensors: dict[str, tuple[str, list[int]]], data: bytes | None = None) -> bytes:
    """A safetensors file: header built from ``tensors`` (name -> (dtype, shape)), zero data."""
    import math
    import struct

    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * 4
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + (b"\0" * offset if data is None else data)


def _nested_list_card(levels: int) -> str:
    return "# Card\n\n" + "".join("  " * i + "- item\n" for i in range(levels))


CASES = {
    # name: (files to write {relative path: text or bytes}, expected field, expected text)
    "alias bomb": ({"submission.yaml": _alias_bomb()}, "-", "anchors and aliases"),
    "deep YAML": ({"submission.yaml": "a: " + "[" * 200 + "]" * 200 + "\n"}, "-", "nested deeper than"),
    "huge YAML": ({"submission.yaml": "description: " + "x" * 100_000 + "\n"}, "-", "larger than 64 KiB"),
    "null byte in a name": ({"submission.yaml": _spec_text(name="evil\x00name")}, "name", "U+0000"),
    "bidi override in a name": ({"submission.yaml": _spec_text(name="model\u202egnp.exe")}, "name", "U+202E"),
    "escape sequence in the description": (
        {"submission.yaml": _spec_text(description="\x1b[31mred\x1b[0m")},
        "description",
        "U+001B",
    ),
    "date far in the future": ({"submission.yaml": _spec_text(date="9999-12-31")}, "date", "is in the future"),
    "very long path": (
        {"submission.yaml": _spec_text(model={**valid_spec()["model"], "adapter": {"path": "a" * 300}})},
        "model.adapter.path",
        "",
    ),
    "remote code in a tokenizer config": (
        {"adapter/tokenizer_config.json": json.dumps({"trust_remote_code": True})},
        "trust_remote_code",
        "remote code",
    ),
    "nested auto_map": (
        {"adapter/adapter_config.json": json.dumps({"peft_type": "LORA", "base": {"auto_map": {"x": "evil.M"}}})},
        "base.auto_map",
        "remote code",
    ),
    "forged CI log line in a file name": ({"x\n::error::forged.txt": "x"}, "-", "file name holds U+000A"),
    "huge model card": ({"README.md": "# Card\n\n" + "word " * 80_000}, "-", "model card larger than"),
    "deeply nested card list": ({"README.md": _nested_list_card(60)}, "-", "lists or quotes nested deeper"),
    "deeply nested card HTML": ({"README.md": "# Card\n\n" + "<div>" * 100 + "x"}, "-", "HTML nested deeper"),
    "pickle weights": ({"adapter/adapter_model.bin": b"\x80\x04pickle"}, "-", "can run code when loaded"),
    "broken safetensors header": (
        {"adapter/adapter_model.safetensors": b"\xff" * 8 + b"{}"},
        "-",
        "does not fit the file",
    ),
    "tensor bytes outside the file": (
        {"adapter/adapter_model.safetensors": _safetensors({"w": ("F32", [1000, 1000])}, data=b"\0" * 16)},
        "-",
        "lie outside the file",
    ),
    "unknown PEFT method": (
        {"adapter/adapter_config.json": json.dumps({"peft_type": "EVIL", "r": 8})},
        "peft_type",
        "not a PEFT method",
    ),
    "LoRA rank of 100,000": (
        {"adapter/adapter_config.json": json.dumps({"peft_type": "LORA", "r": 100_000})},
        "r",
        "must be an integer from 1 to 1024",
    ),
    "LoRA rank that the weights do not have": (
        {
            "adapter/adapter_config.json": json.dumps({"peft_type": "LORA", "r": 64}),
            "adapter/adapter_model.safetensors": _safetensors({"q.lora_A.weight": ("F32", [8, 4])}),
        },
        "r",
        "says 64, but the weights have rank [8]",
    ),
    "300 layers over a small file": (
        {
            "submission.yaml": _spec_text(
                model={"base": {"path": "model"}}, fine_tuning={"method": "full", "trainable_parameters": 1}
            ),
            "model/config.json": json.dumps(
                {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 300, "intermediate_size": 1536}
            ),
            "model/model.safetensors": _safetensors({"w": ("F32", [64, 64])}),
        },
        "-",
        "describes about",
    ),
}


REVIEW_CASES = {
    # found by a review of the defences: each crashed or stalled validate before it was fixed
    "YAML tag with a bad value": (
        {"submission.yaml": _spec_text().replace("license:", "x: !!bool maybe\nlicense:")},
        "-",
        "YAML tags",
    ),
    "YAML timestamp tag": (
        {"submission.yaml": _spec_text().replace("license:", "x: !!timestamp abc\nlicense:")},
        "-",
        "YAML tags",
    ),
    "PEFT type that is a list": (
        {"adapter/adapter_config.json": json.dumps({"peft_type": []})},
        "peft_type",
        "not a PEFT method",
    ),
    "card of unclosed tags": ({"README.md": "# Card\n\n" + "<a" * 60_000}, "-", "more than 2,000 HTML tags"),
}
CASES.update(REVIEW_CASES)


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _validate(root: Path, folder: Path) -> subprocess.CompletedProcess:
    code = "import sys; from ftbench.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, "--root", str(root), "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
        preexec_fn=_limited,
    )


def _hostile_folder(root: Path, name: str) -> Path:
    files, _, _ = CASES[name]
    folder = write_submission_folder(root, valid_spec(), "# My model\n\nA card.\n", adapter=True)
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_submission_is_refused_quickly_and_cheaply(name, board):
    _, field, text = CASES[name]
    result = _validate(board, _hostile_folder(board, name))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if f":{field}: " in line and text in line]
    assert lines, result.stderr[-2000:]


def test_one_hostile_submission_does_not_stop_the_board(board, tmp_path):
    from ftbench.config import load_config
    from ftbench.site import build_site
    from site_fixtures import ROOT

    _hostile_folder(board, "alias bomb")
    good = valid_spec("good-model")
    write_submission_folder(board, good, "# Good\n\nA card.\n", adapter=True)
    config = load_config(board).with_overrides(templates_dir=ROOT / "templates", site_dir=tmp_path / "site")
    report = build_site(config)
    assert (tmp_path / "site" / "models" / "good-model.html").is_file()
    assert not (tmp_path / "site" / "models" / "my-model.html").exists()
    assert any("anchors and aliases" in note for note in report.notes)
