"""The held-out data: ``data fetch``."""

from __future__ import annotations

from pathlib import Path

import click

from ftbench.cli.common import board_config, fail_cleanly, task_option
from ftbench.errors import FtbenchError, display_path


@click.group()
def data() -> None:
    """The held-out data each task is scored on."""


@data.command()
@click.option(
    "--from",
    "base_url",
    help="Mirror laid out like the data directory: <URL>/<dataset>/<file> (default: [tool.ftbench] data_url).",
)
@task_option
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the files go (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@click.pass_context
@fail_cleanly
def fetch(ctx: click.Context, base_url: str | None, only_tasks: tuple[str, ...], data_dir: Path | None) -> None:
    """Download each task's held-out file from a mirror and check it against the task's sha256.

    Files already present with the right sha256 are left alone; a file whose bytes differ is
    refused and nothing is written under its name.

    \b
    Example:
      ftbench data fetch --from https://example.org/ftbench-data/
      ftbench data fetch --task sst2
    """
    from ftbench.fetch import fetch_task_data
    from ftbench.tasks import load_tasks

    config = board_config(ctx, data_dir=data_dir)
    url = base_url or config.data_url
    if not url:
        raise FtbenchError("no mirror: pass --from URL or set [tool.ftbench] data_url")
    registry = load_tasks(config.tasks_dir)
    unknown = [t for t in only_tasks if t not in registry]
    if unknown:
        raise FtbenchError(f"--task {unknown[0]}: unknown task (known: {', '.join(registry.names())})")
    chosen = [t for t in registry.values() if not only_tasks or t.name in only_tasks]
    for item in fetch_task_data(chosen, config.data_dir, url):
        click.echo(f"{item.status:8} {item.task:20} {display_path(item.path)}")


COMMANDS = (data,)
