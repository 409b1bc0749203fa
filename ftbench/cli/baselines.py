"""Reference baselines with per-example predictions: ``baselines``."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from ftbench.cli.common import board_config, fail_cleanly, print_issues, task_option
from ftbench.errors import FtbenchError, display_path


@click.command()
@task_option
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the datasets are (default: [tool.ftbench] data_dir or FTBENCH_DATA_DIR).",
)
@click.option(
    "--check", "check_only", is_flag=True, help="Write nothing; exit 2 if a baseline file is missing or stale."
)
@click.pass_context
@fail_cleanly
def baselines(ctx: click.Context, only_tasks: tuple[str, ...], data_dir: Path | None, check_only: bool) -> None:
    """Compute each classification task's reference baselines and write baselines/<task>.json.

    Majority label, stratified random, uniform random and TF-IDF + logistic regression (trained
    on the task's train split, where it has one), each with every held-out prediction, the
    task's metrics and their 95% bootstrap intervals. Perplexity tasks are skipped.

    \b
    Example:
      ftbench baselines
      ftbench baselines --task sst2
      ftbench baselines --check     # is every baseline file there and current?
    """
    from ftbench.baseline_files import baseline_issues, write_baselines
    from ftbench.baselines import board_baselines
    from ftbench.tasks import load_tasks, read_held_out

    config = board_config(ctx, data_dir=data_dir)
    registry = load_tasks(config.tasks_dir)
    unknown = [t for t in only_tasks if t not in registry]
    if unknown:
        raise FtbenchError(f"--task {unknown[0]}: unknown task (known: {', '.join(registry.names())})")
    chosen = [t for t in registry.values() if not only_tasks or t.name in only_tasks]
    if check_only:
        # here every problem fails the check (a stale file is only a warning to `ftbench check`)
        # with the held-out labels, so that numbers which do not follow from the predictions fail too
        held_out, _ = read_held_out(chosen, config.data_dir)
        labels = {name: examples.labels for name, examples in held_out.items()}
        problems = baseline_issues(chosen, config.baselines_dir, config.data_dir, labels)
        issues = [replace(i, severity="error") for i in problems]
        print_issues(issues, f"baselines check: {len(issues)} problem(s)")
        return
    started = time.perf_counter()
    found = board_baselines(chosen, config.data_dir, config.tasks_dir)
    for path, made in zip(write_baselines(config.baselines_dir, found.made), found.made, strict=True):
        primary = registry[made.task].primary_metric
        scores = ", ".join(f"{b.name} {b.metrics[primary]:.4f}" for b in made.baselines)
        click.echo(f"{made.task:20} {primary}: {scores} -> {display_path(path)}")
    for note in found.skipped:
        click.echo(f"skipped {note}")
    click.echo(f"{len(found.made)} task(s) in {time.perf_counter() - started:.1f} s")


COMMANDS = (baselines,)
