"""The build's stamp and manifest: when nothing that shapes the site changed since the last
build, and every file it wrote is still there, the build is skipped without reading anything.

The stamp is a hash over (path, size, modification time) of every input file plus the settings
that shape the output; the manifest (kept in the site folder, not part of the site) holds the
stamp and the list of files the last build wrote, so that files no longer part of the site
can be removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import ftbench
from ftbench.config import BoardConfig, mirror_folder
from ftbench.errors import FtbenchError
from ftbench.files import walk_files, write_atomic

MANIFEST = ".ftbench-build.json"
"""Stamp of the inputs and the list of files the last build wrote (not part of the output)."""


def input_stamps(config: BoardConfig) -> tuple[str, str]:
    """``(stamp, shared)``: the stamp of every input, and that of the inputs every page
    depends on — everything but the submissions and their records (settings, tasks,
    baselines, templates, pages, data, the code). A page's key (``ftbench.site.context.page_key``)
    is ``shared`` plus what the page itself shows of the submissions."""
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
    for path, size, mtime, link in walk_files([], [config.submissions_dir, config.results_dir], config.site_dir):
        digest.update(f"{path}\0{size}\0{mtime}\0{link}\n".encode())
    return digest.hexdigest(), shared.hexdigest()


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
        data = json.loads((site_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nesting too deep to parse
        return {}
    return data if isinstance(data, dict) else {}


def all_present(site_dir: Path, manifest: dict) -> bool:
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


def write_manifest(site_dir: Path, stamp: str, files: list[str], keys: dict[str, list[str]] | None = None) -> None:
    """The stamp, the files written and each page's key (pages whose key is unchanged are not
    rendered again: ``ftbench.site.context.page_key``)."""
    text = json.dumps({"stamp": stamp, "files": files, "keys": keys or {}}, indent=0, sort_keys=True) + "\n"
    write_atomic(site_dir / MANIFEST, text, fsync=False)
