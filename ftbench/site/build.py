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
import dataclasses
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.site.stamp import (
    MANIFEST,
    Inputs,
    all_present,
    read_manifest,
    scan_inputs,
    stamped_keys,
    write_manifest,
)
from ftbench.site.write import (
    BuildReport,
    clean_after_kill,
    done_writing,
    make_folders,
    remove_unlisted,
    start_writing,
    write_site,
)

if TYPE_CHECKING:  # imported for real only when a build runs (see the module docstring)
    from ftbench.board.read import Layout
    from ftbench.board.snapshot import Board, Shard, Summary
    from ftbench.leaderboard import RankedRow
    from ftbench.site.context import Page
    from ftbench.site.render import Rendered
    from ftbench.tasks import Examples, Task


def build_site(config: BoardConfig, force: bool = False, workers: int | None = None, delta: bool = True) -> BuildReport:
    """Build ``config.site_dir`` from the board; a no-op when nothing changed (unless ``force``).

    After a few submissions changed (and ``delta``), only they are read and only the pages
    that can show them are made, from the state the last build kept (``ftbench.site.delta``);
    otherwise, and with ``force``, the whole board is read.

    ``workers``: processes for large boards (default: one per CPU; 1 runs everything here).
    Each worker reads one shard of the submissions and keeps it; the parent merges the
    shards' summaries, ranks the board (the tasks whose entries changed), and renders the
    board-wide pages while the workers render and write their shard's model pages from what
    they kept.
    """
    if not (config.templates_dir / "base.html.j2").is_file():
        raise FtbenchError(
            f"{config.templates_dir}: site templates not found (copy templates/ from the "
            "ftbench repository, or set [tool.ftbench] templates_dir)"
        )
    # A killed build leaves temporary files: never published, removed before anything else.
    clean_after_kill(config.site_dir, config.site_dir / MANIFEST)
    inputs = scan_inputs(config)
    previous = read_manifest(config.site_dir)
    present = all_present(config.site_dir, previous)
    if not force and previous.get("stamp") == inputs.stamp and present:
        return BuildReport(skipped=True)
    # ``force`` renders every page; otherwise pages whose key is unchanged are left as they are
    keys = {} if force or not isinstance(previous.get("keys"), dict) else previous["keys"]
    last = Last(keys, config.site_dir, _memo_path(config), force)
    with gc_paused():
        if delta and not force and present:  # a file of the site lost: the whole site is looked at
            from ftbench.site.delta import StaleState, delta_build

            with contextlib.suppress(StaleState):
                report = delta_build(config, inputs, previous, last, workers)
                if report is not None:
                    return report
        return _build(config, inputs, previous.get("files", []), last, workers)


def _memo_path(config: BoardConfig) -> Path | None:
    """Where the build remembers its records' proofs (``ftbench.board.proofs``): in the local
    cache folder; None without one."""
    from ftbench.board.proofs import MEMO

    return config.cache_dir / "build" / MEMO if config.cache_dir else None


@dataclass(frozen=True)
class Last:
    """What the last build left (its pages' keys, the folder they are in, the records' proofs)
    and whether to use it."""

    keys: Mapping[str, Any]
    """Page path -> ``[key, stamp of the file written]`` (``render.render_pages``)."""
    site_dir: Path
    memo: Path | None = None
    """Where the records' proofs are remembered (``ftbench.board.proofs``), beside what was
    read from each record (``ftbench.board.record_cache``) and each task's ranking
    (``ftbench.board.ranking_cache``); None: nowhere."""
    force: bool = False
    """Prove every record again, read and rank everything (the caches are written anew)."""

    @property
    def compiled(self) -> Path | None:
        """Where the templates are kept compiled (``render.environment``); None: nowhere."""
        return self.memo.parent / COMPILED if self.memo is not None else None


COMPILED = "templates"
"""The compiled templates' folder in the build's cache folder."""


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


def _build(config: BoardConfig, inputs: Inputs, previous: list[str], last: Last, workers: int | None) -> BuildReport:
    from ftbench.board.proofs import read_memo, write_memo
    from ftbench.board.ranking_cache import FOLDER as RANKINGS
    from ftbench.board.ranking_cache import RankingCache, cached_task_tables
    from ftbench.board.ranking_cache import prune as prune_rankings
    from ftbench.board.read import RecordCache, list_board, make_board
    from ftbench.board.record_cache import FOLDER as RECORDS
    from ftbench.board.record_cache import prune as prune_records
    from ftbench.board.snapshot import merge
    from ftbench.site.all_tasks import ALL_TASKS, prune_lines
    from ftbench.site.context import salt_of
    from ftbench.site.delta import keep_full_state
    from ftbench.site.downloads import all_tasks_header
    from ftbench.site.kept_charts import CHARTS, prune_charts
    from ftbench.site.model_page import standings
    from ftbench.site.pages import board_common, task_page_kept
    from ftbench.site.parallel import Shards, split_evenly
    from ftbench.site.render import render_site

    stamp, shared = inputs.stamp, inputs.shared
    layout = list_board(config)
    if last.memo is not None:
        layout = dataclasses.replace(
            layout,
            proofs={} if last.force else read_memo(last.memo, shared),
            record_cache=RecordCache(last.memo.parent / RECORDS, shared, reuse=not last.force),
        )
    tasks = tuple(layout.tasks.values())
    weights = [1 + len(paths) for _, paths in layout.folders]
    shards = split_evenly(layout.folders, weights, _worker_count(workers, sum(weights)))
    with Shards(partial(_read_part, layout, last), shards) as pool:
        board = make_board(config, layout, merge(pool.summaries(), tasks))
        rankings = RankingCache(last.memo.parent / RANKINGS, reuse=not last.force) if last.memo else None
        tables = cached_task_tables(board, shared, rankings)
        common = board_common(board)
        salt = salt_of(shared, common)
        pool.send(_render_model_pages, (config.templates_dir, tasks, standings(tables), common, salt))
        # Task pages and comparison pages (two per entry and task) are made and rendered by
        # processes forked now, a run of tasks each: they inherit the rankings and the outcomes
        # they rest on, so nothing is pickled, while this process renders the other board-wide
        # pages (the home page, above all) and the downloads.
        pages = [1 + len(tables[t.name]) for t in tasks]
        # a task whose page is rendered again costs several times one whose keys alone are made
        weight = [1 if task_page_kept(board, t, salt, last.keys) else RENDERED_TASK for t in tasks]
        work = [n * w for n, w in zip(pages, weight, strict=True)]
        runs = split_evenly(tasks, work, _worker_count(workers, 2 * sum(pages), MIN_PAGES_PER_WORKER))
        lines = last.memo.parent / ALL_TASKS if last.memo is not None else None
        make = partial(_task_pages, board, tables, layout.gold, common, (shared, salt), (lines, last.force))
        with Shards(partial(_render_pages, config.templates_dir, last, make), runs) as task_workers:
            done = render_site(
                board,
                tables,
                config.templates_dir,
                layout.gold,
                shared,
                last.keys,
                last.site_dir,
                with_tasks=False,
                compiled=last.compiled,
            )
            outputs = done.outputs
            models = pool.results()
            made = task_workers.summaries()
            outputs["downloads/all-tasks.csv"] = all_tasks_header() + b"".join(rows for _, rows in made)
            parts_done = [*(part for part, _ in models), *(part for part, _ in made)]
            files = done.files + [path for part in parts_done for path in part.files]
            files += [path for _, sources in models for path in sources]
            keys = {**done.keys, **{k: v for part in parts_done for k, v in part.keys.items()}}
            parts = {k: v for part in parts_done for k, v in part.parts.items()}
            kept = [*done.kept, *(path for part in parts_done for path in part.kept)]
            # Every page rendered without error: only now is anything written, so a failed build
            # leaves the previous site as it was. Folders are made here, once: two workers making
            # folders side by side in one parent folder wait on each other's lock in the kernel.
            start_writing(config.site_dir)
            folders = make_folders(config.site_dir, files)
            pool.send(_write_model_pages, (config.site_dir, folders))
            task_workers.send(_write_pages, (config.site_dir, folders))
            report = write_site(config.site_dir, outputs, folders=folders)
            for part in [*pool.results(), *task_workers.results()]:
                report.add(part)
    report.kept = sum(1 for path in kept if path.endswith(".html"))
    report.pages += report.kept
    report.unchanged += len(kept)
    report.removed = remove_unlisted(config.site_dir, previous, set(files))
    report.notes = list(board.notes)
    write_manifest(
        config.site_dir, stamp, sorted(files), stamped_keys(config.site_dir, keys, last.keys, set(kept), parts)
    )
    done_writing(config.site_dir)
    if last.memo is not None:
        with contextlib.suppress(OSError):  # a cache: the build is done without it
            write_memo(last.memo, shared, board.summary.proofs)
        prune_records(last.memo.parent / RECORDS, {folder.name for folder, _ in layout.folders})
        if rankings is not None:
            prune_rankings(rankings, {t.name for t in tasks})
        prune_lines(last.memo.parent / ALL_TASKS, {t.name for t in tasks})
        prune_charts(last.memo.parent / CHARTS, {t.name for t in tasks})
        keep_full_state(last.memo.parent, inputs, layout, board, tables, salt)
    return report


RENDERED_TASK = 10
"""How many times more a task worker spends on a task whose page it renders again (its charts,
its ranking table) than on one whose page and comparison pages keep their keys (it only makes
the keys): the tasks are shared out by it, so that one task changed gets a worker to itself."""


MIN_RECORDS_PER_WORKER = 500
"""Below this many records per worker, starting workers costs more than it saves."""
MIN_PAGES_PER_WORKER = 500
"""The same for task and comparison pages (a page costs about what reading a record does)."""


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
    last: Last
    """The last build's page keys: pages whose key is unchanged are not rendered again."""
    pages: dict[str, bytes] = field(default_factory=dict)
    """Its rendered model pages, until they are written."""


def _read_part(layout: Layout, last: Last, folders: Sequence[tuple[Path, Sequence[Path]]]) -> tuple[_Kept, Summary]:
    """A worker's first step: read its shard and keep it (with the record sources); report its summary."""
    from ftbench.board.read import read_shard
    from ftbench.board.snapshot import summarise

    shard, sources = read_shard(layout, folders)
    return _Kept(shard, sources, layout.gold, last), summarise(shard, tuple(layout.tasks.values()))


def _render_model_pages(state: _Kept, job: tuple) -> tuple[Rendered, list[str]]:
    """A worker's second step: render its shard's model pages and example browsers into
    memory (those whose key changed); report the site files it has (pages and record copies)
    and the pages' keys."""
    from ftbench.site.examples import example_pages
    from ftbench.site.kept_sections import KeptSections
    from ftbench.site.model_page import model_pages
    from ftbench.site.render import environment, render_pages

    templates_dir, tasks, ranks, common, salt = job
    env = environment(templates_dir, state.last.compiled)
    sections = KeptSections(env, common, state.last.keys, state.last.site_dir)
    pages = model_pages(state.shard, tasks, ranks, common, sections.maker, state.held_out, salt)
    pages += example_pages(state.shard, tasks, state.held_out, common, salt)
    done = render_pages(env, pages, state.last.keys, state.last.site_dir, sections)
    state.pages = done.outputs
    return done.without_bytes(), list(state.sources)


def _task_pages(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    held_out: Mapping[str, Examples],
    common: dict[str, Any],
    stamps: tuple[str, str],
    kept_lines: tuple[Path | None, bool],
    tasks: Sequence[Task],
) -> tuple[list[Page], bytes]:
    """What a task worker makes of its run of ``tasks``: each task's page and its comparison
    pages (``stamps``: the build's shared stamp and the pages' salt), and the tasks' lines of
    the all-tasks download (``kept_lines``: where they are kept, and whether to make them anew;
    the tasks' charts are kept beside them, ``kept_charts``)."""
    from ftbench.site.all_tasks import all_tasks_lines
    from ftbench.site.comparison import comparison_pages
    from ftbench.site.kept_charts import CHARTS
    from ftbench.site.pages import task_pages

    shared, salt = stamps
    folder, force = kept_lines
    charts = (folder.parent / CHARTS, force) if folder is not None else None
    pages = task_pages(board, tables, shared, only=tasks, kept=charts)
    pages += comparison_pages(tasks, tables, held_out, common, salt)
    rows = b"".join(all_tasks_lines(board, t, tables[t.name], salt, folder, force) for t in tasks)
    return pages, rows


def _render_pages(
    templates_dir: Path,
    last: Last,
    make: Callable[[Sequence[Task]], tuple[Sequence[Page], bytes]],
    tasks: Sequence[Task],
) -> tuple[dict[str, bytes], tuple[Rendered, bytes]]:
    """A task worker's first step: make the pages of its run of ``tasks`` and render those
    whose key changed into memory; report their paths and keys, and the tasks' lines of the
    all-tasks download."""
    from ftbench.site.render import environment, render_pages

    pages, rows = make(tasks)
    done = render_pages(environment(templates_dir, last.compiled), pages, last.keys, last.site_dir)
    return done.outputs, (done.without_bytes(), rows)


def _write_pages(rendered: dict[str, bytes], job: tuple[Path, set[Path]]) -> BuildReport:
    """A task worker's last step: write what it rendered (``job`` as for model pages)."""
    site_dir, folders = job
    return write_site(site_dir, rendered, folders=folders)


def _write_model_pages(state: _Kept, job: tuple[Path, set[Path]]) -> BuildReport:
    """A worker's last step: write the pages it rendered, copy its records (``job``: the site
    folder and the folders already made in it)."""
    site_dir, folders = job
    report = write_site(site_dir, state.pages, state.sources, folders)
    report.records = len(state.sources)
    return report
