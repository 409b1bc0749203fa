"""``ftbench build``: render the board into a static site, writing only files that changed.

Fast path first: when the stamp of the inputs (``ftbench.site.stamp``) matches the last
build's and every file it wrote is still there, nothing is read or rendered. Only then are the
heavy modules (pydantic models, Jinja2, markdown) imported.

The build's steps, each in its own module: read the board (``ftbench.board.read``), rank it
(``ftbench.board.snapshot``), build each page's context (``pages``, ``comparison``,
``model_page``, ``examples``), render (``render``), and write (``write``); large boards are
shared out over forked workers (``parallel``), each of which keeps its shard of submissions
between the steps.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.files import remove_leftover_temporaries
from ftbench.site.stamp import all_present, input_stamp, read_manifest, write_manifest
from ftbench.site.write import BuildReport, make_folders, remove_unlisted, write_site

if TYPE_CHECKING:  # imported for real only when a build runs (see the module docstring)
    from ftbench.board.read import Layout
    from ftbench.board.snapshot import Shard, Summary
    from ftbench.site.context import Page
    from ftbench.tasks import Examples


def build_site(config: BoardConfig, force: bool = False, workers: int | None = None) -> BuildReport:
    """Build ``config.site_dir`` from the board; a no-op when nothing changed (unless ``force``).

    ``workers``: processes for large boards (default: one per CPU; 1 runs everything here).
    Each worker reads one shard of the submissions and keeps it; the parent merges the
    shards' summaries, ranks the board, and renders the board-wide pages while the workers
    render and write their shard's model pages from what they kept.
    """
    if not (config.templates_dir / "base.html.j2").is_file():
        raise FtbenchError(
            f"{config.templates_dir}: site templates not found (copy templates/ from the "
            "ftbench repository, or set [tool.ftbench] templates_dir)"
        )
    # A killed build leaves temporary files: never published, removed before anything else.
    remove_leftover_temporaries(config.site_dir)
    stamp = input_stamp(config)
    previous = read_manifest(config.site_dir)
    if not force and previous.get("stamp") == stamp and all_present(config.site_dir, previous):
        return BuildReport(skipped=True)
    with gc_paused():
        return _build(config, stamp, previous.get("files", []), workers)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building (forked workers inherit this).

    A large board is hundreds of thousands of parsed containers that every full collection
    walks again; on the 10,000-record benchmark collection took a quarter of the build's CPU
    time, while the build leaves almost no cyclic garbage (peak memory was the same, 395 MB,
    with collection off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(config: BoardConfig, stamp: str, previous: list[str], workers: int | None) -> BuildReport:
    from ftbench.board.read import list_board, make_board
    from ftbench.board.snapshot import merge, task_tables
    from ftbench.site.comparison import comparison_pages
    from ftbench.site.model_page import standings
    from ftbench.site.pages import common_context
    from ftbench.site.parallel import Shards, split_evenly
    from ftbench.site.render import render_site

    layout = list_board(config)
    tasks = tuple(layout.tasks.values())
    weights = [1 + len(paths) for _, paths in layout.folders]
    shards = split_evenly(layout.folders, weights, _worker_count(workers, sum(weights)))
    with Shards(partial(_read_part, layout), shards) as pool:
        board = make_board(config, layout, merge(pool.summaries(), tasks))
        tables = task_tables(board)
        common = common_context(
            board.title, board.build_date, board.pages, tasks, board.reference_hardware, board.repository_url
        )
        pool.send(_render_model_pages, (config.templates_dir, tasks, standings(tables), common))
        # Comparison pages (two per entry and task) are rendered by processes forked now: they
        # inherit the rankings and the outcomes they rest on, so nothing is pickled, while this
        # process renders the board-wide pages.
        compared = comparison_pages(tasks, tables, layout.gold, common)
        parts = split_evenly(compared, [1] * len(compared), _worker_count(workers, len(compared), MIN_PAGES_PER_WORKER))
        with Shards(partial(_render_pages, config.templates_dir), parts) as comparisons:
            outputs = render_site(board, tables, config.templates_dir, layout.gold)
            files = list(outputs) + [path for part in [*pool.results(), *comparisons.summaries()] for path in part]
            # Every page rendered without error: only now is anything written, so a failed build
            # leaves the previous site as it was. Folders are made here, once: two workers making
            # folders side by side in one parent folder wait on each other's lock in the kernel.
            folders = make_folders(config.site_dir, files)
            pool.send(_write_model_pages, (config.site_dir, folders))
            comparisons.send(_write_pages, (config.site_dir, folders))
            report = write_site(config.site_dir, outputs, folders=folders)
            for part in [*pool.results(), *comparisons.results()]:
                report.add(part)
    report.removed = remove_unlisted(config.site_dir, previous, set(files))
    report.notes = list(board.notes)
    write_manifest(config.site_dir, stamp, sorted(files))
    return report


MIN_RECORDS_PER_WORKER = 500
"""Below this many records per worker, starting workers costs more than it saves."""
MIN_PAGES_PER_WORKER = 500
"""The same for comparison pages (a page costs about what reading a record does)."""


def _worker_count(requested: int | None, work: int, least: int | None = None) -> int:
    from ftbench.site.parallel import usable_cpus

    return max(1, min(requested or usable_cpus(), work // (least or MIN_RECORDS_PER_WORKER)))


@dataclass
class _Kept:
    """What a build worker keeps between its steps."""

    shard: Shard
    """Its submissions and their records."""
    sources: dict[str, Path]
    """Site path -> record file, for the copies."""
    held_out: Mapping[str, Examples]
    """The tasks' held-out examples (the example browsers show them)."""
    pages: dict[str, bytes] = field(default_factory=dict)
    """Its rendered model pages, until they are written."""


def _read_part(layout: Layout, folders: Sequence[tuple[Path, Sequence[Path]]]) -> tuple[_Kept, Summary]:
    """A worker's first step: read its shard and keep it (with the record sources); report its summary."""
    from ftbench.board.read import read_shard
    from ftbench.board.snapshot import summarise

    shard, sources = read_shard(layout, folders)
    return _Kept(shard, sources, layout.gold), summarise(shard, tuple(layout.tasks.values()))


def _render_model_pages(state: _Kept, job: tuple) -> list[str]:
    """A worker's second step: render its shard's model pages and example browsers into
    memory; report the site files it will write (pages and record copies)."""
    from ftbench.site.examples import example_pages
    from ftbench.site.model_page import model_pages
    from ftbench.site.render import environment, render

    templates_dir, tasks, ranks, common = job
    env = environment(templates_dir)
    pages = model_pages(state.shard, tasks, ranks, common, state.held_out)
    pages += example_pages(state.shard, tasks, state.held_out, common)
    state.pages = {page.path: render(env, page) for page in pages}
    return [*state.pages, *state.sources]


def _render_pages(templates_dir: Path, pages: Sequence[Page]) -> tuple[dict[str, bytes], list[str]]:
    """A comparison worker's first step: render its pages into memory; report their paths."""
    from ftbench.site.render import environment, render

    env = environment(templates_dir)
    rendered = {page.path: render(env, page) for page in pages}
    return rendered, list(rendered)


def _write_pages(rendered: dict[str, bytes], job: tuple[Path, set[Path]]) -> BuildReport:
    """A comparison worker's last step: write what it rendered (``job`` as for model pages)."""
    site_dir, folders = job
    return write_site(site_dir, rendered, folders=folders)


def _write_model_pages(state: _Kept, job: tuple[Path, set[Path]]) -> BuildReport:
    """A worker's last step: write the pages it rendered, copy its records (``job``: the site
    folder and the folders already made in it)."""
    site_dir, folders = job
    report = write_site(site_dir, state.pages, state.sources, folders)
    report.records = len(state.sources)
    return report
