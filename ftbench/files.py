"""File primitives every stage shares: one atomic writer, one file hash, one JSONL reader."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
