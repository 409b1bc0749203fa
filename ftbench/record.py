"""Result records: one schema-versioned JSON file per (submission, task), written atomically.

The writer (:func:`dumps`, :func:`write_record`) and the one reader (:func:`read_record`)
live here; whether a record's numbers can be trusted is ``ftbench.audit``'s question.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ftbench.errors import FtbenchError, InvalidInput, Issue
from ftbench.files import write_atomic
from ftbench.spec import pydantic_issues
from ftbench.strict import STRICT

RECORD_SCHEMA_VERSION: Literal[1] = 1
MAX_RESAMPLES = 2000
"""Most bootstrap resamples a record may ask a reader to redo (each costs a pass over the examples)."""


class SubmissionRef(BaseModel):
    """The submission as it was when evaluated (enough to show it without its folder)."""

    model_config = STRICT
    id: str
    """Submission id."""
    name: str
    """Display name."""
    method: str
    """Fine-tuning method."""
    base: str
    """Base checkpoint: ``hub@revision`` or ``./path``."""
    adapter: str | None
    """Adapter evaluated on this task, if any."""
    precision: str
    """Declared precision."""


class TaskRef(BaseModel):
    """The task as it was when evaluated."""

    model_config = STRICT
    name: str
    """Task id."""
    split: str
    """Held-out split scored."""
    num_examples: int
    """Examples scored (fewer than the split when ``limit`` is set)."""
    primary_metric: str
    """Metric that ranks this task."""
    labels: list[str]
    """Label names, index = label id (empty for perplexity tasks)."""
    type: str = "classification"
    """Task type: ``classification`` or ``perplexity``."""
    definition_sha256: str
    """Hash of the task definition."""
    data_sha256: str
    """sha256 of the held-out data file."""


class Predictions(BaseModel):
    """Every example's prediction, so intervals and paired comparisons can be computed later."""

    model_config = STRICT
    idx: list[Annotated[int, Field(ge=0, lt=2**63)]]
    """Row id of each example in the data file."""
    pred: list[Annotated[int, Field(ge=0, lt=2**31)]]
    """Predicted label id, aligned with ``idx``."""
    prob: list[Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]]
    """Probability the model gave its predicted label (4 decimals)."""


class Documents(BaseModel):
    """Every document's log-likelihood and counts (perplexity tasks): every metric and its
    interval is recomputable from these."""

    model_config = STRICT
    idx: list[Annotated[int, Field(ge=0, lt=2**31)]]
    """Document number in the held-out corpus (0-based, file order)."""
    loglik: list[Annotated[float, Field(le=0.0, allow_inf_nan=False)]]
    """Natural-log likelihood of each document's tokens."""
    tokens: list[Annotated[int, Field(ge=1, lt=2**40)]]
    """Tokens predicted in each document (by the model's tokenizer)."""
    words: list[Annotated[int, Field(ge=1, lt=2**40)]]
    """Words in each document (lm-eval's wikitext count)."""
    bytes: list[Annotated[int, Field(ge=1, lt=2**40)]]
    """UTF-8 bytes of each document."""
    max_length: int = Field(ge=1)
    """Tokens per scoring window, as used."""
    context_len: int = Field(ge=1)
    """Tokens of context carried into each later window (1: lm-eval's disjoint windows)."""


class ChoiceScores(BaseModel):
    """A causal LM's log-likelihood of every label word after every prompt (classification
    by prompting): the predictions and ``accuracy_norm`` are recomputable from these."""

    model_config = STRICT
    loglik: list[list[Annotated[float, Field(le=0.0, allow_inf_nan=False)]]]
    """Per example (aligned with ``predictions.idx``), log P(label continuation | prompt) per label."""
    chars: list[Annotated[int, Field(ge=1, lt=2**31)]]
    """Characters of each label word, without its delimiter: what ``accuracy_norm`` divides the
    log-likelihood by (as lm-eval's ``acc_norm`` does)."""


class Intervals(BaseModel):
    """Bootstrap confidence intervals of the quality metrics, and how they were drawn."""

    model_config = STRICT
    method: Literal["percentile bootstrap over examples", "percentile bootstrap over documents"] = (
        "percentile bootstrap over examples"
    )
    """Examples (or a perplexity task's documents) resampled with replacement; the interval is
    the central ``level`` share of the metric's values over the resamples."""
    level: float = Field(gt=0.0, lt=1.0)
    """Coverage, e.g. 0.95."""
    resamples: int = Field(ge=1, le=MAX_RESAMPLES)
    """Number of resamples."""
    seed: int = Field(ge=0, lt=2**63)
    """Seed of the resampling (the same predictions always give the same intervals)."""
    bounds: dict[str, tuple[float, float]]
    """Metric name -> (low, high)."""


class WeightsProvenance(BaseModel):
    """One set of weights that was loaded."""

    model_config = STRICT
    role: Literal["base", "adapter"]
    """Base checkpoint or adapter."""
    ref: str
    """What the submission named."""
    origin: str
    """Where the files were found (submission folder, local mirror, Hub)."""
    files: list[dict[str, Any]]
    """``{file, sha256, bytes}`` of each weight file."""


class Provenance(BaseModel):
    """Everything needed to trust and reproduce the numbers."""

    model_config = STRICT
    ftbench_version: str
    """Version of ftbench."""
    eval_logic_version: str
    """Version of the evaluation logic (part of the content key)."""
    git: dict[str, Any]
    """Commit and dirty flag of the board repository."""
    packages: dict[str, str]
    """Python and library versions."""
    hardware: dict[str, Any]
    """CPU, cores, memory, GPU."""
    weights: list[WeightsProvenance]
    """Hashes of every weight file loaded."""
    model: dict[str, Any]
    """Loader, dtype, device, truncation length, notes."""
    seed: int
    """Seed set before loading and running."""
    command: str
    """Command line that produced the record."""
    started_at: str
    """UTC start time, ISO 8601."""
    finished_at: str
    """UTC end time, ISO 8601."""


class ResultRecord(BaseModel):
    """The result of evaluating one submission on one task."""

    model_config = STRICT
    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    """Version of this record format."""
    content_key: str
    """Hash of everything that can change the numbers; a stale key means re-evaluate."""
    content_key_parts: dict[str, str | int | None] = Field(default_factory=dict)
    """The hashed inputs (weights, task definition, data, precision, batch size, logic version)."""
    complete: bool
    """True when the whole held-out split was scored (``limit`` unset)."""
    limit: int | None = None
    """Examples scored when a ``--limit`` was given."""
    submission: SubmissionRef
    """What was evaluated."""
    task: TaskRef
    """On what."""
    metrics: dict[str, float]
    """Quality metrics, name -> value."""
    intervals: Intervals | None = None
    """Confidence intervals of ``metrics`` (None in records made before intervals were added)."""
    per_class: dict[str, dict[str, int | float]] = Field(default_factory=dict)
    """Label name -> precision, recall, f1, support (classification)."""
    confusion_matrix: list[list[int]] = Field(default_factory=list)
    """Row = gold label, column = predicted label (classification)."""
    efficiency: dict[str, Any]
    """Latency, throughput, memory, parameters, sizes, batch size, device, hardware profile;
    the distributions behind them (``latency``, ``throughput``), their validity flags and
    contention readings (``validity``), and an unmerged adapter's figures (``unmerged``)."""
    predictions: Predictions | None = None
    """Per-example predictions (classification)."""
    choices: ChoiceScores | None = None
    """Label-word log-likelihoods of a causal LM (classification by prompting)."""
    documents: Documents | None = None
    """Per-document log-likelihoods and counts (perplexity tasks)."""
    prompt: dict[str, Any] | None = None
    """How a causal LM was prompted: template, label words, chat template, demonstrations
    (ids, labels, seed) and the hash of the shared prefix."""
    provenance: Provenance
    """Versions, hashes, hardware, times."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Room for later stages without a format change."""


def record_path(results_dir: Path, submission_id: str, task: str, limit: int | None = None) -> Path:
    """``<results>/<submission>/<task>.json``; a ``--limit`` run gets its own file so that it
    can never replace a complete record."""
    suffix = f".limit{limit}" if limit is not None else ""
    return results_dir / submission_id / f"{task}{suffix}.json"


def dumps(record: ResultRecord) -> str:
    """Canonical JSON text of a record (sorted keys, 1-space indent, trailing newline)."""
    return json.dumps(record.model_dump(mode="json"), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_record(path: Path, record: ResultRecord) -> None:
    """Validate and atomically write one record."""
    write_atomic(path, dumps(ResultRecord.model_validate(record.model_dump())))


SIGNATURE = "ci_signature"
"""Key in a record's ``extra`` of the board CI's HMAC-SHA256 over the rest of the record."""


def sign(record: ResultRecord, key: bytes) -> ResultRecord:
    """The record with its signature: HMAC-SHA256, under the board CI's secret ``key``, of its
    canonical text without the signature. Only the main workflow holds the key, so a record
    edited in a pull request, or made anywhere else, cannot carry a valid one."""
    extra = {k: v for k, v in record.extra.items() if k != SIGNATURE}
    unsigned = record.model_copy(update={"extra": extra})
    digest = hmac.new(key, dumps(unsigned).encode(), hashlib.sha256).hexdigest()
    return record.model_copy(update={"extra": {**extra, SIGNATURE: digest}})


def signed(record: ResultRecord, key: bytes) -> bool:
    """True when the record carries a valid signature under ``key``."""
    given = record.extra.get(SIGNATURE)
    if not (isinstance(given, str) and len(given) == 64 and all(c in "0123456789abcdef" for c in given)):
        return False
    return hmac.compare_digest(given, sign(record, key).extra[SIGNATURE])


def read_record(path: Path, strict: bool = False) -> ResultRecord:
    """Read and validate one record: the one parser of records, for every command. Problems
    are reported with the file and field. ``strict`` also refuses a key that appears twice in
    one object (``ftbench check``): JSON parsers disagree on which of the two counts."""
    return read_record_bytes(path, strict)[0]


def read_record_bytes(path: Path, strict: bool = False) -> tuple[ResultRecord, bytes]:
    """:func:`read_record`, with the bytes the record was parsed from."""
    try:
        data = path.read_bytes()
        if strict:
            json.loads(data, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        raise InvalidInput([Issue(str(path), str(exc), "key appears twice in one object")]) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise FtbenchError(f"{path}:-: cannot read result record: {str(exc)[:200]}") from None
    try:
        return ResultRecord.model_validate_json(data), data
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise FtbenchError(f"{path}:-: cannot read result record: not valid JSON") from None
        raise InvalidInput(pydantic_issues(str(path), exc)) from None


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def iter_record_paths(results_dir: Path, include_partial: bool = False) -> list[Path]:
    """Record files under ``results_dir``, sorted; partial (``--limit``) ones only if asked."""
    if not results_dir.is_dir():
        return []
    paths = sorted(results_dir.glob("*/*.json"))
    return paths if include_partial else [p for p in paths if ".limit" not in p.name]


def folder_record_paths(folder: Path) -> list[Path]:
    """The complete record files of one submission's records folder (``results/<id>``),
    sorted, as :func:`iter_record_paths` lists them."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.json")) if ".limit" not in p.name]


def record_json_schema() -> dict:
    """JSON Schema of a result record."""
    schema = ResultRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ftbench.dev/schema/record-v1.json"
    return schema


# ---------------------------------------------------------------- what the site keeps
# Every record field except the predictions: once a record has been read and audited, the
# site keeps this much of it (the predictions are most of a record's memory).
RecordView = create_model(  # type: ignore[call-overload]
    "RecordView",
    __config__=ConfigDict(extra="ignore", frozen=True),
    **{
        k: (f.annotation, f)
        for k, f in ResultRecord.model_fields.items()
        if k not in ("predictions", "choices", "documents")
    },
)


def view_of(record: ResultRecord) -> Any:
    """The record without its predictions (no validation again: it was validated when read)."""
    return RecordView.model_construct(**{name: getattr(record, name) for name in RecordView.model_fields})
