"""Fetching the held-out data: each task's file from a mirror, checked against the task's
``data_sha256`` before it is put in place.

A mirror is any URL (``https://``, ``http://`` or ``file://``) laid out like the data
directory: ``<url>/<dataset>/<data_file>``, e.g. a release of the board's repository, a bucket,
or a copy of ``../shared/data`` on a runner. Since every file is checked against the sha256
pinned in its task definition (which CODEOWNERS protects), the mirror need not be trusted: a
changed file is refused, and nothing half-downloaded is ever left under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

from ftbench.errors import FtbenchError
from ftbench.files import file_sha256, write_atomic
from ftbench.tasks import Task

MAX_BYTES = 1 << 30
"""A held-out file larger than this is refused while downloading (no task's data comes near)."""
TIMEOUT_S = 60


@dataclass(frozen=True)
class Fetched:
    """What happened to one task's file."""

    task: str
    """Task name."""
    path: Path
    """Where the file is now."""
    status: str
    """``present`` (already there with the right sha256) or ``fetched``."""


def fetch_task_data(tasks: Iterable[Task], data_dir: Path, base_url: str) -> list[Fetched]:
    """Put every task's held-out file under ``data_dir``, downloading from ``base_url`` what is
    missing or differs; raises FtbenchError naming the file whose bytes do not match."""
    if urlparse(base_url).scheme not in ("https", "http", "file"):
        raise FtbenchError(f"--from {base_url!r}: give an https://, http:// or file:// URL")
    done = []
    for task in tasks:
        target = task.data_path(data_dir)
        if target.is_file() and file_sha256(target) == task.data_sha256:
            done.append(Fetched(task.name, target, "present"))
            continue
        url = f"{base_url.rstrip('/')}/{quote(task.dataset)}/{quote(task.data_file)}"
        data = _download(url)
        actual = hashlib.sha256(data).hexdigest()
        if actual != task.data_sha256:
            raise FtbenchError(
                f"{url}: sha256 {actual} does not match data_sha256 {task.data_sha256} of task {task.name!r}; "
                "nothing was written"
            )
        write_atomic(target, data)
        done.append(Fetched(task.name, target, "fetched"))
    return done


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, tempfile.SpooledTemporaryFile() as buffer:
            while block := response.read(1 << 20):
                buffer.write(block)
                if buffer.tell() > MAX_BYTES:
                    raise FtbenchError(f"{url}: larger than {MAX_BYTES >> 20} MiB; refused")
            buffer.seek(0)
            return buffer.read()
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTPError: OSErrors
        raise FtbenchError(f"{url}: could not download ({exc})") from None
