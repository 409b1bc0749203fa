"""A small fixed board for the site tests: five tasks, six submissions, stale and orphan
records, one task without data (its record cannot prove itself, so it is not shown). Two of
the submissions are causal language models, one prompted (two-shot) and one tuned (chat
template), each on a classification task through its prompt and on a perplexity task.
Efficiency: one record is flagged (contention), one was measured on a GPU (another hardware
profile than the board's), one predates the measurement method (no distribution, no ranges),
and one adapter was measured merged and unmerged.
Everything is deterministic, so its site is a golden output."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from ftbench.files import write_atomic
from ftbench.measure import DEFAULT_POLICY
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
PAGES = {
    "about": "# About this board\n\nA **test** board.\n",
    "submit": "# Submitting\n\n1. Fork.\n2. Add a folder.\n",
    "methodology": (ROOT / "pages" / "methodology.md").read_text(encoding="utf-8"),
}
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
SPREAD = 0.03
"""Half-width of the measured range the fixture gives a figure it sets (as a share of it)."""
RANGED = ("latency_ms", "examples_per_s", "tokens_per_s", "prefill_tokens_per_s", "model_memory_mb")
GPU_PROFILE = "cuda: Synthetic H100"
LORA = {"adapter_size_bytes": 295_000, "parameters_trainable": 73_750, "parameters_effective": 22_773_750}
"""A LoRA adapter's sizes (merged: the parameters as evaluated are the base's)."""
FLAGGED = {
    "throughput": {"repeats": 3, "seconds": [1.0, 1.21, 1.36], "examples": 512, "tokens": 12288, "cv": 0.152},
    "validity": {
        "flags": ["high-variation", "cpu-contention"],
        "contention": {
            "other_cpu_share": 0.31,
            "process_utilisation": 0.62,
            "steal_share": 0.0,
            "load_start": 1.1,
            "load_end": 3.4,
        },
        "policy": asdict(DEFAULT_POLICY),
    },
}
"""Efficiency overrides of a record measured while other processes took the CPU."""
LEGACY_KEYS = (
    "adapter_size_bytes",
    "batch_latency_ms_p50",
    "batch_latency_ms_p95",
    "batch_size",
    "device",
    "dtype",
    "examples_per_s",
    "latency_ms",
    "load_time_s",
    "memory_kind",
    "model_size_bytes",
    "n_tokens",
    "parameters_total",
    "parameters_trainable",
    "peak_memory_mb",
    "tokens_per_s",
    "wall_time_s",
)
"""The efficiency fields of a record made before the measurement method (no distribution,
no ranges, no validity, no hardware profile)."""


def with_ranges(figures: dict, set_here: set[str]) -> dict:
    """``figures`` with a measured range around each ranged figure in ``set_here`` (a
    measurement gives every figure one), and the latency distribution moved to its median."""
    out = dict(figures)
    for key in RANGED:
        if key in set_here and key in out and f"{key}_lo" not in set_here:
            out[f"{key}_lo"] = round(out[key] * (1 - SPREAD), 3)
            out[f"{key}_hi"] = round(out[key] * (1 + SPREAD), 3)
    latency = out.get("latency")
    if "latency_ms" in set_here and isinstance(latency, dict) and latency.get("p50"):
        scale = out["latency_ms"] / latency["p50"]
        times = ("mean", "std", "p50", "p90", "p95", "p99", "min", "max")
        out["latency"] = {k: round(v * scale, 3) if k in times else v for k, v in latency.items()}
    if "model_memory_mb" in set_here and "peak_memory_mb" not in set_here:
        out["peak_memory_mb"] = round(out["model_memory_mb"] + 420.0, 1)
        out["memory_peaks_mb"] = [out["peak_memory_mb"] - 1.0, out["peak_memory_mb"], out["peak_memory_mb"]]
    return out


def unmerged(merged: dict, slowdown: float = 1.3) -> dict:
    """The figures of an adapter left unmerged, ``slowdown`` times slower than ``merged``, a
    little larger, loaded faster (no merge step)."""
    ms = ("mean", "std", "p50", "p90", "p95", "p99", "min", "max")
    out = {k: round(merged[k] * slowdown, 3) for k in ("latency_ms", "latency_ms_lo", "latency_ms_hi")}
    out["latency"] = {k: round(v * slowdown, 3) if k in ms else v for k, v in merged["latency"].items()}
    for key in ("examples_per_s", "tokens_per_s"):
        for end in ("", "_lo", "_hi"):
            out[f"{key}{end}"] = round(merged[f"{key}{end}"] / slowdown, 2)
    out["throughput"] = {
        **merged["throughput"],
        "seconds": [round(t * slowdown, 4) for t in merged["throughput"]["seconds"]],
    }
    for key in ("model_memory_mb", "model_memory_mb_lo", "model_memory_mb_hi"):
        out[key] = round(merged[key] + 12.0, 1)
    out["memory_peaks_mb"] = [round(m + 12.0, 1) for m in merged["memory_peaks_mb"]]
    out["validity"] = merged["validity"]
    return {**out, "load_time_s": 0.9, "parameters_total": merged["parameters_effective"]}


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
    legacy: bool = False,
    with_unmerged: bool = False,
    **efficiency: object,
) -> Path:
    """A record of ``spec`` on ``task``; ``stale`` gives it a content key that no longer matches,
    ``legacy`` the efficiency fields of a record made before the measurement method,
    ``with_unmerged`` the figures of its adapter measured unmerged too."""
    batch = BATCH
    key, parts = current_key(spec, root / "submissions" / spec.id, task, batch)
    if stale:
        key, parts = "0" * 64, {**parts, "adapter": "files:old"}
    gpu = "Synthetic H100" if efficiency.get("device") == "cuda:0" else None
    figures = with_ranges(synthetic_efficiency(seed, len(gold), batch, **efficiency), set(efficiency))
    if legacy:
        figures = {k: figures[k] for k in LEGACY_KEYS}
    if with_unmerged:
        figures["unmerged"] = unmerged(figures)
    record = synthetic_record(
        submission_ref(spec, task.name),
        task,
        gold,
        accuracy=accuracy,
        seed=seed,
        content_key=key,
        content_key_parts=parts,
        efficiency=figures,
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
    figures["tokens_per_s"] = figures["prefill_tokens_per_s"]  # one measurement, two names
    for key in ("parameters_base", "parameters_effective"):  # a full model: every count is its own
        figures[key] = figures["parameters_total"]
    figures = with_ranges(figures, {*efficiency, "prefill_tokens_per_s", "tokens_per_s"})
    if documents:
        figures["latency"] = {**figures["latency"], "tokens": 64}  # a batch-1 call reads a fixed length
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
    gpu = {"device": "cuda:0", "memory_kind": "cuda", "hardware_profile": GPU_PROFILE}
    plan = [  # (submission, task, accuracy, seed, extra)
        (
            "alpha-lora",
            "sentiment",
            0.9,
            1,
            {"latency_ms": 2.0, "model_memory_mb": 900.0, "with_unmerged": True, **LORA},
        ),
        ("alpha-lora", "topics", 0.8, 2, {"latency_ms": 2.5, "model_memory_mb": 950.0}),
        ("alpha-lora", "intents", 0.7, 3, {"latency_ms": 2.2, "peak_memory_mb": 980.0, "legacy": True}),
        ("beta-full", "sentiment", 0.9, 1, {"latency_ms": 6.0, "model_memory_mb": 700.0}),
        ("beta-full", "topics", 0.95, 8, {"latency_ms": 6.5, "model_memory_mb": 720.0, **gpu}),
        ("beta-full", "legacy", 0.85, 9, {"latency_ms": 6.1, "model_memory_mb": 710.0}),
        ("gamma-ia3", "sentiment", 0.6, 5, {"latency_ms": 1.0, "model_memory_mb": 1200.0}),
        ("delta-head", "sentiment", 0.5, 6, {"latency_ms": 9.0, "model_memory_mb": 2000.0, **FLAGGED}),
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
        submission_spec("gamma-ia3", ["sentiment", "topics"], method="ia3", date="2026-03-01", license="mit"),
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


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site, by relative path (the build manifest left out: it records
    how the site was built)."""
    from ftbench.site import MANIFEST

    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
