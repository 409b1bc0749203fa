"""Contamination found in the data: ``contamination``."""

from __future__ import annotations

from pathlib import Path

import click

from ftbench.cli.common import board_config, fail_cleanly
from ftbench.errors import display_path


@click.command()
@click.option("--write", is_flag=True, help="Record the figures and example ids in tasks/overlaps.json.")
@click.option(
    "--write-tasks", is_flag=True, help="Update each task file's overlaps: list (its definition hash is unchanged)."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the datasets are (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@click.pass_context
@fail_cleanly
def contamination(ctx: click.Context, write: bool, write_tasks: bool, data_dir: Path | None) -> None:
    """Find which held-out examples also occur in a training split named on the board.

    Every task's held-out split is checked against every task's train split and every split a
    submission declares in its training data: exact matches after normalising the text
    (NFKC, lower case, no punctuation or spaces) and shared 13-word n-grams.

    \b
    Example:
      ftbench contamination
      ftbench contamination --write --write-tasks   # after adding a task or a training split
    """
    from ftbench.overlaps import check_contamination, overlap_lines
    from ftbench.submissions import load_submissions

    config = board_config(ctx, data_dir=data_dir)
    run = check_contamination(config, load_submissions(config), write=write, write_tasks=write_tasks)
    for line in overlap_lines(run.board):
        click.echo(line)
    click.echo(f"{len(run.board.found)} pair(s) checked in {run.board.seconds:.1f} s")
    for path in run.written:
        click.echo(f"wrote {display_path(path)}")


COMMANDS = (contamination,)
