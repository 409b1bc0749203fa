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
from ftbench.errors import FtbenchError, InvalidInput


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
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Board repository (default: nearest folder with [tool.ftbench] in pyproject.toml).")
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
    click.echo(f"{len(loaded)} valid, {len(folders) - len(loaded)} invalid submission(s); "
               f"{len(errors)} error(s), {len(issues) - len(errors)} warning(s)")
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
        click.echo(f"{t.name:20} {t.dataset + '/' + t.split:28} {t.num_examples:>8} "
                   f"{len(t.labels):>6}  {t.primary_metric} ({arrow})")


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

    schemas = {"submission": submission_json_schema, "record": record_json_schema,
               "task": Task.model_json_schema}
    click.echo(json.dumps(schemas[which](), indent=2, sort_keys=True))


@main.command()
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--task", "only_tasks", multiple=True, help="Evaluate only this task (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N examples (a quick check; "
              "written as <task>.limitN.json, never over a complete record).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where records go (default: the board's results/).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Data directory (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--force", is_flag=True, help="Re-evaluate even when the record is current.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.pass_context
@_fail_cleanly
def evaluate(ctx: click.Context, submissions: tuple[Path, ...], only_tasks: tuple[str, ...],
             limit: int | None, results_dir: Path | None, data_dir: Path | None, batch_size: int,
             device: str, force: bool, no_progress: bool) -> None:
    """Evaluate submissions on their tasks and write one JSON record per (submission, task).

    With no SUBMISSIONS, evaluates every submission of the board. Pairs whose record is
    current (same content key) are skipped unless --force.

    \b
    Example:
      ftbench evaluate submissions/minilm-lora-r8 --task sst2 --limit 100
      ftbench evaluate                      # everything missing or stale
    """
    from ftbench.evaluate import EvalSettings, evaluate_job, plan_jobs
    from ftbench.record import write_record
    from ftbench.submissions import discover, load_all
    from ftbench.tasks import load_tasks

    config = _config(ctx, data_dir=data_dir, results_dir=results_dir)
    registry = load_tasks(config.tasks_dir)
    unknown = [t for t in only_tasks if t not in registry]
    if unknown:
        raise FtbenchError(f"--task {unknown[0]}: unknown task (known: {', '.join(registry.names())})")
    folders = list(submissions) or discover(config.submissions_dir)
    loaded, issues = load_all(folders, registry)
    if any(i.severity == "error" for i in issues):
        raise InvalidInput(issues)
    settings = EvalSettings(batch_size=batch_size, device=device, limit=limit, progress=not no_progress)
    jobs = plan_jobs(loaded, {n: registry[n] for n in registry}, config, settings, only_tasks, force)
    todo = [j for j in jobs if j.reason != "current"]
    click.echo(f"{len(jobs)} pair(s): {len(todo)} to evaluate, {len(jobs) - len(todo)} current", err=True)
    for job in todo:
        record = evaluate_job(job, config, settings)
        write_record(job.output, record)
        m, e = record.metrics, record.efficiency
        click.echo(f"{job.submission.spec.id}/{job.task.name} ({job.reason}): "
                   f"{job.task.primary_metric}={m[job.task.primary_metric]:.4f} "
                   f"n={record.task.num_examples} {e['examples_per_s']:.0f} ex/s "
                   f"-> {_shown(job.output)}")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":  # pragma: no cover
    main()
