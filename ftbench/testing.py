"""Synthetic boards and result records, for the site's tests and the build benchmark (no model,
no torch).

A classifier's record is built from gold labels and a target accuracy: predictions are the gold
label for a seeded random share of examples and the next label otherwise, and every score is
derived from the resulting confusion matrix, so a record is internally consistent. A prompted
language model's record is built the same way from label-word log-likelihoods whose arg-max
gives those predictions; a perplexity record from seeded per-document log-likelihoods. Their
numbers come from the functions an evaluation uses (``ftbench.scores``,
``ftbench.runner.choices``, ``ftbench.prompting``), so every synthetic record passes
``ftbench.audit.audit_record``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ftbench.keys import content_key, pair_key_parts
from ftbench.metrics import (
    METRICS,
    bootstrap_intervals,
    confusion_counts,
    per_label_scores,
    quality_from_confusion,
)
from ftbench.prompting import plan_prompts
from ftbench.record import (
    ChoiceScores,
    Intervals,
    Predictions,
    Provenance,
    ResultRecord,
    SubmissionRef,
    TaskRef,
    WeightsProvenance,
)
from ftbench.runner.choice_scores import choice_probabilities, normalised_choice
from ftbench.scores import document_scores, documents_field, score_documents
from ftbench.spec import Prompting, Submission
from ftbench.tasks import Examples, Task

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
    metrics = quality_from_confusion([n for n, m in METRICS.items() if m.evidence == "predictions"], cm)
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
    """Plausible efficiency figures in the shape ``ftbench.measure`` records them (batch-1
    latency distribution, throughput repeats, intervals, validity), varied by ``seed``;
    ``overrides`` replace any key."""
    rng = np.random.default_rng(seed + 1_000_003)
    latency = round(float(rng.uniform(0.5, 20.0)), 3)
    params = int(rng.choice([22_700_000, 66_900_000, 109_500_000, 355_000_000]))
    adapter = int(rng.choice([0, 74_000, 295_000, 1_180_000]))
    per_example = latency / 3.1  # batched, per example
    wall = per_example * n_examples / 1000
    throughput = round(n_examples / wall, 2)
    memory = round(float(rng.uniform(60, 3000)), 1)
    spread = 0.03
    figures = {
        "wall_time_s": round(wall, 3),
        "pass_examples_per_s": throughput,
        "examples_per_s": throughput,
        "examples_per_s_lo": round(throughput * (1 - spread), 2),
        "examples_per_s_hi": round(throughput * (1 + spread), 2),
        "tokens_per_s": round(24 * throughput, 1),
        "tokens_per_s_lo": round(24 * throughput * (1 - spread), 1),
        "tokens_per_s_hi": round(24 * throughput * (1 + spread), 1),
        "latency_ms": latency,
        "latency_ms_lo": round(latency * (1 - spread), 3),
        "latency_ms_hi": round(latency * (1 + spread), 3),
        "latency": {
            "n": 64,
            "mean": round(latency * 1.02, 3),
            "std": round(latency * 0.1, 3),
            "cv": 0.098,
            "p50": latency,
            "p90": round(latency * 1.2, 3),
            "p95": round(latency * 1.3, 3),
            "p99": round(latency * 1.5, 3),
            "min": round(latency * 0.8, 3),
            "max": round(latency * 1.6, 3),
            "rounds": 4,
            "round_cv": 0.012,
            "duration_s": 2.5,
        },
        "throughput": {"repeats": 3, "seconds": [1.0, 1.01, 1.02], "examples": 512, "tokens": 12288, "cv": 0.01},
        "batch_latency_ms_p50": round(per_example * batch_size, 2),
        "batch_latency_ms_p95": round(per_example * batch_size * 1.4, 2),
        "peak_memory_mb": round(memory + 420.0, 1),
        "model_memory_mb": memory,
        "model_memory_mb_lo": round(memory * 0.99, 1),
        "model_memory_mb_hi": memory,
        "memory_peaks_mb": [round(memory + 419.0, 1), round(memory + 420.0, 1), round(memory + 420.0, 1)],
        "memory_kind": "rss",
        "validity": {
            "flags": [],
            "contention": {"process_utilisation": 0.97, "other_cpu_share": 0.01, "steal_share": 0.0},
        },
        "hardware_profile": SYNTHETIC_PROFILE,
        "load_time_s": 1.25,
        "n_tokens": 24 * n_examples,
        "batch_size": batch_size,
        "device": "cpu",
        "dtype": "float32",
        "parameters_total": params,
        "parameters_base": params,
        "parameters_trainable": adapter // 4 if adapter else params,
        "parameters_effective": params + (adapter // 4),
        "adapter_size_bytes": adapter,
        "model_size_bytes": params * 4 + adapter,
    }
    figures.update(overrides)
    return figures


SYNTHETIC_PROFILE = "cpu: Synthetic CPU @ 2.0GHz x2, 2 threads"
"""The hardware profile of :func:`synthetic_provenance`'s machine."""


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
        task=task_ref(task, len(gold)),
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


def task_ref(task: Task, scored: int) -> TaskRef:
    """The ``task`` block of a record that scored the first ``scored`` examples (or documents)."""
    return TaskRef(
        name=task.name,
        split=task.split,
        num_examples=scored,
        primary_metric=task.primary_metric,
        labels=list(task.labels),
        type=task.type,
        definition_sha256=task.definition_sha256,
        data_sha256=task.data_sha256,
    )


def synthetic_lm_efficiency(
    seed: int, n_examples: int, batch_size: int = 32, *, documents: bool = False, gguf: bool = True, **overrides: Any
) -> dict:
    """:func:`synthetic_efficiency` with a language model's figures: prefill and decode rates,
    time to first token, generation counts and, with ``gguf``, the GGUF checkpoint's size, its
    dequantised size and the conversion time (``documents``: a perplexity run, one document at
    a time)."""
    rng = np.random.default_rng(seed + 2_000_003)
    params = int(rng.choice([134_515_008, 360_821_056, 1_711_376_384]))
    prefill = round(float(rng.uniform(80.0, 4000.0)), 2)
    ttft = round(float(rng.uniform(20.0, 400.0)), 3)
    figures = {
        **synthetic_efficiency(seed, n_examples, 1 if documents else batch_size),
        "prefill_tokens_per_s": prefill,
        "prefill_tokens_per_s_lo": round(prefill * 0.97, 2),
        "prefill_tokens_per_s_hi": round(prefill * 1.03, 2),
        "tokens_per_s": prefill,
        "tokens_per_s_lo": round(prefill * 0.97, 2),
        "tokens_per_s_hi": round(prefill * 1.03, 2),
        "decode_tokens_per_s": round(float(rng.uniform(5.0, 120.0)), 2),
        "ttft_ms_p50": ttft,
        "ttft_ms_p95": round(ttft * 2.7, 3),
        "generation_prompts": 8,
        "generation_new_tokens": 32,
        "conversion_time_s": round(float(rng.uniform(2.0, 40.0)), 2),
        "parameters_total": params,
        "parameters_base": params,
        "parameters_effective": params,
        "parameters_trainable": None,
        "adapter_size_bytes": 0,
        "model_size_bytes": params * 4,
        "source_size_bytes": params * 3 // 4,
    }
    if not gguf:
        del figures["source_size_bytes"], figures["conversion_time_s"]
    if documents:
        figures["resumed_documents"] = 0
        for key in ("batch_latency_ms_p50", "batch_latency_ms_p95"):
            figures.pop(key)
    figures.update(overrides)
    return figures


def synthetic_perplexity_record(
    submission: SubmissionRef,
    task: Task,
    documents: Examples,
    *,
    nats_per_byte: float,
    seed: int,
    content_key: str,
    content_key_parts: dict | None = None,
    efficiency: dict | None = None,
    provenance: Provenance | None = None,
) -> ResultRecord:
    """A complete, consistent perplexity record of ``submission`` on ``task`` (``documents``:
    its held-out documents): each document's log-likelihood is about ``-nats_per_byte`` per
    byte, varied by ``seed``, and it has about one token per four bytes."""
    rng = np.random.default_rng(seed)
    n_bytes = [len(t.encode("utf-8")) for t in documents.texts]
    tokens = [max(1, b // 4 + int(rng.integers(0, 3))) for b in n_bytes]
    loglik = [-round(nats_per_byte * b * float(rng.uniform(0.8, 1.2)), 6) for b in n_bytes]
    scores = document_scores(documents, loglik, tokens)
    settings = task.settings
    figures = efficiency if efficiency is not None else synthetic_lm_efficiency(seed, len(documents), documents=True)
    return ResultRecord(
        content_key=content_key,
        content_key_parts=content_key_parts or {},
        complete=True,
        submission=submission,
        task=task_ref(task, len(documents)),
        **score_documents(task, scores),
        documents=documents_field(scores, documents.idx, settings.max_length, settings.context_len),
        efficiency={**figures, "n_tokens": sum(tokens)},  # the tokens its documents hold
        provenance=provenance or synthetic_provenance(),
    )


CHAT_TEMPLATE = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
"""A ChatML-like wrapping of a prompt, as a chat-tuned tokenizer's template would give."""


def synthetic_prompt(task: Task, settings: Prompting, first_text: str, train: Examples | None = None) -> dict:
    """The ``prompt`` block of a prompted record (``ftbench.prompting``'s provenance of the
    plan, and the first example's full prompt, wrapped as by :data:`CHAT_TEMPLATE` when
    ``settings.chat_template``); ``train``: the split demonstrations are drawn from."""
    if task.prompt is None:
        raise ValueError(f"task {task.name!r} declares no prompt")
    plan = plan_prompts(task.prompt, settings, train)
    message = plan.message(first_text)
    return {**plan.provenance(), "example": CHAT_TEMPLATE.format(message) if settings.chat_template else message}


def synthetic_choices(pred: Sequence[int], n_labels: int, seed: int) -> np.ndarray:
    """Label-word log-likelihoods whose arg-max is ``pred`` (one row per example)."""
    rng = np.random.default_rng(seed + 3_000_017)
    loglik = -rng.uniform(0.5, 8.0, size=(len(pred), n_labels))
    rows = np.arange(len(pred))
    best = loglik.max(axis=1)
    loglik[rows, pred] = np.maximum(loglik[rows, pred], best / 2)  # closer to 0 than any other label
    return np.round(loglik, 6)


def synthetic_prompted_record(
    submission: SubmissionRef,
    task: Task,
    gold: Sequence[int],
    *,
    accuracy: float,
    seed: int,
    prompt: dict,
    content_key: str,
    content_key_parts: dict | None = None,
    efficiency: dict | None = None,
    provenance: Provenance | None = None,
) -> ResultRecord:
    """A complete, consistent record of a causal LM prompted on a classification task
    (``prompt``: from :func:`synthetic_prompt`): predictions as in :func:`synthetic_record`,
    label-word log-likelihoods that give them, and ``accuracy_norm`` from those."""
    n = len(task.labels)
    pred = synthetic_predictions(gold, n, accuracy, seed)
    loglik = synthetic_choices(pred, n, seed)
    chars = [len(c) for c in prompt["choices"]]  # the label words without their delimiter, as lm-eval divides
    cm = confusion_counts(gold, pred, n)
    metrics, per_class = scores_from_confusion(cm, task.labels)
    norm = confusion_counts(gold, normalised_choice(loglik, chars), n)
    probs = choice_probabilities(loglik)[np.arange(len(pred)), pred]
    return ResultRecord(
        content_key=content_key,
        content_key_parts=content_key_parts or {},
        complete=True,
        submission=submission,
        task=task_ref(task, len(gold)),
        metrics={**{k: metrics[k] for k in task.metrics}, **quality_from_confusion(["accuracy_norm"], norm)},
        intervals=Intervals(
            level=0.95,
            resamples=SYNTHETIC_RESAMPLES,
            seed=seed,
            bounds=bootstrap_intervals(task.metrics, gold, pred, n, SYNTHETIC_RESAMPLES, 0.95, seed),
        ),
        per_class=per_class,
        confusion_matrix=cm.tolist(),
        efficiency=efficiency if efficiency is not None else synthetic_lm_efficiency(seed, len(gold)),
        predictions=Predictions(idx=list(range(len(gold))), pred=pred, prob=np.round(probs, 4).tolist()),
        choices=ChoiceScores(loglik=loglik.tolist(), chars=chars),
        prompt=prompt,
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


def write_perplexity_task(root: Path, name: str, articles: Sequence[tuple[str, str]], **fields: Any) -> Task:
    """Write ``tasks/<name>.yaml`` for a perplexity task and its corpus, ``data/<name>/test.txt``:
    one WikiText-style article per ``(title, body)``, each starting with a `` = Title = `` line."""
    text = "".join(f" = {title} = \n \n {body} \n \n" for title, body in articles).encode()
    (root / "data" / name).mkdir(parents=True, exist_ok=True)
    (root / "data" / name / "test.txt").write_bytes(text)
    definition = {
        "name": name,
        "title": name.replace("_", " ").title(),
        "type": "perplexity",
        "dataset": name,
        "data_file": "test.txt",
        "data_sha256": hashlib.sha256(text).hexdigest(),
        "num_examples": len(articles),
        "primary_metric": "bits_per_byte",
        "metrics": ["bits_per_byte", "token_perplexity", "word_perplexity", "byte_perplexity"],
        "license": "CC-BY-SA-3.0",
        "description": f"Synthetic corpus of {len(articles)} articles.",
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
    parts = pair_key_parts(spec, folder, task, batch_size)
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
