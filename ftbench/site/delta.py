"""``ftbench build`` after a few submissions changed: the last build's state
(``ftbench.site.state``) stands in for the rest of the board.

A full build reads every record, ranks every task and makes every page's key. After one
record changed, nearly all of that comes out as it was. So a rebuild finds the submission
folders whose files changed (``stamp.Inputs.folders`` against the state's), and then, with the
full build's own functions:

1. reads those folders alone (``board.read.read_shard``: validated, their records read,
   audited, their statuses worked out);
2. puts their entries in place of the old ones on the tasks they are or were ranked on, and
   ranks those tasks (``ranking_cache``: ranked again only where their quality changed;
   their fronts are marked anew);
3. considers the pages that can show what changed: those tasks' pages, downloads and
   comparison pages, the changed submissions' model pages and example browsers, the model
   pages of the submissions whose standing on those tasks changed (``model_page.shown_standing``),
   and the home page (keyed on what it shows of each task, ``pages.home_key``); of these,
   the pages whose key changed are rendered (``render.render_pages``), as in a full build;
4. writes what changed, removes what left the site, and keeps the new state.

Everything else (other tasks' entries and rankings, what model pages show of other tasks'
standings, what the home page shows of other tasks) comes from the state, loaded only where a
page needs it. The result is the site a full build makes of the same inputs: the tests build
both after many kinds of change and compare them byte for byte.

A rebuild falls back to the full build (returns None) when there is no state made under the
same shared inputs, when a file beside the submission folders changed, when more than a few
folders changed, or when the frame every page shows (the reference hardware, the navigation)
would change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ftbench.config import BoardConfig
from ftbench.errors import FtbenchError
from ftbench.site.stamp import Inputs
from ftbench.site.write import BuildReport

if TYPE_CHECKING:
    from ftbench.board.read import Layout
    from ftbench.board.snapshot import Board, FolderSummary, Shard
    from ftbench.leaderboard import Entry, RankedRow
    from ftbench.site.build import Last
    from ftbench.site.state import BoardState
    from ftbench.tasks import Task

DELTA_FOLDERS = 20
"""A rebuild reads only the changed folders when there are at most this many of them ..."""
DELTA_SHARE = 0.05
"""... or at most this share of the board's folders (the full build shares its reading out
over every CPU; one process reading many folders is no faster)."""

SPLIT_PAGES = 64
"""A rebuild that considers more pages than this makes every other one in a second process."""

V = TypeVar("V")


class Lazy(Mapping[str, V]):
    """A mapping of known keys whose values are made on first look-up (a task's entries, its
    ranking, its held-out examples): a rebuild loads only what the pages it makes need."""

    def __init__(self, keys: Sequence[str], load: Callable[[str], V], known: Mapping[str, V] | None = None):
        self._keys = tuple(keys)
        self._load = load
        self._values: dict[str, V] = dict(known or {})

    def __getitem__(self, key: str) -> V:
        if key not in self._values:
            if key not in self._keys:
                raise KeyError(key)
            self._values[key] = self._load(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _sound(keys: Mapping[str, Any]) -> bool:
    """Whether every page's entry in the last build's manifest is ``[key, stamp]``, or
    ``[key, stamp, parts]`` (``kept_sections``); one that is not was written by something
    else: the whole board is built again."""
    return all(isinstance(v, list) and len(v) in (2, 3) for v in keys.values())


def changed_folders(before: Mapping[str, str], now: Mapping[str, str]) -> set[str] | None:
    """The names of the submission folders whose files, or whose records' files, changed
    (``stamp.Inputs.folders``); None when a file beside the folders did."""
    changed = {key for key in set(before) | set(now) if before.get(key) != now.get(key)}
    if any("/" not in key for key in changed):
        return None
    return {key.split("/", 1)[1] for key in changed}


def delta_build(
    config: BoardConfig, inputs: Inputs, previous: Mapping[str, Any], last: Last, workers: int | None = None
) -> BuildReport | None:
    """Rebuild ``config.site_dir`` from the last build's state and the folders that changed
    since (see the module docstring); None when the full build must run instead.
    ``workers=1``: everything in this process (else a second one draws a changed task's
    charts, and makes half the pages when there are many)."""
    from ftbench.site.state import read_board_state, state_folder

    if last.memo is None or not isinstance(previous.get("files"), list) or not _sound(last.keys):
        return None
    folder = state_folder(last.memo.parent)
    state = read_board_state(folder, inputs.shared)
    if state is None or state.made != previous.get("stamp"):  # kept by a build of another site folder
        return None
    changed = changed_folders(state.inputs, inputs.folders)
    if changed is None or len(changed) > max(DELTA_FOLDERS, DELTA_SHARE * len(state.folders)):
        return None
    work = _Work.start(config, inputs, state, changed, last)
    if work is None:
        return None
    return work.finish(previous, parallel=workers != 1)


@dataclass
class _Work:
    """A rebuild in progress: what was read, and what the board is now."""

    config: BoardConfig
    inputs: Inputs
    state: BoardState
    last: Last
    layout: Layout
    board: Board
    shard: Shard
    sources: dict[str, Path]
    changed: set[str]
    """Names of the folders that changed."""
    affected: list[Task]
    """The tasks their entries are or were on."""
    tables: Lazy[list[RankedRow]]
    digests: dict[str, list[str]]
    """The affected tasks' entries' result digests (``ranking_cache.outcome_digest``)."""
    salt: str
    common: dict[str, Any]
    pairs: set[tuple[str, str]]
    """``(submission, task)`` of the entries that changed (their example browsers are made)."""

    @classmethod
    def start(
        cls, config: BoardConfig, inputs: Inputs, state: BoardState, changed: set[str], last: Last
    ) -> _Work | None:
        """Read the changed folders and put together the board; None when the pages' frame
        changed (then every page must be made again)."""
        from ftbench.board.read import read_shard
        from ftbench.board.snapshot import summarise
        from ftbench.site.context import salt_of
        from ftbench.site.pages import board_common

        layout, present = _layout(config, state, changed, last)
        shard, sources = read_shard(layout, present)
        tasks = tuple(layout.tasks.values())
        fresh = summarise(shard, tasks)
        folders = _folders(state, changed, fresh.folders)
        # a task whose entries of the changed folders are made of other inputs than before
        now = {f.name: f.entries for f in fresh.folders}
        was = {name: state.folders[name].entries if name in state.folders else {} for name in changed}
        moved = {
            t
            for name in changed
            for t in set(was[name]) | set(now.get(name, {}))
            if was[name].get(t) != now.get(name, {}).get(t)
        }
        affected = [t for t in tasks if t.name in moved]
        replaced = {state.folders[n].submission for n in changed if n in state.folders} | {
            f.submission for f in fresh.folders
        }
        entries, digests = _entries(inputs, state, layout, folders, fresh.entries, replaced - {""}, affected, last)
        board = _board(config, layout, state, folders, entries, fresh, affected)
        common = board_common(board)
        salt = salt_of(inputs.shared, common)
        if salt != state.salt:
            return None
        tables = _tables(board, inputs.shared, last, affected)
        pairs = _changed_pairs(state, changed, fresh.folders)
        return cls(
            config,
            inputs,
            state,
            last,
            layout,
            board,
            shard,
            sources,
            changed,
            affected,
            tables,
            digests,
            salt,
            common,
            pairs,
        )

    def finish(self, previous: Mapping[str, Any], parallel: bool = True) -> BuildReport:
        """Make the pages that may have changed, write what did, keep the new state."""
        from ftbench.site.pages import task_page_kept, task_pages
        from ftbench.site.parallel import Beside
        from ftbench.site.render import environment, render_pages

        # the changed tasks' charts take longest: drawn in a second process, started first, while
        # this one works out and makes the rest; with many pages (a change of quality moves many
        # standings) every other one is made in a third
        slow = [t for t in self.affected if not task_page_kept(self.board, t, self.salt, self.last.keys)]
        with contextlib.ExitStack() as stack:
            draw = partial(_draw, self.board, self.tables, slow, self._kept_charts())
            drawn = stack.enter_context(Beside(draw, parallel and bool(slow)))
            moved = self._moved()
            extra = _read_unchanged(self.layout, self.config, moved - {f.name for f in self.shard.folders})
            env = environment(self.config.templates_dir, self.last.compiled)
            sections = self._kept_sections(env)
            others = self._pages(extra, sections)
            theirs = others[1::2] if parallel and len(others) > SPLIT_PAGES else []
            charts = {t.name: partial(_drawn, drawn, t.name) for t in slow}
            pages = task_pages(self.board, self.tables, self.inputs.shared, only=self.affected, charts=charts)
            if theirs:
                made = stack.enter_context(
                    Beside(partial(render_pages, env, theirs, self.last.keys, self.last.site_dir, sections))
                )
                others = others[0::2]
            done = render_pages(env, [*others, *pages, self._home()], self.last.keys, self.last.site_dir, sections)
            if theirs:
                done.merge(made.result())
        outputs = {**done.outputs, **self._other_outputs()}
        return self._write(previous, done, outputs)

    # ------------------------------------------------------------------ what to make

    def _kept_sections(self, env: Any) -> Any:
        """What keeps the model pages' parts that did not change (``kept_sections``)."""
        from ftbench.site.kept_sections import KeptSections

        return KeptSections(env, self.common, self.last.keys, self.last.site_dir)

    def _kept_charts(self) -> Callable[[str], Any]:
        """Where each task's charts are kept (``kept_charts``)."""
        from ftbench.site.kept_charts import CHARTS, KeptCharts

        assert self.last.memo is not None
        folder = self.last.memo.parent / CHARTS
        return lambda task: KeptCharts(folder, self.inputs.shared, task)

    def _moved(self) -> set[str]:
        """Folders whose model page shows a standing that changed on an affected task."""
        from ftbench.site.model_page import shown_standing, standings

        by_id = {f.submission: name for name, f in self._folders().items() if f.submission}
        moved = set()
        for task in self.affected:
            new = standings({task.name: self.tables[task.name]})[task.name]
            old = _standing(self.state.tasks[task.name].standing) if task.name in self.state.tasks else None
            subs = set(new.ranks) | set(old.ranks if old is not None else ())
            moved |= {sub for sub in subs if shown_standing(old, task.name, sub) != shown_standing(new, task.name, sub)}
        return {by_id[sub] for sub in moved if sub in by_id}

    def _folders(self) -> dict[str, FolderSummary]:
        return {f.name: f for f in self.board.summary.folders}

    def _standings(self) -> Lazy[Any]:
        """Every task's standing: the affected tasks' made now, the others' from the state."""
        from ftbench.site.model_page import standings

        def load(name: str) -> Any:
            if name in {t.name for t in self.affected} or name not in self.state.tasks:
                return standings({name: self.tables[name]})[name]
            return _standing(self.state.tasks[name].standing)

        return Lazy([t.name for t in self.board.tasks], load)

    def _pages(self, extra: Shard, sections: Any) -> list[Any]:
        from ftbench.board.snapshot import Shard
        from ftbench.site.comparison import comparison_pages
        from ftbench.site.examples import example_pages
        from ftbench.site.model_page import model_pages
        from ftbench.site.render import download_files

        board, salt, common = self.board, self.salt, self.common
        held_out = self.layout.gold
        both = Shard(self.shard.submissions + extra.submissions, self.shard.records + extra.records)
        tasks = board.tasks
        # a model page only counts the held-out examples: a readable task has Task.num_examples
        sizes = {t.name: range(t.num_examples) for t in tasks if t.name in self.state.readable}
        pages = model_pages(both, tasks, self._standings(), common, sections.maker, sizes, salt)
        records = tuple(r for r in self.shard.records if (r.record.submission.id, r.record.task.name) in self.pairs)
        pages += example_pages(Shard(self.shard.submissions, records), tasks, held_out, common, salt)
        pages += comparison_pages(self.affected, self.tables, held_out, common, salt)
        pages += download_files(board, self.tables, self.inputs.shared, only=self.affected)
        return pages

    def _home(self) -> Any:
        """The home page (keyed on what it shows of every task: ``pages.home_key``)."""
        from ftbench.site.context import Page
        from ftbench.site.pages import home_context, home_key

        home = partial(home_context, self.board, self.tables, None, self.common)
        return Page("index.html", "home.html.j2", home, home_key(self.board, self.salt, self._home_digests()))

    def _home_digests(self) -> dict[str, str]:
        from ftbench.site.pages import home_digests

        digests = {name: task.home for name, task in self.state.tasks.items()}
        return {**digests, **home_digests(self.board, self.tables, self.inputs.shared, only=self.affected)}

    def _other_outputs(self) -> dict[str, bytes]:
        """The affected tasks' data files and the all-tasks download."""
        from ftbench.site.downloads import all_tasks_header
        from ftbench.site.render import task_data_files

        outputs = task_data_files(self.board, self.tables, self.layout.gold, only=self.affected)
        lines = b"".join(self._task_lines(t) for t in self.board.tasks)
        outputs["downloads/all-tasks.csv"] = all_tasks_header() + lines
        return outputs

    def _task_lines(self, task: Task) -> bytes:
        """A task's lines of the all-tasks download: kept, under the key the state names for an
        unaffected task, else made (and kept) as the full build does."""
        from ftbench.site.all_tasks import ALL_TASKS, all_tasks_lines, kept_lines

        folder = self.last.memo.parent / ALL_TASKS if self.last.memo is not None else None
        kept = self.state.tasks.get(task.name)
        if folder is not None and kept is not None and task not in self.affected:
            lines = kept_lines(folder / f"{task.name}.csv", kept.lines)
            if lines is not None:
                return lines
        return all_tasks_lines(self.board, task, self.tables[task.name], self.salt, folder, False)

    # ------------------------------------------------------------------ writing

    def _write(self, previous: Mapping[str, Any], done: Any, outputs: dict[str, bytes]) -> BuildReport:
        from ftbench.site.stamp import stamped_keys, write_manifest
        from ftbench.site.write import done_writing, make_folders, remove_unlisted, start_writing, write_site

        site = self.config.site_dir
        before = [str(f) for f in previous["files"]]
        ours = self._scope()
        made = set(done.kept) | set(outputs) | set(self.sources)
        every = {f for f in before if not ours(f)} | made
        files = sorted(every)
        start_writing(site)
        folders = make_folders(site, [f for f in made if f not in done.kept])
        report = write_site(site, outputs, self.sources, folders)
        report.removed = remove_unlisted(site, before, every)
        keys = {k: v for k, v in self.last.keys.items() if k in every and not ours(k)}
        keys.update(stamped_keys(site, done.keys, self.last.keys, set(done.kept), done.parts))
        write_manifest(site, self.inputs.stamp, files, keys)
        done_writing(site)
        report.pages = sum(1 for f in files if f.endswith(".html"))
        report.kept = report.pages - sum(1 for f in outputs if f.endswith(".html"))
        report.unchanged = len(files) - report.written
        report.records = sum(1 for f in files if f.startswith("records/"))
        report.notes = list(self.board.notes)
        self._keep()
        return report

    def _scope(self) -> Callable[[str], bool]:
        """Whether a site file is one this rebuild makes anew (or removes): the affected
        tasks' files, the changed folders' submissions' files, the home page, the all-tasks
        download."""
        ids = {f.submission for name in self.changed for f in self._both(name) if f.submission}
        mine = [f"records/{quote(sub)}/" for sub in ids]
        tasks = [p for t in self.affected for p in (f"compare/{quote(t.name)}/", f"downloads/{quote(t.name)}/")]
        prefixes = (*mine, *tasks)
        exact = {f"models/{quote(sub)}.html" for sub in ids} | {"index.html", "downloads/all-tasks.csv"}
        exact |= {f"models/{quote(sub)}/{quote(task)}.html" for sub, task in self.pairs}
        exact |= {p for t in self.affected for p in (f"tasks/{quote(t.name)}.html", f"examples/{quote(t.name)}.js")}
        return lambda path: path in exact or path.startswith(prefixes)

    def _both(self, name: str) -> list[FolderSummary]:
        """A changed folder as the state knew it and as it is now."""
        now = self._folders()
        return [f for f in (self.state.folders.get(name), now.get(name)) if f is not None]

    def _keep(self) -> None:
        """Keep the new state: the board's, the affected tasks' entries, the proofs."""
        from ftbench.board.proofs import write_memo
        from ftbench.board.ranking_cache import FOLDER as RANKINGS
        from ftbench.board.ranking_cache import RankingCache
        from ftbench.board.ranking_cache import prune as prune_rankings
        from ftbench.board.record_cache import FOLDER as RECORDS
        from ftbench.board.record_cache import prune
        from ftbench.site.all_tasks import ALL_TASKS, prune_lines
        from ftbench.site.kept_charts import CHARTS, prune_charts
        from ftbench.site.state import forget, state_folder, write_board_state, write_entries

        assert self.last.memo is not None
        cache = self.last.memo.parent
        folder = state_folder(cache)
        entries = self.board.summary.entries
        keys = {}
        for task in self.affected:
            keys[task.name] = write_entries(
                folder, task.name, self.inputs.shared, entries[task.name], self.digests[task.name]
            )
        if not all(keys.values()):  # the state would name files it does not have
            forget(folder)
            return
        tasks = dict(self.state.tasks)
        tasks.update(task_states(self.board, self.tables, self.inputs.shared, self.salt, self.affected, keys))
        folders = self._folders()
        state = replace(
            self.state,
            made=self.inputs.stamp,
            inputs=self.inputs.folders,
            folders=folders,
            tasks=tasks,
            notes=self.layout.notes,
            orphans=self.layout.orphans,
        )
        write_board_state(folder, state)
        with contextlib.suppress(OSError):
            write_memo(self.last.memo, self.inputs.shared, self.board.summary.proofs)
        # as the full build does: the caches of what is no longer on the board go (when
        # something went: a walk over every submission's kept parts is most of 0.1 s)
        names = {t.name for t in self.board.tasks}
        subs = {f.submission for f in folders.values() if f.submission}
        if names != set(self.state.tasks) or subs != {
            f.submission for f in self.state.folders.values() if f.submission
        }:
            prune(cache / RECORDS, subs)
            prune_rankings(RankingCache(cache / RANKINGS), names)
            prune_lines(cache / ALL_TASKS, names)
            prune_charts(cache / CHARTS, names)


# ------------------------------------------------------------------ reading


def _layout(
    config: BoardConfig, state: BoardState, changed: set[str], last: Last
) -> tuple[Layout, list[tuple[Path, tuple[Path, ...]]]]:
    """What reading the changed folders needs (``board.read.Layout``: the tasks, the pages,
    the held-out data and baselines of the tasks looked at, the proofs kept), and the changed
    folders that hold a submission, with their record files."""
    from ftbench.baseline_files import current_baselines
    from ftbench.board.read import Layout, RecordCache, read_pages
    from ftbench.board.record_cache import FOLDER as RECORDS
    from ftbench.overlaps import OVERLAPS_FILE, read_overlaps
    from ftbench.record import folder_record_paths
    from ftbench.submissions import SPEC_FILE
    from ftbench.tasks import load_examples, load_tasks

    tasks = load_tasks(config.tasks_dir)
    assert last.memo is not None
    present = []
    for name in sorted(changed):
        folder = config.submissions_dir / name
        if (folder / SPEC_FILE).is_file():
            records = tuple(folder_record_paths(config.results_dir / name))
            present.append((folder, records))
    gold = Lazy(state.readable, lambda name: load_examples(tasks[name], config.data_dir))
    labels = Lazy(state.readable, lambda name: gold[name].labels)

    def baselines(name: str) -> Any:
        found, _ = current_baselines([tasks[name]], config.baselines_dir, config.data_dir, {name: labels[name]})
        return found[name]

    try:
        overlaps = read_overlaps(config.tasks_dir / OVERLAPS_FILE)
    except FtbenchError:  # the full build noted it (the state's notes say so)
        overlaps = {}
    proofs = {d: p for f in state.folders.values() for d, p in f.proofs.items()}
    notes, orphans = _notes(config, state, changed)
    layout = Layout(
        tasks=tasks,
        folders=tuple(present),
        pages=read_pages(config.pages_dir, []),
        batch_size=config.batch_size,
        data_dir=config.data_dir,
        local_models=dict(config.local_models),
        record_key=config.record_key,
        gold=gold,
        notes=notes,
        orphans=orphans,
        baselines=Lazy(state.baselines, baselines),
        overlaps=overlaps,
        proofs=proofs,
        record_cache=RecordCache(last.memo.parent / RECORDS, state.shared),
    )
    return layout, present


def _notes(config: BoardConfig, state: BoardState, changed: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The layout's notes and the records folders without a submission: those worked out
    again for the changed folders, their notes first (``board.read.list_board``), then the
    other notes as the state kept them."""
    from ftbench.board.read import orphan_note
    from ftbench.record import folder_record_paths
    from ftbench.submissions import SPEC_FILE

    orphans = set(state.orphans) - changed
    for name in changed:
        if not (config.submissions_dir / name / SPEC_FILE).is_file() and folder_record_paths(config.results_dir / name):
            orphans.add(name)
    kept = state.notes[len(state.orphans) :]
    ordered = tuple(sorted(orphans))
    return tuple(orphan_note(config, name) for name in ordered) + kept, ordered


def _draw(
    board: Board, tables: Mapping[str, Sequence[RankedRow]], tasks: Sequence[Task], kept: Callable[[str], Any]
) -> dict[str, list[Any]]:
    """The charts of each of ``tasks``' pages (``pages.task_charts``; ``kept``: a task's kept
    charts, ``kept_charts.KeptCharts``)."""
    from ftbench.site.pages import task_charts

    return {t.name: task_charts(board, t, tables[t.name], kept(t.name)) for t in tasks}


def _drawn(drawing: Any, task: str) -> list[Any]:
    """One task's charts, of those :func:`_draw` drew beside (``drawing``: a ``Beside``)."""
    return drawing.result()[task]


def _changed_pairs(state: BoardState, changed: set[str], fresh: Sequence[FolderSummary]) -> set[tuple[str, str]]:
    """``(submission, task)`` of the changed folders' entries that are made of other inputs
    than before, or are new or gone (all of a folder's, where its submission's id changed)."""
    now = {f.name: f for f in fresh}
    pairs = set()
    for name in changed:
        old, new = state.folders.get(name), now.get(name)
        was, made = (old.entries if old else {}), (new.entries if new else {})
        old_id, new_id = (old.submission if old else ""), (new.submission if new else "")
        if old_id != new_id:
            pairs |= {(old_id, t) for t in was} | {(new_id, t) for t in made}
        else:
            pairs |= {(new_id, t) for t in set(was) | set(made) if was.get(t) != made.get(t)}
    return {(sub, task) for sub, task in pairs if sub}


def _folders(state: BoardState, changed: set[str], fresh: Sequence[FolderSummary]) -> dict[str, FolderSummary]:
    """Every folder of the board now, in order: the changed ones as just read, the others as kept."""
    folders = {name: f for name, f in state.folders.items() if name not in changed}
    folders.update({f.name: f for f in fresh})
    return dict(sorted(folders.items()))


def _entries(
    inputs: Inputs,
    state: BoardState,
    layout: Layout,
    folders: Mapping[str, FolderSummary],
    fresh: Mapping[str, Sequence[Entry]],
    replaced: set[str],
    affected: Sequence[Task],
    last: Last,
) -> tuple[Lazy[tuple[Entry, ...]], dict[str, list[str]]]:
    """Every task's entries: the affected tasks' with the entries of the submissions in
    ``replaced`` swapped for the ``fresh`` ones (in the board's order), the others' loaded from
    the state when looked at; and the affected tasks' entries' result digests."""
    from ftbench.board.ranking_cache import outcome_digest, remember_digest
    from ftbench.site.state import read_entries, state_folder

    assert last.memo is not None
    folder = state_folder(last.memo.parent)
    position = {f.submission: i for i, f in enumerate(folders.values()) if f.submission}

    def kept(name: str) -> list[Entry]:
        if name not in state.tasks:
            return []
        found = read_entries(folder, name, inputs.shared, state.tasks[name].entries)
        if found is None:
            raise StaleState(f"{name}: its kept entries cannot be read")
        for entry, digest in zip(*found, strict=True):
            remember_digest(entry.outcome, digest)
        return found[0]

    known: dict[str, tuple[Entry, ...]] = {}
    digests: dict[str, list[str]] = {}
    for task in affected:
        ours = [e for e in kept(task.name) if e.submission not in replaced]
        entries = sorted([*ours, *fresh.get(task.name, ())], key=lambda e: position.get(e.submission, len(position)))
        known[task.name] = tuple(entries)
        digests[task.name] = [outcome_digest(e.outcome) for e in entries]
    return Lazy(list(layout.tasks), lambda name: tuple(kept(name)), known), digests


class StaleState(Exception):
    """A part of the state that a rebuild needs cannot be read: the full build runs instead."""


def _board(
    config: BoardConfig,
    layout: Layout,
    state: BoardState,
    folders: Mapping[str, FolderSummary],
    entries: Lazy[tuple[Entry, ...]],
    fresh: Any,
    affected: Sequence[Task],
) -> Board:
    """The board-wide view, as ``board.read.make_board`` would make it of the whole board."""
    from ftbench.board.read import make_board
    from ftbench.board.snapshot import Summary
    from ftbench.leaderboard import reference_from_counts
    from ftbench.site.state import hardware_counts

    counts: dict[str, int] = {}
    for name in layout.tasks:
        task_counts = (
            hardware_counts(entries[name])
            if name in {t.name for t in affected}
            else (state.tasks[name].hardware if name in state.tasks else {})
        )
        for profile, n in task_counts.items():
            counts[profile] = counts.get(profile, 0) + n
    ordered = list(folders.values())
    summary = Summary(
        entries=entries,
        submissions=sum(1 for f in ordered if f.submission),
        current=sum(f.current for f in ordered),
        not_current=sum(f.not_current for f in ordered),
        newest=max((f.newest for f in ordered), default=""),
        notes=tuple(n for f in ordered for n in f.notes),
        proofs={d: p for f in ordered for d, p in f.proofs.items()},
        folders=tuple(ordered),
    )
    gold = Lazy(state.readable, lambda name: layout.gold[name].labels)
    return make_board(config, layout, summary, reference_from_counts(counts, config.reference_hardware), gold)


def _tables(board: Board, shared: str, last: Last, affected: Sequence[Task]) -> Lazy[list[RankedRow]]:
    """Every task's ranking: the affected tasks' made now (``ranking_cache``: ranked again
    where their quality changed), the others' when looked at (from the ranking cache)."""
    from ftbench.board.ranking_cache import FOLDER, RankingCache, cached_task_tables

    assert last.memo is not None
    cache = RankingCache(last.memo.parent / FOLDER)

    def load(name: str) -> list[RankedRow]:
        task = next(t for t in board.tasks if t.name == name)
        return cached_task_tables(board, shared, cache, only=[task])[name]

    known = cached_task_tables(board, shared, cache, only=affected)
    return Lazy([t.name for t in board.tasks], load, known)


def _read_unchanged(layout: Layout, config: BoardConfig, names: set[str]) -> Shard:
    """The unchanged folders whose model pages must be made again (their standing changed),
    read as the full build reads them (from the record cache)."""
    from ftbench.board.read import read_shard
    from ftbench.board.snapshot import Shard
    from ftbench.record import folder_record_paths

    if not names:
        return Shard((), ())
    folders = [(config.submissions_dir / n, tuple(folder_record_paths(config.results_dir / n))) for n in sorted(names)]
    shard, _ = read_shard(layout, folders)
    return shard


def _standing(doc: Mapping[str, Any]) -> Any:
    """A task's standing from its JSON in the state (:func:`task_states`)."""
    from ftbench.site.model_page import TaskStanding

    return TaskStanding(
        {str(k): int(v) for k, v in doc["ranks"].items()},
        tuple(str(s) for s in doc["order"]),
        tuple(str(n) for n in doc["names"]),
        bool(doc["compared"]),
        {str(k): int(v) for k, v in doc["sharing"].items()},
    )


def keep_full_state(cache: Path, inputs: Inputs, layout: Layout, board: Board, tables: Any, salt: str) -> None:
    """Keep the state a full build leaves (``ftbench.site.state``): every task's entries and
    what the build took from every folder and every task's ranking."""
    from ftbench.board.ranking_cache import outcome_digest
    from ftbench.site.state import BoardState, forget, prune_entries, state_folder, write_board_state, write_entries

    folder = state_folder(cache)
    keys = {}
    for task in board.tasks:
        entries = board.summary.entries.get(task.name, ())
        keys[task.name] = write_entries(
            folder, task.name, inputs.shared, entries, [outcome_digest(e.outcome) for e in entries]
        )
    prune_entries(folder, {t.name for t in board.tasks})
    if not all(keys.values()):  # the state would name files it does not have
        forget(folder)
        return
    state = BoardState(
        shared=inputs.shared,
        made=inputs.stamp,
        salt=salt,
        inputs=inputs.folders,
        folders={f.name: f for f in board.summary.folders},
        tasks=task_states(board, tables, inputs.shared, salt, board.tasks, keys),
        notes=layout.notes,
        orphans=layout.orphans,
        readable=tuple(layout.gold),
        baselines=tuple(layout.baselines),
    )
    write_board_state(folder, state)


def task_states(
    board: Board,
    tables: Mapping[str, Sequence[RankedRow]],
    shared: str,
    salt: str,
    tasks: Sequence[Task],
    entries: Mapping[str, str],
) -> dict[str, Any]:
    """What the state keeps of each of ``tasks``' rankings (``state.TaskState``)."""
    from ftbench.site.all_tasks import lines_key
    from ftbench.site.model_page import standings
    from ftbench.site.pages import home_digests
    from ftbench.site.state import TaskState, hardware_counts

    homes = home_digests(board, tables, shared, only=tasks)
    out = {}
    for task in tasks:
        standing = standings({task.name: tables[task.name]})[task.name]
        doc = {
            "ranks": dict(standing.ranks),
            "order": list(standing.order),
            "names": list(standing.names),
            "compared": standing.compared,
            "sharing": dict(standing.sharing),
        }
        kept = board.summary.entries.get(task.name, ())
        out[task.name] = TaskState(
            doc, homes[task.name], hardware_counts(kept), lines_key(board, task, salt), entries[task.name]
        )
    return out
