"""Errors that point at a file and a field, so a contributor knows what to fix."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Issue:
    """One problem found in an input file: printed as ``path:field: message``."""

    path: str
    """The file (or folder) the problem is in, as the user named it."""
    field: str
    """Dotted location inside the file (``tasks.sst2.adapter.path``), or ``-`` for the file."""
    message: str
    """What is wrong and, where possible, how to fix it."""
    severity: str = "error"
    """``error`` blocks the submission; ``warning`` is reported but does not."""

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.path}:{self.field}: {prefix}{self.message}"


class FtbenchError(Exception):
    """An expected failure with a message meant for the user (no traceback needed)."""


class InvalidInput(FtbenchError):
    """Input files failed validation; carries every issue found, not only the first."""

    def __init__(self, issues: Iterable[Issue]):
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class DataIntegrityError(FtbenchError):
    """A data file is missing or its checksum differs from the task definition."""


def display_path(path: Path) -> str:
    """A path as the user would write it: relative to the working folder when inside it.

    Plain string work (no symlink resolution): it runs for every file of every submission.
    """
    absolute = os.path.abspath(path)
    cwd = os.path.join(os.getcwd(), "")
    return absolute[len(cwd) :] if absolute.startswith(cwd) else absolute
