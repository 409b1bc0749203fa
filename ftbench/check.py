"""Whole-repository checks a maintainer relies on before building the site (no torch, no writes).

Every record must belong to an existing submission and task, validate against its schema
(no key given twice), sit at the path its content says, be current, and prove its numbers:
every metric, the confusion matrix, the per-label scores and the bootstrap intervals are
recomputed from its predictions and the held-out labels (``ftbench.audit``). Every requested
pair must have a record; no submission id may repeat; nothing in results/ may be orphaned.
"""

from __future__ import annotations

from pathlib import Path

from ftbench.audit import audit_record, must_prove
from ftbench.baseline_files import baseline_issues
from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError, InvalidInput, Issue, display_path
from ftbench.files import is_leftover_temporary
from ftbench.jobs import EvalJob, plan_jobs
from ftbench.record import read_record
from ftbench.submissions import load_submissions
from ftbench.tasks import Examples, Task, read_held_out, task_data_issues


def check_board(config: BoardConfig, allow_missing: bool = False) -> list[Issue]:
    """Every problem of the board; warnings for what does not block a build. Reads only."""
    try:
        board = load_submissions(config)
    except InvalidInput as exc:
        return list(exc.issues)
    issues = list(board.issues)
    for task in board.tasks.values():
        issues += task_data_issues(task, config.data_dir, display_path(config.tasks_dir / f"{task.name}.yaml"))
    jobs = plan_jobs(board, config)
    expected = {job.output: job for job in jobs}
    ids = {s.spec.id for s in board.submissions}
    held_out, _ = read_held_out(board.tasks.values(), config.data_dir)  # unreadable data: issues above
    # a missing or stale baseline file is a warning (the site falls back to the trivial
    # baselines of the held-out labels); numbers that do not follow from its predictions are an
    # error; a board without a baselines folder has not made any, and is not warned
    if config.baselines_dir.is_dir():
        labels = {name: examples.labels for name, examples in held_out.items()}
        issues += baseline_issues(list(board.tasks.values()), config.baselines_dir, config.data_dir, labels)
    issues += _record_issues(config.results_dir, expected, ids, dict(board.tasks.items()), held_out)
    for job in jobs:
        if job.status == "missing":
            severity = "warning" if allow_missing else "error"
            issues.append(
                Issue(
                    _rel(job.output, config),
                    "-",
                    f"no record for {job.name}: run "
                    f"`ftbench evaluate {_rel(job.submission.folder, config)} --task {job.task.name}`",
                    severity,
                )
            )
    return issues


def _record_issues(
    results_dir: Path,
    expected: dict[Path, EvalJob],
    ids: set[str],
    tasks: dict[str, Task],
    held_out: dict[str, Examples],
) -> list[Issue]:
    issues: list[Issue] = []
    if not results_dir.is_dir():
        return issues
    for path in sorted(p for p in results_dir.rglob("*") if p.is_file()):
        shown = str(path)
        if is_leftover_temporary(path):
            issues.append(
                Issue(shown, "-", "temporary file of an interrupted write; `ftbench evaluate` removes it", "warning")
            )
        elif path.suffix != ".json" or path.parent.parent != results_dir:
            issues.append(Issue(shown, "-", "stray file in the results folder"))
        elif ".limit" in path.name:
            issues.append(Issue(shown, "-", "partial (--limit) record; only complete records belong on the board"))
        elif path.parent.name not in ids:
            issues.append(Issue(shown, "-", f"orphaned: no submission {path.parent.name!r}"))
        elif path not in expected:
            issues.append(
                Issue(
                    shown,
                    "-",
                    f"orphaned: submission {path.parent.name!r} does not list task "
                    f"{path.stem!r}" + ("" if path.stem in tasks else " (and no such task exists)"),
                )
            )
        else:
            issues += _one_record(path, expected[path], held_out)
    return issues


def _one_record(path: Path, job: EvalJob, held_out: dict[str, Examples]) -> list[Issue]:
    try:
        record = read_record(path, strict=True)
    except InvalidInput as exc:
        return list(exc.issues)
    except FtbenchError as exc:
        return [Issue(str(path), "-", str(exc))]
    problems = []
    if (record.submission.id, record.task.name) != (job.submission.spec.id, job.task.name):
        problems.append(Issue(str(path), "submission.id", "record content does not match its path"))
    if not record.complete:
        problems.append(Issue(str(path), "complete", "record does not cover the whole held-out split"))
    if job.status == "stale":
        problems.append(Issue(str(path), "content_key", f"stale ({job.why}): re-run `ftbench evaluate --changed`"))
    if must_prove(record, job.task, job.status == "current"):
        problems += audit_record(record, job.task, held_out.get(job.task.name), str(path), intervals=True)
    return problems


def _rel(path: Path, config: BoardConfig) -> str:
    try:
        return path.relative_to(config.root).as_posix()
    except ValueError:
        return str(path)
