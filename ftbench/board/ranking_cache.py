"""Each task's quality ranking as the last build made it, kept for the next build, so that a
rebuild ranks again only the tasks whose entries' quality changed.

Ranking a task compares every pair of its entries (``ftbench.compare.compare_all``: paired
tests, Holm's correction over all pairs, bootstrap rank intervals): on the 10,000-record
benchmark board, half a second per task of 1,000 entries. A rebuild after one record changed
used to rank all ten tasks again; nine of them had the same inputs.

What is kept is the part of a ranking that rests on quality alone
(``ftbench.board.snapshot.quality_ranking``: ranks, plausible ranks, wins, baseline marks);
the fronts, which rest on the entries' costs and the board's reference hardware too, are
marked on it at every build (``snapshot.with_fronts``: a few milliseconds). That part is a
pure function of the entries' ids, dates, scores and per-example results, and of what every
page depends on, so its key (:func:`ranking_key`) is a digest of the build's shared stamp
(``ftbench.site.stamp.input_stamps``: tasks, data, baselines, settings, the code), the task,
and those of each entry in input order: a record measured again (new efficiency figures, the
same predictions) leaves it as it was. An entry stores, for one task: the rows (which input
entry, its rank, plausible ranks, wins, baseline mark and group size) in one JSON document,
and the pairwise tests' arrays (p-values raw and Holm-corrected, "better"
matrix, the metric on every resample, and each entry's wins on every resample, which the
overall ranking takes: ``Comparisons.win_halves``) as ``.npy`` files. The p-value matrices are mapped, not
read: only the pairs a page shows are touched.

The files live in the local cache folder, never committed. A file that cannot be read, made
under another key, or whose arrays have the wrong kind or shape, is ignored (the task is
ranked again); ``numpy.load`` runs with ``allow_pickle=False``. As with the record cache
(``ftbench.board.record_cache``), its contents are trusted as the proof memo's are; ``build
--force`` ranks every task again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftbench.board.snapshot import Board, quality_ranking, task_tables, with_fronts
from ftbench.compare import Comparisons, Outcome
from ftbench.files import write_atomic
from ftbench.leaderboard import Entry, RankedRow
from ftbench.tasks import Task

FOLDER = "rankings"
"""The cache's folder in the build's cache folder."""

ARRAYS = ("p_raw", "p_holm", "better", "samples", "win_halves")
MAPPED = ("p_raw", "p_holm")
"""Arrays mapped from their files rather than read (a page looks up a few pairs of them)."""


@dataclass(frozen=True)
class RankingCache:
    """The cache's folder, and whether its entries may be used (``build --force`` ranks every
    task again and writes the entries anew)."""

    folder: Path
    reuse: bool = True


def ranking_key(shared: str, task: str, metric: str, entries: Sequence[Entry], *settings: Any) -> str:
    """What a task's quality ranking rests on (see the module docstring): each entry's id,
    date (which breaks ties of the order), score on ``metric`` and per-example results, in
    input order; ``settings``: anything else the ranking is made with (the task's type)."""
    quality = tuple((e.submission, e.date, e.value(metric), outcome_digest(e.outcome)) for e in entries)
    return hashlib.sha256(repr((shared, task, metric, settings, quality)).encode()).hexdigest()


def outcome_digest(outcome: Outcome | None) -> str:
    """A digest of an entry's per-example results ("" for none); worked out once per results
    (a build keys both the ranking and the home page by it)."""
    if outcome is None:
        return ""
    known = _DIGESTS.get(outcome)
    if known is None:
        digest = hashlib.blake2b(digest_size=16)
        arrays = [outcome.pred, outcome.prob, *(outcome.documents or {}).values()]
        for array in arrays:
            digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
        known = _DIGESTS[outcome] = digest.hexdigest()
    return known


def remember_digest(outcome: Outcome | None, digest: str) -> None:
    """Take ``digest`` as :func:`outcome_digest` of ``outcome`` (results read back with the
    digest they were kept with: their arrays need not be read to key them)."""
    if outcome is not None:
        _DIGESTS[outcome] = digest


_DIGESTS: weakref.WeakKeyDictionary[Outcome, str] = weakref.WeakKeyDictionary()
""":func:`outcome_digest` of the results still in use (an ``Outcome`` is compared by identity)."""


def read_ranking(cache: RankingCache, task: str, key: str, entries: Sequence[Entry]) -> list[RankedRow] | None:
    """The ranking stored for ``task`` under ``key``, its rows pointing at ``entries`` (the
    ones the key was made of); None when there is none, or it cannot be used."""
    if not cache.reuse or not all(e.stamp for e in entries):
        return None
    try:
        meta = json.loads((cache.folder / f"{task}.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        stats = _comparisons(cache.folder, task, key, meta, len(entries))
        return [_row(fields, entries, stats) for fields in meta["rows"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError, EOFError):
        return None


def write_ranking(
    cache: RankingCache, task: str, key: str, rows: Sequence[RankedRow], entries: Sequence[Entry]
) -> None:
    """Store a task's ranking under ``key`` (``entries``: those it was made of, in the order
    the key took them); a cache: nothing is lost when it cannot be written."""
    if not all(e.stamp for e in entries):  # entries not read from files: nothing to key them by
        return
    position = {id(e): i for i, e in enumerate(entries)}
    stats = rows[0].comparisons if rows else None
    meta = {
        "key": key,
        "rows": [
            [
                position[id(r.entry)],
                r.rank,
                list(r.pareto),  # empty: a quality ranking has no fronts (with_fronts marks them)
                r.rank_low,
                r.rank_high,
                r.wins,
                r.index,
                r.baseline,
                r.sharing,
            ]
            for r in rows
        ],
        "comparisons": None if stats is None else {"method": stats.method, "higher_is_better": stats.higher_is_better},
    }
    with contextlib.suppress(OSError):
        cache.folder.mkdir(parents=True, exist_ok=True)
        old = _array_files(cache.folder, task)
        if stats is not None:
            stats.resample_win_rates()  # made now, kept with the rest (the overall ranking's)
            for name in ARRAYS:
                buffer = io.BytesIO()
                array = np.ascontiguousarray(getattr(stats, name), np.int32 if name == "win_halves" else None)
                np.save(buffer, array, allow_pickle=False)
                write_atomic(
                    _array_path(cache.folder, task, key, name), buffer.getvalue(), fsync=False, make_parent=False
                )
        # the document last: it names the arrays' key, so a build killed before it leaves the
        # previous entry whole (its arrays are still there), and one killed after, the new one
        write_atomic(cache.folder / f"{task}.json", json.dumps(meta, separators=(",", ":")), fsync=False)
        for path in old - set(_array_files(cache.folder, task, key)):
            path.unlink(missing_ok=True)


def prune(cache: RankingCache, tasks: set[str]) -> None:
    """Delete the stored rankings of tasks no longer on the board."""
    with contextlib.suppress(OSError):
        for path in cache.folder.iterdir():
            if path.name.split(".")[0] not in tasks and path.suffix in (".json", ".npy"):
                path.unlink(missing_ok=True)


def _array_path(folder: Path, task: str, key: str, name: str) -> Path:
    return folder / f"{task}.{key[:32]}.{name}.npy"


def _array_files(folder: Path, task: str, key: str = "") -> set[Path]:
    if key:
        return {_array_path(folder, task, key, name) for name in ARRAYS}
    return set(folder.glob(f"{task}.*.npy"))


def _comparisons(folder: Path, task: str, key: str, meta: dict, n: int) -> Comparisons | None:
    about = meta["comparisons"]
    if about is None:
        return None
    arrays = {}
    for name in ARRAYS:
        path = _array_path(folder, task, key, name)
        arrays[name] = (
            np.load(path, mmap_mode="r", allow_pickle=False) if name in MAPPED else np.load(path, allow_pickle=False)
        )
    square, halves = (n, n), arrays["win_halves"]
    if (
        any(arrays[name].shape != square or arrays[name].dtype != np.float64 for name in MAPPED)
        or arrays["better"].shape != square
        or arrays["better"].dtype != np.bool_
        or arrays["samples"].ndim != 2
        or arrays["samples"].shape[1] != n
        or arrays["samples"].dtype.kind != "f"
        or arrays["win_halves"].shape != arrays["samples"].shape
        or arrays["win_halves"].dtype != np.int32
        or (halves.size and not 0 <= halves.min() <= halves.max() <= 2 * (n - 1))
    ):
        raise ValueError(f"{task}: stored comparisons of the wrong kind or shape")
    return Comparisons(
        str(about["method"]),
        arrays["p_raw"],
        arrays["p_holm"],
        arrays["better"],
        arrays["samples"],
        bool(about["higher_is_better"]),
        arrays["win_halves"],
    )


def _row(fields: list, entries: Sequence[Entry], stats: Comparisons | None) -> RankedRow:
    position, rank, pareto, rank_low, rank_high, wins, index, baseline, sharing = fields
    if not 0 <= int(position) < len(entries) or (stats is not None and not 0 <= int(index) < len(entries)):
        raise IndexError(f"entry {position}, column {index} of {len(entries)}")
    return RankedRow(
        int(rank),
        entries[int(position)],
        tuple(str(p) for p in pareto),
        int(rank_low),
        int(rank_high),
        int(wins),
        int(index),
        stats,
        str(baseline),
        int(sharing),
    )


def cached_task_tables(
    board: Board, shared: str, cache: RankingCache | None, only: Sequence[Task] | None = None
) -> dict[str, list[RankedRow]]:
    """``snapshot.task_tables`` of the board (of the tasks in ``only``, if given), each task's
    quality ranking taken from ``cache`` where its key (under the build's ``shared`` stamp) is
    there, and stored there where it was ranked; the fronts marked on it."""
    if cache is None or not shared:
        tables = task_tables(board)
        return tables if only is None else {t.name: tables[t.name] for t in only}
    tables = {}
    for task in board.tasks if only is None else only:
        entries = board.summary.entries.get(task.name, ())
        key = ranking_key(shared, task.name, task.primary_metric, entries, task.type)
        rows = read_ranking(cache, task.name, key, entries)
        if rows is None:
            rows = quality_ranking(board, task)
            write_ranking(cache, task.name, key, rows, entries)
        tables[task.name] = with_fronts(board, task, rows)
    return tables
