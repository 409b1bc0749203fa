"""Each record's section of its model page, kept in the build's cache folder under a digest of
what it shows, so that a model page made again renders only the sections that changed.

A model page shows one section per record (scores, confusions, calibration, efficiency,
provenance). When a record of one task is scored anew, the ranks of many entries on that task
move, and each of their model pages is made again, hundreds on the 10,000-record benchmark
board; on each page only that task's section (and the results table) shows the move, while
its other sections, most of the page and of its cost, come out the same. So each section is
rendered on its own (``templates/model_result.html.j2``) and kept under its key
(``model_page.section_key``: the build's shared stamp and page frame, its record's file stamp,
status and note, what it shows of its task's standing, and what it takes from the page); a
page takes a kept section whose key matches and renders the others.

A submission's sections are kept in one file, ``<id>.json`` (task -> ``[key, html]``), written
after its page is rendered, when any of them changed. One that cannot be read is ignored (its
sections are rendered again). ``build --force`` renders every section again. The files hold
HTML the build wrote itself and are trusted as the other caches are.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ftbench.site.model_page import ROOT, ResultView, SectionMaker

SECTIONS = "sections"
"""Where in the build's cache folder the sections are kept."""
TEMPLATE = "model_result.html.j2"


class KeptSections:
    """The sections of the model pages one process renders (``folder``: where they are kept,
    None to keep none; ``force``: render every section anew). :meth:`flush` writes what
    changed once the pages are rendered."""

    def __init__(self, env: jinja2.Environment, common: dict[str, Any], folder: Path | None, force: bool = False):
        self._template = env.get_template(TEMPLATE)
        self._frame = {"root": ROOT, "methodology": common["methodology"]}
        self._folder = folder
        self._force = force
        self._made: dict[str, dict[str, list[str]]] = {}
        """Submission id -> the sections made for its page (task -> [key, html])."""
        self._kept: dict[str, dict[str, list[str]]] = {}
        """Submission id -> the sections kept for it when its page was made."""

    def maker(self, sub_id: str) -> SectionMaker:
        """What makes ``sub_id``'s sections (``model_page.SectionMaker``); its kept sections
        are read when the first is made (most pages of a build are not made at all)."""

        def make(task: str, key: str, view: Callable[[], ResultView]) -> Markup:
            if sub_id not in self._kept:
                folder = None if self._force else self._folder
                self._kept[sub_id] = _read(folder / f"{sub_id}.json") if folder is not None else {}
            hit = self._kept[sub_id].get(task)
            html = (
                hit[1] if key and hit is not None and hit[0] == key else self._template.render(**self._frame, r=view())
            )
            self._made.setdefault(sub_id, {})[task] = [key, html]
            return Markup(html)

        return make

    def flush(self) -> None:
        """Keep the sections of the pages made since the last flush, where they changed."""
        made, kept = self._made, self._kept
        self._made, self._kept = {}, {}
        if self._folder is None:
            return
        with contextlib.suppress(OSError):  # a cache: the build is done without it
            from ftbench.files import write_atomic

            self._folder.mkdir(parents=True, exist_ok=True)
            for sub_id, sections in sorted(made.items()):
                if sections != kept.get(sub_id) and all(key for key, _ in sections.values()):
                    write_atomic(self._folder / f"{sub_id}.json", json.dumps(sections), fsync=False, make_parent=False)


def _read(path: Path) -> dict[str, list[str]]:
    """A submission's kept sections; {} where there are none or they cannot be read."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        task: kept
        for task, kept in doc.items()
        if isinstance(kept, list) and len(kept) == 2 and all(isinstance(v, str) for v in kept)
    }


def prune_sections(folder: Path, submissions: set[str]) -> None:
    """Delete the kept sections of submissions no longer on the board."""
    with contextlib.suppress(OSError):
        for path in folder.glob("*.json"):
            if path.stem not in submissions:
                path.unlink(missing_ok=True)
