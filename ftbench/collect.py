"""Merging records made by separate CI jobs (one per pending pair) into the board's results.

The only stage besides ``evaluate`` that writes to ``results/``; ``ftbench check`` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ftbench.audit import audit_record
from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.jobs import freshness, plan_jobs
from ftbench.record import ResultRecord, read_record, record_path, write_record
from ftbench.submissions import load_submissions
from ftbench.tasks import read_held_out


def collect_records(sources: Iterable[Path], config: BoardConfig) -> list[str]:
    """Merge records produced elsewhere (CI matrix jobs) into the board's results folder.

    Only complete records that are current for the board's files and prove their numbers
    (``ftbench.audit``) are taken; a pair collected twice keeps the record that finished first,
    so re-running a job is harmless. Returns one log line per record considered.
    """
    board = load_submissions(config)
    jobs = {(j.submission.spec.id, j.task.name): j for j in plan_jobs(board, config)}
    held_out, _ = read_held_out(board.tasks.values(), config.data_dir)  # a task without data: nothing taken
    taken: dict[Path, ResultRecord] = {}
    log = []
    for source in sorted(record_files(sources)):
        try:
            record = read_record(source, strict=True)
        except FtbenchError as exc:  # InvalidInput too: one bad artifact does not stop the others
            log.append(f"skipped {source}: {str(exc).splitlines()[0]}")
            continue
        job = jobs.get((record.submission.id, record.task.name))
        if job is None or freshness(record, job.key_parts).status != "current":
            log.append(f"skipped {source}: not a complete, current record of this board")
            continue
        problems = audit_record(record, job.task, held_out.get(job.task.name), str(source), intervals=True)
        if problems:
            log.append(f"skipped {source}: does not prove its numbers ({problems[0]})")
            continue
        target = record_path(config.results_dir, record.submission.id, record.task.name)
        kept = taken.get(target)
        if kept is None or record.provenance.finished_at < kept.provenance.finished_at:
            taken[target] = record
    for target, record in sorted(taken.items()):
        write_record(target, record)
        log.append(f"collected {target}")
    return log


def record_files(sources: Iterable[Path]) -> list[Path]:
    """The record files named in ``sources``: files as given, folders searched for ``*.json``."""
    files = []
    for source in sources:
        files += [source] if source.is_file() else sorted(source.rglob("*.json"))
    return files
