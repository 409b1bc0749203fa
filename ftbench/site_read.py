"""Read a board from disk for the site: a layout, then shards of submissions with their records.

Result records are parsed without their per-example predictions (the site never shows them,
and they are most of each file), then classified as current, stale or orphan by recomputing
the content key the same way ``ftbench evaluate`` does.
"""

from __future__ import annotations

import datetime as dt
import mmap
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.keys import key_parts, stale_parts
from ftbench.record import ResultRecord, iter_record_paths
from ftbench.registry import Registry
from ftbench.site_context import Board, CardedSubmission, LoadedRecord, Shard, Summary, summarise
from ftbench.submissions import LoadedSubmission, discover, load_all
from ftbench.tasks import Task, load_examples, load_tasks

# Every record field except the predictions; unknown keys are ignored so that pydantic skips
# the predictions while parsing instead of building a million Python ints.
RecordView = create_model(  # type: ignore[call-overload]
    "RecordView",
    __config__=ConfigDict(extra="ignore", frozen=True),
    **{k: (f.annotation, f) for k, f in ResultRecord.model_fields.items() if k != "predictions"},
)
PAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
RESERVED_PAGES = {"index", "404"}
STALE = "stale result, re-evaluation pending"


# Top-level keys of a record as ``ftbench.record.dumps`` writes it (sorted, one-space indent).
_PREDICTIONS, _AFTER_PREDICTIONS = b'\n "predictions": ', b'\n "provenance": '


def parse_record(data: bytes) -> Any:
    """A RecordView from a record file's bytes.

    The per-example predictions are most of a record; in the canonical layout they are cut
    out before parsing, which makes reading several times faster. A raw newline only occurs between
    JSON tokens, so the two markers can only be these top-level keys; any other layout is
    parsed whole.
    """
    start = data.find(_PREDICTIONS)
    end = data.find(_AFTER_PREDICTIONS, start)
    if start != -1 and end != -1:
        data = data[:start] + data[end:]
    return RecordView.model_validate_json(data)


def read_record_view(path: Path) -> Any:
    """:func:`parse_record` of the file at ``path``, without reading its predictions.

    The file is mapped, not read: the start marker is found from the front and the end
    marker from the back, so the pages of the predictions in between are never touched or
    copied (on the 10,000-record benchmark, 445 MB of which about 80% are predictions).
    """
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size < _MAP_FROM:
            return parse_record(handle.read())
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            start = view.find(_PREDICTIONS)
            end = view.rfind(_AFTER_PREDICTIONS, start) if start != -1 else -1
            if end == -1:
                return parse_record(view[:])
            return RecordView.model_validate_json(view[:start] + view[end:])


_MAP_FROM = 16 * 1024  # below this, one read costs less than a mapping


@dataclass(frozen=True)
class Layout:
    """What is read before the work is shared out: small, and needed by every shard."""

    tasks: Registry[Task]
    """Every task."""
    folders: tuple[tuple[Path, tuple[Path, ...]], ...]
    """Each submission folder with its record files."""
    pages: dict[str, str]
    """Static page name -> markdown."""
    notes: tuple[str, ...] = ()
    """Problems met so far (records without a submission, unusable page names)."""


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
    for name in sorted(set(by_folder) - {f.name for f in folders}):
        notes.append(f"{config.results_dir / name}: no submission {name!r} for these records; not shown")
    pages = _pages(config.pages_dir, notes)
    return Layout(tasks, tuple((f, tuple(by_folder.get(f.name, ()))) for f in folders), pages, tuple(notes))


def read_shard(tasks: Registry[Task], folders: Iterable[tuple[Path, Sequence[Path]]]) -> tuple[Shard, dict[str, Path]]:
    """Valid submissions among ``folders`` with their records and each record's status, and
    where each record's site copy comes from (site path -> source file)."""
    subs, records, sources, notes = [], [], {}, []
    for item in folders:
        sub, loaded_records, part_notes = _read_submission(tasks, item)
        notes += part_notes
        if sub is not None:
            subs.append(sub)
        for loaded, path in loaded_records:
            records.append(loaded)
            sources[loaded.href] = path
    return Shard(tuple(subs), tuple(records), tuple(notes)), sources


def make_board(config: BoardConfig, layout: Layout, summary: Summary) -> Board:
    """The board-wide view: the merged summary plus gold labels, pages and the build date."""
    notes = list(layout.notes) + list(summary.notes)
    gold = _gold_labels(layout.tasks.values(), config.data_dir, notes)
    return Board(
        title=config.title,
        base_url=config.base_url,
        build_date=build_date(summary.newest),
        tasks=tuple(layout.tasks.values()),
        summary=summary,
        gold=gold,
        pages=layout.pages,
        notes=tuple(notes),
    )


def read_board(config: BoardConfig) -> BoardFiles:
    """The whole board in this process (``ftbench report``, tests); ``ftbench build`` shares
    the same steps out over worker processes (``ftbench.site``)."""
    layout = list_board(config)
    shard, sources = read_shard(layout.tasks, layout.folders)
    summary = summarise(shard, tuple(layout.tasks.values()))
    return BoardFiles(make_board(config, layout, summary), shard, sources)


def _read_submission(tasks: Registry[Task], item: tuple[Path, Sequence[Path]]) -> tuple:
    """One submission folder and its record files -> (CardedSubmission or None,
    [(LoadedRecord, source path)], notes)."""
    folder, paths = item
    loaded, issues = load_all([folder], tasks)
    notes = [f"submission skipped: {i}" for i in issues if i.severity == "error"]
    if not loaded:
        return None, [], notes + [f"{p}: its submission is not valid; not shown" for p in paths]
    sub = loaded[0]
    records = []
    memo: dict = {}  # one fingerprint per weights folder, however many tasks it serves
    for path in paths:
        try:
            rec = read_record_view(path)
        except (OSError, ValidationError) as exc:
            notes.append(f"{path}: unreadable result record skipped ({str(exc).splitlines()[0]})")
            continue
        if rec.submission.id != sub.spec.id or rec.task.name != path.stem:
            notes.append(f"{path}: names another submission or task than its path; not shown")
            continue
        status, why = record_status(rec, sub, tasks, memo)
        records.append((LoadedRecord(rec, status, why, f"records/{sub.spec.id}/{rec.task.name}.json"), path))
    return CardedSubmission(sub.spec, _card(sub)), records, notes


def _card(sub: LoadedSubmission) -> str:
    try:
        return sub.model_card_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def record_status(rec: Any, sub: LoadedSubmission, tasks: Registry[Task], memo: dict | None = None) -> tuple[str, str]:
    """``(status, note)``: current only when the record's content key is the one ``ftbench
    evaluate`` would compute now for the same submission, task and batch size."""
    name = rec.task.name
    if name not in tasks or name not in sub.spec.tasks:
        return "orphan", f"task {name!r} is no longer part of this submission or of the board"
    if not rec.complete:
        return "stale", "incomplete run (only part of the held-out split was scored)"
    batch = rec.efficiency.get("batch_size")
    try:
        parts = key_parts(*sub.spec.weights_for(name), sub.folder, tasks[name], sub.spec.model.precision, batch, memo)
    except OSError as exc:
        return "stale", f"weights could not be read to check the record ({exc})"
    changed = stale_parts(rec.content_key, rec.content_key_parts, parts)
    if changed is None:
        return "current", ""
    why = ", ".join(changed) if changed else "weights, task, data, precision or evaluation logic"
    return "stale", f"{STALE} ({why} changed since it was evaluated)"


def _gold_labels(tasks: Iterable[Task], data_dir: Path, notes: list[str]) -> dict[str, tuple[int, ...]]:
    gold = {}
    for task in tasks:
        try:
            gold[task.name] = load_examples(task, data_dir).labels
        except (FtbenchError, OSError, ValueError) as exc:
            notes.append(
                f"task {task.name}: held-out data unavailable ({exc}); label distribution and baselines omitted"
            )
    return gold


def _pages(pages_dir: Path, notes: list[str]) -> dict[str, str]:
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
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date().isoformat()
    return newest or "1970-01-01"
