"""A submission's page: its model card, fine-tuning, and each record as the page shows it
(scores, confusions linked to the example browser, calibration, efficiency, provenance, the
command that reproduces it, links to the comparisons with its neighbours; a language model's
prompt, scoring windows and serving figures, from ``language_model``). Pure, no I/O.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Protocol
from urllib.parse import quote

from markupsafe import Markup

from ftbench.board.snapshot import CardedSubmission, LoadedRecord, Shard, hardware_label
from ftbench.display import format_value, is_percent, rank_text
from ftbench.leaderboard import RankedRow, model_family
from ftbench.metrics import METRICS
from ftbench.site.comparison import compare_links, compared
from ftbench.site.context import Page, examples_url, model_url, page_key, render_card, task_url, updated
from ftbench.site.examples import Confusion, confusion_links, confusion_table, has_examples
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
from ftbench.site.record_origin import batch_size, environment_view, provenance_view, reproduce_command, weights_view
from ftbench.site.reliability import CalibrationView, calibration_view
from ftbench.site.tables import (
    TOP_CONFUSIONS,
    efficiency_table,
    facts_table,
    lm_efficiency_rows,
    metric_rows,
    per_class_rows,
)
from ftbench.tasks import Task

ROOT = "../"
"""A model page's way back to the site root (``models/<id>.html``)."""


@dataclass(frozen=True)
class TaskStanding:
    """What a model page needs of one task's ranking."""

    ranks: Mapping[str, int]
    """Submission id -> rank."""
    order: tuple[str, ...]
    """Submission ids in ranking order."""
    names: tuple[str, ...]
    """Their display names."""
    compared: bool
    """Its pairs of neighbours have comparison pages (``comparison.compared``)."""
    sharing: Mapping[str, int] = field(default_factory=dict)
    """Submission id -> entries sharing its rank (:attr:`RankedRow.sharing`)."""

    @functools.cached_property
    def positions(self) -> dict[str, int]:
        """Submission id -> its position in :attr:`order`."""
        return {sub: i for i, sub in enumerate(self.order)}


Standings = Mapping[str, TaskStanding]
"""Task -> its standing."""


class PageParts(Protocol):
    """The parts of a submission's page that a rebuild may keep (``ftbench.site.kept_sections``)."""

    def section(self, task: str, key: str, view: Callable[[], ResultView]) -> Markup:
        """A record's section: kept under ``key`` (:func:`section_key`), else rendered from ``view()``."""
        ...

    def card(self, key: str, render: Callable[[], Markup]) -> Markup:
        """The rendered model card: kept under ``key``, else ``render()``."""
        ...


def standings(tables: Mapping[str, Sequence[RankedRow]]) -> Standings:
    """What a model page needs of the whole board, small enough to send to every build worker."""
    return {
        task: TaskStanding(
            {r.entry.submission: r.rank for r in rows},
            tuple(r.entry.submission for r in rows),
            tuple(r.entry.name for r in rows),
            bool(compared(rows)),
            {r.entry.submission: r.sharing for r in rows},
        )
        for task, rows in tables.items()
    }


def shown_standing(standing: TaskStanding | None, task: str, sub_id: str) -> tuple:
    """What a model page shows of a submission's standing on a task (its rank, the entries
    sharing it, how many are ranked, its comparison links with their names): part of the
    page's key, so that a change elsewhere in the ranking leaves the page as it is."""
    if standing is None or sub_id not in standing.ranks:
        return ()
    links = standing_links(standing, task, sub_id)
    shown = rank_text(standing.ranks[sub_id], standing.sharing[sub_id])  # how many share it is not shown
    return (shown, len(standing.order), tuple(links))


def standing_links(standing: TaskStanding, task: str, sub_id: str) -> list[tuple[str, str, str]]:
    """The comparison links of a submission ranked in ``standing`` (``comparison.compare_links``,
    its place found by :attr:`TaskStanding.positions`: every model page asks, for every task)."""
    at = standing.positions.get(sub_id)
    if not standing.compared or at is None:
        return []
    return compare_links(task, standing.order, standing.names, sub_id, at)


def model_pages(
    shard: Shard,
    tasks: Sequence[Task],
    ranks: Standings,
    common: dict[str, Any],
    sections: Callable[[str], PageParts],
    held_out: Mapping[str, Sized] | None = None,
    salt: str = "",
) -> list[Page]:
    """One page per submission of ``shard``, in id order (``held_out``: the tasks' readable
    held-out examples, or anything of their number, for the links to each record's example
    browser; ``salt``: see ``context.page_key``; ``sections``: what makes the parts of the
    page at a site path, ``kept_sections``). A page's key: its folder's and its records' stamps and
    statuses, and what it shows of its records' tasks' standings."""
    by_sub: dict[str, list[LoadedRecord]] = {}
    for r in shard.records:
        by_sub.setdefault(r.record.submission.id, []).append(r)
    pages = []
    for s in shard.submissions:
        records = by_sub.get(s.spec.id, [])
        make = sections(model_url(s.spec.id))
        key = page_key(
            salt,
            "model",
            s.stamp,
            [
                (
                    r.href,
                    r.stamp,
                    r.status,
                    r.note,
                    shown_standing(ranks.get(r.record.task.name), r.record.task.name, s.spec.id),
                )
                for r in records
            ],
        )
        context = partial(model_context, tasks, s, records, ranks, common, held_out or {}, make, salt)
        pages.append(Page(model_url(s.spec.id), "model.html.j2", context, key))
    return pages


def model_context(
    tasks: Sequence[Task],
    sub: CardedSubmission,
    records: Sequence[LoadedRecord],
    ranks: Standings,
    common: dict[str, Any],
    held_out: Mapping[str, Sized],
    sections: PageParts,
    salt: str = "",
) -> dict[str, Any]:
    """A submission: model card, fine-tuning, per-task results with provenance, reproduction.
    A refused record (one that does not prove its numbers) is named with the reason, its
    numbers not shown. Each record's section, and the card, are made by ``sections``
    (``kept_sections``: kept under their key, :func:`section_key`, else rendered, a section
    from its :func:`result_view`); the results table shows each record's :func:`result_summary`."""
    spec = sub.spec
    by_name = {t.name: t for t in tasks}
    refused = sorted((r.record.task.name, r.note) for r in records if r.status == "refused")
    records = sorted((r for r in records if r.status != "refused"), key=lambda r: (r.record.task.name, r.status))
    environments = [environment_view(r.record) for r in records]
    shared = bool(environments) and all(e == environments[0] for e in environments)
    reference = str(common.get("reference_hardware", ""))
    results, made = [], []
    for r in records:
        name = r.record.task.name
        task, examples = by_name.get(name), held_out.get(name)
        view = partial(result_view, r, task, ranks, spec.id, shared, reference, examples)
        results.append(result_summary(r, task, ranks, spec.id, reference))
        key = section_key(salt, spec.id, r, shown_standing(ranks.get(name), name, spec.id), shared, examples)
        made.append(sections.section(name, key, view))
    seen = {r.record.task.name for r in records if r.status != "orphan"}
    percent_only = all(is_percent(r.record.task.primary_metric) for r in records)
    return {
        **common,
        "root": ROOT,
        "page_title": spec.name,
        "updated": updated(common, [spec.date.isoformat(), *(r.record.provenance.finished_at[:10] for r in records)]),
        "spec": spec,
        "family": model_family(spec.model.kind, spec.fine_tuning.method),
        "value_heading": "Value (%)" if percent_only else "Value",
        "value_units": not percent_only,
        "card": sections.card(page_key(salt, "card", sub.card), partial(render_card, sub.card)),
        "results": results,
        "sections": made,
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
class ResultSummary:
    """A record's row of its model page's results table (what its section's head shows too)."""

    task: str
    """Task name (the section's anchor)."""
    title: str
    """Task title."""
    status: str
    """current, stale or orphan."""
    rank: int | None
    """Rank on the task when current."""
    rank_text: str
    """The rank as shown: ``=1`` when another entry shares it ("" when not ranked)."""
    of: int
    """Entries ranked on the task."""
    primary: str
    """Primary metric's label."""
    primary_value: str
    """Its formatted value."""
    primary_unit: str
    """``%`` for a share of examples, else "" (a perplexity, bits per byte)."""
    hardware: str
    """Device the efficiency figures come from."""
    flag: Markup
    """The flag marker (empty when unflagged)."""


def result_summary(
    loaded: LoadedRecord, task: Task | None, standings: Standings, sub_id: str, reference: str = ""
) -> ResultSummary:
    """A record's row of the results table (``reference``: the board's hardware profile, which
    its flags are judged against)."""
    rec = loaded.record
    standing = standings.get(rec.task.name)
    current = loaded.status == "current"
    ranked = standing is not None and current and sub_id in standing.ranks
    primary = rec.task.primary_metric
    profile = hardware_label(rec)
    return ResultSummary(
        task=rec.task.name,
        title=task.title if task else rec.task.name,
        status=loaded.status,
        rank=standing.ranks.get(sub_id) if standing and current else None,
        rank_text=rank_text(standing.ranks[sub_id], standing.sharing[sub_id]) if standing and ranked else "",
        of=len(standing.order) if standing else 0,
        primary=METRICS[primary].label if primary in METRICS else primary,
        primary_value=format_value(primary, rec.metrics.get(primary)),
        primary_unit="%" if is_percent(primary) else "",
        hardware=profile,
        flag=Markup(flag_marker(record_flags(rec.efficiency, profile, reference))),
    )


def section_key(
    salt: str,
    sub_id: str,
    loaded: LoadedRecord,
    shown: tuple,
    shared_environment: bool,
    examples: Sized | None,
) -> str:
    """The key a record's section is kept under (``context.page_key``): its record's file and
    stamp, status and note, what it shows of its task's standing (``shown``:
    :func:`shown_standing`), whether the page shows the environment once for all its records,
    and how many held-out examples its task has where they can be read."""
    count = len(examples) if examples is not None else None
    status = (loaded.href, loaded.stamp, loaded.status, loaded.note)
    return page_key(salt, "model section", sub_id, status, shown, shared_environment, count)


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
    """The confusion matrix table's content, each cell a link to the example browser filtered
    on it; None for tasks with too many labels."""
    confusions: list[Confusion]
    """The most frequent confusions when there is no matrix."""
    examples_href: str
    """The record's example browser, site-relative ("" where it has none)."""
    calibration: CalibrationView | None
    """Reliability diagram and calibration figures (classification records)."""
    compare: list[tuple[str, str, str]]
    """``(relation, name, URL)`` of its comparisons with the leader and its neighbours."""
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
    rank_text: str = ""
    """The rank as shown: ``=1`` when another entry shares it ("" when not ranked)."""


def result_view(
    loaded: LoadedRecord,
    task: Task | None,
    standings: Standings,
    sub_id: str,
    shared_environment: bool = False,
    reference: str = "",
    examples: Sized | None = None,
) -> ResultView:
    """Everything the submission page shows about one of its records (``standings``: each
    task's ranking); its environment is left to the page when ``shared_environment``; its flags
    are judged against the board's ``reference`` profile; ``examples``: the task's held-out
    examples (a current record with predictions then has an example browser)."""
    rec = loaded.record
    name = rec.task.name
    standing = standings.get(name)
    current = loaded.status == "current"
    browse = examples_url(sub_id, name) if current and task and has_examples(loaded.outcome, examples) else ""
    link = ROOT + browse if browse else None
    primary = rec.task.primary_metric
    matrix = confusion_table(rec.task.labels, rec.confusion_matrix, link)
    language_model = rec.task.type == "perplexity" or rec.prompt is not None
    summary = result_summary(loaded, task, standings, sub_id, reference)
    profile = summary.hardware
    flags = record_flags(rec.efficiency, profile, reference)
    return ResultView(
        **{f.name: getattr(summary, f.name) for f in fields(summary)},
        task_href=task_url(name) if task else "",
        note=loaded.note,
        metrics=metric_rows(rec.metrics, primary, rec.intervals.bounds if rec.intervals else {}),
        per_class=per_class_rows(rec.per_class),
        matrix=matrix,
        confusions=[]
        if matrix is not None
        else confusion_links(rec.task.labels, rec.confusion_matrix, TOP_CONFUSIONS, link),
        examples_href=browse,
        calibration=(
            calibration_view(
                loaded.calibration, len(rec.task.labels), f"reliability-{name}", task.title if task else name
            )
            if loaded.calibration is not None and rec.task.type != "perplexity"
            else None
        ),
        compare=standing_links(standing, name, sub_id) if standing and current else [],
        efficiency=efficiency_table(rec.efficiency),
        lm_efficiency=facts_table(lm_efficiency_rows(rec.efficiency)) if language_model else Markup(""),
        measurement=measurement_blocks(rec, profile, reference, flags),
        flags=flags,
        unmerged=unmerged_rows(rec.efficiency),
        scoring=facts_table(scoring_rows(loaded.scoring, rec.intervals)) if loaded.scoring else Markup(""),
        prompt=prompt_view(rec.prompt, rec.task.labels),
        provenance=provenance_view(rec),
        environment=[] if shared_environment else environment_view(rec),
        weights=weights_view(rec),
        reproduce=reproduce_command(sub_id, name, batch_size(rec)),
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
