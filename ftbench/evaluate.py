"""Evaluate (submission, task) pairs, in named steps a reader can follow top to bottom:

    load data -> load model (resolve weights, backend) -> predict -> score -> assemble the record

The backend is a parameter (a registered name or a loader), so tests can run the whole path
with the weightless ``DummyClassifier``; the default backend of a task type imports its library
(torch, transformers, peft) only when it is called.
"""

from __future__ import annotations

import datetime as dt
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ftbench
from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError, Issue
from ftbench.evaluate_lm import Outcome, evaluate_language_model, generation_figures, measure_language_model
from ftbench.files import remove_leftover_temporaries
from ftbench.git import git_state
from ftbench.jobs import EvalJob, plan_jobs
from ftbench.measure import DEFAULT_POLICY, Measurement, Policy, with_prefill
from ftbench.measure import policy as measurement_policy
from ftbench.models.backends import SEED, Backend, LoadedModel, load_model
from ftbench.models.base import Classifier, LanguageModel
from ftbench.models.resolve import ResolvedWeights
from ftbench.provenance import fix_threads, hardware, hardware_profile, package_versions
from ftbench.record import (
    SIGNATURE,
    Predictions,
    Provenance,
    ResultRecord,
    SubmissionRef,
    TaskRef,
    WeightsProvenance,
    read_record,
    sign,
    write_record,
)
from ftbench.runner import run_classifier
from ftbench.runner.classifier import measure_classifier
from ftbench.runner.documents import LATENCY_TOKENS, checkpoint_path
from ftbench.scores import score
from ftbench.submissions import load_submissions
from ftbench.tasks import Examples, load_examples


@dataclass(frozen=True)
class EvalSettings:
    """How to run an evaluation."""

    batch_size: int | None = None
    """Examples per forward pass (part of the content key); None: the board's."""
    device: str = "auto"
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    limit: int | None = None
    """Score only the first N examples (the record is then marked incomplete)."""
    progress: bool = True
    """Show a progress bar."""
    threads: int | None = None
    """Compute threads (fixed for the whole run and recorded); None: torch's default."""
    policy: Policy | None = None
    """How efficiency is measured (``ftbench.measure``); None: the board's
    (``[tool.ftbench.measurement]`` over the defaults)."""


@dataclass
class EvalReport:
    """What a run of :func:`evaluate_pending` did."""

    jobs: list[EvalJob] = field(default_factory=list)
    """Every pair planned (current ones included)."""
    done: list[tuple[EvalJob, ResultRecord]] = field(default_factory=list)
    """Pairs evaluated, with the record written."""
    failed: list[tuple[EvalJob, str]] = field(default_factory=list)
    """Pairs whose evaluation failed, with why; the other pairs of the run went on."""
    issues: tuple[Issue, ...] = ()
    """Problems of the submissions (the invalid ones were skipped)."""

    @property
    def invalid(self) -> bool:
        """True when a submission was skipped for an error."""
        return any(i.severity == "error" for i in self.issues)


def evaluate_pending(
    config: BoardConfig,
    paths: Iterable[Path] = (),
    settings: EvalSettings | None = None,
    only_tasks: Sequence[str] = (),
    force: bool = False,
    on_plan: Callable[[list[EvalJob]], None] | None = None,
    on_record: Callable[[EvalJob, ResultRecord | None, str], None] | None = None,
    backend: str | Backend | None = None,
) -> EvalReport:
    """Evaluate every missing or stale pair of the submissions in ``paths`` (all by default),
    or every pair with ``force``, writing each record atomically as soon as it is made.

    An invalid submission is skipped (its issues are in the report) and a pair whose evaluation
    fails is reported, not fatal: the rest of the run goes on. ``on_plan`` sees the plan first;
    ``on_record`` each pair once done (its record, or None and why it failed); ``backend``
    replaces each task type's default backend (see :func:`evaluate_job`).
    """
    settings = settings or EvalSettings()
    board = load_submissions(config, paths)
    report = EvalReport(issues=board.issues)
    report.jobs = plan_jobs(board, config, settings.batch_size, settings.limit, only_tasks, force)
    if only_tasks and not report.jobs and board.submissions:
        listed = "; ".join(f"{s.spec.id}: {', '.join(s.spec.tasks)}" for s in board.submissions)
        raise FtbenchError(f"no submission lists --task {', '.join(only_tasks)} (their tasks: {listed})")
    if on_plan is not None:
        on_plan(report.jobs)
    pending = [j for j in report.jobs if j.pending]
    if pending:
        prepare_output(config.results_dir)

    def run(job: EvalJob) -> ResultRecord:
        record = evaluate_job(job, config, settings, backend)
        write_record(job.output, record)
        checkpoint_path(job.output).unlink(missing_ok=True)  # a perplexity run's, now in the record
        return record

    return _each(pending, run, report, on_record)


def _each(
    jobs: Sequence[EvalJob],
    run: Callable[[EvalJob], ResultRecord],
    report: EvalReport,
    on_record: Callable[[EvalJob, ResultRecord | None, str], None] | None,
) -> EvalReport:
    """``run`` every job, each failure reported and not fatal: one broken submission must not
    stop the others."""
    for job in jobs:
        try:
            record = run(job)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            report.failed.append((job, f"{type(exc).__name__}: {why}" if not isinstance(exc, FtbenchError) else why))
            if on_record is not None:
                on_record(job, None, report.failed[-1][1])
            continue
        report.done.append((job, record))
        if on_record is not None:
            on_record(job, record, "")
    return report


def remeasure_current(
    config: BoardConfig,
    paths: Iterable[Path] = (),
    settings: EvalSettings | None = None,
    only_tasks: Sequence[str] = (),
    on_record: Callable[[EvalJob, ResultRecord | None, str], None] | None = None,
    backend: str | Backend | None = None,
) -> EvalReport:
    """Measure the efficiency of every *current* record's model again on this machine, without
    scoring it again: the figures, hardware and versions are replaced, the predictions, metrics
    and content key are kept. A maintainer runs this alone on the reference machine so that a
    board's figures come from one profile; a pair without a current record is left to
    ``evaluate``."""
    settings = settings or EvalSettings()
    board = load_submissions(config, paths)
    report = EvalReport(issues=board.issues)
    report.jobs = [j for j in plan_jobs(board, config, settings.batch_size, None, only_tasks) if not j.pending]

    def run(job: EvalJob) -> ResultRecord:
        record = remeasure_job(job, config, settings, backend)
        write_record(job.output, record)
        return record

    return _each(report.jobs, run, report, on_record)


def remeasure_job(
    job: EvalJob, config: BoardConfig, settings: EvalSettings, backend: str | Backend | None = None
) -> ResultRecord:
    """A current record with its efficiency measured again here (``remeasure_current``)."""
    old = read_record(job.output)
    examples = load_examples(job.task, config.data_dir)
    threads = fix_threads(settings.threads)
    loaded = load_model(job, config, settings.device, backend)
    figures = _figures(job, measure(job, config, settings, examples, loaded.model, threads))
    peaks = figures.get("memory_peaks_mb") or [0.0]
    # the scoring pass's own timings belong to the machine that scored it: not carried over
    kept = {k: v for k, v in old.efficiency.items() if k in _PASS_INDEPENDENT}
    figures = {**kept, **figures, "peak_memory_mb": max(peaks), "remeasured_at": _now()}
    if job.model_kind == "causal-lm":
        figures.update(generation_figures(job, config, examples, loaded.model))
        with_prefill(figures)
    unmerged = None
    if loaded.adapter is not None and loaded.model.info.merged:
        unmerged = measure_unmerged(job, config, settings, examples, backend, threads)
    machine = hardware()
    weights = list(old.provenance.weights)
    efficiency = _efficiency(
        figures,
        loaded.model,
        weights,
        loaded,
        job.submission.spec.fine_tuning.trainable_parameters,
        hardware_profile(machine, loaded.model.info.device),
        config.reference_hardware,
        unmerged,
    )
    provenance = old.provenance.model_copy(update={"hardware": machine, "packages": package_versions()})
    extra = {k: v for k, v in old.extra.items() if k != SIGNATURE}  # the old signature covers the old figures
    record = old.model_copy(update={"efficiency": efficiency, "provenance": provenance, "extra": extra})
    return record if config.record_key is None else sign(record, config.record_key)


_PASS_INDEPENDENT = ("memory_kind", "n_tokens", "batch_size", "resumed_documents")
"""Efficiency fields of a record that do not depend on the machine (kept by a re-measurement)."""


def prepare_output(results_dir: Path) -> None:
    """Make sure records can be written before any model is loaded (a read-only or missing
    folder would otherwise lose a whole run's work), and remove the temporary files that a
    killed run left behind."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results_dir, prefix=".write-check.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise FtbenchError(f"{results_dir}: cannot write records there ({exc.strerror or exc})") from None
    remove_leftover_temporaries(results_dir)


def evaluate_job(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    backend: str | Backend | None = None,
) -> ResultRecord:
    """Run one job and return its record (the caller writes it)."""
    started = _now()
    examples = load_examples(job.task, config.data_dir).head(settings.limit)
    if job.task.type != "classification" and job.model_kind != "causal-lm":
        raise FtbenchError(f"task {job.task.name!r} is a {job.task.type} task: it needs model.kind causal-lm")
    threads = fix_threads(settings.threads)
    loaded = load_model(job, config, settings.device, backend)
    policy = _policy(settings, config)
    if job.model_kind == "causal-lm":
        outcome = evaluate_language_model(
            job, config, examples, loaded.model, job.batch_size, settings.progress, policy, threads
        )
    else:
        outcome = classify(job, examples, loaded.model, settings.progress, policy, threads)
    unmerged = None
    if loaded.adapter is not None and loaded.model.info.merged:
        unmerged = measure_unmerged(job, config, settings, examples, backend, threads)
    record = assemble_record(job, config, settings, examples, outcome, loaded, started, unmerged)
    return record if config.record_key is None else sign(record, config.record_key)


def measure(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    examples: Examples,
    model: Classifier | LanguageModel,
    threads: int,
) -> Measurement:
    """The efficiency measurement of a loaded model on the job's task, without a scoring pass."""
    policy = _policy(settings, config)
    if job.model_kind == "causal-lm":
        return measure_language_model(job, config, examples, model, job.batch_size, policy, threads)  # type: ignore[arg-type]
    return measure_classifier(model, examples.texts, job.batch_size, policy, threads)  # type: ignore[arg-type]


def _figures(job: EvalJob, measurement: Measurement) -> dict:
    """A measurement's record fields, with what a perplexity task's batch-1 reads are."""
    figures = measurement.figures()
    if job.task.type == "perplexity":
        figures["latency"]["tokens"] = LATENCY_TOKENS
    return figures


def _policy(settings: EvalSettings, config: BoardConfig) -> Policy:
    return settings.policy or measurement_policy(
        config.measurement, f"{config.root / 'pyproject.toml'}:tool.ftbench.measurement"
    )


def measure_unmerged(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    examples: Examples,
    backend: str | Backend | None,
    threads: int,
) -> dict:
    """The adapter as deployed unmerged (PEFT layers beside the base weights): its load time,
    parameters, latency, throughput and memory, measured like the merged model's."""
    loaded = load_model(job, config, settings.device, backend, merge_adapter=False)
    model = loaded.model
    figures = _figures(job, measure(job, config, settings, examples, model, threads))
    figures["peak_memory_mb"] = max(figures.get("memory_peaks_mb") or [0.0])
    figures.update(_memory(figures, loaded, model))
    return {
        **figures,
        "load_time_s": loaded.load_seconds,
        "parameters_total": model.info.parameters_total,
    }


def classify(
    job: EvalJob,
    examples: Examples,
    model: Classifier,
    progress: bool,
    policy: Policy = DEFAULT_POLICY,
    threads: int = 1,
) -> Outcome:
    """Measure a classifier and score it on the job's held-out texts."""
    run = run_classifier(
        model, examples.texts, job.batch_size, progress, description=job.name, policy=policy, threads=threads
    )
    pred = run.predictions
    fields = score(job.task, examples.labels, pred)
    fields["predictions"] = Predictions(
        idx=list(examples.idx), pred=pred, prob=[round(float(run.probs[i, p]), 4) for i, p in enumerate(pred)]
    )
    figures = {
        **run.efficiency(),
        "memory_kind": run.memory_kind,
        "n_tokens": run.n_tokens,
        "batch_size": run.batch_size,
    }
    return Outcome(fields, figures)


def assemble_record(
    job: EvalJob,
    config: BoardConfig,
    settings: EvalSettings,
    examples: Examples,
    outcome: Outcome,
    loaded: LoadedModel,
    started: str,
    unmerged: dict | None = None,
) -> ResultRecord:
    """Put scores, per-example evidence, efficiency and provenance together into a record."""
    spec = job.submission.spec
    model = loaded.model
    machine = hardware()
    weights = [_weights_provenance("base", loaded.base)]
    if loaded.adapter is not None:
        weights.append(_weights_provenance("adapter", loaded.adapter))
    return ResultRecord(
        content_key=job.content_key,
        content_key_parts=job.key_parts,
        complete=settings.limit is None,  # a --limit run is partial by its path, whatever N is
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
            type=job.task.type,
            definition_sha256=job.task.definition_sha256,
            data_sha256=job.task.data_sha256,
        ),
        **outcome.fields,
        efficiency=_efficiency(
            outcome.efficiency,
            model,
            weights,
            loaded,
            spec.fine_tuning.trainable_parameters,
            hardware_profile(machine, model.info.device),
            config.reference_hardware,
            unmerged,
        ),
        provenance=Provenance(
            ftbench_version=ftbench.__version__,
            eval_logic_version=ftbench.EVAL_LOGIC_VERSION,
            git=git_state(config.root, outputs=(config.results_dir, config.site_dir)),
            packages=package_versions(),
            hardware=machine,
            weights=weights,
            model=_model_provenance(model),
            seed=SEED,
            command=shlex.join(["ftbench", *sys.argv[1:]]),
            started_at=started,
            finished_at=_now(),
        ),
    )


def _efficiency(
    figures: dict,
    model: Classifier | LanguageModel,
    weights: list[WeightsProvenance],
    loaded: LoadedModel,
    declared_trainable: int | None,
    profile: str,
    reference: str,
    unmerged: dict | None,
) -> dict:
    def size(role: str) -> int:
        return sum(f["bytes"] for w in weights if w.role == role for f in w.files)

    info = model.info
    trainable = info.parameters_trainable if info.parameters_trainable is not None else declared_trainable
    extra: dict = {}
    if loaded.base.ref.gguf_file is not None:  # as published (GGUF) and as evaluated (dequantised)
        extra = {"source_size_bytes": size("base"), "conversion_time_s": info.conversion_seconds}
    if unmerged is not None:
        extra["unmerged"] = unmerged
    figures = {**figures, **_memory(figures, loaded, model)}
    validity = figures.get("validity")
    if isinstance(validity, dict) and reference and profile != reference:
        validity["flags"] = [*validity["flags"], "other-hardware"]
    return {
        **figures,
        **extra,
        "hardware_profile": profile,
        "load_time_s": loaded.load_seconds,
        "device": info.device,
        "dtype": info.dtype,
        "parameters_total": info.parameters_total,
        "parameters_base": info.parameters_base if info.parameters_base is not None else info.parameters_total,
        "parameters_trainable": trainable,
        # what a forward pass computes with as deployed: base + adapter when left unmerged
        "parameters_effective": unmerged["parameters_total"] if unmerged else info.parameters_total,
        "adapter_size_bytes": size("adapter"),
        "model_size_bytes": (info.evaluated_bytes or size("base")) + size("adapter"),
    }


def _memory(figures: dict, loaded: LoadedModel, model: Classifier | LanguageModel) -> dict:
    """The memory the model takes: peak RSS minus the RSS before it was loaded (CPU), with the
    range over the throughput repeats; the allocator's peak on a GPU. A scoring pass that ran
    batches side by side (``pass_streams``) counts only for its batches run one at a time: what
    the rest takes is the pass's, not what the model takes when it serves one call at a time."""
    peaks = [float(m) for m in figures.get("memory_peaks_mb", [])]
    peak = figures.get("peak_memory_mb")
    if not isinstance(peak, (int, float)):
        return {}
    if str(model.info.device).startswith("cuda"):
        return {"model_memory_mb": float(peak)}
    base = loaded.rss_before_mb
    # one call at a time: the repeats, and the pass (only its first batch when side by side)
    alone = figures.get("pass_alone_peak_memory_mb") if figures.get("pass_streams", 1) > 1 else peak
    high = max([*peaks, *([float(alone)] if isinstance(alone, (int, float)) else [])] or [float(peak)])
    return {
        "model_memory_mb": max(high - base, 0.0),
        "model_memory_mb_lo": max(min(peaks or [high]) - base, 0.0),
        "model_memory_mb_hi": max(high - base, 0.0),
        "rss_before_load_mb": base,
    }


def _weights_provenance(role: Literal["base", "adapter"], weights: ResolvedWeights) -> WeightsProvenance:
    return WeightsProvenance(role=role, ref=weights.ref.label, origin=weights.origin, files=weights.fingerprint())


def _model_provenance(model: Classifier | LanguageModel) -> dict:
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
