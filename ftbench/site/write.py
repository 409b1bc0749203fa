"""Writing the site: only files whose bytes changed are replaced (atomically), records are
copied, and files a previous build wrote that are no longer part of the site are removed, as
are temporary files an interrupted build left (they are never published)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ftbench.files import remove_leftover_temporaries, temporary_beside, write_atomic


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
    kept: int = 0
    """Pages not rendered again: their inputs had not changed since the last build
    (``render.render_pages``); counted in ``pages`` and ``unchanged``."""
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
        kept = f" ({self.pages - self.kept} rendered, {self.kept} with unchanged inputs)" if self.kept else ""
        return (
            f"{self.pages} pages{kept}, {self.records} records: {self.written} file(s) written, "
            f"{self.unchanged} unchanged, {self.removed} removed"
        )


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
        changed = copy_if_changed(source, site_dir / rel, folders)
        report.written += changed
        report.unchanged += not changed
    return report


WRITING = ".ftbench-writing"
"""Kept in the site folder while a build writes into it: a build that finds it was killed
while writing, and removes the temporary files it left (:func:`clean_after_kill`)."""


def start_writing(site_dir: Path) -> None:
    """Mark the site folder as being written (:data:`WRITING`)."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / WRITING).write_bytes(b"")


def done_writing(site_dir: Path) -> None:
    """The site folder is whole again: every file written, the manifest too."""
    (site_dir / WRITING).unlink(missing_ok=True)


def clean_after_kill(site_dir: Path, manifest: Path) -> None:
    """Remove the temporary files a build killed while writing left (never published), where
    one was (:data:`WRITING` is there) or may have been (no ``manifest``): a site of tens of
    thousands of files is listed only then."""
    if (site_dir / WRITING).exists() or not manifest.exists():
        remove_leftover_temporaries(site_dir)
        done_writing(site_dir)


def make_folders(site_dir: Path, files: Iterable[str]) -> set[Path]:
    """Make every folder the site's ``files`` go into; returns them."""
    # the folder names first, as text: a site has tens of thousands of files in a few folders
    folders = {site_dir / name for name in {rel.rpartition("/")[0] for rel in files}}
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
    (``folders``: folders known to exist, as in :func:`copy_if_changed`)."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        if folders is None or path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            if folders is not None:
                folders.add(path.parent)
    write_atomic(path, data, fsync=False, make_parent=False)  # a rebuild restores any lost page
    return True


def copy_if_changed(source: Path, target: Path, folders: set[Path] | None = None) -> bool:
    """Put a copy of a record at ``target`` unless one with the same size and modification
    time is there. A real copy, readable by everyone (``0644``): never a hard link, which
    would make an edit of the published file an edit of the record. ``folders`` remembers the
    parent folders already made."""
    src = os.stat(source)
    try:
        dst = os.stat(target)
    except FileNotFoundError:
        if folders is None or target.parent not in folders:
            os.makedirs(target.parent, exist_ok=True)
            if folders is not None:
                folders.add(target.parent)
    else:
        if not os.path.samestat(src, dst) and (dst.st_size, dst.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
            return False
    fd, tmp = temporary_beside(target)
    try:
        with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
        os.chmod(tmp, 0o644)
        os.utime(tmp, ns=(src.st_atime_ns, src.st_mtime_ns))  # so the next build sees it unchanged
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _remove_empty_parents(folder: Path, site_dir: Path) -> None:
    while folder != site_dir and folder.is_relative_to(site_dir) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
