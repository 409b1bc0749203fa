"""What every command shares: the board's configuration and turning errors into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ftbench import DEFAULT_BATCH_SIZE
from ftbench.config import BoardConfig, load_config
from ftbench.errors import FtbenchError, InvalidInput, Issue


def fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def board_config(ctx: click.Context, data_dir: Path | None = None, results_dir: Path | None = None) -> BoardConfig:
    """The board of ``--root`` (or the nearest one), with the command's folder overrides."""
    root = ctx.obj.get("root") if ctx.obj else None
    return load_config(root).with_overrides(data_dir=data_dir, results_dir=results_dir)


def print_issues(issues: tuple[Issue, ...] | list[Issue], summary: str) -> None:
    """Every issue on stderr, then ``summary``; exit 2 when any is an error."""
    for issue in issues:
        click.echo(str(issue), err=True)
    click.echo(summary)
    if any(i.severity == "error" for i in issues):
        sys.exit(2)


batch_size_option = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help=f"Examples per forward pass, part of the content key [default: the board's "
    f"[tool.ftbench] batch_size, {DEFAULT_BATCH_SIZE} unless set].",
)
task_option = click.option("--task", "only_tasks", multiple=True, help="Only this task (repeatable).")
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Compute threads, fixed for the whole run and recorded [default: torch's, the physical cores].",
)
