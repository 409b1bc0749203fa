"""The parts of a model page that a rebuild can keep: each record's section and the model
card, kept in the build's cache folder under a digest of what they show, so that a model page
made again renders only the parts that changed.

A model page shows its model card and one section per record (scores, confusions,
calibration, efficiency, provenance). When a record of one task is scored anew, the ranks of
many entries on that task move, and each of their model pages is made again, hundreds on the
10,000-record benchmark board; on each page only that task's section (and the results table)
shows the move, while the card and the other sections, most of the page and of its cost,
come out the same. So each section is rendered on its own (``templates/model_result.html.j2``)
and kept under its key (``model_page.section_key``: the build's shared stamp and page frame,
its record's file stamp, status and note, what it shows of its task's standing, and what it
takes from the page), the rendered card under a digest of its text; a page takes a kept part
whose key matches and renders the others.

Each part is one file, ``<id>/<task>.section.html`` or ``<id>/card.html``, that starts with
its key's line, written when the part was rendered anew. One under another key, or
unreadable, is rendered again. ``build --force`` renders every part again. The files hold
HTML the build wrote itself and are trusted as the other caches are.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ftbench.site.model_page import ROOT, ResultView

SECTIONS = "sections"
"""Where in the build's cache folder the parts are kept."""
TEMPLATE = "model_result.html.j2"
CARD = "card.html"
SUFFIX = ".section.html"


class KeptSections:
    """The kept parts of the model pages one process renders (``folder``: where they are
    kept, None to keep none; ``force``: render every part anew). :meth:`flush` writes the parts
    rendered anew once the pages are made."""

    def __init__(self, env: jinja2.Environment, common: dict[str, Any], folder: Path | None, force: bool = False):
        self._template = env.get_template(TEMPLATE)
        self._frame = {"root": ROOT, "methodology": common["methodology"]}
        self._folder = folder
        self._force = force
        self._made: list[tuple[Path, str, str]] = []
        """``(file, key, html)`` of the parts rendered since the last flush."""

    def maker(self, sub_id: str) -> KeptParts:
        """What makes ``sub_id``'s page's parts (``model_page.PageParts``)."""
        return KeptParts(self, sub_id)

    def _part(self, sub_id: str, name: str, key: str, render: Callable[[], str]) -> Markup:
        path = self._folder / sub_id / name if self._folder is not None and key else None
        if path is not None and not self._force:
            kept = _kept(path, key)
            if kept is not None:
                return Markup(kept)
        html = render()
        if path is not None:
            self._made.append((path, key, html))
        return Markup(html)

    def flush(self) -> None:
        """Keep the parts rendered anew since the last flush."""
        made, self._made = self._made, []
        with contextlib.suppress(OSError):  # a cache: the build is done without it
            from ftbench.files import write_atomic

            for path, key, html in made:
                write_atomic(path, f"{key}\n{html}".encode(), fsync=False)


class KeptParts:
    """A submission's page's kept parts (``model_page.PageParts``)."""

    def __init__(self, kept: KeptSections, sub_id: str):
        self._kept = kept
        self._sub = sub_id

    def section(self, task: str, key: str, view: Callable[[], ResultView]) -> Markup:
        """The section of ``task``'s record, kept under ``key`` or rendered from ``view()``."""
        kept = self._kept
        return kept._part(self._sub, task + SUFFIX, key, lambda: kept._template.render(**kept._frame, r=view()))

    def card(self, key: str, render: Callable[[], Markup]) -> Markup:
        """The rendered model card, kept under ``key`` or ``render()``."""
        return self._kept._part(self._sub, CARD, key, lambda: str(render()))


def _kept(path: Path, key: str) -> str | None:
    """The part kept at ``path`` under ``key`` (its first line); None when there is none (the
    rest of a file under another key is not read)."""
    with contextlib.suppress(OSError, UnicodeDecodeError), path.open("rb") as kept:
        if kept.readline(len(key) + 1) == key.encode() + b"\n":
            return kept.read().decode("utf-8")
    return None


def prune_sections(folder: Path, submissions: set[str], tasks: set[str]) -> None:
    """Delete the kept parts of submissions and tasks no longer on the board."""
    with contextlib.suppress(OSError):
        for sub in folder.iterdir():
            if sub.name not in submissions or not sub.is_dir():
                if sub.is_dir() and not sub.is_symlink():
                    shutil.rmtree(sub, ignore_errors=True)
                else:
                    sub.unlink(missing_ok=True)
                continue
            for path in sub.glob(f"*{SUFFIX}"):
                if path.name[: -len(SUFFIX)] not in tasks:
                    path.unlink(missing_ok=True)
