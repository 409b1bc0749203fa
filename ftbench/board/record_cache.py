"""What a build read from each record, kept for the next build, so that a rebuild does not
read, parse and reduce an unchanged record again.

Reading the records is most of a rebuild: on the 10,000-record benchmark board, 459 MiB of
JSON parsed and validated, then each record's predictions turned into per-example arrays and
its calibration. An entry keeps, for one record file, what the board takes from it: the record
without its predictions (``RecordView``), the sha256 of its bytes (the key of its proof,
``ftbench.board.proofs``), its per-example arrays (``Outcome``), its calibration and its
document totals. Everything else (its status, its contamination) is worked out again on
every build, from the submission as it is now.

One file per submission (``<id>.npz``: arrays, and one JSON document of the rest), under the
build's shared stamp (``ftbench.site.stamp.input_stamps``: tasks, data, settings, code); an
entry is used only while its record file has the size and modification time it had when read,
as the pages' keys assume. The files live in the local cache folder, never committed: on a
fresh clone no stamp matches, and the CI caches only pip's and Hugging Face's folders. A file
that cannot be read, or was made under another stamp, is ignored (the records are read
again); ``numpy.load`` runs with ``allow_pickle=False``. An entry's numbers are trusted as the
proof memo's are: whoever can write the local cache folder can as well edit ftbench itself
(``ftbench check`` and ``build --force`` read every record, whatever the cache holds).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftbench.calibration import Calibration, ReliabilityBin
from ftbench.compare import Outcome
from ftbench.files import write_atomic
from ftbench.record import RecordView

FOLDER = "records"
"""The cache's folder in the build's cache folder."""

DOCUMENT_FIELDS = ("loglik", "tokens", "words", "bytes")


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


def read_entries(path: Path, shared: str) -> dict[str, CachedRecord]:
    """The entries stored at ``path`` (record file name -> entry) under the stamp ``shared``;
    none when it was made under another stamp or cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("shared") != shared:
            return {}
        return {str(name): _entry(str(name), fields, arrays) for name, fields in meta["records"].items()}
    except (OSError, ValueError, KeyError, TypeError, RecursionError, zipfile.BadZipFile, EOFError):
        return {}


def write_entries(path: Path, shared: str, entries: Mapping[str, CachedRecord]) -> None:
    """Store ``entries`` (those of one submission's records) under the stamp ``shared``; a
    cache: nothing is lost when it cannot be written."""
    arrays: dict[str, np.ndarray] = {}
    records = {}
    for name, entry in sorted(entries.items()):
        outcome = entry.outcome
        kind = None
        if outcome is not None and outcome.pred is not None and outcome.prob is not None:
            kind = "pred"
            arrays[f"{name}:pred"], arrays[f"{name}:prob"] = outcome.pred, outcome.prob
        elif outcome is not None and outcome.documents is not None:
            kind = "documents"
            for field in DOCUMENT_FIELDS:
                arrays[f"{name}:{field}"] = outcome.documents[field]
        records[name] = {
            "stamp": entry.stamp,
            "digest": entry.digest,
            "view": entry.view.model_dump(mode="json"),
            "scoring": dict(entry.scoring),
            "outcome": kind,
            "calibration": dataclasses.asdict(entry.calibration) if entry.calibration is not None else None,
            "signed": entry.signed,
        }
    meta = json.dumps({"shared": shared, "records": records}, separators=(",", ":")).encode("utf-8")
    arrays["meta"] = np.frombuffer(meta, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stubs read the first keyword as allow_pickle
    with contextlib.suppress(OSError):
        write_atomic(path, buffer.getvalue(), fsync=False)


def _entry(name: str, fields: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> CachedRecord:
    kind = fields["outcome"]
    outcome = None
    if kind == "pred":
        pred, prob = arrays[f"{name}:pred"], arrays[f"{name}:prob"]
        if pred.dtype != np.int16 or prob.dtype != np.float32 or pred.shape != prob.shape or pred.ndim != 1:
            raise ValueError(f"{name}: arrays of the wrong kind")
        outcome = Outcome(pred=pred, prob=prob)
    elif kind == "documents":
        documents = {field: arrays[f"{name}:{field}"] for field in DOCUMENT_FIELDS}
        if any(a.dtype != np.float64 or a.ndim != 1 for a in documents.values()):
            raise ValueError(f"{name}: arrays of the wrong kind")
        outcome = Outcome(documents=documents)
    elif kind is not None:
        raise ValueError(f"{name}: unknown outcome {kind!r}")
    calibrated = fields["calibration"]
    calibration = None
    if calibrated is not None:
        bins = tuple(ReliabilityBin(**b) for b in calibrated["bins"])
        calibration = Calibration(**{**calibrated, "bins": bins})
    return CachedRecord(
        stamp=str(fields["stamp"]),
        digest=str(fields["digest"]),
        view=RecordView.model_validate(fields["view"]),
        scoring={str(k): int(v) for k, v in fields["scoring"].items()},
        outcome=outcome,
        calibration=calibration,
        signed=None if fields["signed"] is None else bool(fields["signed"]),
    )
