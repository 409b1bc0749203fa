"""The evaluation steps of a causal language model, in the order ``evaluate_job`` takes them:

    classification task: plan prompts -> score label words (shared prefix) -> metrics as for
                         classifiers (+ length-normalised accuracy) -> generation timings
    perplexity task:     score documents in rolling windows (checkpointed) -> perplexity
                         metrics with intervals over documents -> generation timings

Each step returns plain values; :class:`Outcome` carries what goes into the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.jobs import EvalJob
from ftbench.measure import DEFAULT_POLICY, Measurement, Policy
from ftbench.metrics import quality_metrics
from ftbench.models.base import LanguageModel
from ftbench.prompting import PromptPlan, plan_prompts
from ftbench.record import ChoiceScores, Predictions
from ftbench.runner.choices import ChoiceRun, measure_choices, run_choices
from ftbench.runner.documents import checkpoint_path, measure_documents, run_documents
from ftbench.runner.generation import measure_generation
from ftbench.scores import document_scores, documents_field, score, score_documents
from ftbench.tasks import Examples, load_split


@dataclass(frozen=True)
class Outcome:
    """What a run contributes to its record: the scored fields and the runner's figures."""

    fields: dict[str, Any]
    """Record fields: metrics, intervals, predictions or documents, prompt, tables."""
    efficiency: dict[str, Any]
    """Throughput, latency, memory and generation figures measured by the runner."""


def evaluate_language_model(
    job: EvalJob,
    config: BoardConfig,
    examples: Examples,
    model: LanguageModel,
    batch_size: int,
    progress: bool,
    policy: Policy = DEFAULT_POLICY,
    threads: int = 1,
) -> Outcome:
    """Score a causal LM on the job's task (its type decides how), then measure it."""
    if job.task.type == "perplexity":
        return _perplexity(job, examples, model, progress, policy, threads)
    return _prompted(job, config, examples, model, batch_size, progress, policy, threads)


def measure_language_model(
    job: EvalJob,
    config: BoardConfig,
    examples: Examples,
    model: LanguageModel,
    batch_size: int,
    policy: Policy = DEFAULT_POLICY,
    threads: int = 1,
) -> Measurement:
    """The efficiency measurement of a causal LM on the job's task, without scoring it."""
    if job.task.type == "perplexity":
        return measure_documents(model, examples.texts, job.task.settings.max_length, policy, threads)
    contexts, plan = _contexts(job, config, examples, model)
    return measure_choices(model, contexts, plan.continuations, batch_size, policy, threads)


def generation_figures(job: EvalJob, config: BoardConfig, examples: Examples, model: LanguageModel) -> dict[str, Any]:
    """Greedy generation timings over the task's own inputs: the prompts of a classification
    task (as scored), the documents of a perplexity task."""
    if job.task.type == "perplexity":
        return _generation(model, examples.texts)
    return _generation(model, _contexts(job, config, examples, model)[0])


def _contexts(
    job: EvalJob, config: BoardConfig, examples: Examples, model: LanguageModel
) -> tuple[list[str], PromptPlan]:
    plan = prompt_plan(job, config)
    chat = plan.settings.chat_template
    return [model.chat(plan.message(t)) if chat else plan.message(t) for t in examples.texts], plan


def prompt_plan(job: EvalJob, config: BoardConfig) -> PromptPlan:
    """The prompts of a causal LM on a classification task (demonstrations drawn from the
    task's train split with the submission's seed)."""
    task = job.task
    if task.prompt is None:
        raise FtbenchError(f"task {task.name!r} declares no prompt: a causal LM cannot be scored on it")
    settings = job.submission.spec.prompting_for(task.name)
    split = task.prompt.fewshot_split or task.train_split
    if settings.num_fewshot and split is None:
        raise FtbenchError(f"task {task.name!r} has no train split to draw {settings.num_fewshot} demonstrations from")
    train = load_split(config.data_dir, task.dataset, split) if settings.num_fewshot and split else None
    return plan_prompts(task.prompt, settings, train)


def _prompted(
    job: EvalJob,
    config: BoardConfig,
    examples: Examples,
    model: LanguageModel,
    batch_size: int,
    progress: bool,
    policy: Policy,
    threads: int,
) -> Outcome:
    contexts, plan = _contexts(job, config, examples, model)
    run = run_choices(
        model,
        contexts,
        plan.continuations,
        batch_size,
        progress,
        description=job.name,
        words=plan.spec.choices,
        policy=policy,
        threads=threads,
    )
    fields = score(job.task, examples.labels, run.predictions)
    # every prompted record carries lm-eval's acc_norm beside acc (the task's metrics)
    norm = quality_metrics(["accuracy_norm"], examples.labels, run.normalised_predictions, len(job.task.labels))
    fields["metrics"].update(norm)
    fields["prompt"] = {**plan.provenance(), "example": contexts[0] if contexts else ""}
    fields.update(_choice_fields(run, examples))
    return Outcome(fields, {**run.efficiency(), **_generation(model, contexts), **_counts(run)})


def _choice_fields(run: ChoiceRun, examples: Examples) -> dict[str, Any]:
    pred, probs = run.predictions, run.probs
    return {
        "predictions": Predictions(
            idx=list(examples.idx), pred=pred, prob=[round(float(probs[i, p]), 4) for i, p in enumerate(pred)]
        ),
        "choices": ChoiceScores(loglik=run.loglik.tolist(), chars=list(run.chars)),
    }


def _counts(run: ChoiceRun) -> dict[str, Any]:
    return {"memory_kind": run.memory_kind, "n_tokens": run.n_tokens, "batch_size": run.batch_size}


def _perplexity(
    job: EvalJob, examples: Examples, model: LanguageModel, progress: bool, policy: Policy, threads: int
) -> Outcome:
    settings = job.task.settings
    run = run_documents(
        model,
        examples.texts,
        settings.max_length,
        settings.context_len,
        checkpoint=checkpoint_path(job.output),
        key=job.content_key,
        progress=progress,
        description=job.name,
        policy=policy,
        threads=threads,
    )
    scores = document_scores(examples, run.loglik, run.tokens)
    fields = {
        **score_documents(job.task, scores),
        "documents": documents_field(scores, examples.idx, run.max_length, run.context_len),
    }
    figures = {
        **run.efficiency(),
        **_generation(model, examples.texts),
        "memory_kind": run.memory_kind,
        "n_tokens": sum(run.tokens),
        "batch_size": 1,
        "resumed_documents": run.resumed,
    }
    return Outcome(fields, figures)


def _generation(model: LanguageModel, texts: Any) -> dict[str, Any]:
    return measure_generation(model, list(texts))
