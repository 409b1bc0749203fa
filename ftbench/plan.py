"""What needs evaluating: every (submission, task) pair with the status of its record.

A record is *current* when its content key equals the key computed now from the files on
disk; otherwise the pair is *missing* (no record) or *stale* (and ``why`` names what changed).
Planning reads no model and imports no torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.keys import content_key, key_parts, stale_parts
from ftbench.record import read_record, record_path
from ftbench.spec import WeightsRef
from ftbench.submissions import LoadedSubmission
from ftbench.tasks import Task

DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class EvalJob:
    """One (submission, task) pair, what it would be evaluated with, and its record's status."""

    submission: LoadedSubmission
    """The submission."""
    task: Task
    """The task."""
    base: WeightsRef
    """Base weights for this task."""
    adapter: WeightsRef | None
    """Adapter for this task."""
    key_parts: dict
    """Inputs the result depends on (see ``ftbench.keys.key_parts``)."""
    output: Path
    """Where the record goes."""
    status: str
    """``missing``, ``stale``, ``current`` or ``forced``."""
    why: str
    """Human-readable reason for the status."""

    @property
    def content_key(self) -> str:
        """Hash of ``key_parts``."""
        return content_key(self.key_parts)

    @property
    def pending(self) -> bool:
        """True when the pair needs evaluating."""
        return self.status != "current"

    @property
    def name(self) -> str:
        """``<submission>/<task>``."""
        return f"{self.submission.spec.id}/{self.task.name}"


def plan_jobs(
    submissions: Sequence[LoadedSubmission],
    tasks: dict[str, Task],
    config: BoardConfig,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    only_tasks: Sequence[str] = (),
    force: bool = False,
) -> list[EvalJob]:
    """Every pair the submissions ask for (optionally only ``only_tasks``), each with its status."""
    jobs = []
    for sub in submissions:
        for name in sub.spec.tasks:
            if only_tasks and name not in only_tasks:
                continue
            task = tasks[name]
            base, adapter = sub.spec.weights_for(name)
            parts = key_parts(base, adapter, sub.folder, task, sub.spec.model.precision, batch_size)
            out = record_path(config.results_dir, sub.spec.id, name, limit)
            status, why = ("forced", "--force") if force else record_status(out, parts)
            jobs.append(EvalJob(sub, task, base, adapter, parts, out, status, why))
    return jobs


def record_status(path: Path, parts: dict) -> tuple[str, str]:
    """(status, why) of the record at ``path`` against the key parts computed now."""
    if not path.is_file():
        return "missing", "no record yet"
    try:
        record = read_record(path)
    except FtbenchError as exc:
        return "stale", f"record unreadable ({str(exc).splitlines()[0]})"
    changed = stale_parts(record.content_key, record.content_key_parts, parts)
    if changed is None:
        return "current", "record matches the current inputs"
    return "stale", "changed: " + (", ".join(changed) if changed else "content key differs")


def github_matrix(jobs: Sequence[EvalJob]) -> str:
    """A GitHub Actions ``strategy.matrix`` (JSON) with one entry per pending pair."""
    include = [
        {
            "submission": j.submission.spec.id,
            "task": j.task.name,
            "path": _relative(j.submission.folder),
            "status": j.status,
        }
        for j in jobs
        if j.pending
    ]
    return json.dumps({"include": include}, sort_keys=True)


def _relative(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
