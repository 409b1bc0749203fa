"""A submission's page: its model card, fine-tuning, and each record as the page shows it
(scores, confusions, efficiency, provenance, the command that reproduces it; a language
model's prompt, scoring windows and serving figures, from ``language_model``). Pure, no I/O.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ftbench.board.snapshot import CardedSubmission, LoadedRecord, Shard, hardware_label
from ftbench.display import format_value, is_percent
from ftbench.leaderboard import RankedRow, model_family
from ftbench.metrics import METRICS
from ftbench.site.context import Page, model_url, render_card, task_url
from ftbench.site.language_model import PromptView, prompt_view, scoring_rows
from ftbench.site.measurement import (
    flag_marker,
    latency_rows,
    machine_rows,
    memory_rows,
    parameter_rows,
    record_flags,
    throughput_rows,
    unmerged_rows,
)
from ftbench.site.tables import (
    confusion_view,
    efficiency_table,
    facts_table,
    lm_efficiency_rows,
    metric_rows,
    per_class_rows,
    plain_value,
    top_confusions,
)
from ftbench.tasks import Task

Standings = Mapping[str, tuple[Mapping[str, int], int]]
"""Task -> (submission id -> rank, number of ranked entries)."""


def standings(tables: Mapping[str, Sequence[RankedRow]]) -> Standings:
    """What a model page needs of the whole board, small enough to send to every build worker."""
    return {task: ({r.entry.submission: r.rank for r in rows}, len(rows)) for task, rows in tables.items()}


def model_pages(shard: Shard, tasks: Sequence[Task], ranks: Standings, common: dict[str, Any]) -> list[Page]:
    """One page per submission of ``shard``, in id order."""
    by_sub: dict[str, list[LoadedRecord]] = {}
    for r in shard.records:
        by_sub.setdefault(r.record.submission.id, []).append(r)
    return [
        Page(
            model_url(s.spec.id),
            "model.html.j2",
            partial(model_context, tasks, s, by_sub.get(s.spec.id, []), ranks, common),
        )
        for s in shard.submissions
    ]


def model_context(
    tasks: Sequence[Task],
    sub: CardedSubmission,
    records: Sequence[LoadedRecord],
    ranks: Standings,
    common: dict[str, Any],
) -> dict[str, Any]:
    """A submission: model card, fine-tuning, per-task results with provenance, reproduction.
    A refused record (one that does not prove its numbers) is named with the reason, its
    numbers not shown."""
    spec = sub.spec
    by_name = {t.name: t for t in tasks}
    refused = sorted((r.record.task.name, r.note) for r in records if r.status == "refused")
    records = sorted((r for r in records if r.status != "refused"), key=lambda r: (r.record.task.name, r.status))
    environments = [environment_view(r.record) for r in records]
    shared = bool(environments) and all(e == environments[0] for e in environments)
    reference = str(common.get("reference_hardware", ""))
    results = [result_view(r, by_name.get(r.record.task.name), ranks, spec.id, shared, reference) for r in records]
    seen = {r.record.task.name for r in records if r.status != "orphan"}
    percent_only = all(is_percent(r.record.task.primary_metric) for r in records)
    return {
        **common,
        "root": "../",
        "page_title": spec.name,
        "spec": spec,
        "family": model_family(spec.model.kind, spec.fine_tuning.method),
        "value_heading": "Value (%)" if percent_only else "Value",
        "value_units": not percent_only,
        "card": render_card(sub.card),
        "results": results,
        "environment": environments[0] if shared else [],
        "missing": sorted(set(spec.tasks) - seen - {task for task, _ in refused}),
        "refused": refused,
        "weights": [(name, *(w.label if w else "—" for w in spec.weights_for(name))) for name in sorted(spec.tasks)],
        "hyperparameters": sorted(spec.fine_tuning.hyperparameters.items()),
        "train_command": spec.fine_tuning.script,
        "github": f"https://github.com/{quote(spec.submitter.github)}" if spec.submitter.github else "",
        "evaluate_all": shlex.join(["ftbench", "evaluate", f"submissions/{spec.id}"]),
    }


@dataclass(frozen=True)
class ResultView:
    """One record as its submission page shows it. An object, not a dict: Jinja resolves
    ``r.title`` as an attribute first, and on a dict that first try fails with an exception,
    for every field of every record of the board."""

    task: str
    """Task name (the section's anchor)."""
    title: str
    """Task title."""
    task_href: str
    """Task page URL, site-relative ("" when the task is gone)."""
    status: str
    """current, stale or orphan."""
    note: str
    """Why it is not ranked."""
    rank: int | None
    """Rank on the task when current."""
    of: int
    """Entries ranked on the task."""
    primary: str
    """Primary metric's label."""
    primary_value: str
    """Its formatted value."""
    primary_unit: str
    """``%`` for a share of examples, else "" (a perplexity, bits per byte)."""
    metrics: Markup
    """Rows of the metrics table."""
    per_class: Markup
    """Rows of the per-label table."""
    matrix: Markup | None
    """The confusion matrix table's content; None for tasks with too many labels."""
    confusions: list[tuple[str, str, int]]
    """The most frequent confusions when there is no matrix."""
    efficiency: Markup
    """Rows of the efficiency table (every figure of the record)."""
    lm_efficiency: Markup
    """A language model's serving figures with their units (empty for classifiers)."""
    measurement: list[tuple[str, str, Markup]]
    """``(heading, css class, rows)`` of each block of how the figures were measured: latency
    distribution, throughput, memory, parameters, machine and validity (``measurement``)."""
    flags: tuple[str, ...]
    """Validity flags of the efficiency figures (``ftbench.measure.FLAGS``), as ranked."""
    flag: Markup
    """The flag marker (empty when unflagged)."""
    unmerged: list[tuple[str, str, str, str]]
    """An adapter's figures merged against unmerged, with the ratio (empty for no adapter)."""
    scoring: Markup
    """A perplexity record's documents, tokens and windows (empty for classification)."""
    prompt: PromptView | None
    """How a prompted language model was asked (None for classifiers and perplexity)."""
    hardware: str
    """Device the efficiency figures come from."""
    provenance: list[tuple[str, str]]
    """This run's provenance (label, text)."""
    environment: list[tuple[str, str]]
    """Versions and hardware, when they differ between the page's records (else shown once)."""
    weights: list[dict[str, Any]]
    """Weight files loaded, by role."""
    reproduce: str
    """The command that re-creates these numbers."""
    record_href: str
    """Raw record URL, site-relative."""
    num_examples: int
    """Held-out examples (or documents) scored."""
    units: str
    """``examples``, or ``documents`` on a perplexity task."""


def result_view(
    loaded: LoadedRecord,
    task: Task | None,
    standings: Mapping[str, tuple[Mapping[str, int], int]],
    sub_id: str,
    shared_environment: bool = False,
    reference: str = "",
) -> ResultView:
    """Everything the submission page shows about one of its records (``standings``: task ->
    (submission id -> rank, number ranked)); its environment is left to the page when
    ``shared_environment``; its flags are judged against the board's ``reference`` profile."""
    rec = loaded.record
    name = rec.task.name
    ranks, ranked = standings.get(name, ({}, 0))
    primary = rec.task.primary_metric
    matrix = confusion_view(rec.task.labels, rec.confusion_matrix)
    language_model = rec.task.type == "perplexity" or rec.prompt is not None
    profile = hardware_label(rec)
    flags = record_flags(rec.efficiency, profile, reference)
    return ResultView(
        task=name,
        title=task.title if task else name,
        task_href=task_url(name) if task else "",
        status=loaded.status,
        note=loaded.note,
        rank=ranks.get(sub_id) if loaded.status == "current" else None,
        of=ranked,
        primary=METRICS[primary].label if primary in METRICS else primary,
        primary_value=format_value(primary, rec.metrics.get(primary)),
        primary_unit="%" if is_percent(primary) else "",
        metrics=metric_rows(rec.metrics, primary, rec.intervals.bounds if rec.intervals else {}),
        per_class=per_class_rows(rec.per_class),
        matrix=matrix,
        confusions=top_confusions(rec.task.labels, rec.confusion_matrix) if matrix is None else [],
        efficiency=efficiency_table(rec.efficiency),
        lm_efficiency=facts_table(lm_efficiency_rows(rec.efficiency)) if language_model else Markup(""),
        measurement=measurement_blocks(rec, profile, reference, flags),
        flags=flags,
        flag=Markup(flag_marker(flags)),
        unmerged=unmerged_rows(rec.efficiency),
        scoring=facts_table(scoring_rows(loaded.scoring, rec.intervals)) if loaded.scoring else Markup(""),
        prompt=prompt_view(rec.prompt, rec.task.labels),
        hardware=profile,
        provenance=provenance_view(rec),
        environment=[] if shared_environment else environment_view(rec),
        weights=weights_view(rec),
        reproduce=reproduce_command(sub_id, name, _batch_size(rec)),
        record_href=quote(loaded.href),
        num_examples=rec.task.num_examples,
        units="documents" if rec.task.type == "perplexity" else "examples",
    )


def measurement_blocks(rec: Any, profile: str, reference: str, flags: tuple[str, ...]) -> list[tuple[str, str, Markup]]:
    """How a record's efficiency figures were measured, block by block (each says "not
    measured" where an older record has nothing)."""
    e, hardware = rec.efficiency, rec.provenance.hardware
    return [
        ("Latency, batch 1", "dist", facts_table(latency_rows(e))),
        ("Throughput", "throughput", facts_table(throughput_rows(e))),
        ("Memory", "memory", facts_table(memory_rows(e))),
        ("Parameters", "parameters", facts_table(parameter_rows(e))),
        ("Machine and validity", "validity", facts_table(machine_rows(e, hardware, profile, reference, flags))),
    ]


def _batch_size(rec: Any) -> object:
    """The batch size the record's content key was made at (a perplexity run scores one
    document at a time whatever it is, and records that 1 among its figures)."""
    keyed = rec.content_key_parts.get("batch_size")
    return keyed if keyed is not None else rec.efficiency.get("batch_size")


def provenance_view(rec: Any) -> list[tuple[str, str]]:
    """This run's provenance as (label, text) pairs: command, times, model, keys and hashes."""
    p = rec.provenance
    return [
        ("command", p.command),
        ("run", f"{p.started_at} to {p.finished_at}, seed {p.seed}"),
        ("model", _flat(p.model)),
        ("content key", rec.content_key),
        ("task definition sha256", rec.task.definition_sha256),
        ("data sha256", rec.task.data_sha256),
    ]


def environment_view(rec: Any) -> list[tuple[str, str]]:
    """Where and with what a record was made: ftbench, the board commit, hardware, packages.
    Usually the same for every record of a submission, so a page shows it once."""
    p = rec.provenance
    return [
        ("ftbench", f"{p.ftbench_version} (evaluation logic {p.eval_logic_version})"),
        ("board commit", _flat(p.git)),
        ("hardware", _flat(p.hardware)),
        ("packages", _flat(p.packages)),
    ]


def weights_view(rec: Any) -> list[dict[str, Any]]:
    """Every weight file loaded, with its sha256 and size, grouped by base and adapter."""
    return [
        {
            "role": w.role,
            "ref": w.ref,
            "origin": w.origin,
            "files": [(str(f.get("file", "")), str(f.get("sha256", "")), plain_value(f.get("bytes"))) for f in w.files],
        }
        for w in rec.provenance.weights
    ]


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "—"
    return "—" if value is None else str(value)


def reproduce_command(sub_id: str, task: str, batch_size: object) -> str:
    """The command that re-creates this record's numbers."""
    args = ["ftbench", "evaluate", f"submissions/{sub_id}", "--task", task]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    return shlex.join(args)
