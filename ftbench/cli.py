"""The ``ftbench`` command: a thin shell over the library.

Heavy modules (torch, transformers) are imported inside the commands that need them, so
``ftbench --help``, ``validate``, ``tasks``, ``schema`` and ``build`` start quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import ftbench
from ftbench.config import BoardConfig, load_config
from ftbench.errors import FtbenchError, InvalidInput, display_path


def _fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a message on stderr and exit status 1 (2 for bad input)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            sys.exit(2)
        except FtbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _config(ctx: click.Context, data_dir: Path | None = None, results_dir: Path | None = None) -> BoardConfig:
    root = ctx.obj.get("root") if ctx.obj else None
    config = load_config(root)
    return config.with_overrides(data_dir=data_dir, results_dir=results_dir)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ftbench.__version__, prog_name="ftbench")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Board repository (default: nearest folder with [tool.ftbench] in pyproject.toml).",
)
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """ftbench: evaluate fine-tuned models on fixed held-out data and publish a leaderboard.

    \b
    Example:
      ftbench validate submissions/*
      ftbench evaluate submissions/minilm-lora-r8 --task sst2 --limit 200
      ftbench build
    """
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
@_fail_cleanly
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check submission folders and report every problem as path:field: message.

    With no PATHS, checks every folder under submissions/. Exits 2 if any error is found.

    \b
    Example:
      ftbench validate submissions/my-model
    """
    from ftbench.submissions import discover, load_all
    from ftbench.tasks import load_tasks

    config = _config(ctx)
    tasks = load_tasks(config.tasks_dir)
    folders = [p.parent if p.name == "submission.yaml" else p for p in paths] or discover(config.submissions_dir)
    if not folders:
        raise FtbenchError(f"no submissions found under {config.submissions_dir}")
    if not paths:  # validating the whole board also catches ids duplicated by other folders
        folders = sorted(set(folders))
    loaded, issues = load_all(folders, tasks)
    for issue in issues:
        click.echo(str(issue), err=True)
    errors = [i for i in issues if i.severity == "error"]
    click.echo(
        f"{len(loaded)} valid, {len(folders) - len(loaded)} invalid submission(s); "
        f"{len(errors)} error(s), {len(issues) - len(errors)} warning(s)"
    )
    if errors:
        sys.exit(2)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the task definitions as JSON.")
@click.pass_context
@_fail_cleanly
def tasks(ctx: click.Context, as_json: bool) -> None:
    """List the tasks: dataset, held-out split, size, labels and primary metric.

    \b
    Example:
      ftbench tasks
    """
    from ftbench.metrics import METRICS
    from ftbench.tasks import load_tasks

    registry = load_tasks(_config(ctx).tasks_dir)
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in registry.values()], indent=2))
        return
    click.echo(f"{'task':20} {'dataset/split':28} {'examples':>8} {'labels':>6}  primary metric")
    for t in registry.values():
        arrow = "higher is better" if METRICS[t.primary_metric].higher_is_better else "lower is better"
        click.echo(
            f"{t.name:20} {t.dataset + '/' + t.split:28} {t.num_examples:>8} "
            f"{len(t.labels):>6}  {t.primary_metric} ({arrow})"
        )


@main.command()
@click.argument("which", type=click.Choice(["submission", "record", "task"]), default="submission")
def schema(which: str) -> None:
    """Print the JSON Schema of submission.yaml, of a result record, or of a task definition.

    \b
    Example:
      ftbench schema submission > submission.schema.json
    """
    from ftbench.record import record_json_schema
    from ftbench.spec import submission_json_schema
    from ftbench.tasks import Task

    schemas = {"submission": submission_json_schema, "record": record_json_schema, "task": Task.model_json_schema}
    click.echo(json.dumps(schemas[which](), indent=2, sort_keys=True))


def _load_board(config: BoardConfig, paths: tuple[Path, ...] = ()):
    """Tasks and valid submissions (all of submissions/ when ``paths`` is empty); bad input raises."""
    from ftbench.submissions import discover, load_all
    from ftbench.tasks import load_tasks

    registry = load_tasks(config.tasks_dir)
    loaded, issues = load_all(list(paths) or discover(config.submissions_dir), registry)
    if any(i.severity == "error" for i in issues):
        raise InvalidInput(issues)
    return registry, loaded


def _check_tasks(registry, names: tuple[str, ...]) -> None:
    unknown = [t for t in names if t not in registry]
    if unknown:
        raise FtbenchError(f"--task {unknown[0]}: unknown task (known: {', '.join(registry.names())})")


@main.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--task", "only_tasks", multiple=True, help="Evaluate only this task (repeatable).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Score only the first N examples (a quick check; "
    "written as <task>.limitN.json, never over a complete record).",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where records go (default: the board's results/).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--changed",
    is_flag=True,
    help="Only pairs that `ftbench plan` lists (missing or stale); this is also what happens without --force.",
)
@click.option("--force", is_flag=True, help="Re-evaluate even when the record is current.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.pass_context
@_fail_cleanly
def evaluate(
    ctx: click.Context,
    submissions: tuple[Path, ...],
    only_tasks: tuple[str, ...],
    limit: int | None,
    results_dir: Path | None,
    data_dir: Path | None,
    batch_size: int,
    device: str,
    changed: bool,
    force: bool,
    no_progress: bool,
) -> None:
    """Evaluate submissions on their tasks and write one JSON record per (submission, task).

    With no SUBMISSIONS, evaluates every submission of the board. Pairs whose record is
    current (same content key) are skipped and load no model, unless --force.

    \b
    Example:
      ftbench evaluate submissions/minilm-lora-r8 --task sst2 --limit 100
      ftbench evaluate --changed            # everything missing or stale
    """
    from ftbench.evaluate import EvalSettings, evaluate_job
    from ftbench.plan import plan_jobs
    from ftbench.record import write_record

    if changed and force:
        raise FtbenchError("--changed and --force contradict each other")
    config = _config(ctx, data_dir=data_dir, results_dir=results_dir)
    registry, loaded = _load_board(config, submissions)
    _check_tasks(registry, only_tasks)
    settings = EvalSettings(batch_size=batch_size, device=device, limit=limit, progress=not no_progress)
    jobs = plan_jobs(loaded, dict(registry.items()), config, batch_size, limit, only_tasks, force)
    todo = [j for j in jobs if j.pending]
    click.echo(f"{len(jobs)} pair(s): {len(todo)} to evaluate, {len(jobs) - len(todo)} current", err=True)
    for job in todo:
        record = evaluate_job(job, config, settings)
        write_record(job.output, record)
        m, e = record.metrics, record.efficiency
        click.echo(
            f"{job.name} ({job.status}): {job.task.primary_metric}={m[job.task.primary_metric]:.4f} "
            f"n={record.task.num_examples} {e['examples_per_s']:.0f} ex/s -> {display_path(job.output)}"
        )


@main.command()
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the site goes (default: [tool.ftbench] site_dir).",
)
@click.option(
    "--base-url",
    help="URL prefix the site is served under, e.g. /ftbench/ on a GitHub "
    "Pages project site (default: [tool.ftbench] base_url). Links are relative either way.",
)
@click.option("--force", is_flag=True, help="Rebuild even when no input changed since the last build.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes for a large board (default: one per CPU; 1 builds in this process). Same output either way.",
)
@click.pass_context
@_fail_cleanly
def build(ctx: click.Context, site_dir: Path | None, base_url: str | None, force: bool, workers: int | None) -> None:
    """Render the static site from the tasks, submissions, result records and pages.

    Only current records are ranked; stale ones are shown on their model page as pending
    re-evaluation. Files are written only when their bytes change, and the build is skipped
    when no input changed since the last one. SOURCE_DATE_EPOCH fixes the build date.

    \b
    Example:
      ftbench build
      ftbench build --site-dir /tmp/site --base-url /ftbench/
    """
    from dataclasses import replace

    from ftbench.site import build_site

    config = _config(ctx).with_overrides(site_dir=site_dir)
    if base_url is not None:
        config = replace(config, base_url=base_url.rstrip("/") + "/")
    report = build_site(config, force=force, workers=workers)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{report.summary()} -> {display_path(config.site_dir)}")


@main.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--task", "only_tasks", multiple=True, help="Only this task (repeatable).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github-matrix"]), default="text", show_default=True
)
@click.option("--all", "show_all", is_flag=True, help="Also list pairs whose record is current.")
@click.pass_context
@_fail_cleanly
def plan(
    ctx: click.Context,
    submissions: tuple[Path, ...],
    only_tasks: tuple[str, ...],
    batch_size: int,
    fmt: str,
    show_all: bool,
) -> None:
    """List the (submission, task) pairs whose record is missing or stale, and why.

    Reads no model: the content key is computed from the files on disk.

    \b
    Example:
      ftbench plan
      ftbench plan --format github-matrix   # for a CI job matrix
    """
    from ftbench.plan import github_matrix, plan_jobs

    config = _config(ctx)
    registry, loaded = _load_board(config, submissions)
    _check_tasks(registry, only_tasks)
    jobs = plan_jobs(loaded, dict(registry.items()), config, batch_size, None, only_tasks)
    shown = jobs if show_all else [j for j in jobs if j.pending]
    if fmt == "github-matrix":
        click.echo(github_matrix(jobs))
    elif fmt == "json":
        rows = [
            {
                "submission": j.submission.spec.id,
                "task": j.task.name,
                "status": j.status,
                "why": j.why,
                "record": display_path(j.output),
                "content_key": j.content_key,
            }
            for j in shown
        ]
        click.echo(json.dumps(rows, indent=2))
    else:
        for j in shown:
            click.echo(f"{j.status:8} {j.name:45} {j.why}")
        pending = sum(j.pending for j in jobs)
        click.echo(f"{pending} of {len(jobs)} pair(s) to evaluate", err=True)


@main.command()
@click.option("--allow-missing", is_flag=True, help="Report pairs without a record as warnings (pull requests).")
@click.pass_context
@_fail_cleanly
def check(ctx: click.Context, allow_missing: bool) -> None:
    """Check the repository as a whole before building: records, submissions, tasks.

    Every record must match an existing submission and task, validate against its schema and
    be current; every requested pair needs a record; no duplicate ids; nothing orphaned.

    \b
    Example:
      ftbench check
    """
    from ftbench.check import check_board

    issues = check_board(_config(ctx), allow_missing)
    for issue in issues:
        click.echo(str(issue), err=True)
    errors = sum(i.severity == "error" for i in issues)
    click.echo(f"board check: {errors} error(s), {len(issues) - errors} warning(s)")
    if errors:
        sys.exit(2)


@main.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sample", default=64, show_default=True, type=click.IntRange(min=1), help="Examples to re-run.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample.")
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--tolerance",
    type=float,
    help="Largest allowed change of the stored label's probability "
    "[default: by precision: fp32 1e-3, fp16 2e-2, bf16 3e-2, int8/int4 5e-2].",
)
@click.pass_context
@_fail_cleanly
def verify(ctx: click.Context, record: Path, sample: int, seed: int, device: str, tolerance: float | None) -> None:
    """Re-run a random sample of a record's examples and report agreement and drift.

    Exits 1 when a stored label's probability moved beyond --tolerance on any sampled
    example, or another label overtook it by more than that. A changed label within the
    tolerance was a near-tie: reported, not drift.

    \b
    Example:
      ftbench verify results/minilm-lora-r8/sst2.json --sample 100
    """
    from ftbench.verify import verify_record

    result = verify_record(record, _config(ctx), sample, seed, device)
    limit = result.tolerance if tolerance is None else tolerance
    click.echo(
        f"{display_path(record)}: {result.sampled} examples re-run ({result.precision}), label agreement "
        f"{result.agreement:.2%}, max probability difference {result.max_prob_diff:.2e} (tolerance "
        f"{limit:g}); accuracy on the sample {result.recorded_accuracy:.4f} recorded, "
        f"{result.rerun_accuracy:.4f} now"
    )
    if result.stale:
        click.echo("note: the record is stale; the re-run used the current files", err=True)
    if result.differing_idx:
        click.echo(f"changed predictions at idx {', '.join(map(str, result.differing_idx[:20]))}", err=True)
    if result.drifted(limit):
        click.echo("DRIFT: the record does not reproduce", err=True)
        sys.exit(1)
    if result.differing_idx:
        click.echo("the changed predictions are near-ties (within the tolerance): not drift", err=True)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@_fail_cleanly
def collect(ctx: click.Context, sources: tuple[Path, ...]) -> None:
    """Merge records made by separate CI jobs into results/ (current, complete records only).

    Collecting the same pair twice is harmless: the record that finished first is kept.

    \b
    Example:
      ftbench collect artifacts/records-*
    """
    from ftbench.check import collect_records

    for line in collect_records(sources, _config(ctx)):
        click.echo(line)


@main.command()
@click.option(
    "--base",
    default="origin/main",
    show_default=True,
    help="Git ref the pull request is compared with, to find changed submissions.",
)
@click.option("--submission", "ids", multiple=True, help="Report on these submission ids instead (repeatable).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_context
@_fail_cleanly
def report(ctx: click.Context, base: str, ids: tuple[str, ...], output: Path | None) -> None:
    """Write markdown for a pull-request comment: new or changed submissions, their scores,
    the rank each would take, the current leaders, efficiency, and validation problems.

    \b
    Example:
      ftbench report --base origin/main --output report.md
    """
    from ftbench.report import changed_files, changed_submissions, render_report
    from ftbench.site_context import task_tables
    from ftbench.site_read import read_board
    from ftbench.submissions import discover, load_all
    from ftbench.tasks import load_tasks

    config = _config(ctx)
    changed = list(ids) or changed_submissions(config.root, config.submissions_dir, base)
    if changed is None:
        raise FtbenchError(f"cannot compare with git ref {base!r}; pass --base or --submission")
    _, issues = load_all(discover(config.submissions_dir), load_tasks(config.tasks_dir))
    files = read_board(config)
    edited = [] if ids else changed_files(config.root, config.results_dir, base) or []
    text = render_report(files.board, files.shard, task_tables(files.board), changed, issues, edited)
    if output:
        from ftbench.record import write_atomic

        write_atomic(output, text)
        click.echo(f"report written to {output}", err=True)
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
