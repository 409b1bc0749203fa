"""A small fixed board for the site tests: five tasks, six submissions, stale and orphan
records, one task without data (its record cannot prove itself, so it is not shown). Two of
the submissions are causal language models, one prompted (two-shot) and one tuned (chat
template), each on a classification task through its prompt and on a perplexity task.
Everything is deterministic, so its site is a golden output."""

from __future__ import annotations

import shutil
from pathlib import Path

from ftbench.files import write_atomic
from ftbench.record import ResultRecord, dumps
from ftbench.spec import Submission
from ftbench.tasks import Examples, Task, load_examples
from ftbench.testing import (
    BASE_REV,
    current_key,
    submission_ref,
    submission_spec,
    synthetic_efficiency,
    synthetic_lm_efficiency,
    synthetic_perplexity_record,
    synthetic_prompt,
    synthetic_prompted_record,
    synthetic_provenance,
    synthetic_record,
    write_perplexity_task,
    write_submission,
    write_task,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"about": "# About this board\n\nA **test** board.\n", "submit": "# Submitting\n\n1. Fork.\n2. Add a folder.\n"}
INTENTS = [f"intent_{i:02d}" for i in range(22)]
SENTIMENT_PROMPT = {"template": "Review: {text}\nSentiment:", "choices": ["bad", "good"]}
ARTICLES = [
    ("Aardvark", "The aardvark is a burrowing mammal of Africa . It eats ants and termites at night ."),
    ("Basalt", "Basalt is a fine @-@ grained volcanic rock . = = Uses = = \n It is used in construction ."),
    ("Comet", "A comet is an icy body that releases gas near the Sun . Its tail points away from it ."),
    ("Delta", "A river delta forms where a river meets slower water and drops its sediment ."),
    ("Ellipse", "An ellipse is a curve around two focal points ; a circle is a special case ."),
]
TRAIN = Examples(idx=tuple(range(100, 110)), texts=tuple(f"train review {i}" for i in range(10)), labels=(0, 1) * 5)
"""The sentiment task's train split, as far as demonstrations are drawn from it."""
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


def write_lm_record(
    root: Path, spec: Submission, task: Task, *, quality: float, seed: int, **efficiency: object
) -> Path:
    """A record of a causal LM: prompted on a classification task (``quality``: its
    accuracy), or on a perplexity task (``quality``: nats per byte); ``efficiency`` replaces
    figures (a base without ``gguf_file`` has no GGUF figures)."""
    key, parts = current_key(spec, root / "submissions" / spec.id, task, BATCH)
    ref = submission_ref(spec, task.name)
    common = {"seed": seed, "content_key": key, "content_key_parts": parts, "provenance": synthetic_provenance()}
    examples = load_examples(task, root / "data")
    documents, gguf = task.type == "perplexity", spec.weights_for(task.name)[0].gguf_file is not None
    figures = synthetic_lm_efficiency(seed, len(examples), BATCH, documents=documents, gguf=gguf, **efficiency)
    record: ResultRecord
    if documents:
        record = synthetic_perplexity_record(ref, task, examples, nats_per_byte=quality, efficiency=figures, **common)
    else:
        prompt = synthetic_prompt(task, spec.prompting_for(task.name), examples.texts[0], TRAIN)
        record = synthetic_prompted_record(
            ref, task, list(examples.labels), accuracy=quality, prompt=prompt, efficiency=figures, **common
        )
    path = root / "results" / spec.id / f"{task.name}.json"
    write_atomic(path, dumps(record))
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
        "sentiment": write_task(
            root, "sentiment", ["negative", "positive"], gold["sentiment"], prompt=SENTIMENT_PROMPT, train_split="train"
        ),
        "topics": write_task(
            root, "topics", ["world", "sports", "business", "science"], gold["topics"], primary_metric="f1_macro"
        ),
        "intents": write_task(root, "intents", INTENTS, gold["intents"]),
        "legacy": write_task(root, "legacy", ["no", "yes"], gold["legacy"], with_data=False),
        "wiki": write_perplexity_task(
            root, "wiki", ARTICLES, title="Wiki articles", perplexity={"max_length": 64, "stride": 32}
        ),
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
    lm_plan = [  # (submission, task, accuracy or nats per byte, seed, extra): the small model reads faster
        ("epsilon-prompted", "sentiment", 0.7, 11, {}),
        ("epsilon-prompted", "wiki", 0.9, 13, {"prefill_tokens_per_s": 3100.0}),
        ("zeta-sft", "sentiment", 0.8, 12, {}),
        ("zeta-sft", "wiki", 0.7, 14, {"prefill_tokens_per_s": 950.0}),
    ]
    for sub_id, task, quality, seed, extra in lm_plan:
        write_lm_record(root, specs[sub_id], tasks[task], quality=quality, seed=seed, **extra)
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
        submission_spec(
            "epsilon-prompted",
            ["sentiment", "wiki"],
            method="prompting",
            date="2026-02-10",
            description="A base language model as published, two-shot prompts.",
            model={
                "kind": "causal-lm",
                "base": {"hub": "org/tiny-lm-gguf", "revision": BASE_REV, "gguf_file": "tiny-lm.Q4_1.gguf"},
            },
            fine_tuning={"method": "prompting", "trainable_parameters": 0},
        ),
        submission_spec(
            "zeta-sft",
            ["sentiment", "wiki"],
            method="sft",
            date="2026-02-20",
            model={"kind": "causal-lm", "base": {"path": "model"}, "prompting": {"chat_template": True}},
            fine_tuning={"method": "sft", "objective": "instruction-tuning", "trainable_parameters": 134_515_008},
        ),
    ]
    # per task: the submission check refuses few-shot settings on a perplexity task
    specs[4]["tasks"]["sentiment"] = {"prompting": {"num_fewshot": 2, "fewshot_seed": 7}}
    out = {}
    for spec in specs:
        if spec["id"] in ("beta-full", "zeta-sft"):
            _write_model_folder(root / "submissions" / spec["id"] / "model")
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
