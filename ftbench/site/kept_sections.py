"""The parts of a model page that a rebuild can keep: each record's section and the model
card, taken from the page the last build wrote, so that a model page made again renders only
the parts that changed.

A model page shows its model card and one section per record (scores, confusions,
calibration, efficiency, provenance). When a record of one task is scored anew, the ranks of
many entries on that task move, and each of their model pages is made again, hundreds on the
10,000-record benchmark board; on each page only that task's section (and the results table)
shows the move, while the card and the other sections, most of the page and of its cost,
come out the same. So each section is rendered on its own (``templates/model_result.html.j2``)
under its key (``model_page.section_key``: the build's shared stamp and page frame, its
record's file stamp, status and note, what it shows of its task's standing, and what it takes
from the page), the card under a digest of its text.

Where each part lies in the page is kept with the page's entry in the build manifest:
``[key, stamp, parts]``, each part ``[name, key, start, end, digest]`` (byte offsets in the
page, a digest of those bytes). A page made again takes a part whose key matches from the
page in the site folder, when that file still has the stamp the manifest records (it is the
one the last build wrote) and the bytes where the part lies have its digest, and renders the
others. So the kept parts cost no file of their own: a full build only finds
each part in the page it rendered. A page changed since (by hand, by a checkout) has another
stamp and is rendered whole; ``build --force`` reads no manifest and renders every part.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ftbench.files import file_stamp
from ftbench.site.model_page import ROOT, ResultView

TEMPLATE = "model_result.html.j2"
CARD = "#card"
"""The card's part name (a task's name has no "#")."""

Part = list[Any]
"""``[name, key, start, end, digest]``: a part of a page, where it lies in the page's bytes
and their digest (:func:`digest`)."""


def digest(data: bytes) -> str:
    """What a kept part's bytes are checked against (128 bits of their SHA-256)."""
    return hashlib.sha256(data).hexdigest()[:32]


class KeptSections:
    """The parts of the model pages one process renders (``previous``: the last build's
    manifest entries, path -> ``[key, stamp, parts]``; ``site_dir``: where its pages are,
    None to keep nothing). ``render.render_pages`` calls :meth:`locate` with each page it
    renders, for the manifest."""

    def __init__(
        self, env: jinja2.Environment, common: dict[str, Any], previous: Mapping[str, Any], site_dir: Path | None
    ):
        self._template = env.get_template(TEMPLATE)
        self._frame = {"root": ROOT, "methodology": common["methodology"]}
        self._previous = previous
        self._site = site_dir
        self._pages: dict[str, KeptParts] = {}

    def maker(self, path: str) -> KeptParts:
        """What makes the parts of the page at site path ``path`` (``model_page.PageParts``)."""
        entry = self._previous.get(path) if self._site is not None else None
        old = self._site / path if self._site is not None else None
        parts = KeptParts(self, entry if isinstance(entry, list) and len(entry) == 3 else None, old)
        self._pages[path] = parts
        return parts

    def locate(self, path: str, data: bytes) -> list[Part] | None:
        """Where the parts of the page at ``path`` lie in its rendered bytes ``data``; None for
        a page of no parts."""
        parts = self._pages.pop(path, None)
        if parts is None:
            return None
        found = []
        at = 0
        made = parts.release()
        for name, key, html in made:
            part = html.encode()
            # the sections lie in the order they were made: each is looked for after the last
            # (not from the top of a page of 250 KB, which took a second of a full build)
            start = data.find(part, at)
            if start < 0:
                start = data.find(part)
            if start >= 0:  # always: the page shows each part as it was made
                at = start + len(part)
                found.append([name, key, start, at, digest(part)])
        return found


class KeptParts:
    """A model page's parts (``model_page.PageParts``): each kept from the page the last
    build wrote where its key is the one kept, else rendered."""

    def __init__(self, sections: KeptSections, entry: list[Any] | None, old: Path | None):
        self._sections = sections
        self._entry = entry
        """The page's entry in the last build's manifest, when it names parts."""
        self._old = old
        self._kept: dict[str, tuple[str, int, int, str]] | None = None
        self._bytes: bytes | None = None
        """The last build's page, once read."""
        self.made: list[tuple[str, str, str]] = []
        """``(name, key, html)`` of every part, kept or rendered, in the order made."""

    def release(self) -> list[tuple[str, str, str]]:
        """The parts made, let go of with the last page's bytes (the page's context holds
        its maker until the build ends: on a rebuild that makes 1,500 pages, 350 MB)."""
        made, self.made, self._bytes, self._kept = self.made, [], b"", {}
        return made

    def section(self, task: str, key: str, view: Callable[[], ResultView]) -> Markup:
        """The section of ``task``'s record, kept under ``key`` or rendered from ``view()``."""
        s = self._sections
        return self._part(task, key, lambda: s._template.render(**s._frame, r=view()))

    def card(self, key: str, render: Callable[[], Markup]) -> Markup:
        """The rendered model card, kept under ``key`` or ``render()``."""
        return self._part(CARD, key, lambda: str(render()))

    def _part(self, name: str, key: str, render: Callable[[], str]) -> Markup:
        html = self._taken(name, key)
        if html is None:
            html = render()
        self.made.append((name, key, html))
        return Markup(html)

    def _taken(self, name: str, key: str) -> str | None:
        """The part ``name`` under ``key`` from the last build's page; None when it is not there.
        The page is read only once a part's key matches (after a change of the shared inputs
        none does, and a build that makes every page again reads none)."""
        if self._kept is None:
            self._kept = _parts(self._entry) if self._entry is not None and self._old is not None else {}
        kept = self._kept.get(name)
        if kept is None or kept[0] != key or not key:
            return None
        if self._bytes is None:
            self._bytes = self._read()
        _, start, end, sha = kept
        data = self._bytes[start:end]
        if end > len(self._bytes) or digest(data) != sha:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def _read(self) -> bytes:
        """The last build's page; empty when its file is not the one the manifest names (its
        stamp, before and after the read)."""
        entry, old = self._entry, self._old
        assert entry is not None and old is not None
        with contextlib.suppress(OSError):
            if file_stamp(old) == entry[1] and entry[1]:
                data = old.read_bytes()
                if file_stamp(old) == entry[1]:
                    return data
        return b""


def _parts(entry: list[Any]) -> dict[str, tuple[str, int, int, str]]:
    """The kept parts of a manifest entry, by name (none when the entry is not as a build
    writes it)."""
    parts = {}
    if not isinstance(entry[2], list):
        return {}
    for part in entry[2]:
        if not (isinstance(part, list) and len(part) == 5):
            return {}
        name, key, start, end, sha = part
        if not (isinstance(name, str) and isinstance(key, str) and isinstance(sha, str)):
            return {}
        if not (type(start) is int and type(end) is int and 0 <= start <= end):
            return {}
        parts[name] = (key, start, end, sha)
    return parts
