"""Pages to bytes: the Jinja2 environment (autoescaping, strict undefined variables) and the
board-wide files of the site (home, task and static pages, downloads, the tasks' shared
example data, assets); the comparison pages are rendered in ``build``'s workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2

from ftbench.board.snapshot import Board
from ftbench.leaderboard import RankedRow
from ftbench.site.comparison import compared
from ftbench.site.context import Page
from ftbench.site.downloads import all_tasks_csv, leaderboard_csv, leaderboard_json
from ftbench.site.examples import has_examples, task_data, task_data_url
from ftbench.site.pages import build_pages
from ftbench.tasks import Examples


def render_site(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    templates_dir: Path,
    held_out: Mapping[str, Examples] | None = None,
) -> dict[str, bytes]:
    """The board-wide files of the site (home, task and static pages, downloads, the tasks'
    example data, assets) as bytes (``held_out``: the tasks' held-out examples). The
    comparison pages are ``comparison.comparison_pages``, rendered apart (``build``)."""
    held_out = held_out or {}
    env = environment(templates_dir)
    out = {page.path: render(env, page) for page in build_pages(board, tables)}
    for task in board.tasks:
        examples = held_out.get(task.name)
        entries = board.summary.entries.get(task.name, ())
        # read by the task's example browsers and comparison pages: written where there is one
        if examples is not None and (
            any(has_examples(e.outcome, examples) for e in entries) or compared(tables[task.name])
        ):
            out[task_data_url(task.name)] = task_data(task, examples)
    for task in board.tasks:
        rows = tables[task.name]
        ref = board.reference_hardware
        out[f"downloads/{task.name}/leaderboard.json"] = leaderboard_json(task, rows, board.build_date, ref)
        out[f"downloads/{task.name}/leaderboard.csv"] = leaderboard_csv(task, rows, ref)
    out["downloads/all-tasks.csv"] = all_tasks_csv(board.tasks, tables, board.reference_hardware)
    static = templates_dir / "static"
    for path in sorted(static.rglob("*")) if static.is_dir() else []:
        if path.is_file():
            out[f"static/{path.relative_to(static).as_posix()}"] = path.read_bytes()
    out[".nojekyll"] = b""  # GitHub Pages: serve the files as they are
    return out


def environment(templates_dir: Path) -> jinja2.Environment:
    """The templates' environment: autoescaping on, and a missing variable is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change during a build: no stat per page rendered
    )


def render(env: jinja2.Environment, page: Page) -> bytes:
    """One page: its template rendered with its context, as UTF-8."""
    return env.get_template(page.template).render(page.make_context()).encode()
