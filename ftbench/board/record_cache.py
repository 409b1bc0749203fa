"""What a build read from each record, kept for the next build, so that a rebuild does not
read, parse and reduce an unchanged record again.

Reading the records is most of a rebuild: on the 10,000-record benchmark board, 459 MiB of
JSON parsed and validated, then each record's predictions turned into per-example arrays and
its calibration. An entry keeps, for one record file, what the board takes from it: the record
without its predictions (``RecordView``), the sha256 of its bytes (the key of its proof,
``ftbench.board.proofs``), its per-example arrays (``Outcome``), its calibration and its
document totals. Everything else (its status, its contamination) is worked out again on
every build, from the submission as it is now. Beside them, the file keeps what validating
the submission's folder found (:class:`Verdict`: its spec as parsed, its warnings), used
while the folder's stamp is the same; ``ftbench validate`` and ``evaluate`` never use it.

One file per submission (``<id>.bin``, :func:`pack`: one JSON document, and the records'
arrays end to end, one per field, with each record's offsets into them), under the
build's shared stamp (``ftbench.site.stamp.input_stamps``: tasks, data, settings, code); an
entry is used only while its record file has the size and modification time it had when read,
as the pages' keys assume. The files live in the local cache folder, never committed: on a
fresh clone no stamp matches, and the CI caches only pip's and Hugging Face's folders. A file
that cannot be read, or was made under another stamp, is ignored (the records are read
again); arrays are read with ``numpy.frombuffer`` as plain numbers, nothing is unpickled. An
entry's numbers are trusted as the proof memo's are: whoever can write the local cache folder
can as well edit ftbench itself (``ftbench check`` and ``build --force`` read every record,
whatever the cache holds).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftbench.board import packed
from ftbench.calibration import Calibration, ReliabilityBin
from ftbench.compare import Outcome
from ftbench.files import write_atomic
from ftbench.record import RecordView

FOLDER = "records"
"""The cache's folder in the build's cache folder."""


def cache_path(folder: Path, submission: str) -> Path:
    """Where a submission's entries are kept in the cache's ``folder``."""
    return folder / f"{submission}.bin"


DOCUMENT_FIELDS = ("loglik", "tokens", "words", "bytes")
ARRAY_FIELDS: dict[str, np.dtype] = {
    "pred": np.dtype("<i2"),
    "prob": np.dtype("<f4"),
    **dict.fromkeys(DOCUMENT_FIELDS, np.dtype("<f8")),
    "views": np.dtype("u1"),
    "bins": np.dtype("<f8"),
}
"""The arrays a cache file holds, with their types: per-example results, each record's view
(``RecordView`` as JSON) and its reliability bins (five numbers a bin)."""


@dataclass(frozen=True)
class CachedRecord:
    """What the board took from one record file, and the file's stamp when it was read."""

    stamp: str
    """``size:mtime`` of the file (``ftbench.files.file_stamp``)."""
    digest: str
    """sha256 of its bytes (``ftbench.board.proofs.record_digest``)."""
    view: Any
    """The record without its predictions (``ftbench.record.RecordView``)."""
    scoring: Mapping[str, int]
    """Its document totals (``ftbench.board.snapshot.document_totals``)."""
    outcome: Outcome | None
    calibration: Calibration | None
    signed: bool | None = None
    """Whether it carries a valid signature under the board's signing key (None: the board
    has none). The signature covers the predictions too, which the view lacks, so it is
    checked on the whole record when read; the key is part of the shared stamp."""


def _part(arrays: Mapping[str, np.ndarray], fields: Mapping[str, Any], field: str) -> np.ndarray:
    """One record's slice of a stored array (read-only: the records of a file share it)."""
    whole = arrays[field]
    start, stop = (int(i) for i in fields["at"][field])
    if whole.dtype != ARRAY_FIELDS[field] or whole.ndim != 1 or not 0 <= start <= stop <= len(whole):
        raise ValueError(f"{field}: stored array of the wrong kind or size")
    return whole[start:stop]


@dataclass(frozen=True)
class Verdict:
    """What validating a submission's folder found, for a folder that was valid: its spec as
    parsed and its warnings, with the folder's :func:`ftbench.files.folder_stamp` (a link put
    in place of a file changes it) and the working folder (the warnings name files relative to
    it) at the time."""

    tree: str
    cwd: str
    spec: Mapping[str, Any]
    """``Submission.model_dump(mode="json")``."""
    warnings: tuple[tuple[str, str, str, str], ...] = ()
    """``(path, field, message, severity)`` of each warning."""


@dataclass(frozen=True)
class CacheFile:
    """One submission's cache file: its records' entries, and its folder's verdict."""

    entries: dict[str, CachedRecord]
    verdict: Verdict | None = None


def prune(folder: Path, submissions: set[str]) -> None:
    """Delete the cache files of submissions no longer on the board (and of an older format)."""
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            if path.suffix == ".npz" or (path.suffix == ".bin" and path.stem not in submissions):
                path.unlink(missing_ok=True)


def read_entries(path: Path, shared: str) -> dict[str, CachedRecord]:
    """The entries stored at ``path`` (record file name -> entry) under the stamp ``shared``;
    none when it was made under another stamp or cannot be read."""
    return read_cache(path, shared).entries


def read_cache(path: Path, shared: str) -> CacheFile:
    """Everything stored at ``path`` under the stamp ``shared``; nothing when it was made
    under another stamp or cannot be read."""
    try:
        meta, arrays = unpack(path.read_bytes())
        if meta.get("shared") != shared:
            return CacheFile({})
        entries = {str(name): _entry(str(name), fields, arrays) for name, fields in meta["records"].items()}
        verdict = meta.get("submission")
        if verdict is not None:
            warnings = tuple(tuple(str(part) for part in w) for w in verdict["warnings"])
            if any(len(w) != 4 for w in warnings) or not isinstance(verdict["spec"], dict):
                raise ValueError("a verdict of the wrong kind")
            verdict = Verdict(str(verdict["tree"]), str(verdict["cwd"]), verdict["spec"], warnings)  # type: ignore[arg-type]
        return CacheFile(entries, verdict)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return CacheFile({})


def write_entries(path: Path, shared: str, entries: Mapping[str, CachedRecord], verdict: Verdict | None = None) -> None:
    """Store ``entries`` (those of one submission's records) and the ``verdict`` on its folder
    under the stamp ``shared``; a cache: nothing is lost when it cannot be written. The
    records' per-example arrays, their views (as JSON) and their reliability bins are stored
    end to end, one array per field, each record's at its offsets (:func:`pack`)."""
    parts: dict[str, list[np.ndarray]] = {field: [] for field in ARRAY_FIELDS}
    records = {}
    for name, entry in sorted(entries.items()):
        outcome = entry.outcome
        kind, fields = None, dict[str, np.ndarray]()
        if outcome is not None and outcome.pred is not None and outcome.prob is not None:
            kind, fields = "pred", {"pred": outcome.pred, "prob": outcome.prob}
        elif outcome is not None and outcome.documents is not None:
            kind, fields = "documents", {field: outcome.documents[field] for field in DOCUMENT_FIELDS}
        fields["views"] = np.frombuffer(entry.view.model_dump_json().encode("utf-8"), dtype=np.uint8)
        calibration = None
        if entry.calibration is not None:
            calibrated = entry.calibration  # not dataclasses.asdict: it deep-copies the bins
            names = [f.name for f in dataclasses.fields(calibrated) if f.name != "bins"]
            calibration = {name: getattr(calibrated, name) for name in names}
            bins = [(b.low, b.high, b.count, b.confidence, b.accuracy) for b in calibrated.bins]
            fields["bins"] = np.asarray(bins, dtype=np.float64).reshape(-1)
        start = {field: sum(len(a) for a in parts[field]) for field in fields}
        for field, array in fields.items():
            parts[field].append(np.asarray(array, dtype=ARRAY_FIELDS[field]))
        records[name] = {
            "stamp": entry.stamp,
            "digest": entry.digest,
            "scoring": dict(entry.scoring),
            "outcome": kind,
            "at": {field: [start[field], start[field] + len(array)] for field, array in fields.items()},
            "calibration": calibration,
            "signed": entry.signed,
        }
    about = (
        None if verdict is None else {**dataclasses.asdict(verdict), "warnings": [list(w) for w in verdict.warnings]}
    )
    meta = {"shared": shared, "records": records, "submission": about}
    arrays = {field: np.concatenate(chunks) for field, chunks in parts.items() if chunks}
    with contextlib.suppress(OSError):
        write_atomic(path, pack(meta, arrays), fsync=False)


MAGIC = b"ftbench record cache 2\n"
"""How a cache file starts (``ftbench.board.packed``)."""


def pack(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """A cache file's bytes (``packed.pack``)."""
    return packed.pack(MAGIC, meta, arrays)


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a cache file (``packed.unpack``: only :data:`ARRAY_FIELDS`)."""
    return packed.unpack(MAGIC, data, ARRAY_FIELDS)


def _entry(name: str, fields: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> CachedRecord:
    kind = fields["outcome"]
    outcome = None
    if kind == "pred":
        outcome = Outcome(pred=_part(arrays, fields, "pred"), prob=_part(arrays, fields, "prob"))
        if outcome.pred is None or outcome.prob is None or outcome.pred.shape != outcome.prob.shape:
            raise ValueError(f"{name}: arrays of the wrong kind")
    elif kind == "documents":
        outcome = Outcome(documents={field: _part(arrays, fields, field) for field in DOCUMENT_FIELDS})
    elif kind is not None:
        raise ValueError(f"{name}: unknown outcome {kind!r}")
    calibrated = fields["calibration"]
    calibration = None
    if calibrated is not None:
        rows = _part(arrays, fields, "bins").reshape(-1, 5).tolist()
        bins = tuple(ReliabilityBin(low, high, int(count), conf, acc) for low, high, count, conf, acc in rows)
        calibration = Calibration(**{**calibrated, "bins": bins})
    return CachedRecord(
        stamp=str(fields["stamp"]),
        digest=str(fields["digest"]),
        view=RecordView.model_validate_json(_part(arrays, fields, "views").tobytes()),
        scoring={str(k): int(v) for k, v in fields["scoring"].items()},
        outcome=outcome,
        calibration=calibration,
        signed=None if fields["signed"] is None else bool(fields["signed"]),
    )
