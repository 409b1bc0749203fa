"""Reproducibility check: re-run a random sample of a record's examples and compare."""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftbench import DEFAULT_BATCH_SIZE
from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.evaluate_lm import prompt_plan
from ftbench.jobs import plan_jobs
from ftbench.models.backends import Backend, load_model
from ftbench.record import read_record
from ftbench.runner import run_classifier
from ftbench.runner.choices import run_choices
from ftbench.runner.documents import run_documents
from ftbench.submissions import load_submissions
from ftbench.tasks import load_examples

# Default drift tolerance on a probability, by the precision the record was evaluated in. Low
# precisions round differently on different kernels and devices: a bf16 record made on an H100 and
# re-run on a CPU moved by up to 1.3e-2 with every label the same (benchmarks/bench_gpu.py).
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "bf16": 3e-2, "int8": 5e-2, "int4": 5e-2}


@dataclass(frozen=True)
class Verification:
    """How a re-run of sampled examples compares with the stored predictions."""

    record: Path
    """The record checked."""
    sampled: int
    """Examples re-run."""
    agreement: float
    """Share of sampled examples with the same predicted label."""
    max_prob_diff: float
    """Largest :func:`probability_change` over the sample (perplexity records: the largest
    relative change of a document's log-likelihood)."""
    differing_idx: tuple[int, ...]
    """Row ids whose label changed."""
    precision: str
    """The precision the record was evaluated in (it sets the default tolerance)."""
    recorded_accuracy: float
    """Accuracy of the stored predictions on the sample."""
    rerun_accuracy: float
    """Accuracy of the re-run on the sample."""
    stale: bool
    """True when the record's content key no longer matches the files (re-run uses current files)."""
    seed: int = 0
    """Seed of the sample (``--seed`` repeats it)."""

    @property
    def tolerance(self) -> float:
        """The default tolerance for this record's precision."""
        return TOLERANCE[self.precision]

    def drifted(self, tolerance: float | None = None) -> bool:
        """True when :func:`probability_change` exceeds ``tolerance`` on any example. A label
        can change without drift only on a near-tie (see there)."""
        return self.max_prob_diff > (self.tolerance if tolerance is None else tolerance)


def probability_change(now: Sequence[float], stored_label: int, stored_prob: float) -> float:
    """How far a re-run moved from a stored prediction: the change in the stored label's
    probability, and, when another label now wins, how far that label's probability rose
    above what the stored label had. A changed label stays within the tolerance only when the
    two were tied to within it: a near-tie, not drift.

    >>> round(probability_change([0.502, 0.498], 1, 0.501), 6)  # a near-tie flipped
    0.003
    >>> round(probability_change([0.40, 0.10, 0.50], 0, 0.40), 6)  # label 2 overtook by 0.10: drift
    0.1
    """
    moved = abs(float(now[stored_label]) - stored_prob)
    winner = max(range(len(now)), key=lambda j: now[j])
    if winner == stored_label:
        return moved
    return max(moved, float(now[winner]) - stored_prob)


def verify_record(
    path: Path,
    config: BoardConfig,
    sample: int = 64,
    seed: int | None = None,
    device: str = "auto",
    backend: str | Backend | None = None,
) -> Verification:
    """Re-run ``sample`` randomly chosen examples of the record at ``path``. Without a
    ``seed`` each run draws a new one (reported in the result): a forger cannot know which
    examples will be re-run."""
    seed = secrets.randbelow(2**32) if seed is None else seed
    record = read_record(path)
    board = load_submissions(config, [config.submissions_dir / record.submission.id]).require_valid()
    if record.task.name not in board.tasks:
        raise FtbenchError(f"{path}: task {record.task.name!r} no longer exists")
    batch_size = int(record.efficiency.get("batch_size") or DEFAULT_BATCH_SIZE)
    [job] = plan_jobs(board, config, batch_size, only_tasks=[record.task.name])
    examples = load_examples(job.task, config.data_dir)
    if job.task.type == "perplexity":
        return _verify_documents(path, record, job, config, examples, sample, seed, device, backend)
    row_of = {idx: i for i, idx in enumerate(examples.idx)}
    if record.predictions is None:
        raise FtbenchError(f"{path}: a classification record without predictions cannot be verified")
    stored = dict(
        zip(record.predictions.idx, zip(record.predictions.pred, record.predictions.prob, strict=True), strict=True)
    )
    chosen = sorted(random.Random(seed).sample(sorted(stored), min(sample, len(stored))))
    model = load_model(job, config, device, backend).model
    texts = [examples.texts[row_of[i]] for i in chosen]
    if job.model_kind == "causal-lm":
        plan = prompt_plan(job, config)
        contexts = [model.chat(plan.message(t)) if plan.settings.chat_template else plan.message(t) for t in texts]
        run: Any = run_choices(model, contexts, plan.continuations, batch_size, False, policy=None)
    else:
        run = run_classifier(model, texts, batch_size, progress=False, policy=None)
    new_pred = run.predictions
    gold = [examples.labels[row_of[i]] for i in chosen]
    differing = tuple(i for i, p in zip(chosen, new_pred, strict=True) if p != stored[i][0])
    prob_diff = max(probability_change(run.probs[k], *stored[i]) for k, i in enumerate(chosen))
    return Verification(
        record=path,
        sampled=len(chosen),
        agreement=1 - len(differing) / len(chosen),
        max_prob_diff=prob_diff,
        differing_idx=differing,
        precision=record.submission.precision,
        recorded_accuracy=sum(stored[i][0] == g for i, g in zip(chosen, gold, strict=True)) / len(chosen),
        rerun_accuracy=sum(p == g for p, g in zip(new_pred, gold, strict=True)) / len(chosen),
        stale=job.status != "current",
        seed=seed,
    )


DOCUMENTS_PER_SAMPLE = 16
"""A perplexity record re-runs one document per this many of ``--sample`` (documents are long)."""


def _verify_documents(
    path: Path,
    record: Any,
    job: Any,
    config: BoardConfig,
    examples: Any,
    sample: int,
    seed: int,
    device: str,
    backend: Any,
) -> Verification:
    """Re-score sampled documents: agreement is the share whose log-likelihood is within the
    record's precision tolerance (relative), ``max_prob_diff`` the largest relative change."""
    docs = record.documents
    stored = dict(zip(docs.idx, docs.loglik, strict=True))
    chosen = sorted(
        random.Random(seed).sample(sorted(stored), min(max(1, sample // DOCUMENTS_PER_SAMPLE), len(stored)))
    )
    model = load_model(job, config, device, backend).model
    run = run_documents(
        model, [examples.texts[i] for i in chosen], docs.max_length, docs.context_len, progress=False, policy=None
    )
    change = [abs(new - stored[i]) / max(1.0, abs(stored[i])) for i, new in zip(chosen, run.loglik, strict=True)]
    tolerance = TOLERANCE[record.submission.precision]
    moved = tuple(i for i, c in zip(chosen, change, strict=True) if c > tolerance)
    return Verification(
        record=path,
        sampled=len(chosen),
        agreement=1 - len(moved) / len(chosen),
        max_prob_diff=max(change),
        differing_idx=moved,
        precision=record.submission.precision,
        recorded_accuracy=float("nan"),
        rerun_accuracy=float("nan"),
        stale=job.status != "current",
        seed=seed,
    )
