"""File primitives every stage shares: one atomic writer, one file hash, one JSONL reader."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, fsync: bool = True, make_parent: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new one, never half.

    The bytes go to a temporary file beside ``path`` that is renamed over it. ``fsync`` also
    flushes them to the disk before the rename, so a crash cannot leave an empty file under the
    final name (result records); the site skips it, since a rebuild restores any page.
    ``make_parent=False`` saves a system call when the caller made the folder already. Files are
    left readable by everyone (``0644``), as a web server or git checkout expects.
    """
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:  # an interrupted write leaves no temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


TEMPORARY = (".", ".tmp")
"""A temporary file of :func:`write_atomic` is ``.<name>.<pid>.<random>.tmp`` beside its target."""


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s folder, named ``.<name>.<pid>.<random>.tmp`` (the
    writer's pid lets a later run tell a dead writer's file from a live one's): ``(fd, path)``."""
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")


def is_leftover_temporary(path: Path) -> bool:
    """True for a temporary file of :func:`write_atomic` (left behind only by a killed process)."""
    return path.name.startswith(TEMPORARY[0]) and path.name.endswith(TEMPORARY[1])


def remove_leftover_temporaries(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Delete the temporary files that killed writers left under ``folder``: those whose
    writing process is gone (its id is in the name; a running one's are left to it, whatever
    their age), and, for names without an id, those older than ``older_than_s``."""
    removed = []
    now = time.time()
    for path in folder.rglob(".*.tmp") if folder.is_dir() else ():
        try:
            if path.is_symlink() or not path.is_file():
                continue
            writer = _writer(path.name)
            gone = not _alive(writer) if writer is not None else now - path.stat().st_mtime > older_than_s
            if gone:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def _writer(name: str) -> int | None:
    """The id of the process that wrote a temporary file, from its name (None if it has none)."""
    parts = name[: -len(TEMPORARY[1])].rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process writes one file at a time, and is not writing now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def replace_folder(built: Path, target: Path) -> None:
    """Put the folder ``built`` (made beside ``target``) in its place with one rename, so that
    ``target`` is never seen half-made; whatever was at ``target`` before is removed first."""
    shutil.rmtree(target, ignore_errors=True)
    os.replace(built, target)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line. Split on "\\n" only: texts may hold other Unicode line breaks."""
    with path.open(encoding="utf-8", newline="\n") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def file_stamp(path: Path) -> str:
    """``size:mtime`` of a file, as the site build's stamps count it; "" when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def folder_stamp(folder: Path) -> str:
    """A digest of (relative path, size, mtime, link target) of every file and link under
    ``folder`` (:func:`walk_files`)."""
    digest = hashlib.sha256()
    for path, size, mtime, link in walk_files([], [folder], folder / "\0"):
        digest.update(f"{Path(path).relative_to(folder).as_posix()}\0{size}:{mtime}\0{link}\n".encode())
    return digest.hexdigest()


def walk_files(files: list[Path], roots: list[Path], skip: Path) -> Iterator[tuple[str, int, int, str]]:
    """``(path, size, mtime, link)`` of each of ``files`` that exists, then of every file under
    the ``roots`` (folder ``skip`` and ``__pycache__`` folders left out), in name order. A link
    to a file counts as the file it names (a Hugging Face cache's snapshot is links into its
    blobs, and the content keys read through them), with ``link`` its target ("" for a file
    that is not a link); a link to a folder, or a broken one, is not followed but listed (size
    -1, its own time), so that a link put in place of a file changes a stamp made of these."""
    for path in files:
        if path.is_file():
            st = path.stat()
            yield str(path), st.st_size, st.st_mtime_ns, os.readlink(path) if path.is_symlink() else ""
    stack = [str(r) for r in roots if r.is_dir()]
    skipped = os.path.normpath(skip)  # compared as text: a board has thousands of folders
    while stack:
        top = stack.pop()
        if os.path.normpath(top) == skipped:
            continue
        with os.scandir(top) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                    continue
                link = os.readlink(entry.path) if entry.is_symlink() else ""
                try:
                    st = entry.stat() if entry.is_file() else entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_file():
                    yield entry.path, st.st_size, st.st_mtime_ns, link
                elif link:
                    yield entry.path, -1, st.st_mtime_ns, link
