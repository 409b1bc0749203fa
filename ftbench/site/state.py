"""What a build knew of the board when it finished, kept for the next build to start from
(``ftbench.site.delta``): a rebuild after a few submissions changed reads those and this, not
the whole board.

Two kinds of file, in the build's cache folder (``.ftbench-cache/build/state/``):

- ``board.json``: the stamps of the inputs it was made of (``stamp.scan_inputs``: the shared
  stamp, each submission's and each records folder's), the page salt, what the build took
  from each submission folder (``snapshot.FolderSummary``: its submission, notes, counts,
  newest date, proofs, the tasks it is ranked on) and from each task's ranking
  (:class:`TaskState`: what model pages and the home page show of it, its entries' hardware);
- ``<task>.bin``: the task's current entries (``ftbench.leaderboard.Entry``) in board order,
  their per-example results end to end (``ftbench.board.packed``, memory-mapped when read:
  the results are read from the disk only when a ranking or a page needs them).

Everything in them was derived from the inputs by the full build's own functions, so a
rebuild that starts from them makes the same site as one from nothing (the tests compare the
two byte for byte). ``board.json`` names the stamp of the build that kept it (a rebuild starts
from it only into the site folder that build wrote) and the key of each task's file (a file
left by another build is not taken); when any part cannot be written, ``board.json`` is
removed. They are trusted as the other caches are (whoever can write the local cache folder
can as well edit ftbench); a file that cannot be read, or was made under another shared stamp,
is not used (the build reads the whole board again), and ``build --force`` never reads them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ftbench.board import packed
from ftbench.board.snapshot import FolderSummary
from ftbench.calibration import Calibration
from ftbench.compare import Outcome
from ftbench.files import write_atomic
from ftbench.leaderboard import Contamination, Entry

FOLDER = "state"
"""The state's folder in the build's cache folder."""
BOARD = "board.json"
TASK_MAGIC = b"ftbench task entries 1\n"
DOCUMENT_FIELDS = ("loglik", "tokens", "words", "bytes")
ARRAYS: dict[str, np.dtype] = {
    "pred": np.dtype("<i2"),
    "prob": np.dtype("<f4"),
    **dict.fromkeys(DOCUMENT_FIELDS, np.dtype("<f8")),
}
"""The arrays a task's file holds: its entries' per-example results, end to end."""
VERSION = 2


@dataclass(frozen=True)
class TaskState:
    """What a build took from one task's ranking."""

    standing: Mapping[str, Any]
    """What model pages show of it (``model_page.TaskStanding`` as JSON)."""
    home: str
    """What the home page shows of it (``pages.home_task_digest``)."""
    hardware: Mapping[str, int]
    """Its entries' hardware profiles, counted (the board's reference profile is the commonest)."""
    lines: str = ""
    """The key its lines of the all-tasks download are kept under (``all_tasks.ALL_TASKS``)."""
    entries: str = ""
    """The key of its kept entries' file (:func:`entries_key`): a file of other entries (left
    by an earlier build, or half replaced) is not taken for it."""


@dataclass(frozen=True)
class BoardState:
    """The whole of ``board.json``."""

    shared: str
    """The shared stamp it was made under (``stamp.scan_inputs``)."""
    made: str
    """The stamp of every input of the build that kept it, which that build's manifest holds:
    a site folder another build wrote last (a preview, a restored copy) does not start from it."""
    salt: str
    """The pages' salt (``context.salt_of``)."""
    inputs: Mapping[str, str]
    """Each submission's and records folder's stamp (``stamp.Inputs.folders``)."""
    folders: Mapping[str, FolderSummary]
    """What the build took from each submission folder, by name, in the board's order."""
    tasks: Mapping[str, TaskState]
    """By task name."""
    notes: tuple[str, ...] = ()
    """The notes of what is read before the submissions (``board.read.Layout.notes``)."""
    orphans: tuple[str, ...] = ()
    """The records folders without a submission folder (the first of the notes are theirs)."""
    readable: tuple[str, ...] = ()
    """The tasks whose held-out data could be read (``Layout.gold``)."""
    baselines: tuple[str, ...] = ()
    """The tasks with current reference baselines (``Layout.baselines``)."""


def state_folder(cache: Path) -> Path:
    """Where the state is kept in the build's cache folder."""
    return cache / FOLDER


def read_board_state(folder: Path, shared: str) -> BoardState | None:
    """The state kept in ``folder`` under the stamp ``shared``; None when there is none, it was
    made under another stamp, or it cannot be read."""
    try:
        doc = orjson.loads((folder / BOARD).read_bytes())
        if not isinstance(doc, dict) or doc.get("version") != VERSION or doc.get("shared") != shared:
            return None
        folders = {str(name): _folder(f) for name, f in doc["folders"].items()}
        tasks = {str(name): _task(t) for name, t in doc["tasks"].items()}
        return BoardState(
            shared=str(doc["shared"]),
            made=str(doc["made"]),
            salt=str(doc["salt"]),
            inputs={str(k): str(v) for k, v in doc["inputs"].items()},
            folders=folders,
            tasks=tasks,
            notes=tuple(str(n) for n in doc["notes"]),
            orphans=tuple(str(n) for n in doc["orphans"]),
            readable=tuple(str(n) for n in doc["readable"]),
            baselines=tuple(str(n) for n in doc["baselines"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # orjson's errors are ValueErrors
        return None


def write_board_state(folder: Path, state: BoardState) -> None:
    """Keep ``state`` in ``folder``; a cache: nothing is lost when it cannot be written (what
    was kept before is removed then: :func:`forget`)."""
    # field by field, not dataclasses.asdict: it deep-copies every proof of every record
    doc = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    doc["version"] = VERSION
    doc["folders"] = {name: _fields(f) for name, f in state.folders.items()}
    doc["tasks"] = {name: _fields(t) for name, t in state.tasks.items()}
    try:
        write_atomic(folder / BOARD, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), fsync=False)
    except (OSError, TypeError, ValueError):
        forget(folder)


def forget(folder: Path) -> None:
    """Remove the kept state (a part of it could not be written): the next build reads the
    whole board."""
    with contextlib.suppress(OSError):
        (folder / BOARD).unlink(missing_ok=True)


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (orjson writes mappings, tuples and strings)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _folder(doc: Mapping[str, Any]) -> FolderSummary:
    return FolderSummary(
        name=str(doc["name"]),
        submission=str(doc["submission"]),
        notes=tuple(str(n) for n in doc["notes"]),
        newest=str(doc["newest"]),
        current=int(doc["current"]),
        not_current=int(doc["not_current"]),
        proofs={str(d): tuple((str(f), str(m)) for f, m in p) for d, p in doc["proofs"].items()},
        entries={str(t): str(s) for t, s in doc["entries"].items()},
    )


def _task(doc: Mapping[str, Any]) -> TaskState:
    if not isinstance(doc["standing"], dict):
        raise TypeError("a standing of the wrong kind")
    return TaskState(
        standing=doc["standing"],
        home=str(doc["home"]),
        hardware={str(k): int(v) for k, v in doc["hardware"].items()},
        lines=str(doc["lines"]),
        entries=str(doc["entries"]),
    )


def hardware_counts(entries: Iterable[Entry]) -> dict[str, int]:
    """The entries' hardware profiles, counted (what ``leaderboard.reference_profile`` counts)."""
    return dict(sorted(Counter(e.hardware for e in entries if e.hardware).items()))


# ------------------------------------------------------------------ a task's entries


def task_path(folder: Path, task: str) -> Path:
    """Where a task's entries are kept."""
    return folder / f"{task}.bin"


def entries_key(entries: Sequence[Entry], digests: Sequence[str]) -> str:
    """What a task's kept entries are: each one's stamp and results' digest, in order."""
    return hashlib.sha256(
        repr([(e.submission, e.stamp, d) for e, d in zip(entries, digests, strict=True)]).encode()
    ).hexdigest()


def write_entries(folder: Path, task: str, shared: str, entries: Sequence[Entry], digests: Sequence[str]) -> str:
    """Keep a task's ``entries`` (in board order) with the digests of their per-example results
    (``ranking_cache.outcome_digest``); their key (:func:`entries_key`), "" when they could
    not be written (a cache: nothing is lost then; the board's state must not name them)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
    ends = dict.fromkeys(ARRAYS, 0)
    docs = []
    for entry, digest in zip(entries, digests, strict=True):
        arrays = _outcome_arrays(entry.outcome)
        start = {name: ends[name] for name in arrays}
        for name, array in arrays.items():
            parts[name].append(np.asarray(array, dtype=ARRAYS[name]))
            ends[name] += len(array)
        kind = None if entry.outcome is None else ("documents" if entry.outcome.documents is not None else "pred")
        at = {name: [start[name], start[name] + len(array)] for name, array in arrays.items()}
        docs.append({**entry_document(entry), "outcome": kind, "at": at, "digest": digest})
    arrays = {name: np.concatenate(chunks) for name, chunks in parts.items() if chunks}
    key = entries_key(entries, digests)
    meta = {"shared": shared, "task": task, "key": key, "entries": docs}
    try:
        # the standard encoder: an efficiency figure of a record may be NaN, which orjson nulls
        data = packed.pack(TASK_MAGIC, meta, arrays, packed.exact_json)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(task_path(folder, task), data, fsync=False, make_parent=False)
    except (OSError, TypeError, ValueError):
        return ""
    return key


def read_entries(folder: Path, task: str, shared: str, key: str) -> tuple[list[Entry], list[str]] | None:
    """A task's kept entries and the digests of their results (:func:`write_entries`) under
    ``key``, their results mapped from the file rather than read; None when there are none."""
    try:
        data = packed.mapped(task_path(folder, task))
        meta, arrays = packed.unpack(TASK_MAGIC, data, ARRAYS)
        if meta.get("shared") != shared or meta.get("task") != task or meta.get("key") != key or not key:
            return None
        docs = meta["entries"]
        return [entry_of(doc, arrays) for doc in docs], [str(doc["digest"]) for doc in docs]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
        return None


def prune_entries(folder: Path, tasks: set[str]) -> None:
    """Delete the kept entries of tasks no longer on the board."""
    with contextlib.suppress(OSError):
        for path in folder.glob("*.bin"):
            if path.stem not in tasks:
                path.unlink(missing_ok=True)


def _outcome_arrays(outcome: Outcome | None) -> dict[str, np.ndarray]:
    if outcome is None:
        return {}
    if outcome.documents is not None:
        return {name: outcome.documents[name] for name in DOCUMENT_FIELDS}
    assert outcome.pred is not None and outcome.prob is not None
    return {"pred": outcome.pred, "prob": outcome.prob}


def entry_document(entry: Entry) -> dict[str, Any]:
    """An entry as JSON, but for its per-example results (:func:`entry_of` reads it back)."""
    cal = entry.calibration
    con = entry.contamination
    return {
        "submission": entry.submission,
        "name": entry.name,
        "method": entry.method,
        "base": entry.base,
        "date": entry.date,
        "metrics": dict(entry.metrics),
        "efficiency": dict(entry.efficiency),
        "hardware": entry.hardware,
        "record": entry.record,
        "intervals": {k: list(v) for k, v in entry.intervals.items()},
        "kind": entry.kind,
        "calibration": None
        if cal is None
        else {"ece": cal.ece, "brier": cal.brier, "log_loss": cal.log_loss, "examples": cal.examples},
        "contamination": None
        if con is None
        else {
            "splits": [list(s) for s in con.splits],
            "overlapping": con.overlapping,
            "held_out": con.held_out,
            "clean_score": con.clean_score,
        },
        "precision": entry.precision,
        "license": entry.license,
        "finished": entry.finished,
        "stamp": entry.stamp,
    }


def entry_of(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Entry:
    """The entry :func:`entry_document` wrote, its results sliced from ``arrays``."""
    cal, con = doc["calibration"], doc["contamination"]
    return Entry(
        submission=str(doc["submission"]),
        name=str(doc["name"]),
        method=str(doc["method"]),
        base=str(doc["base"]),
        date=str(doc["date"]),
        metrics=doc["metrics"],
        efficiency=doc["efficiency"],
        hardware=str(doc["hardware"]),
        record=str(doc["record"]),
        intervals={str(k): (v[0], v[1]) for k, v in doc["intervals"].items()},
        kind=str(doc["kind"]),
        outcome=_outcome(doc, arrays),
        calibration=None
        if cal is None
        else Calibration(cal["ece"], cal["brier"], cal["log_loss"], (), cal["examples"]),
        contamination=None
        if con is None
        else Contamination(
            tuple((str(s[0]), int(s[1]), s[2]) for s in con["splits"]),
            int(con["overlapping"]),
            int(con["held_out"]),
            con["clean_score"],
        ),
        precision=str(doc["precision"]),
        license=str(doc["license"]),
        finished=str(doc["finished"]),
        stamp=str(doc["stamp"]),
    )


def _outcome(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Outcome | None:
    kind = doc["outcome"]
    if kind is None:
        return None
    names = DOCUMENT_FIELDS if kind == "documents" else ("pred", "prob")
    parts = {}
    for name in names:
        start, stop = (int(i) for i in doc["at"][name])
        whole = arrays[name]
        if not 0 <= start <= stop <= len(whole):
            raise IndexError(f"{name}: results outside the file")
        parts[name] = whole[start:stop]
    if kind == "documents":
        return Outcome(documents=parts)
    if kind != "pred" or parts["pred"].shape != parts["prob"].shape:
        raise ValueError(f"results of the wrong kind: {kind!r}")
    return Outcome(pred=parts["pred"], prob=parts["prob"])
