"""What needs evaluating: every (submission, task) pair with the freshness of its record.

A record is *current* when it covers what was asked (the whole held-out split, or the same
``--limit``) and its content key equals the key computed now from the files on disk;
otherwise the pair is *missing* (no record) or *stale* (and ``why`` names what changed).
:func:`freshness` is the one rule: ``plan``, ``evaluate``, ``check``, ``collect``, ``verify``
and the site all ask it. Planning reads no model and imports no torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError, display_path
from ftbench.keys import content_key, pair_key_parts, stale_parts
from ftbench.record import read_record, record_path, signed
from ftbench.spec import WeightsRef
from ftbench.submissions import LoadedSubmission, SubmissionSet
from ftbench.tasks import Task


@dataclass(frozen=True)
class Freshness:
    """Whether a record still stands for its pair, and why not."""

    status: str
    """``missing`` (no record), ``stale`` or ``current``."""
    reason: str = ""
    """``unreadable``, ``incomplete``, ``unsigned`` or ``changed`` when stale; empty otherwise."""
    changed: tuple[str, ...] = ()
    """Names of the content-key parts that changed (empty when the record predates storing them)."""
    detail: str = ""
    """The error met when the record or the weights could not be read."""

    @property
    def why(self) -> str:
        """One line for ``ftbench plan`` and ``ftbench check``.

        >>> Freshness("stale", "changed", ("adapter", "batch_size")).why
        'changed: adapter, batch_size'
        """
        if self.status == "missing":
            return "no record yet"
        if self.status == "current":
            return "record matches the current inputs"
        if self.reason == "unreadable":
            return f"record unreadable ({self.detail})"
        if self.reason == "incomplete":
            return "incomplete run (only part of the held-out split was scored)"
        if self.reason == "unsigned":
            return "not signed by this board's CI (edited, or made elsewhere)"
        return "changed: " + (", ".join(self.changed) if self.changed else "content key differs")


def freshness(
    record: Any | None,
    parts: dict[str, Any],
    limit: int | None = None,
    key: bytes | None = None,
    signature: bool | None = None,
) -> Freshness:
    """The one rule: is ``record`` (a ResultRecord or its fast view; None when there is none)
    current for the key ``parts`` computed now? ``limit``: the ``--limit`` the pair is
    evaluated with (None: the whole split, so an incomplete record is stale). ``key``: the
    CI's signing key, where it is known (an unsigned record is then stale; the signature is
    checked on ``record``, which must then be a full record, unless ``signature`` gives the
    verdict of an earlier check of the full record).

    >>> from types import SimpleNamespace
    >>> parts = {"base": "hub:a@1", "batch_size": 16}
    >>> def record(key, parts):
    ...     return SimpleNamespace(complete=True, limit=None, content_key=key, content_key_parts=parts)
    >>> freshness(record(content_key(parts), parts), parts).status
    'current'
    >>> freshness(record("x", {**parts, "batch_size": 32}), parts).why
    'changed: batch_size'
    """
    if record is None:
        return Freshness("missing")
    if not record.complete and (limit is None or record.limit != limit):
        return Freshness("stale", "incomplete")
    if key is not None and not (signed(record, key) if signature is None else signature):
        return Freshness("stale", "unsigned")
    changed = stale_parts(record.content_key, record.content_key_parts, parts)
    if changed is None:
        return Freshness("current")
    return Freshness("stale", "changed", tuple(changed))


def record_freshness(
    path: Path, parts: dict[str, Any], limit: int | None = None, key: bytes | None = None
) -> Freshness:
    """:func:`freshness` of the record file at ``path`` (missing, unreadable or read in full)."""
    if not path.is_file():
        return Freshness("missing")
    try:
        record = read_record(path)
    except FtbenchError as exc:
        return Freshness("stale", "unreadable", detail=str(exc).splitlines()[0])
    return freshness(record, parts, limit, key)


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

    @property
    def batch_size(self) -> int:
        """Examples per forward pass (a part of the content key)."""
        return int(self.key_parts["batch_size"])

    @property
    def precision(self) -> str:
        """The precision the submission declares for its weights."""
        return self.submission.spec.model.precision

    @property
    def model_kind(self) -> str:
        """``classifier`` or ``causal-lm`` (the submission's ``model.kind``)."""
        return self.submission.spec.model.kind


def plan_jobs(
    board: SubmissionSet,
    config: BoardConfig,
    batch_size: int | None = None,
    limit: int | None = None,
    only_tasks: Sequence[str] = (),
    force: bool = False,
) -> list[EvalJob]:
    """Every pair the board's valid submissions ask for (optionally only ``only_tasks``, which
    must be tasks of the board), each with the freshness of its record at ``batch_size``
    (default: the board's)."""
    batch_size = config.batch_size if batch_size is None else batch_size
    unknown = [t for t in only_tasks if t not in board.tasks]
    if unknown:
        raise FtbenchError(f"--task {unknown[0]}: unknown task (known: {', '.join(board.tasks.names())})")
    jobs = []
    for sub in board.submissions:
        for name in sub.spec.tasks:
            if only_tasks and name not in only_tasks:
                continue
            task = board.tasks[name]
            base, adapter = sub.spec.weights_for(name)
            parts = pair_key_parts(sub.spec, sub.folder, task, batch_size, local_models=config.local_models)
            out = record_path(config.results_dir, sub.spec.id, name, limit)
            fresh = record_freshness(out, parts, limit, config.record_key)
            status, why = ("forced", "--force") if force else (fresh.status, fresh.why)
            jobs.append(EvalJob(sub, task, base, adapter, parts, out, status, why))
    return jobs


MAX_MATRIX_JOBS = 256
"""GitHub Actions runs at most this many jobs from one matrix."""


def github_matrix(jobs: Sequence[EvalJob], max_entries: int = MAX_MATRIX_JOBS) -> str:
    """A GitHub Actions ``strategy.matrix`` (JSON): one entry per pending pair, or, when there
    are more than ``max_entries``, the pairs dealt out into ``max_entries`` batches. Each entry
    names its pairs as ``pairs``: ``<folder>::<task>`` separated by spaces.

    >>> from types import SimpleNamespace as N
    >>> job = lambda s, t: N(pending=True, status="missing", task=N(name=t), submission=N(spec=N(id=s), folder=Path(s)))
    >>> json.loads(github_matrix([job("a", "x"), job("b", "x"), job("c", "y")], max_entries=2))["include"][0]
    {'name': 'batch-1-of-2', 'pairs': 'a::x c::y', 'status': 'batch', 'submission': 'batch-1-of-2', 'task': '2 pairs'}
    """
    pending = [j for j in jobs if j.pending]
    pairs = [f"{_relative(j.submission.folder)}::{j.task.name}" for j in pending]
    if len(pending) <= max_entries:
        include = [
            {
                "name": f"{j.submission.spec.id}+{j.task.name}",
                "submission": j.submission.spec.id,
                "task": j.task.name,
                "pairs": pair,
                "status": j.status,
            }
            for j, pair in zip(pending, pairs, strict=True)
        ]
    else:
        batches = [pairs[i::max_entries] for i in range(max_entries)]
        include = [
            {
                "name": f"batch-{i + 1}-of-{max_entries}",
                "submission": f"batch-{i + 1}-of-{max_entries}",
                "task": f"{len(batch)} pairs",
                "pairs": " ".join(batch),
                "status": "batch",
            }
            for i, batch in enumerate(batches)
        ]
    return json.dumps({"include": include}, sort_keys=True)


def plan_rows(jobs: Sequence[EvalJob]) -> list[dict[str, str]]:
    """The jobs as JSON-ready rows (``ftbench plan --format json``)."""
    return [
        {
            "submission": j.submission.spec.id,
            "task": j.task.name,
            "status": j.status,
            "why": j.why,
            "record": display_path(j.output),
            "content_key": j.content_key,
        }
        for j in jobs
    ]


def _relative(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
