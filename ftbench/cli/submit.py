"""What a contributor runs: ``validate``, ``tasks``, ``schema``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ftbench.cli.common import board_config, fail_cleanly, print_issues
from ftbench.errors import FtbenchError, display_path


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
@fail_cleanly
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check submission folders and report every problem as path:field: message.

    With no PATHS, checks every folder under submissions/ (duplicate ids included). Exits 2
    if any error is found.

    \b
    Example:
      ftbench validate submissions/my-model
    """
    from ftbench.submissions import load_submissions

    config = board_config(ctx)
    found = load_submissions(config, paths)
    if not found.folders:
        raise FtbenchError(f"no submissions found under {config.submissions_dir}")
    valid, errors = len(found.submissions), len(found.errors)
    print_issues(
        found.issues,
        f"{valid} valid, {len(found.folders) - valid} invalid submission(s); "
        f"{errors} error(s), {len(found.issues) - errors} warning(s)",
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the task definitions as JSON.")
@click.option(
    "--check",
    "check_data",
    is_flag=True,
    help="Also check each task's data (folder, sha256, rows, labels) without loading a model; exit 2 on a problem.",
)
@click.pass_context
@fail_cleanly
def tasks(ctx: click.Context, as_json: bool, check_data: bool) -> None:
    """List the tasks: dataset, held-out split, size, labels and primary metric.

    \b
    Example:
      ftbench tasks
      ftbench tasks --check     # is every task's held-out data there and as declared?
    """
    from ftbench.tasks import load_tasks, task_data_issues, task_lines

    config = board_config(ctx)
    registry = load_tasks(config.tasks_dir)
    if check_data:
        issues = [
            issue
            for t in registry.values()
            for issue in task_data_issues(t, config.data_dir, display_path(config.tasks_dir / f"{t.name}.yaml"))
        ]
        print_issues(issues, f"{len(registry)} task(s): {len(issues)} problem(s) with their data")
        return
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in registry.values()], indent=2))
    else:
        click.echo("\n".join(task_lines(registry.values())))


@click.command()
@click.argument("which", type=click.Choice(["submission", "record", "task"]), default="submission")
def schema(which: str) -> None:
    """Print the JSON Schema of submission.yaml, of a result record, or of a task definition.

    \b
    Example:
      ftbench schema submission > submission.schema.json
    """
    from ftbench.record import record_json_schema
    from ftbench.spec import submission_json_schema
    from ftbench.tasks import task_json_schema

    schemas = {"submission": submission_json_schema, "record": record_json_schema, "task": task_json_schema}
    click.echo(json.dumps(schemas[which](), indent=2, sort_keys=True))


COMMANDS = (validate, tasks, schema)
