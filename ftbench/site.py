"""``ftbench build``: render the board into a static site, writing only files that changed.

Fast path first: a stamp over every input's path, size and modification time (plus the
settings that shape the output) is kept in the site folder; when it matches and every file
the last build wrote is still there, nothing is read or rendered. Only then are the heavy
modules (pydantic models, Jinja2, markdown) imported.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import ftbench
from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError

if TYPE_CHECKING:  # imported for real only when a build runs (see the module docstring)
    import jinja2

    from ftbench.leaderboard import RankedRow
    from ftbench.registry import Registry
    from ftbench.site_context import Board, Page, Shard, Summary
    from ftbench.tasks import Task

MANIFEST = ".ftbench-build.json"
"""Stamp of the inputs and the list of files the last build wrote (not part of the output)."""


@dataclass
class BuildReport:
    """What a build did."""

    skipped: bool = False
    """True when the inputs had not changed since the last build."""
    written: int = 0
    """Files whose bytes changed (or that were new)."""
    unchanged: int = 0
    """Files left as they were: same bytes."""
    removed: int = 0
    """Files of the previous build that are no longer part of the site."""
    pages: int = 0
    """HTML pages in the site."""
    records: int = 0
    """Raw result records published."""
    notes: list[str] = field(default_factory=list)
    """Inputs skipped or incomplete, for the console."""

    def add(self, other: BuildReport) -> None:
        """Count another part of the same build (a worker's shard) in."""
        self.written += other.written
        self.unchanged += other.unchanged
        self.pages += other.pages
        self.records += other.records

    def summary(self) -> str:
        """One line for the console."""
        if self.skipped:
            return "site is up to date (no input changed; --force rebuilds)"
        return (
            f"{self.pages} pages, {self.records} records: {self.written} file(s) written, "
            f"{self.unchanged} unchanged, {self.removed} removed"
        )


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
    stamp = input_stamp(config)
    previous = _read_manifest(config.site_dir)
    if not force and previous.get("stamp") == stamp and _all_present(config.site_dir, previous):
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
    from ftbench.parallel import Shards, split_evenly
    from ftbench.site_context import merge, task_tables
    from ftbench.site_pages import common_context, standings
    from ftbench.site_read import list_board, make_board

    layout = list_board(config)
    tasks = tuple(layout.tasks.values())
    weights = [1 + len(paths) for _, paths in layout.folders]
    shards = split_evenly(layout.folders, weights, _worker_count(workers, sum(weights)))
    with Shards(partial(_read_part, layout.tasks), shards) as pool:
        board = make_board(config, layout, merge(pool.summaries(), tasks))
        tables = task_tables(board)
        common = common_context(board.title, board.build_date, board.pages, tasks)
        pool.send(_render_model_pages, (config.templates_dir, tasks, standings(tables), common))
        outputs = render_site(board, tables, config.templates_dir)
        files = list(outputs) + [path for part in pool.results() for path in part]
        # Every page rendered without error: only now is anything written, so a failed build
        # leaves the previous site as it was. Folders are made here, once: two workers making
        # folders side by side in one parent folder wait on each other's lock in the kernel.
        folders = make_folders(config.site_dir, files)
        pool.send(_write_model_pages, (config.site_dir, folders))
        report = write_site(config.site_dir, outputs, folders=folders)
        for part in pool.results():
            report.add(part)
    report.removed = remove_unlisted(config.site_dir, previous, set(files))
    report.notes = list(board.notes)
    _write_manifest(config.site_dir, stamp, sorted(files))
    return report


MIN_RECORDS_PER_WORKER = 500
"""Below this many records per worker, starting workers costs more than it saves."""


def _worker_count(requested: int | None, work: int) -> int:
    from ftbench.parallel import usable_cpus

    return max(1, min(requested or usable_cpus(), work // MIN_RECORDS_PER_WORKER))


@dataclass
class _Kept:
    """What a build worker keeps between its steps."""

    shard: Shard
    """Its submissions and their records."""
    sources: dict[str, Path]
    """Site path -> record file, for the copies."""
    pages: dict[str, bytes] = field(default_factory=dict)
    """Its rendered model pages, until they are written."""


def _read_part(tasks: Registry[Task], folders: Sequence[tuple[Path, Sequence[Path]]]) -> tuple[_Kept, Summary]:
    """A worker's first step: read its shard and keep it (with the record sources); report its summary."""
    from ftbench.site_context import summarise
    from ftbench.site_read import read_shard

    shard, sources = read_shard(tasks, folders)
    return _Kept(shard, sources), summarise(shard, tuple(tasks.values()))


def _render_model_pages(state: _Kept, job: tuple) -> list[str]:
    """A worker's second step: render its shard's model pages into memory; report the site
    files it will write (pages and record copies)."""
    from ftbench.site_pages import model_pages

    templates_dir, tasks, ranks, common = job
    env = _environment(templates_dir)
    state.pages = {page.path: _render(env, page) for page in model_pages(state.shard, tasks, ranks, common)}
    return [*state.pages, *state.sources]


def _write_model_pages(state: _Kept, job: tuple[Path, set[Path]]) -> BuildReport:
    """A worker's last step: write the pages it rendered, copy its records (``job``: the site
    folder and the folders already made in it)."""
    site_dir, folders = job
    report = write_site(site_dir, state.pages, state.sources, folders)
    report.records = len(state.sources)
    return report


def input_stamp(config: BoardConfig) -> str:
    """sha256 over (path, size, mtime) of every input file and the output-shaping settings."""
    digest = hashlib.sha256()
    settings = [ftbench.__version__, config.base_url, config.title, os.environ.get("SOURCE_DATE_EPOCH", "")]
    digest.update(json.dumps(settings).encode())
    roots = [
        config.tasks_dir,
        config.submissions_dir,
        config.results_dir,
        config.templates_dir,
        config.pages_dir,
        config.data_dir,
        Path(ftbench.__file__).parent,
    ]
    for path, size, mtime in _walk_files([config.root / "pyproject.toml"], roots, config.site_dir):
        digest.update(f"{path}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()


def _walk_files(files: list[Path], roots: list[Path], skip: Path) -> Iterator[tuple[str, int, int]]:
    for path in files:
        if path.is_file():
            st = path.stat()
            yield str(path), st.st_size, st.st_mtime_ns
    stack = [str(r) for r in roots if r.is_dir()]
    while stack:
        top = stack.pop()
        if Path(top) == skip or os.path.basename(top) == "__pycache__":
            continue
        with os.scandir(top) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    yield entry.path, st.st_size, st.st_mtime_ns


def render_site(board: Board, tables: Mapping[str, Sequence[RankedRow]], templates_dir: Path) -> dict[str, bytes]:
    """The board-wide files of the site (home, task and static pages, downloads, assets) as bytes."""
    from ftbench.downloads import leaderboard_csv, leaderboard_json
    from ftbench.site_pages import build_pages

    env = _environment(templates_dir)
    out = {page.path: _render(env, page) for page in build_pages(board, tables)}
    for task in board.tasks:
        rows = tables[task.name]
        out[f"downloads/{task.name}/leaderboard.json"] = leaderboard_json(task, rows, board.build_date)
        out[f"downloads/{task.name}/leaderboard.csv"] = leaderboard_csv(task, rows)
    static = templates_dir / "static"
    for path in sorted(static.rglob("*")) if static.is_dir() else []:
        if path.is_file():
            out[f"static/{path.relative_to(static).as_posix()}"] = path.read_bytes()
    out[".nojekyll"] = b""  # GitHub Pages: serve the files as they are
    return out


def _environment(templates_dir: Path) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change during a build: no stat per page rendered
    )


def _render(env: jinja2.Environment, page: Page) -> bytes:
    return env.get_template(page.template).render(page.make_context()).encode()


def write_site(
    site_dir: Path,
    outputs: Mapping[str, bytes],
    record_sources: Mapping[str, Path] | None = None,
    folders: set[Path] | None = None,
) -> BuildReport:
    """Write changed outputs, link or copy changed records; counts what was written.
    ``folders``: folders known to exist already (made by :func:`make_folders`)."""
    report = BuildReport(pages=sum(1 for p in outputs if p.endswith(".html")))
    folders = set(folders or ())  # each made once, not checked again for every file in it
    for rel, data in sorted(outputs.items()):
        changed = write_if_changed(site_dir / rel, data, folders)
        report.written += changed
        report.unchanged += not changed
    for rel, source in sorted((record_sources or {}).items()):
        changed = link_if_changed(source, site_dir / rel, folders)
        report.written += changed
        report.unchanged += not changed
    return report


def make_folders(site_dir: Path, files: Iterable[str]) -> set[Path]:
    """Make every folder the site's ``files`` go into; returns them."""
    folders = {(site_dir / rel).parent for rel in files}
    for folder in sorted(folders):
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def remove_unlisted(site_dir: Path, previous: Iterable[str], current: set[str]) -> int:
    """Delete the files a previous build wrote that are no longer part of the site."""
    removed = 0
    for rel in sorted(set(previous) - current):
        target = site_dir / rel
        # only files this builder wrote, and only inside the site folder
        if not Path(rel).is_absolute() and ".." not in Path(rel).parts and target.is_file():
            target.unlink()
            removed += 1
            _remove_empty_parents(target.parent, site_dir)
    return removed


def write_if_changed(path: Path, data: bytes, folders: set[Path] | None = None) -> bool:
    """Replace ``path`` atomically with ``data`` unless it already holds exactly those bytes
    (``folders``: folders known to exist, as in :func:`link_if_changed`)."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        if folders is None or path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            if folders is not None:
                folders.add(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:  # an interrupted write leaves no temporary file to be published
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def link_if_changed(source: Path, target: Path, folders: set[Path] | None = None) -> bool:
    """Put a copy of a record at ``target``: a hard link where the file system allows (records
    are replaced, never edited in place, so the link is a snapshot), else a copy. ``folders``
    remembers the parent folders already made."""
    try:
        dst = os.stat(target)
    except FileNotFoundError:
        if folders is None or target.parent not in folders:
            os.makedirs(target.parent, exist_ok=True)
            if folders is not None:
                folders.add(target.parent)
        try:  # nothing there yet: a new link appears whole, so no temporary name is needed
            os.link(source, target)
            return True
        except OSError:
            pass  # no hard links here (or a file appeared meanwhile): copy and replace below
    else:
        src = os.stat(source)
        if os.path.samestat(src, dst) or (dst.st_size, dst.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
            return False
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return True


def _remove_empty_parents(folder: Path, site_dir: Path) -> None:
    while folder != site_dir and folder.is_relative_to(site_dir) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _read_manifest(site_dir: Path) -> dict:
    try:
        data = json.loads((site_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _all_present(site_dir: Path, manifest: dict) -> bool:
    return all(os.path.exists(site_dir / rel) for rel in manifest.get("files", []))


def _write_manifest(site_dir: Path, stamp: str, files: list[str]) -> None:
    text = json.dumps({"stamp": stamp, "files": files}, indent=0, sort_keys=True) + "\n"
    write_if_changed(site_dir / MANIFEST, text.encode())
