"""Every question ftbench asks git: the board's commit and whether it is clean, and what a
pull request changed. git missing or failing is an answer too (None), never a crash."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def git(root: Path, *args: str, timeout: float = 30) -> str | None:
    """``git <args>`` run in ``root``: its stdout without the trailing newline, or None when git
    is missing, times out or fails."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(root: Path, outputs: Sequence[Path] = ()) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}`` of the board repository. Changes under
    ``outputs`` (the results and site folders) do not count: an evaluation writes records there
    itself, so the second record of a run would otherwise always say "dirty"."""
    commit = git(root, "rev-parse", "HEAD", timeout=10)
    excluded = [f":(exclude){p.resolve().relative_to(root.resolve()).as_posix()}" for p in outputs if _inside(p, root)]
    status = git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded, timeout=10)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve()) and path.resolve() != root.resolve()


def changed_files(root: Path, folder: Path, base: str) -> list[str] | None:
    """Files under ``folder`` changed since git ``base`` (None when git cannot tell)."""
    try:
        rel = folder.relative_to(root).as_posix()
    except ValueError:
        return None
    out = git(root, "diff", "--name-only", f"{base}...HEAD", "--", rel)
    return None if out is None else out.splitlines()


def changed_submissions(root: Path, submissions_dir: Path, base: str) -> list[str] | None:
    """Ids of submission folders changed since git ``base`` (None when git cannot tell)."""
    files = changed_files(root, submissions_dir, base)
    if files is None:
        return None
    return sorted({f.split("/")[1] for f in files if f.count("/") >= 2})
