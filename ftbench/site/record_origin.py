"""What a model page says of where a record comes from: the run's provenance, the environment
it ran in, the weight files it loaded, and the command that re-creates its numbers. Pure."""

from __future__ import annotations

import shlex
from typing import Any

from ftbench.display import plain_value


def batch_size(rec: Any) -> object:
    """The batch size the record's content key was made at (a perplexity run scores one
    document at a time whatever it is, and records that 1 among its figures)."""
    keyed = rec.content_key_parts.get("batch_size")
    return keyed if keyed is not None else rec.efficiency.get("batch_size")


def provenance_view(rec: Any) -> list[tuple[str, str]]:
    """This run's provenance as (label, text) pairs: command, times, model, keys and hashes."""
    p = rec.provenance
    return [
        ("command", p.command),
        ("run", f"{p.started_at} to {p.finished_at}, seed {p.seed}"),
        ("model", _flat(p.model)),
        ("content key", rec.content_key),
        ("task definition sha256", rec.task.definition_sha256),
        ("data sha256", rec.task.data_sha256),
    ]


def environment_view(rec: Any) -> list[tuple[str, str]]:
    """Where and with what a record was made: ftbench, the board commit, hardware, packages.
    Usually the same for every record of a submission, so a page shows it once."""
    p = rec.provenance
    return [
        ("ftbench", f"{p.ftbench_version} (evaluation logic {p.eval_logic_version})"),
        ("board commit", _flat(p.git)),
        ("hardware", _flat(p.hardware)),
        ("packages", _flat(p.packages)),
    ]


def weights_view(rec: Any) -> list[dict[str, Any]]:
    """Every weight file loaded, with its sha256 and size, grouped by base and adapter."""
    return [
        {
            "role": w.role,
            "ref": w.ref,
            "origin": w.origin,
            "files": [(str(f.get("file", "")), str(f.get("sha256", "")), plain_value(f.get("bytes"))) for f in w.files],
        }
        for w in rec.provenance.weights
    ]


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "—"
    return "—" if value is None else str(value)


def reproduce_command(sub_id: str, task: str, batch_size: object) -> str:
    """The command that re-creates this record's numbers."""
    args = ["ftbench", "evaluate", f"submissions/{sub_id}", "--task", task]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    return shlex.join(args)
