"""Baseline files, ``baselines/<task>.json``: the writer, the one reader, and whether a file
still matches its task's data.

A file holds every baseline of one task with its per-example predictions in a result record's
shape (``predictions: {idx, pred, prob}``, ``intervals``), plus the sha256 of the held-out and
train files it was made from. Light: json and pydantic only, so the site build can read
baselines without scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from ftbench.baselines import RECIPE_VERSION, Baseline, TaskBaselines, score_baseline, scored_metrics
from ftbench.errors import FtbenchError, InvalidInput, Issue, display_path
from ftbench.files import write_atomic
from ftbench.record import Intervals, Predictions
from ftbench.spec import pydantic_issues
from ftbench.strict import STRICT
from ftbench.tasks import Task, split_sha256

FILE_SCHEMA_VERSION: Literal[1] = 1
_SHA256 = r"^[0-9a-f]{64}$"


class StoredBaseline(BaseModel):
    """One baseline as stored (see :class:`ftbench.baselines.Baseline`)."""

    model_config = STRICT
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    """Baseline name."""
    description: str
    """How its predictions were made."""
    fitted_on: str | None
    """Split its parameters were estimated from (None: none)."""
    metrics: dict[str, float]
    """Quality metrics, name -> value."""
    intervals: Intervals
    """Bootstrap intervals of ``metrics``, as in a result record."""
    predictions: Predictions
    """Per-example predictions, as in a result record."""


class BaselineFile(BaseModel):
    """The schema of ``baselines/<task>.json``."""

    model_config = STRICT
    schema_version: Literal[1] = FILE_SCHEMA_VERSION
    """Version of this file format."""
    recipe_version: int = Field(ge=1)
    """``ftbench.baselines.RECIPE_VERSION`` of the code that made the baselines."""
    task: str
    """Task id."""
    split: str
    """Held-out split predicted."""
    data_sha256: str = Field(pattern=_SHA256)
    """sha256 of the held-out file."""
    train_split: str | None
    """Train split the baselines learnt from (None: the task has none)."""
    train_sha256: str | None = Field(pattern=_SHA256)
    """sha256 of the train file, as its dataset's ``meta.json`` declares it."""
    baselines: list[StoredBaseline]
    """Every baseline of the task."""


def baselines_path(folder: Path, task: str) -> Path:
    """``<baselines_dir>/<task>.json``."""
    return folder / f"{task}.json"


def dumps(made: TaskBaselines) -> str:
    """Canonical JSON text of a task's baselines: sorted keys, no spaces, one trailing newline."""
    doc = BaselineFile(
        recipe_version=made.recipe_version,
        task=made.task,
        split=made.split,
        data_sha256=made.data_sha256,
        train_split=made.train_split,
        train_sha256=made.train_sha256,
        baselines=[_stored(b, made.idx) for b in made.baselines],
    )
    return json.dumps(doc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _stored(b: Baseline, idx: Sequence[int]) -> StoredBaseline:
    return StoredBaseline(
        name=b.name,
        description=b.description,
        fitted_on=b.fitted_on,
        metrics=dict(b.metrics),
        intervals=b.intervals,
        predictions=Predictions(idx=list(idx), pred=list(b.predictions), prob=list(b.confidences)),
    )


def write_baselines(folder: Path, made: Sequence[TaskBaselines]) -> list[Path]:
    """Write each task's baselines atomically to ``<folder>/<task>.json``; the paths written."""
    paths = []
    for one in made:
        path = baselines_path(folder, one.task)
        write_atomic(path, dumps(one))
        paths.append(path)
    return paths


def read_baselines(path: Path) -> TaskBaselines:
    """Read and validate one baseline file; problems are reported as ``path:field: message``."""
    shown = display_path(path)
    try:
        doc = BaselineFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise FtbenchError(f"{shown}:-: cannot read baselines: {exc.strerror or exc}") from None
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise FtbenchError(f"{shown}:-: cannot read baselines: not valid JSON") from None
        raise InvalidInput(pydantic_issues(shown, exc)) from None
    idx = tuple(doc.baselines[0].predictions.idx) if doc.baselines else ()
    issues = [
        Issue(shown, f"baselines.{i}.predictions", p) for i, b in enumerate(doc.baselines) if (p := _misaligned(b, idx))
    ]
    names = [b.name for b in doc.baselines]
    if len(set(names)) != len(names):
        issues.append(Issue(shown, "baselines", "two baselines share a name"))
    if issues:
        raise InvalidInput(issues)
    return TaskBaselines(
        task=doc.task,
        split=doc.split,
        data_sha256=doc.data_sha256,
        train_split=doc.train_split,
        train_sha256=doc.train_sha256,
        idx=idx,
        baselines=tuple(_baseline(b) for b in doc.baselines),
        recipe_version=doc.recipe_version,
    )


def _misaligned(b: StoredBaseline, idx: tuple[int, ...]) -> str:
    """Why a stored baseline's predictions do not line up with the file's examples ('' if they do)."""
    p = b.predictions
    if tuple(p.idx) != idx:
        return "idx differs from the first baseline's: every baseline predicts the same examples"
    if not len(p.pred) == len(p.prob) == len(idx):
        return f"{len(p.pred)} pred and {len(p.prob)} prob for {len(idx)} examples"
    return ""


def _baseline(b: StoredBaseline) -> Baseline:
    return Baseline(
        name=b.name,
        description=b.description,
        fitted_on=b.fitted_on,
        predictions=tuple(b.predictions.pred),
        confidences=tuple(b.predictions.prob),
        metrics=b.metrics,
        intervals=b.intervals,
    )


def stale_reasons(stored: TaskBaselines, task: Task, train_sha256: str | None) -> tuple[str, ...]:
    """Why stored baselines no longer describe ``task`` (empty: they are current). ``train_sha256``
    is what the dataset's ``meta.json`` declares now for the task's train split."""
    checks = (
        (stored.task != task.name, f"made for task {stored.task!r}"),
        (stored.recipe_version != RECIPE_VERSION, f"made by recipe {stored.recipe_version}, now {RECIPE_VERSION}"),
        (stored.split != task.split, f"made for split {stored.split!r}, the task scores {task.split!r}"),
        (stored.data_sha256 != task.data_sha256, "the held-out data changed (data_sha256 differs)"),
        (
            stored.train_split != task.train_split,
            f"made from train split {stored.train_split!r}, now {task.train_split!r}",
        ),
        (stored.train_sha256 != train_sha256, "the train data changed (its sha256 in meta.json differs)"),
        (len(stored.idx) != task.num_examples, f"{len(stored.idx)} examples, the task has {task.num_examples}"),
        (any(set(b.metrics) != set(scored_metrics(task)) for b in stored.baselines), "the task's metrics changed"),
        (
            any(p >= len(task.labels) for b in stored.baselines for p in b.predictions),
            "a prediction is not a task label",
        ),
    )
    return tuple(reason for failed, reason in checks if failed)


def baseline_issues(
    tasks: Sequence[Task], folder: Path, data_dir: Path, labels: Mapping[str, Sequence[int]] | None = None
) -> list[Issue]:
    """For each classification task: its baseline file is missing, unreadable, stale or (with
    the held-out ``labels``) its numbers do not follow from its predictions."""
    return current_baselines(tasks, folder, data_dir, labels)[1]


def forged_fields(stored: TaskBaselines, task: Task, gold: Sequence[int]) -> list[str]:
    """``baselines.<i>.<field>`` of every stored number that does not follow from the stored
    predictions and the held-out labels (metrics and intervals recomputed as ``ftbench
    baselines`` computes them): a baseline file is a committed file a pull request can edit."""
    if len(gold) != len(stored.idx):
        return ["baselines"]
    wrong = []
    for i, b in enumerate(stored.baselines):
        again = score_baseline(task, b.name, b.description, b.fitted_on, gold, b.predictions, b.confidences)
        if any(not math.isclose(b.metrics.get(m, math.nan), v, abs_tol=1e-9) for m, v in again.metrics.items()):
            wrong.append(f"baselines.{i}.metrics")
        bounds = again.intervals.bounds
        if any(
            not all(
                math.isclose(x, y, abs_tol=1e-9)
                for x, y in zip(b.intervals.bounds.get(m, (math.nan,) * 2), v, strict=True)
            )
            for m, v in bounds.items()
        ):
            wrong.append(f"baselines.{i}.intervals")
    return wrong


def current_baselines(
    tasks: Sequence[Task],
    folder: Path,
    data_dir: Path | None,
    labels: Mapping[str, Sequence[int]] | None = None,
) -> tuple[dict[str, TaskBaselines], list[Issue]]:
    """The current baselines of every classification task (task name -> baselines), and an
    issue for each task whose file is missing, unreadable or stale, or whose numbers do not
    follow from its predictions and the held-out ``labels`` (that task gets none)."""
    found: dict[str, TaskBaselines] = {}
    issues: list[Issue] = []
    for task in (t for t in tasks if t.type == "classification"):
        path = baselines_path(folder, task.name)
        shown = display_path(path)
        if not path.is_file():
            issues.append(Issue(shown, "-", "no baselines for this task (run: ftbench baselines)", "warning"))
            continue
        try:
            stored = read_baselines(path)
        except InvalidInput as exc:
            issues.extend(exc.issues)
            continue
        except FtbenchError as exc:
            issues.append(Issue(shown, "-", str(exc).split(":-: ", 1)[-1]))
            continue
        train_sha = split_sha256(data_dir, task.dataset, task.train_split) if task.train_split and data_dir else None
        stale = stale_reasons(stored, task, train_sha)
        issues.extend(Issue(shown, "-", f"stale: {r} (run: ftbench baselines)", "warning") for r in stale)
        gold = (labels or {}).get(task.name)
        forged = forged_fields(stored, task, gold) if gold is not None and not stale else []
        issues.extend(Issue(shown, f, "does not follow from the predictions and the held-out labels") for f in forged)
        if not stale and not forged:
            found[task.name] = stored
    return found, issues
