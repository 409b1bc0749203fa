"""The board as plain values: what was read (shards of submissions with their records), what
the board-wide pages need (summaries merged into a :class:`Board`), and the rankings built
from it. Pure functions, no I/O: ``ftbench.board.read`` fills these values from disk, and the
site and the pull-request report both consume them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftbench.baselines import TaskBaselines
from ftbench.calibration import Calibration, calibration
from ftbench.compare import Outcome, outcome_from_predictions
from ftbench.contamination import FoundOverlap, clean_indices
from ftbench.errors import Issue
from ftbench.leaderboard import (
    Contamination,
    Entry,
    RankedRow,
    mark_pareto,
    pareto_costs,
    quality_table,
    trivial_outcomes,
)
from ftbench.metrics import METRICS, confusion_counts, quality_from_confusion
from ftbench.provenance import hardware_profile
from ftbench.spec import Submission
from ftbench.tasks import Examples, Task


@dataclass(frozen=True)
class LoadedRecord:
    """A result record as the site read it (predictions left out) and whether it is ranked."""

    record: Any
    """The record (``ftbench.record.RecordView``: a ResultRecord without its predictions)."""
    status: str
    """``current`` (ranked), ``stale`` (inputs changed since) or ``orphan`` (task not requested)."""
    note: str = ""
    """Why a record is not current, for the model page."""
    href: str = ""
    """Site-relative path of its raw copy (``records/<id>/<task>.json``)."""
    scoring: Mapping[str, int] = field(default_factory=dict)
    """A perplexity record's totals over its documents and its windows (see
    :func:`document_totals`): the view keeps no documents, the model page shows these."""
    outcome: Outcome | None = field(default=None, compare=False, repr=False)
    """Its per-example results in compact arrays (paired comparisons, example pages)."""
    calibration: Calibration | None = None
    """Calibration of its stored probabilities (classification records)."""
    contamination: Contamination | None = None
    """Measured overlap of its declared training data with the held-out split, if any."""
    stamp: str = field(default="", compare=False)
    """``size:mtime`` of its file when read (``ftbench.site.stamp.file_stamp``): with the
    submission's stamp, what the keys of the pages that show it rest on."""


def document_totals(documents: Any) -> dict[str, int]:
    """What a model page says of a perplexity record's documents (a ``record.Documents``, or
    None for other records): how many, their tokens, words and bytes, and the scoring windows."""
    if documents is None:
        return {}
    return {
        "documents": len(documents.idx),
        "tokens": sum(documents.tokens),
        "words": sum(documents.words),
        "bytes": sum(documents.bytes),
        "max_length": documents.max_length,
        "context_len": documents.context_len,
    }


def contamination_of(
    outcome: Outcome | None,
    examples: Examples | None,
    found: Sequence[FoundOverlap],
    metric: str,
    n_labels: int,
) -> Contamination | None:
    """The overlaps ``found`` between a record's declared training splits and its held-out
    examples, with the primary ``metric`` on the examples in none of them (the clean subset)."""
    if not found:
        return None
    splits = tuple((f"{o.dataset}/{o.split}", o.either, o.fraction) for o in found)
    held_out = found[0].held_out
    if examples is None:
        overlapping = max(o.either for o in found)  # a lower bound: the sets are not at hand
        return Contamination(splits, overlapping, held_out, None)
    clean = set(clean_indices(examples.idx, found))
    overlapping = len(examples.idx) - len(clean)
    if outcome is None or outcome.pred is None or METRICS[metric].from_confusion is None:
        return Contamination(splits, overlapping, held_out, None)
    keep = np.asarray([row in clean for row in examples.idx], dtype=bool) & (outcome.pred >= 0)
    if not keep.any():
        return Contamination(splits, overlapping, held_out, None)
    gold = np.asarray(examples.labels)[keep]
    score = quality_from_confusion([metric], confusion_counts(gold, outcome.pred[keep], n_labels))[metric]
    return Contamination(splits, overlapping, held_out, float(score))


def outcome_of(record: Any, examples: Examples | None) -> tuple[Outcome | None, Calibration | None]:
    """A full record's per-example results as compact arrays aligned with the held-out
    ``examples`` (None when the data could not be read), and the calibration of its stored
    probabilities (classification only)."""
    if record.documents is not None:
        docs = record.documents
        order = np.argsort(np.asarray(docs.idx, dtype=np.int64), kind="stable")
        arrays = {
            name: np.asarray(getattr(docs, name), dtype=np.float64)[order]
            for name in ("loglik", "tokens", "words", "bytes")
        }
        return Outcome(documents=arrays), None
    preds = record.predictions
    if preds is None or examples is None:
        return None, None
    if tuple(preds.idx) == examples.idx[: len(preds.idx)] and len(preds.idx) == len(examples):
        positions: Sequence[int] = range(len(preds.idx))
    else:
        where = {row: i for i, row in enumerate(examples.idx)}
        positions = [where.get(row, -1) for row in preds.idx]
    outcome = outcome_from_predictions(positions, preds.pred, preds.prob, len(examples))
    gold = np.asarray(examples.labels)
    assert outcome.pred is not None and outcome.prob is not None  # made from predictions just above
    seen = outcome.pred >= 0
    right = outcome.pred[seen] == gold[seen]
    return outcome, calibration(outcome.prob[seen], right)


@dataclass(frozen=True)
class CardedSubmission:
    """A valid submission and its model card text."""

    spec: Submission
    """The parsed spec."""
    card: str
    """Markdown of the model card (untrusted)."""
    stamp: str = field(default="", compare=False)
    """A digest of its folder's files when read (``ftbench.files.folder_stamp``): what its
    model page's key rests on."""

    @property
    def spec_key(self) -> str:
        """A digest of the parsed spec: what the other pages that show it rest on (its card,
        which only its model page shows, left out)."""
        return hashlib.sha256(self.spec.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class FolderSummary:
    """What the board took from one submission folder and its records: the part of a
    :class:`Summary` that is that folder's (a rebuild after other folders changed keeps it:
    ``ftbench.site.state``)."""

    name: str
    """The folder's name."""
    submission: str = ""
    """Its submission's id; "" when the folder does not hold a valid submission."""
    notes: tuple[str, ...] = ()
    """The notes reading it gave."""
    newest: str = ""
    """Its newest record or submission date."""
    current: int = 0
    """Its records ranked."""
    not_current: int = 0
    """Its records shown on its model page only."""
    proofs: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Its records' proofs, by record digest."""
    entries: Mapping[str, str] = field(default_factory=dict)
    """Task -> the stamp of its current entry there (:attr:`Entry.stamp`: what the entry is
    made of), on every task it has one on."""


@dataclass(frozen=True)
class Shard:
    """Submissions with their records as read: the whole board, or one build worker's part."""

    submissions: tuple[CardedSubmission, ...]
    """Valid submissions, by id."""
    records: tuple[LoadedRecord, ...]
    """Their records: current, stale and orphan."""
    notes: tuple[str, ...] = ()
    """Problems met while reading (``ftbench build`` prints them)."""
    issues: tuple[Issue, ...] = ()
    """Every validation issue of the shard's submissions, errors and warnings (the PR report
    lists them)."""
    proofs: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Its records' audits, by record digest, where they are remembered (``ftbench.board.proofs``)."""
    folders: tuple[FolderSummary, ...] = ()
    """What it took from each of its folders, in order."""


@dataclass(frozen=True)
class Summary:
    """What the board-wide pages need of a shard; the summaries of all shards merge into one."""

    entries: Mapping[str, tuple[Entry, ...]]
    """Current results by task (every task present)."""
    submissions: int
    """Valid submissions."""
    current: int
    """Records ranked."""
    not_current: int
    """Records shown on their model page only (stale or orphan)."""
    newest: str
    """Newest record finish or submission date (``YYYY-MM-DD``), "" when there is none."""
    notes: tuple[str, ...] = ()
    """Problems met while reading."""
    proofs: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """The shards' proofs (:attr:`Shard.proofs`), for the next build."""
    folders: tuple[FolderSummary, ...] = ()
    """The shards' folders (:attr:`Shard.folders`), for the next build."""


@dataclass(frozen=True)
class Board:
    """The board-wide view the home, task and static pages are rendered from."""

    title: str
    """Site title."""
    base_url: str
    """URL prefix the site is served under (only the 404 page needs it: links are relative)."""
    build_date: str
    """``YYYY-MM-DD``: from SOURCE_DATE_EPOCH or the newest input, never the clock."""
    tasks: tuple[Task, ...]
    """Every task, by name."""
    summary: Summary
    """Every shard's results, merged."""
    gold: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Gold labels of the tasks whose held-out data could be read."""
    baselines: Mapping[str, TaskBaselines] = field(default_factory=dict)
    """Current reference baselines by task (``ftbench baselines``): predictions and scores."""
    pages: Mapping[str, str] = field(default_factory=dict)
    """Static page name -> markdown."""
    notes: tuple[str, ...] = ()
    """Problems met while reading (``ftbench build`` prints them)."""
    reference_hardware: str = ""
    """The hardware profile efficiency is compared on (``leaderboard.reference_profile``)."""
    repository_url: str = ""
    """The board's repository, linked from every page ("" for none)."""
    fixed_date: str = ""
    """SOURCE_DATE_EPOCH's date, which every page shows when it is set; "" when it is not
    (each page then shows the date of the newest input it rests on)."""


def hardware_label(record: Any) -> str:
    """The hardware profile a record's efficiency figures were measured on (the record's own,
    or derived from its provenance for a record that predates profiles): figures are
    comparable only within one."""
    recorded = record.efficiency.get("hardware_profile")
    if isinstance(recorded, str) and recorded:
        return recorded
    return hardware_profile(record.provenance.hardware, str(record.efficiency.get("device", "")))


def summarise(shard: Shard, tasks: Sequence[Task]) -> Summary:
    """The shard's current records as leaderboard entries by task, with counts and dates."""
    specs = {s.spec.id: s.spec for s in shard.submissions}
    folders = {s.spec.id: s.spec_key for s in shard.submissions}
    entries: dict[str, list[Entry]] = {t.name: [] for t in tasks}
    for loaded in shard.records:
        rec = loaded.record
        if loaded.status != "current":
            continue
        spec = specs[rec.submission.id]
        entries[rec.task.name].append(
            Entry(
                submission=spec.id,
                name=spec.name,
                method=spec.fine_tuning.method,
                base=spec.weights_for(rec.task.name)[0].label,
                date=spec.date.isoformat(),
                metrics=rec.metrics,
                efficiency=rec.efficiency,
                hardware=hardware_label(rec),
                record=loaded.href,
                intervals=rec.intervals.bounds if rec.intervals else {},
                kind=spec.model.kind,
                outcome=loaded.outcome,
                calibration=_figures_only(loaded.calibration),
                contamination=loaded.contamination,
                precision=spec.model.precision,
                license=spec.license,
                finished=rec.provenance.finished_at[:10],
                stamp=entry_stamp(folders[spec.id], loaded.stamp),
            )
        )
    current = sum(len(e) for e in entries.values())
    dates = [r.record.provenance.finished_at[:10] for r in shard.records]
    dates += [s.spec.date.isoformat() for s in shard.submissions]
    return Summary(
        {k: tuple(v) for k, v in entries.items()},
        len(specs),
        current,
        len(shard.records) - current,
        max(dates, default=""),
        shard.notes,
        shard.proofs,
        shard.folders,
    )


def entry_stamp(spec_key: str, record_stamp: str) -> str:
    """What an entry is made of (:attr:`Entry.stamp`): its submission's spec and its record
    file, as their stamps; the same stamps under the same shared inputs make the same entry."""
    return f"{spec_key}/{record_stamp}"


def _figures_only(cal: Calibration | None) -> Calibration | None:
    """A calibration's figures without its reliability bins: what the board-wide pages show
    of it (the bins are drawn on the model page, from the record; a summary goes from a build
    worker to the parent, and 10,000 entries' bins were a third of its cost there)."""
    return None if cal is None else dataclasses.replace(cal, bins=())


def merge(summaries: Sequence[Summary], tasks: Sequence[Task]) -> Summary:
    """One summary of several shards, in shard order."""
    return Summary(
        entries={t.name: tuple(e for s in summaries for e in s.entries.get(t.name, ())) for t in tasks},
        submissions=sum(s.submissions for s in summaries),
        current=sum(s.current for s in summaries),
        not_current=sum(s.not_current for s in summaries),
        newest=max((s.newest for s in summaries), default=""),
        notes=tuple(n for s in summaries for n in s.notes),
        proofs={d: p for s in summaries for d, p in s.proofs.items()},
        folders=tuple(f for s in summaries for f in s.folders),
    )


TRIVIAL = ("majority", "stratified", "uniform")
"""The baselines that learn nothing from the texts: an entry must beat the best of them."""


def trivial_baselines(board: Board, task: Task) -> list[Outcome]:
    """The trivial baselines' predictions on ``task``: from its baseline file where current,
    else the majority class and a uniform random label from the held-out labels."""
    gold = board.gold.get(task.name)
    if not gold or not task.labels:
        return []
    stored = board.baselines.get(task.name)
    if stored is None or len(stored.idx) != len(gold):
        return trivial_outcomes(gold, len(task.labels))
    return [
        Outcome(pred=np.asarray(b.predictions, dtype=np.int16), prob=np.asarray(b.confidences, dtype=np.float32))
        for b in stored.baselines
        if b.name in TRIVIAL
    ]


def task_tables(board: Board) -> dict[str, list[RankedRow]]:
    """Every task's full ranking by its primary metric (paired tests on the gold labels)."""
    return {t.name: task_ranking(board, t) for t in board.tasks}


def task_ranking(board: Board, task: Task) -> list[RankedRow]:
    """One task's full ranking (:func:`ftbench.leaderboard.task_table` of its current entries)."""
    return with_fronts(board, task, quality_ranking(board, task))


def quality_ranking(board: Board, task: Task) -> list[RankedRow]:
    """The part of a task's ranking that rests on its entries' quality alone
    (:func:`ftbench.leaderboard.quality_table`): what ``ftbench.board.ranking_cache`` keeps."""
    return quality_table(
        board.summary.entries.get(task.name, ()),
        task.primary_metric,
        board.gold.get(task.name),
        len(task.labels),
        trivial_baselines(board, task),
    )


def with_fronts(board: Board, task: Task, rows: Sequence[RankedRow]) -> list[RankedRow]:
    """A task's quality ranking with the fronts of its costs marked (on the board's reference
    hardware profile): the full ranking."""
    return mark_pareto(rows, task.primary_metric, pareto_costs(task.type), board.reference_hardware)
