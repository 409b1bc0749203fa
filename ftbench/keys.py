"""Content keys: a hash over everything that can change a (submission, task) result.

Computed from files on disk and the pinned revisions, without loading a model, so that
``plan`` can tell current records from stale ones in seconds.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ftbench import EVAL_LOGIC_VERSION
from ftbench.config import mirror_folder
from ftbench.files import file_sha256
from ftbench.prompting import settings_key

if TYPE_CHECKING:
    from ftbench.spec import Submission, WeightsRef
    from ftbench.tasks import Task


def weights_fingerprint(
    ref: WeightsRef | None,
    submission_folder: Path,
    memo: dict | None = None,
    local_models: Mapping[str, str] | None = None,
) -> str | None:
    """What the weights are: a hash over the files of a folder in the submission; for a
    pinned Hub reference ``hub:<id>@<revision>`` (a commit names its bytes on the Hub), plus
    the hash of the local mirror's files when the board declares one (``local_models``), since
    a mirror is only a folder someone could change.

    ``memo`` (a dict the caller keeps for one pass over a board) saves re-walking a folder that
    serves several tasks.
    """
    if ref is None:
        return None
    if memo is not None:
        # keyed before resolving: resolving costs more than a lookup, for every task it serves
        where = (submission_folder, ref.path, ref.hub, ref.revision)
        if where not in memo:
            memo[where] = weights_fingerprint(ref, submission_folder, None, local_models)
        return memo[where]
    if ref.hub is not None:
        pinned = f"hub:{ref.hub}@{ref.revision}"
        mirror = (local_models or {}).get(pinned.removeprefix("hub:"))
        if ref.gguf_file is not None:
            pinned += f"/{ref.gguf_file}"
        if mirror is None:
            return pinned
        if (
            ref.gguf_file is not None
        ):  # the file holds weights, tokenizer and config; the rest of the folder is not read
            path = mirror_folder(mirror) / ref.gguf_file
            stat = path.stat()
            return f"{pinned} gguf:{_cached_sha256(str(path), stat.st_size, stat.st_mtime_ns)}"
        return f"{pinned} {folder_fingerprint(mirror_folder(mirror))}"
    return folder_fingerprint((submission_folder / str(ref.path)).resolve())


def folder_fingerprint(folder: Path) -> str:
    """``files:<sha256>`` over every file of ``folder`` (relative path and content hash)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        sha = _cached_sha256(str(path), stat.st_size, stat.st_mtime_ns)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha}\n".encode())
    return f"files:{digest.hexdigest()}"


@functools.lru_cache(maxsize=4096)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, remembered while its size and modification time stay the same (a
    board's adapter is fingerprinted once per task it serves; one build hashes it once)."""
    return file_sha256(Path(path))


def key_parts(
    base: WeightsRef,
    adapter: WeightsRef | None,
    submission_folder: Path,
    task: Task,
    precision: str,
    batch_size: int,
    memo: dict | None = None,
    local_models: Mapping[str, str] | None = None,
    model_kind: str = "classifier",
    prompting: str | None = None,
) -> dict[str, str | int | None]:
    """The inputs a result depends on: the bytes of the weights, task definition, data,
    precision, batch size, the kind of model and its prompt settings (causal LMs on
    classification tasks), and the version of ftbench's evaluation logic."""
    return {
        "model_kind": model_kind,
        "prompting": prompting,
        "base": weights_fingerprint(base, submission_folder, memo, local_models),
        "adapter": weights_fingerprint(adapter, submission_folder, memo, local_models),
        "task_definition": task.definition_sha256,
        "data_sha256": task.data_sha256,
        "precision": precision,
        "batch_size": batch_size,
        "eval_logic_version": EVAL_LOGIC_VERSION,
    }


def pair_key_parts(
    spec: Submission,
    folder: Path,
    task: Task,
    batch_size: int,
    memo: dict | None = None,
    local_models: Mapping[str, str] | None = None,
) -> dict[str, str | int | None]:
    """:func:`key_parts` of a submission on one of its tasks: the one place that reads a
    pair's weights, precision, model kind and prompt settings off its spec."""
    base, adapter = spec.weights_for(task.name)
    kind = spec.model.kind
    prompting = (
        settings_key(task.prompt, spec.prompting_for(task.name))
        if kind == "causal-lm" and task.type == "classification"
        else None
    )
    return key_parts(base, adapter, folder, task, spec.model.precision, batch_size, memo, local_models, kind, prompting)


def content_key(parts: dict[str, str | int | None]) -> str:
    """sha256 of the canonical JSON of ``key_parts``."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def stale_parts(recorded_key: str, recorded_parts: dict, parts: dict) -> list[str] | None:
    """None when a record with ``recorded_key`` is current for ``parts``; otherwise the names of
    the parts that changed (empty when the record is too old to have stored its parts)."""
    if recorded_key == content_key(parts):
        return None
    return changed_parts(recorded_parts, parts) if recorded_parts else []


def changed_parts(old: dict, new: dict) -> list[str]:
    """Names of the parts that differ, for telling a user why a record is stale.

    >>> changed_parts({"base": "a", "batch_size": 16}, {"base": "a", "batch_size": 32})
    ['batch_size']
    """
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
