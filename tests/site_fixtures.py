"""A small fixed board for the site tests: four tasks, four submissions, stale and orphan
records, one task without data (its record cannot prove itself, so it is not shown).
Everything is deterministic, so its site is a golden output."""

from __future__ import annotations

import shutil
from pathlib import Path

from ftbench.files import write_atomic
from ftbench.record import dumps
from ftbench.spec import Submission
from ftbench.tasks import Task
from ftbench.testing import (
    current_key,
    submission_ref,
    submission_spec,
    synthetic_efficiency,
    synthetic_provenance,
    synthetic_record,
    write_submission,
    write_task,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"about": "# About this board\n\nA **test** board.\n", "submit": "# Submitting\n\n1. Fork.\n2. Add a folder.\n"}
INTENTS = [f"intent_{i:02d}" for i in range(22)]
BATCH = 32  # the board's batch size ([tool.ftbench] batch_size): its records are made at it


def write_pyproject(root: Path, **settings: str) -> None:
    """``[tool.ftbench]`` pointing at the repository's templates and the board's own pages."""
    values = {"templates_dir": (ROOT / "templates").as_posix(), "title": "Test board", **settings}
    lines = "".join(f'{k} = "{v}"\n' for k, v in values.items()) + f"batch_size = {BATCH}\n"
    (root / "pyproject.toml").write_text(f"[tool.ftbench]\n{lines}")


def write_pages(root: Path) -> None:
    """The board's markdown pages."""
    (root / "pages").mkdir(exist_ok=True)
    for name, text in PAGES.items():
        (root / "pages" / f"{name}.md").write_text(text)


def write_record(
    root: Path,
    spec: Submission,
    task: Task,
    gold: list[int],
    accuracy: float,
    seed: int,
    *,
    stale: bool = False,
    **efficiency: object,
) -> Path:
    """A record of ``spec`` on ``task``; ``stale`` gives it a content key that no longer matches."""
    batch = BATCH
    key, parts = current_key(spec, root / "submissions" / spec.id, task, batch)
    if stale:
        key, parts = "0" * 64, {**parts, "adapter": "files:old"}
    gpu = "Synthetic H100" if efficiency.get("device") == "cuda:0" else None
    record = synthetic_record(
        submission_ref(spec, task.name),
        task,
        gold,
        accuracy=accuracy,
        seed=seed,
        content_key=key,
        content_key_parts=parts,
        efficiency=synthetic_efficiency(seed, len(gold), batch, **efficiency),
        provenance=synthetic_provenance(gpu=gpu),
    )
    path = root / "results" / spec.id / f"{task.name}.json"
    write_atomic(path, dumps(record))  # as ``ftbench evaluate`` does: a new file, never in place
    return path


def make_site_board(root: Path) -> Path:
    """Write the fixed board under ``root`` and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    write_pyproject(root)
    write_pages(root)
    gold = {
        "sentiment": [1 if i % 3 else 0 for i in range(30)],
        "topics": [i % 4 if i % 5 else 0 for i in range(24)],
        "intents": [i % 22 for i in range(44)],
        "legacy": [i % 2 for i in range(20)],
    }
    tasks = {
        "sentiment": write_task(root, "sentiment", ["negative", "positive"], gold["sentiment"]),
        "topics": write_task(
            root, "topics", ["world", "sports", "business", "science"], gold["topics"], primary_metric="f1_macro"
        ),
        "intents": write_task(root, "intents", INTENTS, gold["intents"]),
        "legacy": write_task(root, "legacy", ["no", "yes"], gold["legacy"], with_data=False),
    }
    specs = _submissions(root)
    plan = [  # (submission, task, accuracy, seed, extra)
        ("alpha-lora", "sentiment", 0.9, 1, {"latency_ms": 2.0, "peak_memory_mb": 900.0}),
        ("alpha-lora", "topics", 0.8, 2, {"latency_ms": 2.5, "peak_memory_mb": 950.0}),
        ("alpha-lora", "intents", 0.7, 3, {"latency_ms": 2.2, "peak_memory_mb": 980.0}),
        ("beta-full", "sentiment", 0.9, 1, {"latency_ms": 6.0, "peak_memory_mb": 700.0}),
        (
            "beta-full",
            "topics",
            0.95,
            8,
            {"latency_ms": 6.5, "peak_memory_mb": 720.0, "device": "cuda:0", "memory_kind": "cuda"},
        ),
        ("beta-full", "legacy", 0.85, 9, {"latency_ms": 6.1, "peak_memory_mb": 710.0}),
        ("gamma-ia3", "sentiment", 0.6, 5, {"latency_ms": 1.0, "peak_memory_mb": 1200.0}),
        ("delta-head", "sentiment", 0.5, 6, {"latency_ms": 9.0, "peak_memory_mb": 2000.0}),
    ]
    for sub_id, task, acc, seed, extra in plan:
        write_record(root, specs[sub_id], tasks[task], gold[task], acc, seed, **extra)
    write_record(root, specs["gamma-ia3"], tasks["topics"], gold["topics"], 0.99, 7, stale=True)
    # a record whose submission was withdrawn: never shown
    ghost = Submission.model_validate(submission_spec("ghost", ["sentiment"], method="full"))
    write_record(root, ghost, tasks["sentiment"], gold["sentiment"], 1.0, 8)
    shutil.rmtree(root / "submissions" / "ghost", ignore_errors=True)
    return root


def _submissions(root: Path) -> dict[str, Submission]:
    specs = [
        submission_spec(
            "alpha-lora",
            ["sentiment", "topics", "intents"],
            date="2026-02-01",
            description="LoRA r=8 on query and value.",
        ),
        submission_spec(
            "beta-full",
            ["sentiment", "topics", "legacy"],
            method="full",
            date="2026-01-15",
            model={"base": {"path": "model"}},
        ),
        submission_spec("gamma-ia3", ["sentiment", "topics"], method="ia3", date="2026-03-01"),
        submission_spec("delta-head", ["sentiment", "topics"], method="head-only", date="2026-03-02"),
    ]
    out = {}
    for spec in specs:
        if spec["id"] == "beta-full":
            _write_model_folder(root / "submissions" / "beta-full" / "model")
        out[spec["id"]] = write_submission(
            root, spec, card=f"# {spec['name']}\n\nSynthetic.\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n"
        )
    return out


def _write_model_folder(folder: Path) -> None:
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    save_file({"w": np.ones((2, 2), dtype=np.float32)}, str(folder / "model.safetensors"))
