"""Read a board from disk into a :class:`~ftbench.site_context.Board` for the site.

Result records are parsed without their per-example predictions (the site never shows them,
and they are most of each file), then classified as current, stale or orphan by recomputing
the content key the same way ``ftbench evaluate`` does.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.keys import key_parts, stale_parts
from ftbench.parallel import fork_map
from ftbench.record import ResultRecord, iter_record_paths
from ftbench.registry import Registry
from ftbench.site_context import Board, CardedSubmission, LoadedRecord
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


@dataclass(frozen=True)
class BoardFiles:
    """A board as read, and the record files the site copies (site path -> source file)."""

    board: Board
    record_sources: dict[str, Path]


def read_board(config: BoardConfig, workers: int | None = None) -> BoardFiles:
    """Tasks, valid submissions, their records with status, gold labels and pages. On large
    boards the submissions are read in parallel (see :mod:`ftbench.parallel`)."""
    notes: list[str] = []
    tasks = load_tasks(config.tasks_dir)
    folders = discover(config.submissions_dir)
    by_folder: dict[str, list[Path]] = {}
    for path in iter_record_paths(config.results_dir):
        by_folder.setdefault(path.parent.name, []).append(path)
    for name in sorted(set(by_folder) - {f.name for f in folders}):
        notes.append(f"{config.results_dir / name}: no submission {name!r} for these records; not shown")
    parts = fork_map(_read_submission, [(f, by_folder.get(f.name, [])) for f in folders], tasks, workers=workers)
    subs, records, sources = [], [], {}
    for sub, loaded_records, part_notes in parts:
        notes += part_notes
        if sub is not None:
            subs.append(sub)
        for loaded, path in loaded_records:
            records.append(loaded)
            sources[loaded.href] = path
    board = Board(
        title=config.title,
        base_url=config.base_url,
        build_date=build_date([r.record for r in records], [s.spec.date for s in subs]),
        tasks=tuple(tasks.values()),
        submissions=tuple(subs),
        records=tuple(records),
        gold=_gold_labels(tasks.values(), config.data_dir, notes),
        pages=_pages(config.pages_dir, notes),
        notes=tuple(notes),
    )
    return BoardFiles(board, sources)


def _read_submission(tasks: Registry[Task], item: tuple[Path, list[Path]]) -> tuple:
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
            rec = parse_record(path.read_bytes())
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


def build_date(records: Iterable[Any], dates: Iterable[dt.date]) -> str:
    """SOURCE_DATE_EPOCH's date, else the newest record or submission date, else 1970-01-01:
    never the clock, so that rebuilding the same inputs gives the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date().isoformat()
    candidates = [r.provenance.finished_at[:10] for r in records] + [d.isoformat() for d in dates]
    return max(candidates, default="1970-01-01")
