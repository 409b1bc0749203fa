"""Pages to bytes: the Jinja2 environment (autoescaping, strict undefined variables) and the
board-wide files of the site (home, task and static pages, downloads, the tasks' shared
example data, assets); the comparison pages are rendered in ``build``'s workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from ftbench.board.snapshot import Board
from ftbench.files import file_stamp
from ftbench.leaderboard import RankedRow
from ftbench.site.comparison import compared
from ftbench.site.context import Page, entry_dates, page_key, salt_of, updated
from ftbench.site.downloads import all_tasks_csv, leaderboard_csv, leaderboard_json
from ftbench.site.examples import has_examples, task_data, task_data_url
from ftbench.site.pages import board_common, build_pages, task_inputs
from ftbench.site.tables import breakable_label
from ftbench.tasks import Examples, Task


@dataclass
class Rendered:
    """Pages rendered, and the pages whose key had not changed (not rendered again)."""

    outputs: dict[str, bytes] = field(default_factory=dict)
    """Site path -> bytes of what was rendered (and other files made)."""
    kept: list[str] = field(default_factory=list)
    """Pages left as the last build wrote them: same key, file still there."""
    keys: dict[str, str] = field(default_factory=dict)
    """Site path -> key of every keyed page, rendered or kept (for the build manifest)."""
    elsewhere: list[str] = field(default_factory=list)
    """Pages rendered whose bytes a worker keeps until it writes them (:meth:`without_bytes`)."""
    parts: dict[str, list[Any]] = field(default_factory=dict)
    """Site path -> where the parts a rebuild may keep lie in a rendered page (``kept_sections``)."""

    @property
    def files(self) -> list[str]:
        """Every file it stands for: rendered or kept."""
        return [*self.outputs, *self.elsewhere, *self.kept]

    def merge(self, other: Rendered) -> None:
        """Take in another part of the same build's pages."""
        self.outputs.update(other.outputs)
        self.kept += other.kept
        self.keys.update(other.keys)
        self.elsewhere += other.elsewhere
        self.parts.update(other.parts)

    def without_bytes(self) -> Rendered:
        """The same account with the bytes left out (what a worker reports to the parent)."""
        return replace(self, outputs={}, elsewhere=[*self.elsewhere, *self.outputs])


class PartsOf(Protocol):
    """What finds the kept parts in a rendered page (``kept_sections.KeptSections``)."""

    def locate(self, path: str, data: bytes) -> list[Any] | None:
        """Where the parts of the page at ``path`` lie in ``data``; None for a page of none."""
        ...


def render_pages(
    env: jinja2.Environment,
    pages: Sequence[Page],
    previous: Mapping[str, Any],
    site_dir: Path | None,
    parts: PartsOf | None = None,
) -> Rendered:
    """Render ``pages``, except those for which ``previous`` (the last build's manifest:
    path -> [key, file stamp, ...]) holds the page's key and the stamp of the file now in
    ``site_dir``: that file is the one the last build wrote for the same inputs, so neither
    its context is built nor it is rendered. (A file changed since, by hand or by a checkout,
    has another stamp and is rendered again.) ``parts`` finds each rendered page's parts."""
    done = Rendered()
    for page in pages:
        if page.key:
            done.keys[page.path] = page.key
            last = previous.get(page.path)
            if (
                site_dir is not None
                and isinstance(last, list)
                and last[:2] == [page.key, file_stamp(site_dir / page.path)]
                and last[1]
            ):
                done.kept.append(page.path)
                continue
        data = done.outputs[page.path] = render(env, page)
        found = parts.locate(page.path, data) if parts is not None else None
        if found is not None:
            done.parts[page.path] = found
    return done


def render_site(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    templates_dir: Path,
    held_out: Mapping[str, Examples] | None = None,
    shared: str = "",
    previous: Mapping[str, Any] | None = None,
    site_dir: Path | None = None,
    with_tasks: bool = True,
    compiled: Path | None = None,
) -> Rendered:
    """The board-wide files of the site (home, task and static pages, downloads, the tasks'
    example data, assets) as bytes (``held_out``: the tasks' held-out examples); pages whose
    key is unchanged since the last build (``shared``, ``previous``, ``site_dir``: see
    :func:`render_pages`) are kept as they are. The comparison pages are
    ``comparison.comparison_pages``, rendered apart (``build``); so are the task pages and the
    all-tasks download where ``with_tasks`` is False (``pages.task_pages``,
    ``downloads.all_tasks_rows``)."""
    held_out = held_out or {}
    env = environment(templates_dir, compiled)
    pages = build_pages(board, tables, shared, with_tasks)
    done = render_pages(env, pages, previous or {}, site_dir)
    out = done.outputs
    out.update(task_data_files(board, tables, held_out))
    downloads = render_pages(env, download_files(board, tables, shared), previous or {}, site_dir)
    out.update(downloads.outputs)
    done.kept += downloads.kept
    done.keys.update(downloads.keys)
    if with_tasks:
        out["downloads/all-tasks.csv"] = all_tasks_csv(board.tasks, tables, board.reference_hardware)
    static = templates_dir / "static"
    for path in sorted(static.rglob("*")) if static.is_dir() else []:
        if path.is_file():
            out[f"static/{path.relative_to(static).as_posix()}"] = path.read_bytes()
    out[".nojekyll"] = b""  # GitHub Pages: serve the files as they are
    return done


def task_data_files(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    held_out: Mapping[str, Examples],
    only: Sequence[Task] | None = None,
) -> dict[str, bytes]:
    """Each task's shared data file (``examples/<task>.js``; of the tasks in ``only``, if
    given), read by its example browsers and comparison pages: made where there is one."""
    out = {}
    for task in board.tasks if only is None else only:
        examples = held_out.get(task.name)
        entries = board.summary.entries.get(task.name, ())
        if examples is not None and (
            any(has_examples(e.outcome, examples) for e in entries) or compared(tables[task.name])
        ):
            out[task_data_url(task.name)] = task_data(task, examples)
    return out


def download_files(
    board: Board, tables: Mapping[str, Sequence[RankedRow]], shared: str = "", only: Sequence[Task] | None = None
) -> list[Page]:
    """Each task's ranking (those of ``only``, if given) as JSON and CSV
    (``downloads/<task>/``), keyed as its task page is (``pages.build_pages``): made again
    only when the task's entries changed."""
    common = board_common(board)
    salt = salt_of(shared, common)
    ref = board.reference_hardware
    files = []
    for task in board.tasks if only is None else only:
        rows = tables[task.name]
        key = page_key(salt, "downloads", task.name, task_inputs(board, task))
        date = updated(common, entry_dates(r.entry for r in rows))
        made = (
            (f"downloads/{task.name}/leaderboard.json", partial(leaderboard_json, task, rows, date, ref)),
            (f"downloads/{task.name}/leaderboard.csv", partial(leaderboard_csv, task, rows, ref)),
        )
        files += [Page(path, "", dict, key, make) for path, make in made]
    return files


def environment(templates_dir: Path, compiled: Path | None = None) -> jinja2.Environment:
    """The templates' environment: autoescaping on, and a missing variable is an error.
    ``compiled``: a folder where the templates are kept compiled between builds (Jinja's
    bytecode cache, checked against each template's source: a changed template is compiled
    again), which saves a rebuild most of its start; like the build's other caches, whoever
    can write it can as well edit ftbench."""
    cache = jinja2.FileSystemBytecodeCache(str(compiled)) if compiled is not None and _usable(compiled) else None
    env = jinja2.Environment(
        bytecode_cache=cache,
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change during a build: no stat per page rendered
    )
    env.filters["label"] = _label  # a label name that may break after its underscores
    return env


def _label(name: object) -> Markup:
    return Markup(breakable_label(str(name)))


def _usable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir()


def render(env: jinja2.Environment, page: Page) -> bytes:
    """One page: its template rendered with its context, as UTF-8."""
    if page.make is not None:
        return page.make()
    return env.get_template(page.template).render(page.make_context()).encode()
