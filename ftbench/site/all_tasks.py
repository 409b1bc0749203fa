"""The all-tasks download's lines (``downloads/all-tasks.csv``), kept task by task in the
build's cache folder, so that a rebuild makes only the changed tasks' lines."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from ftbench.board.snapshot import Board
from ftbench.leaderboard import RankedRow
from ftbench.tasks import Task

ALL_TASKS = "all-tasks"
"""Where in the build's cache folder each task's lines of ``downloads/all-tasks.csv`` are kept."""


def all_tasks_lines(
    board: Board, task: Task, rows: Sequence[RankedRow], salt: str, folder: Path | None, force: bool
) -> bytes:
    """``downloads.all_tasks_rows`` of one task, kept in ``folder`` under the key of its page
    (what its rows rest on: its entries' stamps, and every page's inputs, the reference
    hardware among them), so that a rebuild makes only the changed tasks' lines. A kept file
    starts with its key's line; one under another key, or unreadable, is made again."""
    from ftbench.files import write_atomic
    from ftbench.site.downloads import all_tasks_rows

    key = lines_key(board, task, salt)
    path = folder / f"{task.name}.csv" if folder is not None and key else None
    if path is not None and not force:
        kept = kept_lines(path, key)
        if kept is not None:
            return kept
    lines = all_tasks_rows(task, rows, board.reference_hardware)
    if path is not None:
        with contextlib.suppress(OSError):  # a cache: the build is done without it
            write_atomic(path, key.encode() + b"\n" + lines, fsync=False)
    return lines


def kept_lines(path: Path, key: str) -> bytes | None:
    """The lines kept at ``path`` under ``key`` (its first line); None when there are none
    (the rest of a file under another key is not read)."""
    with contextlib.suppress(OSError), path.open("rb") as kept:
        if key and kept.readline(len(key) + 1) == key.encode() + b"\n":
            return kept.read()
    return None


def lines_key(board: Board, task: Task, salt: str) -> str:
    """The key a task's lines of the all-tasks download are kept under: that of its page's
    inputs (:func:`all_tasks_lines`)."""
    from ftbench.site.context import page_key
    from ftbench.site.pages import task_inputs

    return page_key(salt, "all-tasks lines", task.name, task_inputs(board, task))


def prune_lines(folder: Path, tasks: set[str]) -> None:
    """Delete the kept lines of tasks no longer on the board."""
    with contextlib.suppress(OSError):
        for path in folder.glob("*.csv"):
            if path.stem not in tasks:
                path.unlink(missing_ok=True)
