"""What turns records into the board: ``check``, ``build``, ``report``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ftbench.cli.common import board_config, fail_cleanly, print_issues
from ftbench.errors import display_path


@click.command()
@click.option("--allow-missing", is_flag=True, help="Report pairs without a record as warnings (pull requests).")
@click.pass_context
@fail_cleanly
def check(ctx: click.Context, allow_missing: bool) -> None:
    """Check the repository as a whole before building: records, submissions, tasks.

    Every record must match an existing submission and task, validate against its schema and
    be current; every requested pair needs a record; no duplicate ids; nothing orphaned.

    \b
    Example:
      ftbench check
    """
    from ftbench.check import check_board

    issues = check_board(board_config(ctx), allow_missing)
    errors = sum(i.severity == "error" for i in issues)
    print_issues(issues, f"board check: {errors} error(s), {len(issues) - errors} warning(s)")


@click.command()
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
@click.option(
    "--repository-url",
    help="The board's repository, linked from every page (default: [tool.ftbench] repository_url).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild from nothing: read and audit every record and render every page, even when "
    "no input changed since the last build.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes for a large board (default: one per CPU; 1 builds in this process). Same output either way.",
)
@click.pass_context
@fail_cleanly
def build(
    ctx: click.Context,
    site_dir: Path | None,
    base_url: str | None,
    repository_url: str | None,
    force: bool,
    workers: int | None,
) -> None:
    """Render the static site from the tasks, submissions, result records and pages.

    Only current records are ranked; stale ones are shown on their model page as pending
    re-evaluation. Files are written only when their bytes change, and the build is skipped
    when no input changed since the last one. SOURCE_DATE_EPOCH fixes the build date.

    \b
    Example:
      ftbench build
      ftbench build --site-dir /tmp/site --base-url /ftbench/
    """
    from ftbench.site import build_site

    config = board_config(ctx).with_overrides(site_dir=site_dir)
    if base_url is not None:
        config = replace(config, base_url=base_url.rstrip("/") + "/")
    if repository_url is not None:
        config = replace(config, repository_url=repository_url.rstrip("/"))
    report = build_site(config, force=force, workers=workers)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{report.summary()} -> {display_path(config.site_dir)}")


@click.command()
@click.option(
    "--base",
    default="origin/main",
    show_default=True,
    help="Git ref the pull request is compared with, to find changed submissions.",
)
@click.option("--submission", "ids", multiple=True, help="Report on these submission ids instead (repeatable).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_context
@fail_cleanly
def report(ctx: click.Context, base: str, ids: tuple[str, ...], output: Path | None) -> None:
    """Write markdown for a pull-request comment: new or changed submissions, their scores,
    the rank each would take, the current leaders, efficiency, and validation problems.

    \b
    Example:
      ftbench report --base origin/main --output report.md
    """
    from ftbench.files import write_atomic
    from ftbench.report import build_report

    text = build_report(board_config(ctx), base, ids)
    if output:
        write_atomic(output, text)
        click.echo(f"report written to {output}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS = (check, build, report)
