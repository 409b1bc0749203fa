"""Evaluate one (submission, task) pair, in named steps a reader can follow top to bottom:

    load data -> resolve weights -> load model -> predict -> score -> assemble the record

The model loader is a parameter, so tests can run the whole path with the weightless
``DummyClassifier``; the default loader (transformers + peft) is imported only when used.
"""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ftbench
from ftbench.config import BoardConfig
from ftbench.efficiency import Stopwatch
from ftbench.metrics import bootstrap_intervals, confusion, per_class_scores, quality_metrics
from ftbench.models.base import Classifier
from ftbench.models.resolve import ResolvedWeights, resolve
from ftbench.plan import DEFAULT_BATCH_SIZE, EvalJob
from ftbench.provenance import git_state, hardware, package_versions
from ftbench.record import (
    Intervals,
    Predictions,
    Provenance,
    ResultRecord,
    SubmissionRef,
    TaskRef,
    WeightsProvenance,
)
from ftbench.runner import RunResult, run_classifier
from ftbench.tasks import Examples, Task, load_examples

SEED = 0
INTERVAL_LEVEL = 0.95
INTERVAL_RESAMPLES = 1000
ModelLoader = Callable[[Path, "Path | None", Sequence[str], str, str], Classifier]


@dataclass(frozen=True)
class EvalSettings:
    """How to run an evaluation."""

    batch_size: int = DEFAULT_BATCH_SIZE
    """Examples per forward pass (part of the content key)."""
    device: str = "auto"
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    limit: int | None = None
    """Score only the first N examples (the record is then marked incomplete)."""
    progress: bool = True
    """Show a progress bar."""


def evaluate_job(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    load_model: ModelLoader | None = None,
) -> ResultRecord:
    """Run one job and return its record (the caller writes it)."""
    started = _now()
    examples = load_examples(job.task, config.data_dir).head(settings.limit)
    base = resolve(job.base, job.submission.folder, config.local_models)
    adapter = resolve(job.adapter, job.submission.folder, config.local_models) if job.adapter else None
    loader = load_model or default_loader
    with Stopwatch() as loading:
        model = loader(
            base.folder,
            adapter.folder if adapter else None,
            job.task.labels,
            job.submission.spec.model.precision,
            settings.device,
        )
    run = run_classifier(
        model,
        examples.texts,
        settings.batch_size,
        settings.progress,
        description=f"{job.submission.spec.id}/{job.task.name}",
    )
    return assemble_record(job, config, settings, examples, run, model, base, adapter, loading.seconds, started)


def default_loader(base: Path, adapter: Path | None, labels: Sequence[str], precision: str, device: str) -> Classifier:
    from ftbench.models.hf import load_classifier

    return load_classifier(base, adapter, labels, precision, device, seed=SEED)


def score(task: Task, gold: Sequence[int], pred: Sequence[int]) -> dict:
    """Quality metrics with their confidence intervals, per-class scores and the confusion
    matrix of one run."""
    n = len(task.labels)
    return {
        "metrics": quality_metrics(task.metrics, gold, pred, n),
        "intervals": Intervals(
            level=INTERVAL_LEVEL,
            resamples=INTERVAL_RESAMPLES,
            seed=SEED,
            bounds=bootstrap_intervals(task.metrics, gold, pred, n, INTERVAL_RESAMPLES, INTERVAL_LEVEL, SEED),
        ),
        "per_class": per_class_scores(gold, pred, task.labels),
        "confusion_matrix": confusion(gold, pred, n),
    }


def assemble_record(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    examples: Examples,
    run: RunResult,
    model: Classifier,
    base: ResolvedWeights,
    adapter: ResolvedWeights | None,
    load_seconds: float,
    started: str,
) -> ResultRecord:
    """Put predictions, scores, efficiency and provenance together into a record."""
    spec = job.submission.spec
    pred = run.predictions
    weights = [_weights_provenance("base", base)]
    if adapter is not None:
        weights.append(_weights_provenance("adapter", adapter))
    return ResultRecord(
        content_key=job.content_key,
        content_key_parts=job.key_parts,
        complete=settings.limit is None or settings.limit >= job.task.num_examples,
        limit=settings.limit,
        submission=SubmissionRef(
            id=spec.id,
            name=spec.name,
            method=spec.fine_tuning.method,
            base=job.base.label,
            adapter=job.adapter.label if job.adapter else None,
            precision=spec.model.precision,
        ),
        task=TaskRef(
            name=job.task.name,
            split=job.task.split,
            num_examples=len(examples),
            primary_metric=job.task.primary_metric,
            labels=list(job.task.labels),
            definition_sha256=job.task.definition_sha256,
            data_sha256=job.task.data_sha256,
        ),
        **score(job.task, examples.labels, pred),
        efficiency=_efficiency(run, model, weights, load_seconds, spec.fine_tuning.trainable_parameters),
        predictions=Predictions(
            idx=list(examples.idx), pred=pred, prob=[round(float(run.probs[i, p]), 4) for i, p in enumerate(pred)]
        ),
        provenance=Provenance(
            ftbench_version=ftbench.__version__,
            eval_logic_version=ftbench.EVAL_LOGIC_VERSION,
            git=git_state(config.root, outputs=(config.results_dir, config.site_dir)),
            packages=package_versions(),
            hardware=hardware(),
            weights=weights,
            model=_model_provenance(model),
            seed=SEED,
            command=shlex.join(["ftbench", *sys.argv[1:]]),
            started_at=started,
            finished_at=_now(),
        ),
    )


def _efficiency(
    run: RunResult,
    model: Classifier,
    weights: list[WeightsProvenance],
    load_seconds: float,
    declared_trainable: int | None,
) -> dict:
    def size(role: str) -> int:
        return sum(f["bytes"] for w in weights if w.role == role for f in w.files)

    trainable = model.info.parameters_trainable
    return {
        **run.efficiency(),
        "memory_kind": run.memory_kind,
        "load_time_s": load_seconds,
        "n_tokens": run.n_tokens,
        "batch_size": run.batch_size,
        "device": model.info.device,
        "dtype": model.info.dtype,
        "parameters_total": model.info.parameters_total,
        "parameters_trainable": trainable if trainable is not None else declared_trainable,
        "adapter_size_bytes": size("adapter"),
        "model_size_bytes": size("base") + size("adapter"),
    }


def _weights_provenance(role: Literal["base", "adapter"], weights: ResolvedWeights) -> WeightsProvenance:
    return WeightsProvenance(role=role, ref=weights.ref.label, origin=weights.origin, files=weights.fingerprint())


def _model_provenance(model: Classifier) -> dict:
    info = model.info
    return {
        "backend": info.backend,
        "dtype": info.dtype,
        "device": info.device,
        "max_length": info.max_length,
        "notes": list(info.notes),
    }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
