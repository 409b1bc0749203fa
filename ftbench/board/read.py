"""Read a board from disk into its snapshot (``ftbench.board.snapshot``): a layout, then
shards of submissions with their records, then the board-wide view.

Result records are read with the fast reader (``ftbench.record.read_record_view``, without
their per-example predictions: no page shows them, and they are most of each file), then
classified as current, stale or orphan by ``ftbench.jobs.freshness``, the rule ``ftbench
plan`` uses. :func:`load_board` does it all in one process; ``ftbench build`` shares the same
steps out over worker processes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftbench import DEFAULT_BATCH_SIZE
from ftbench.audit import audit_record, must_prove
from ftbench.baseline_files import current_baselines
from ftbench.baselines import TaskBaselines
from ftbench.board.proofs import Problems, record_digest
from ftbench.board.record_cache import CachedRecord, CacheFile, Verdict, cache_path, read_cache, write_entries
from ftbench.board.snapshot import (
    Board,
    CardedSubmission,
    FolderSummary,
    LoadedRecord,
    Shard,
    Summary,
    contamination_of,
    document_totals,
    entry_stamp,
    outcome_of,
    summarise,
)
from ftbench.config import BoardConfig
from ftbench.contamination import FoundOverlap, declared_overlaps
from ftbench.errors import FtbenchError, Issue
from ftbench.files import file_stamp, folder_stamp
from ftbench.jobs import freshness
from ftbench.keys import pair_key_parts
from ftbench.leaderboard import reference_profile
from ftbench.overlaps import OVERLAPS_FILE, read_overlaps
from ftbench.record import iter_record_paths, read_record_bytes, signed, view_of
from ftbench.registry import Registry
from ftbench.spec import Submission
from ftbench.submissions import LoadedSubmission, SubmissionSet, discover, load_all
from ftbench.tasks import Examples, Task, load_tasks, read_held_out

PAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
RESERVED_PAGES = {"index", "404"}
STALE = "stale result, re-evaluation pending"


@dataclass(frozen=True)
class Layout:
    """What is read before the work is shared out: small, and needed by every shard."""

    tasks: Registry[Task]
    """Every task."""
    folders: tuple[tuple[Path, tuple[Path, ...]], ...]
    """Each submission folder with its record files."""
    pages: dict[str, str]
    """Static page name -> markdown."""
    batch_size: int = DEFAULT_BATCH_SIZE
    """The board's batch size: a record made at another one is stale, as for ``ftbench plan``."""
    data_dir: Path | None = None
    """Where the datasets are (training splits named by submissions are checked against it)."""
    local_models: Mapping[str, str] = field(default_factory=dict)
    """The board's local mirrors of pinned Hub models (their files are part of the content key)."""
    record_key: bytes | None = field(default=None, repr=False)
    """The CI's record-signing key, where it is known: unsigned records are then stale."""
    gold: Mapping[str, Examples] = field(default_factory=dict)
    """Held-out examples of the tasks whose data could be read: every record is audited
    against them (``ftbench.audit``), and a record of a task without data is not ranked."""
    notes: tuple[str, ...] = ()
    """Problems met so far (records without a submission, unusable page names, missing data)."""
    baselines: Mapping[str, TaskBaselines] = field(default_factory=dict)
    """Current reference baselines by task (``ftbench baselines``)."""
    overlaps: Mapping[str, tuple[FoundOverlap, ...]] = field(default_factory=dict)
    """Measured overlaps of every held-out split with every training split on the board
    (``ftbench contamination``), by task."""
    proofs: Mapping[str, Problems] | None = None
    """What the last build's audits found, by record digest (``ftbench.board.proofs``); None:
    every record is audited, and nothing is remembered (``ftbench check``, ``build --force``)."""
    record_cache: RecordCache | None = None
    """Where what was read from each record is kept between builds, and whether to use it
    (``ftbench.board.record_cache``); None: every record is read, nothing is kept."""
    orphans: tuple[str, ...] = ()
    """The records folders without a submission folder (the first of the notes are theirs:
    :func:`orphan_note`)."""


@dataclass(frozen=True)
class RecordCache:
    """The record cache's folder, the stamp its entries are made under, and whether entries
    may be used (``build --force`` reads every record and writes the entries anew)."""

    folder: Path
    shared: str
    reuse: bool = True


@dataclass(frozen=True)
class BoardFiles:
    """A whole board as read (for one process): the board-wide view, every submission with
    its records, and the record files the site copies (site path -> source file)."""

    board: Board
    shard: Shard
    record_sources: dict[str, Path]


def list_board(config: BoardConfig) -> Layout:
    """Tasks, submission folders with their record files, and the static pages."""
    notes: list[str] = []
    tasks = load_tasks(config.tasks_dir)
    folders = discover(config.submissions_dir)
    by_folder: dict[str, list[Path]] = {}
    for path in iter_record_paths(config.results_dir):
        by_folder.setdefault(path.parent.name, []).append(path)
    orphans = tuple(sorted(set(by_folder) - {f.name for f in folders}))
    notes += [orphan_note(config, name) for name in orphans]
    pages = read_pages(config.pages_dir, notes)
    gold, unreadable = read_held_out(tasks.values(), config.data_dir)
    notes += [
        f"task {name}: held-out data unavailable ({why}); its records cannot be checked and are not ranked; "
        "label distribution and baselines omitted"
        for name, why in unreadable.items()
    ]
    try:
        overlaps = read_overlaps(config.tasks_dir / OVERLAPS_FILE)
    except FtbenchError as exc:
        overlaps = {}
        notes.append(f"contamination not shown: {str(exc).splitlines()[0]}")
    labels = {name: examples.labels for name, examples in gold.items()}
    refs, problems = current_baselines(list(tasks.values()), config.baselines_dir, config.data_dir, labels)
    notes += [f"{i.path}: {i.message}; trivial baselines computed from the held-out labels" for i in problems]
    folders_and_records = tuple((f, tuple(by_folder.get(f.name, ()))) for f in folders)
    return Layout(
        tasks=tasks,
        folders=folders_and_records,
        pages=pages,
        batch_size=config.batch_size,
        data_dir=config.data_dir,
        local_models=dict(config.local_models),
        record_key=config.record_key,
        gold=gold,
        notes=tuple(notes),
        baselines=refs,
        overlaps=overlaps,
        orphans=orphans,
    )


def orphan_note(config: BoardConfig, name: str) -> str:
    """The note of a records folder without a submission folder."""
    return f"{config.results_dir / name}: no submission {name!r} for these records; not shown"


def read_shard(
    layout: Layout,
    folders: Iterable[tuple[Path, Sequence[Path]]],
    validated: SubmissionSet | None = None,
) -> tuple[Shard, dict[str, Path]]:
    """Valid submissions among ``folders`` with their records and each record's status, and
    where each published record's site copy comes from (site path -> source file).
    ``validated``: the submissions already loaded and checked together (one process), so none
    is validated twice."""
    subs, records, sources, notes = [], [], {}, []
    issues: list[Issue] = []
    proofs: dict[str, Problems] = {}
    if validated is not None:
        known = {s.folder: s for s in validated.submissions}
        issues += validated.issues
        notes += [f"submission skipped: {i}" for i in validated.errors]
    cache = layout.record_cache
    summaries = []
    for folder, paths in folders:
        stored = (
            read_cache(cache_path(cache.folder, folder.name), cache.shared) if cache and cache.reuse else CacheFile({})
        )
        tree = ""
        noted, proved = len(notes), len(proofs)
        if validated is None:
            sub, found, tree = _validate(layout, folder, stored.verdict)
            issues += found
            notes += [f"submission skipped: {i}" for i in found if i.severity == "error"]
        else:
            sub = known.get(folder.resolve())
        if sub is None:
            notes += [f"{p}: its submission is not valid; not shown" for p in paths]
            summaries.append(FolderSummary(folder.name, notes=tuple(notes[noted:])))
            continue
        carded, loaded_records, part_notes = _read_submission(layout, sub, paths, proofs, stored, tree)
        subs.append(carded)
        notes += part_notes
        for record, path in loaded_records:
            records.append(record)
            if record.status != "refused":  # a refused record's numbers are not published
                sources[record.href] = path
        summaries.append(
            _folder_summary(folder.name, carded, [r for r, _ in loaded_records], notes[noted:], proofs, proved)
        )
    return Shard(tuple(subs), tuple(records), tuple(notes), tuple(issues), proofs, tuple(summaries)), sources


def _folder_summary(
    name: str,
    sub: CardedSubmission,
    records: Sequence[LoadedRecord],
    notes: Sequence[str],
    proofs: dict[str, Problems],
    proved: int,
) -> FolderSummary:
    """What the board took from one valid folder (``proofs``: the shard's so far, the folder's
    from position ``proved`` on: a dict keeps the order keys were added in)."""
    current = [r for r in records if r.status == "current"]
    dates = [r.record.provenance.finished_at[:10] for r in records] + [sub.spec.date.isoformat()]
    return FolderSummary(
        name,
        sub.spec.id,
        tuple(notes),
        max(dates),
        len(current),
        len(records) - len(current),
        added_since(proofs, proved),
        {r.record.task.name: entry_stamp(sub.spec_key, r.stamp) for r in current},
    )


def added_since(proofs: dict[str, Problems], count: int) -> dict[str, Problems]:
    """The entries put into ``proofs`` after its first ``count`` (a dict keeps the order keys
    were added in), taken from its end: listing the whole shard's proofs for each folder made
    reading a shard quadratic in its folders (0.44 s for 1,000 folders of 10 records, 11 s
    for 5,000).

    >>> added_since({"a": (), "b": (), "c": ()}, 1)
    {'b': (), 'c': ()}
    """
    newest = itertools.islice(reversed(proofs.items()), len(proofs) - count)
    return dict(reversed(list(newest)))


def make_board(
    config: BoardConfig,
    layout: Layout,
    summary: Summary,
    reference: str | None = None,
    gold: Mapping[str, tuple[int, ...]] | None = None,
) -> Board:
    """The board-wide view: the merged summary plus gold labels, pages and the build date.
    ``reference`` (the board's reference hardware profile) and ``gold`` (the tasks' gold
    labels) where they are known without looking at every entry and every task's data (a
    rebuild from the kept state)."""
    notes = list(layout.notes) + list(summary.notes)
    if gold is None:
        gold = {name: examples.labels for name, examples in layout.gold.items()}
    if reference is None:
        entries = [e for task_entries in summary.entries.values() for e in task_entries]
        reference = reference_profile(entries, config.reference_hardware)
    return Board(
        title=config.title,
        repository_url=config.repository_url,
        base_url=config.base_url,
        build_date=build_date(summary.newest),
        fixed_date=fixed_date(),
        tasks=tuple(layout.tasks.values()),
        summary=summary,
        gold=gold,
        baselines=layout.baselines,
        pages=layout.pages,
        notes=tuple(notes),
        reference_hardware=reference,
    )


def load_board(config: BoardConfig) -> BoardFiles:
    """The whole board in this process (``ftbench report``, tests); ``ftbench build`` shares
    the same steps out over worker processes (``ftbench.site.build``)."""
    layout = list_board(config)
    folders = [folder for folder, _ in layout.folders]
    loaded, issues = load_all(folders, layout.tasks, layout.data_dir)  # together: duplicate ids are found too
    validated = SubmissionSet(layout.tasks, tuple(folders), tuple(loaded), tuple(issues))
    shard, sources = read_shard(layout, layout.folders, validated)
    summary = summarise(shard, tuple(layout.tasks.values()))
    return BoardFiles(make_board(config, layout, summary), shard, sources)


def _validate(
    layout: Layout, folder: Path, verdict: Verdict | None
) -> tuple[LoadedSubmission | None, list[Issue], str]:
    """The submission in ``folder`` if valid, the issues found, and the folder's stamp
    (``files.folder_stamp``, taken before it is read; "" where the board has no record cache).
    A valid folder's ``verdict`` from the record cache stands in for validating it again while
    its stamp is the same (and the working folder, which the warnings' paths are relative to)."""
    tree = folder_stamp(folder) if layout.record_cache is not None else ""
    if verdict is not None and tree and verdict.tree == tree and verdict.cwd == os.getcwd():
        try:
            spec = Submission.model_validate(verdict.spec)
        except ValidationError:
            pass
        else:
            warnings = [Issue(*w) for w in verdict.warnings]
            return LoadedSubmission(spec, folder.resolve(), tuple(warnings)), warnings, tree
    loaded, found = load_all([folder], layout.tasks, layout.data_dir)
    return (loaded[0] if loaded else None), found, tree


def _read_submission(
    layout: Layout,
    sub: LoadedSubmission,
    paths: Sequence[Path],
    proofs: dict[str, Problems] | None = None,
    stored: CacheFile | None = None,
    tree: str = "",
) -> tuple:
    """A valid submission and its record files -> (CardedSubmission, [(LoadedRecord, source
    path)], notes). Every record is read whole and audited, unless the record cache holds what
    was read from it (its file unchanged: ``stored``, its submission's cache file) and
    ``layout.proofs`` its proof; the site keeps it without its predictions. ``proofs``
    collects each record's proof by digest (where ``layout.proofs`` is not None), for the next
    build. ``tree``: the folder's stamp when validated (its verdict is stored with the entries)."""
    notes: list[str] = []
    records = []
    memo: dict = {}  # one fingerprint per weights folder, however many tasks it serves
    cache = layout.record_cache
    where = cache_path(cache.folder, sub.spec.id) if cache is not None else None
    stored = stored if stored is not None else CacheFile({})
    cached = stored.entries
    kept: dict[str, CachedRecord] = {}
    for path in paths:
        stamp = file_stamp(path)
        entry = cached.get(path.name)
        whole = None  # the record with its predictions, when read (an audit needs them)
        if entry is None or entry.stamp != stamp or layout.proofs is None or entry.digest not in layout.proofs:
            try:
                whole, data = read_record_bytes(path)
            except FtbenchError as exc:
                notes.append(f"{path}: unreadable result record skipped ({str(exc).splitlines()[0]})")
                continue
            entry = _entry_of(layout, whole, data, stamp)
        kept[path.name] = entry
        rec = entry.view
        if rec.submission.id != sub.spec.id or rec.task.name != path.stem:
            notes.append(f"{path}: names another submission or task than its path; not shown")
            continue
        digest = entry.digest if layout.proofs is not None else ""
        full = (lambda w=whole: w) if whole is not None else (lambda p=path: read_record_bytes(p)[0])
        # the signature was checked on the whole record when it was read (the view lacks the predictions)
        status, why = record_status(rec, sub, layout, memo, digest, proofs, full, entry.signed)
        if status == "refused":
            notes.append(f"{path}: refused, not shown: {why}")
        href = f"records/{sub.spec.id}/{rec.task.name}.json"
        current = status == "current"
        loaded = LoadedRecord(
            rec,
            status,
            why,
            href,
            entry.scoring,
            entry.outcome if current else None,
            entry.calibration if current else None,
            _contamination(layout, sub, rec.task.name, entry.outcome) if current else None,
            stamp=stamp,
        )
        records.append((loaded, path))
    verdict = None
    if tree:
        warnings = tuple((w.path, w.field, w.message, w.severity) for w in sub.warnings)
        verdict = Verdict(tree, os.getcwd(), sub.spec.model_dump(mode="json"), warnings)
    if (
        where is not None
        and cache is not None
        and (_identities(kept) != _identities(cached) or verdict != stored.verdict)
    ):
        write_entries(where, cache.shared, kept, verdict)
    return CardedSubmission(sub.spec, _card(sub), tree or folder_stamp(sub.folder)), records, notes


def _identities(entries: Mapping[str, CachedRecord]) -> dict[str, tuple[str, str]]:
    """What tells two sets of entries apart: each file's stamp and the digest of its bytes."""
    return {name: (entry.stamp, entry.digest) for name, entry in entries.items()}


def _entry_of(layout: Layout, rec: Any, data: bytes, stamp: str) -> CachedRecord:
    """What the board takes from a record read whole (``data``: its bytes)."""
    outcome, calibrated = outcome_of(rec, layout.gold.get(rec.task.name))
    key = layout.record_key
    return CachedRecord(
        stamp,
        record_digest(data),
        view_of(rec),
        document_totals(rec.documents),
        outcome,
        calibrated,
        signed(rec, key) if key is not None else None,
    )


def _contamination(layout: Layout, sub: LoadedSubmission, name: str, outcome: Any) -> Any:
    """The overlap of a current record's declared training data with the held-out split."""
    found = declared_overlaps(sub.spec.training_data_for(name), name, layout.overlaps)
    if not found:  # the usual case: no held-out data needed
        return None
    task = layout.tasks[name]
    return contamination_of(outcome, layout.gold.get(name), found, task.primary_metric, len(task.labels))


def _card(sub: LoadedSubmission) -> str:
    try:
        return sub.model_card_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def record_status(
    rec: Any,
    sub: LoadedSubmission,
    layout: Layout,
    memo: dict | None = None,
    digest: str = "",
    proofs: dict[str, Problems] | None = None,
    full: Callable[[], Any] | None = None,
    signature: bool | None = None,
) -> tuple[str, str]:
    """``(status, note)`` of a record on the site: ``orphan`` when its task is no longer asked
    for; ``refused`` when it does not prove its numbers (``ftbench.audit``: every record that
    would be current, and every other one scored on the task's current data); else
    :func:`ftbench.jobs.freshness` against the key ``ftbench plan`` computes now (the board's
    batch size, its mirrors' files and, where known, the CI's signing key included).
    ``digest``: the record's (``proofs.record_digest``): its proof is taken from
    ``layout.proofs`` when there, and put into ``proofs``. ``full``: the whole record, when
    ``rec`` is one without its predictions (read only if it has to be audited); ``signature``:
    whether the whole record is signed under ``layout.record_key``, when known (a view cannot
    be checked: the signature covers the predictions)."""
    tasks = layout.tasks
    name = rec.task.name
    if name not in tasks or name not in sub.spec.tasks:
        return "orphan", f"task {name!r} is no longer part of this submission or of the board"
    task = tasks[name]
    try:
        parts = pair_key_parts(sub.spec, sub.folder, task, layout.batch_size, memo, layout.local_models)
    except (OSError, FtbenchError) as exc:
        return "stale", f"weights could not be read to check the record ({exc})"
    fresh = freshness(rec, parts, key=layout.record_key, signature=signature)
    if must_prove(rec, task, fresh.status == "current"):
        known = layout.proofs.get(digest) if digest and layout.proofs is not None else None
        if known is None:
            found = audit_record(full() if full else rec, task, layout.gold.get(name), name, intervals=True)
            known = tuple((i.field, i.message) for i in found[:3])
        if digest and proofs is not None:
            proofs[digest] = known
        if known:
            return "refused", "; ".join(message if at == "-" else f"{at}: {message}" for at, message in known)
    if fresh.status == "current":
        return "current", ""
    if fresh.reason in ("incomplete", "unsigned"):
        return "stale", fresh.why
    why = ", ".join(fresh.changed) if fresh.changed else "weights, task, data, precision or evaluation logic"
    return "stale", f"{STALE} ({why} changed since it was evaluated)"


def read_pages(pages_dir: Path, notes: list[str]) -> dict[str, str]:
    """The board's static pages (``pages/<name>.md``): name -> markdown; a name that cannot be a
    file name is noted in ``notes`` and skipped."""
    pages = {}
    for path in sorted(pages_dir.glob("*.md")) if pages_dir.is_dir() else []:
        if not PAGE_NAME.match(path.stem) or path.stem in RESERVED_PAGES:
            notes.append(f"{path}: page name not usable as a file name; skipped")
            continue
        pages[path.stem] = path.read_text(encoding="utf-8")
    return pages


def build_date(newest: str) -> str:
    """SOURCE_DATE_EPOCH's date, else ``newest`` (the newest record or submission date), else
    1970-01-01: never the clock, so that rebuilding the same inputs gives the same bytes."""
    return fixed_date() or newest or "1970-01-01"


def fixed_date() -> str:
    """SOURCE_DATE_EPOCH's date (``YYYY-MM-DD``), "" when it is not set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date().isoformat()
    return ""
