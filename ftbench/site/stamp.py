"""The build's stamp and manifest: when nothing that shapes the site changed since the last
build, and every file it wrote is still there, the build is skipped without reading anything.

The stamp is a hash over (path, size, modification time) of every input file plus the settings
that shape the output; the manifest (kept in the site folder, not part of the site) holds the
stamp and the list of files the last build wrote, so that files no longer part of the site
can be removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import ftbench
from ftbench.config import BoardConfig, mirror_folder
from ftbench.errors import FtbenchError
from ftbench.files import file_stamp, walk_files, write_atomic

MANIFEST = ".ftbench-build.json"
"""Stamp of the inputs and the list of files the last build wrote (not part of the output)."""


def input_stamps(config: BoardConfig) -> tuple[str, str]:
    """``(stamp, shared)``: the stamp of every input, and that of the inputs every page
    depends on — everything but the submissions and their records (settings, tasks,
    baselines, templates, pages, data, the code). A page's key (``ftbench.site.context.page_key``)
    is ``shared`` plus what the page itself shows of the submissions."""
    inputs = scan_inputs(config)
    return inputs.stamp, inputs.shared


@dataclass(frozen=True)
class Inputs:
    """The stamps of a board's inputs (:func:`scan_inputs`)."""

    stamp: str
    """Of every input."""
    shared: str
    """Of the inputs every page depends on (all but the submissions and their records)."""
    folders: dict[str, str]
    """``submissions/<name>`` and ``results/<name>`` -> the stamp of that folder's files;
    ``submissions`` and ``results`` for the files beside the folders. What a rebuild compares
    with the last build's to find the submissions that changed (``ftbench.site.delta``)."""


def scan_inputs(config: BoardConfig) -> Inputs:
    """Stamp every input (path, size, modification time, link target of each file); see
    :func:`input_stamps`."""
    shared = hashlib.sha256()
    # the signing key decides which records are current: a digest of it (never the key) counts
    key = hashlib.sha256(config.record_key).hexdigest() if config.record_key else ""
    mirrors, missing = _mirrors(config)
    settings = [
        ftbench.__version__,
        config.base_url,
        config.repository_url,
        config.title,
        os.environ.get("SOURCE_DATE_EPOCH", ""),
        key,
        missing,
    ]
    shared.update(json.dumps(settings).encode())
    roots = [
        config.tasks_dir,
        config.baselines_dir,
        config.templates_dir,
        config.pages_dir,
        config.data_dir,
        Path(ftbench.__file__).parent,
        *mirrors,
    ]
    for path, size, mtime, link in walk_files([config.root / "pyproject.toml"], roots, config.site_dir):
        shared.update(f"{path}\0{size}\0{mtime}\0{link}\n".encode())
    digest = hashlib.sha256(shared.digest())
    folders: dict[str, Any] = {}
    for kind, root in (("submissions", config.submissions_dir), ("results", config.results_dir)):
        top = str(root) + os.sep
        for path, size, mtime, link in walk_files([], [root], config.site_dir):
            line = f"{path}\0{size}\0{mtime}\0{link}\n".encode()
            digest.update(line)
            name, sep, _ = path[len(top) :].partition(os.sep) if path.startswith(top) else ("", "", "")
            key = f"{kind}/{name}" if sep else kind
            folders.setdefault(key, hashlib.sha256()).update(line)
    stamps = {key: folder.hexdigest() for key, folder in sorted(folders.items())}
    return Inputs(digest.hexdigest(), shared.hexdigest(), stamps)


def _mirrors(config: BoardConfig) -> tuple[list[Path], list[str]]:
    """The folders of the board's local model mirrors, and those it names that are not there:
    a mirror's files are part of its records' content keys (``ftbench.keys``), so a changed or
    new mirror can change which records are current."""
    folders, missing = [], []
    for name, spec in sorted(config.local_models.items()):
        try:
            folders.append(mirror_folder(spec))
        except FtbenchError:
            missing.append(f"{name}={spec}")
    return folders, missing


def read_manifest(site_dir: Path) -> dict:
    try:
        data = orjson.loads((site_dir / MANIFEST).read_bytes())
    except (OSError, ValueError, RecursionError):  # orjson's errors are ValueErrors (deep nesting too)
        return {}
    return data if isinstance(data, dict) else {}


def all_present(site_dir: Path, manifest: dict) -> bool:
    """Whether every file the manifest lists is in ``site_dir``. A folder whose modification
    time is the one the manifest recorded has had no file added or removed since (the files at
    the top are looked at one by one: the manifest itself is written there); only the others
    are listed (:func:`listed_present`)."""
    wanted, times = manifest.get("files", []), manifest.get("folders")
    if not isinstance(wanted, list) or not isinstance(times, dict):
        return listed_present(site_dir, manifest)
    moved = []
    top = f"{site_dir}{os.sep}"  # joined as text: a board has thousands of folders
    for rel, recorded in times.items():
        try:
            if os.stat(top + rel).st_mtime_ns != recorded:
                moved.append(f"{rel}/")
        except OSError:
            moved.append(f"{rel}/")
    for rel in wanted:
        if "/" not in rel and not os.path.isfile(top + rel):
            return False
    if not moved:
        return True
    lost = [rel for rel in wanted if rel.startswith(tuple(moved)) and not os.path.isfile(site_dir / rel)]
    known = {rel.rpartition("/")[0] for rel in wanted if "/" in rel}
    return not lost and known <= set(times)


def folder_times(site_dir: Path, files: list[str]) -> dict[str, int]:
    """The modification time of every folder below ``site_dir`` that holds one of ``files``
    (as :func:`all_present` compares them)."""
    times = {}
    top = f"{site_dir}{os.sep}"
    for rel in sorted({f.rpartition("/")[0] for f in files if "/" in f}):
        with contextlib.suppress(OSError):
            times[rel] = os.stat(top + rel).st_mtime_ns
    return times


def listed_present(site_dir: Path, manifest: dict) -> bool:
    """Whether every file the manifest lists is in ``site_dir`` (read folder by folder: one
    listing per folder instead of one ``stat`` per file, for boards of tens of thousands)."""
    wanted = manifest.get("files", [])
    if not isinstance(wanted, list):
        return False
    present: set[str] = set()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(site_dir / rel if rel else site_dir) as entries:
                for entry in entries:
                    name = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(name)
                    else:
                        present.add(name)
        except OSError:
            continue
    return all(rel in present for rel in wanted)


def write_manifest(site_dir: Path, stamp: str, files: list[str], keys: dict[str, list[Any]] | None = None) -> None:
    """The stamp, the files written, each page's key (pages whose key is unchanged are not
    rendered again: ``ftbench.site.context.page_key``) and the folders' modification times
    (:func:`all_present`)."""
    doc = {"stamp": stamp, "files": files, "keys": keys or {}, "folders": folder_times(site_dir, files)}
    write_atomic(site_dir / MANIFEST, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n", fsync=False)


def stamped_keys(
    site_dir: Path,
    keys: Mapping[str, str],
    previous: Mapping[str, Any],
    kept: set[str],
    parts: Mapping[str, list[Any]] | None = None,
) -> dict[str, list[Any]]:
    """Each keyed page's key with the stamp of its file as written now, and where its kept
    parts lie (``kept_sections``) for a page that has them: a kept page's entry is the one
    the last build recorded (``render.render_pages`` kept it because its file still has that
    stamp, and nothing wrote it since); the others' stamps are read."""
    parts = parts or {}
    return {
        path: previous[path]
        if path in kept
        else [key, file_stamp(site_dir / path), *([parts[path]] if path in parts else [])]
        for path, key in keys.items()
    }
