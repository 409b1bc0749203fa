"""Synthetic boards and result records, for the site's tests and the build benchmark (no model,
no torch).

A record is built from gold labels and a target accuracy: predictions are the gold label for a
seeded random share of examples and the next label otherwise, and every score is derived from
the resulting confusion matrix, so a record is internally consistent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ftbench.keys import content_key, key_parts
from ftbench.metrics import (
    METRICS,
    bootstrap_intervals,
    confusion_counts,
    per_label_scores,
    quality_from_confusion,
)
from ftbench.record import (
    Intervals,
    Predictions,
    Provenance,
    ResultRecord,
    SubmissionRef,
    TaskRef,
    WeightsProvenance,
)
from ftbench.spec import Submission
from ftbench.tasks import Task

BASE_HUB = "sentence-transformers/all-MiniLM-L6-v2"
BASE_REV = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


SYNTHETIC_RESAMPLES = 200  # fewer than an evaluation's 1,000: synthetic boards are built in every test run


def synthetic_predictions(gold: Sequence[int], n_labels: int, accuracy: float, seed: int) -> list[int]:
    """Gold labels, with a seeded ``1 - accuracy`` share replaced by the next label id."""
    rng = np.random.default_rng(seed)
    gold_arr = np.asarray(gold, dtype=np.int64)
    wrong = rng.random(len(gold_arr)) >= accuracy
    return np.where(wrong, (gold_arr + 1) % n_labels, gold_arr).tolist()


def scores_from_confusion(cm: np.ndarray, labels: Sequence[str]) -> tuple[dict, dict]:
    """``(metrics, per_class)`` of a confusion matrix (row = gold, column = predicted)."""
    precision, recall, f1, support = per_label_scores(cm)
    metrics = quality_from_confusion([n for n, m in METRICS.items() if m.kind == "quality"], cm)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(labels)
    }
    return metrics, per_class


def synthetic_efficiency(seed: int, n_examples: int, batch_size: int = 32, **overrides: Any) -> dict:
    """Plausible efficiency figures, varied by ``seed``; ``overrides`` replace any key."""
    rng = np.random.default_rng(seed + 1_000_003)
    latency = round(float(rng.uniform(0.5, 20.0)), 3)
    params = int(rng.choice([22_700_000, 66_900_000, 109_500_000, 355_000_000]))
    adapter = int(rng.choice([0, 74_000, 295_000, 1_180_000]))
    wall = latency * n_examples / 1000
    figures = {
        "wall_time_s": round(wall, 3),
        "examples_per_s": round(n_examples / wall, 2),
        "tokens_per_s": round(24 * n_examples / wall, 1),
        "latency_ms": latency,
        "latency_ms_single": round(latency * 3.1, 3),
        "batch_latency_ms_p50": round(latency * batch_size, 2),
        "batch_latency_ms_p95": round(latency * batch_size * 1.4, 2),
        "peak_memory_mb": round(float(rng.uniform(300, 4000)), 1),
        "memory_kind": "rss",
        "load_time_s": 1.25,
        "n_tokens": 24 * n_examples,
        "batch_size": batch_size,
        "device": "cpu",
        "dtype": "float32",
        "parameters_total": params,
        "parameters_trainable": adapter // 4 if adapter else params,
        "adapter_size_bytes": adapter,
        "model_size_bytes": params * 4 + adapter,
    }
    figures.update(overrides)
    return figures


def synthetic_provenance(
    cpu: str = "Synthetic CPU @ 2.0GHz", gpu: str | None = None, finished_at: str = "2026-01-02T03:04:05+00:00"
) -> Provenance:
    """Fixed provenance (no clock, no git, no hardware probe) so outputs are reproducible."""
    return Provenance(
        ftbench_version="0.1.0",
        eval_logic_version="1",
        git={"commit": "0" * 40, "dirty": False},
        packages={"python": "3.11.0", "ftbench": "0.1.0", "torch": "2.13.0"},
        hardware={
            "cpu": cpu,
            "cpu_cores_logical": 2,
            "memory_gb": 16.0,
            "gpu": {"name": gpu, "memory_gb": 80.0} if gpu else None,
        },
        weights=[
            WeightsProvenance(
                role="base",
                ref="org/base@0000000",
                origin="hub",
                files=[{"file": "model.safetensors", "sha256": "a" * 64, "bytes": 1}],
            )
        ],
        model={"backend": "synthetic", "dtype": "float32", "device": "cpu", "max_length": 128, "notes": []},
        seed=0,
        command="ftbench evaluate",
        started_at=finished_at,
        finished_at=finished_at,
    )


def synthetic_record(
    submission: SubmissionRef,
    task: Task,
    gold: Sequence[int],
    *,
    accuracy: float,
    seed: int,
    content_key: str,
    content_key_parts: dict | None = None,
    efficiency: dict | None = None,
    provenance: Provenance | None = None,
) -> ResultRecord:
    """A complete, consistent record of ``submission`` on ``task`` (see the module docstring)."""
    n = len(task.labels)
    pred = synthetic_predictions(gold, n, accuracy, seed)
    cm = confusion_counts(gold, pred, n)
    metrics, per_class = scores_from_confusion(cm, task.labels)
    rng = np.random.default_rng(seed)
    return ResultRecord(
        content_key=content_key,
        content_key_parts=content_key_parts or {},
        complete=True,
        submission=submission,
        task=TaskRef(
            name=task.name,
            split=task.split,
            num_examples=len(gold),
            primary_metric=task.primary_metric,
            labels=list(task.labels),
            definition_sha256=task.definition_sha256,
            data_sha256=task.data_sha256,
        ),
        metrics={k: metrics[k] for k in task.metrics},
        intervals=Intervals(
            level=0.95,
            resamples=SYNTHETIC_RESAMPLES,
            seed=seed,
            bounds=bootstrap_intervals(task.metrics, gold, pred, n, SYNTHETIC_RESAMPLES, 0.95, seed),
        ),
        per_class=per_class,
        confusion_matrix=cm.tolist(),
        efficiency=efficiency if efficiency is not None else synthetic_efficiency(seed, len(gold)),
        predictions=Predictions(
            idx=list(range(len(gold))), pred=pred, prob=np.round(rng.uniform(0.34, 1.0, len(gold)), 4).tolist()
        ),
        provenance=provenance or synthetic_provenance(),
    )


def write_task(
    root: Path, name: str, labels: Sequence[str], gold: Sequence[int], *, with_data: bool = True, **fields: Any
) -> Task:
    """Write ``tasks/<name>.yaml`` and, with ``with_data``, its held-out file under ``data/``."""
    rows = "".join(
        json.dumps({"idx": i, "text": f"example {i}", "label": g}) + "\n" for i, g in enumerate(gold)
    ).encode()
    if with_data:
        (root / "data" / name).mkdir(parents=True, exist_ok=True)
        (root / "data" / name / "test.jsonl").write_bytes(rows)
    definition = {
        "name": name,
        "title": name.replace("_", " ").title(),
        "dataset": name,
        "data_file": "test.jsonl",
        "data_sha256": hashlib.sha256(rows).hexdigest(),
        "num_examples": len(gold),
        "labels": list(labels),
        "license": "CC-BY-4.0",
        "description": f"Synthetic {len(labels)}-way task.",
        **fields,
    }
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    return Task.model_validate(definition)


def submission_spec(sub_id: str, tasks: Sequence[str], *, method: str = "lora", **fields: Any) -> dict:
    """A valid ``submission.yaml`` as a dict; adapter methods get ``adapter/`` in the folder."""
    adapter = {"path": "adapter"} if method in {"lora", "qlora", "ia3", "prefix"} else None
    spec = {
        "id": sub_id,
        "name": sub_id.replace("-", " ").title(),
        "date": "2026-01-01",
        "submitter": {"name": "Ada", "github": "ada"},
        "license": "apache-2.0",
        "model": {"base": {"hub": BASE_HUB, "revision": BASE_REV}, "adapter": adapter},
        "fine_tuning": {
            "method": method,
            "trainable_parameters": 74_000,
            "hyperparameters": {"learning_rate": 0.001, "epochs": 3},
            "script": f"python scripts/finetune.py {sub_id}",
        },
        "tasks": {t: {} for t in tasks},
    }
    spec.update(fields)
    return spec


def write_adapter(folder: Path) -> None:
    """A syntactically complete adapter folder (config and safetensors weights, not trained)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    head = "base_model.model.classifier.modules_to_save.default.weight"  # a trained head, as peft saves it
    save_file({head: np.zeros((2, 2), dtype=np.float32)}, str(folder / "adapter_model.safetensors"))


def write_submission_folder(
    root: Path,
    spec: dict,
    card: str | None = "# Model\n\nA synthetic model.\n",
    *,
    folder_name: str | None = None,
    adapter: bool | None = None,
) -> Path:
    """Write ``root/submissions/<folder>`` as given, valid or not: the spec, the model card
    (``None``: none) and adapter files: in ``adapter/`` when ``adapter`` is true, where the spec's
    ``model.adapter`` points when it is ``None``, nowhere when it is false."""
    folder = root / "submissions" / (folder_name or str(spec.get("id", "unnamed")))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if card is not None:
        (folder / "README.md").write_text(card)
    model = spec.get("model")
    declared = model.get("adapter") if isinstance(model, dict) else None
    if adapter:
        write_adapter(folder / "adapter")
    elif adapter is None and isinstance(declared, dict):
        write_adapter(folder / str(declared.get("path", "adapter")))
    return folder


def write_submission(root: Path, spec: dict, card: str = "# Model\n\nA synthetic model.\n") -> Submission:
    """Write a valid submission folder (spec, model card, adapter files) under ``root/submissions``."""
    write_submission_folder(root, spec, card)
    return Submission.model_validate(spec)


def current_key(spec: Submission, folder: Path, task: Task, batch_size: int) -> tuple[str, dict]:
    """``(content_key, key_parts)`` that make a record of ``spec`` on ``task`` current."""
    parts = key_parts(*spec.weights_for(task.name), folder, task, spec.model.precision, batch_size)
    return content_key(parts), parts


def submission_ref(spec: Submission, task: str) -> SubmissionRef:
    """The ``submission`` block of a record, as ``ftbench evaluate`` fills it."""
    base, adapter = spec.weights_for(task)
    return SubmissionRef(
        id=spec.id,
        name=spec.name,
        method=spec.fine_tuning.method,
        base=base.label,
        adapter=adapter.label if adapter else None,
        precision=spec.model.precision,
    )
