"""What the last build found when it audited each record (``ftbench.audit``), so that a
rebuild does not prove an unchanged record again.

A record's proof is a pure function of its bytes and of the inputs every record is checked
against (the tasks, their held-out data, the settings and the code: the build's shared stamp,
``ftbench.site.stamp.input_stamps``). The memo maps the sha256 of a record's bytes to the
problems its audit found (none: it proves its numbers), under the shared stamp it was made
with; a memo made under another stamp is not used at all. It lives in the local cache folder
(``[tool.ftbench] cache_dir``), which is never committed: a pull request cannot bring one.
``ftbench check`` never uses it, and ``ftbench build --force`` proves every record again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import orjson

from ftbench.files import write_atomic

MEMO = "proofs.json"
"""The memo's file name in the build's cache folder."""

Problems = tuple[tuple[str, str], ...]
"""An audit's first problems as ``(field, message)``; empty: the record proves its numbers."""


def record_digest(data: bytes) -> str:
    """The key of a record's proof: the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def read_memo(path: Path, shared: str) -> dict[str, Problems]:
    """The proofs stored at ``path`` under the stamp ``shared``; none if it was made under
    another stamp, or cannot be read."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):  # orjson's errors (too deep a nesting among them) are ValueErrors
        return {}
    if not isinstance(data, dict) or data.get("shared") != shared or not isinstance(data.get("proofs"), dict):
        return {}
    memo: dict[str, Problems] = {}
    for digest, problems in data["proofs"].items():
        try:
            memo[str(digest)] = tuple((str(f), str(m)) for f, m in problems)
        except (TypeError, ValueError):
            continue
    return memo


def write_memo(path: Path, shared: str, proofs: Mapping[str, Problems]) -> None:
    """Store ``proofs`` (of the records on the board now) under the stamp ``shared``."""
    body = {"shared": shared, "proofs": {d: [list(p) for p in proofs[d]] for d in sorted(proofs)}}
    write_atomic(path, orjson.dumps(body) + b"\n", fsync=False)
