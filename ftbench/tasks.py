"""Tasks: fixed held-out data declared as YAML, one file per task, pinned by sha256.

Adding a classification task needs no code: drop ``tasks/<name>.yaml`` next to the others
and put its data under the data directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ftbench.errors import DataIntegrityError, InvalidInput, Issue
from ftbench.files import file_sha256, read_jsonl
from ftbench.metrics import METRICS
from ftbench.perplexity import split_articles
from ftbench.registry import Registry
from ftbench.spec import pydantic_issues
from ftbench.strict import STRICT


class DataSource(BaseModel):
    """Where the data came from (a public repository pinned at a commit)."""

    model_config = STRICT
    repository: str
    """Public repository the raw files were taken from (``owner/name``)."""
    commit: str
    """Commit of that repository."""
    paths: tuple[str, ...] = ()
    """Files inside it that were converted."""


class HubEquivalent(BaseModel):
    """The same data on the Hugging Face Hub, for users who fetch it online."""

    model_config = STRICT
    dataset: str
    """Hub dataset id."""
    config: str | None = None
    """Dataset configuration name, if any."""
    split: str
    """Split on the Hub that corresponds to ``Task.split``."""
    revision: str | None = None
    """Pinned Hub revision, when known; verify any download against ``data_sha256``."""
    note: str = ""
    """Differences between the Hub copy and ours (ordering, text normalisation)."""


class Overlap(BaseModel):
    """A known overlap between this task's held-out split and another split (contamination):
    declared by hand (``note``), measured by ``ftbench contamination --write-tasks``
    (``examples``, ``fraction``, ``method``), or both. Only the hand-written part enters the
    task's :attr:`Task.definition_sha256`: measuring again never makes a record stale."""

    model_config = STRICT
    dataset: str
    """Dataset whose split shares examples with this task's held-out split."""
    split: str
    """That split."""
    note: str = ""
    """How large the overlap is and how it was measured, in words (hand-written; empty for an
    entry only measured)."""
    examples: int | None = Field(default=None, ge=0)
    """Held-out examples found in that split (``ftbench contamination``; its
    ``tasks/overlaps.json`` lists their ids)."""
    fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    """``examples`` as a share of the held-out split."""
    method: str | None = Field(default=None, max_length=200)
    """How they were found (``ftbench.contamination.METHOD``)."""

    @model_validator(mode="after")
    def _declared_or_measured(self) -> Overlap:
        if not self.note.strip() and self.examples is None:
            raise ValueError("an overlap needs a note or measured examples")
        return self


class PromptSpec(BaseModel):
    """How a causal LM is asked a classification task (lm-evaluation-harness's multiple-choice
    format): the prompt is ``instruction``, then the demonstrations, then ``template`` with the
    example's text; each label is scored as the continuation ``target_delimiter + choice``."""

    model_config = STRICT
    template: str = Field(min_length=1, max_length=2000, pattern=r"\{text\}")
    """The example's prompt; ``{text}`` is replaced by the example's text."""
    choices: tuple[str, ...]
    """The label words (verbalisers), one per label, in label-id order."""
    instruction: str = Field(default="", max_length=2000)
    """Put once before the demonstrations and the example (empty: none)."""
    target_delimiter: str = " "
    """Between the prompt and the label word (lm-eval's ``target_delimiter``)."""
    fewshot_delimiter: str = "\n\n"
    """Between demonstrations, and between the last one and the example."""
    fewshot_split: str | None = None
    """Split demonstrations are drawn from (default: the task's ``train_split``)."""

    @field_validator("choices")
    @classmethod
    def _distinct_choices(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v) or not all(c.strip() for c in v):
            raise ValueError("label words must be distinct and not blank")
        return v


class PerplexitySpec(BaseModel):
    """How a perplexity task cuts its text into documents and scores them."""

    model_config = STRICT
    documents: Literal["wikitext-articles", "blank-line-paragraphs", "whole-file"] = "wikitext-articles"
    """``wikitext-articles``: a line `` = Title = `` starts a document (WikiText);
    ``blank-line-paragraphs``: documents separated by empty lines; ``whole-file``: one document."""
    max_length: int = Field(default=2048, ge=16, le=131072)
    """Tokens per scoring window (capped at the model's context length; recorded)."""
    stride: int | None = Field(default=None, ge=1)
    """Tokens predicted per window: less than ``max_length`` gives a sliding window, each
    window re-reading ``max_length - stride`` earlier tokens as context (more context per
    token, more compute). Default: ``max_length`` (lm-eval's disjoint rolling windows)."""

    @property
    def context_len(self) -> int:
        """The ``context_len`` of :func:`ftbench.perplexity.rolling_windows`."""
        stride = min(self.stride or self.max_length, self.max_length)
        return self.max_length - stride + 1


class Task(BaseModel):
    """One benchmark task: a dataset, its held-out split and how it is scored."""

    model_config = STRICT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    """Unique task id; also the file name (``tasks/<name>.yaml``)."""
    title: str
    """Human-readable name."""
    type: Literal["classification", "perplexity"] = "classification"
    """Task family; decides which runner evaluates it: ``classification`` (labelled texts;
    classifiers, and causal LMs through ``prompt``) or ``perplexity`` (held-out text; causal LMs)."""
    description: str = ""
    """What the task measures, in a sentence or two (shown on the site)."""
    dataset: str
    """Folder under the data directory."""
    split: str = "test"
    """The held-out split that is scored."""
    data_file: str
    """File of the split, relative to the dataset folder."""
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 of ``data_file``; a mismatch stops the evaluation."""
    num_examples: int = Field(gt=0)
    """Rows in the held-out split."""
    text_field: str = "text"
    """JSON key of the input text."""
    label_field: str = "label"
    """JSON key of the integer label."""
    labels: tuple[str, ...] = ()
    """Label names; index = label id (classification tasks)."""
    primary_metric: str = Field(default="accuracy", validate_default=True)
    """Metric that ranks the leaderboard (its direction is declared on the metric)."""
    metrics: tuple[str, ...] = Field(
        default=("accuracy", "f1_macro", "precision_macro", "recall_macro"), validate_default=True
    )
    """Metrics reported for this task."""
    train_split: str | None = None
    """Split that submissions may train on, if the data directory has one."""
    license: str = ""
    """License of the data."""
    citation: str = ""
    """Reference to cite."""
    source: DataSource | None = None
    """Provenance of the converted files."""
    hub: HubEquivalent | None = None
    """The Hugging Face Hub copy of the same split."""
    overlaps: tuple[Overlap, ...] = ()
    """Known overlaps with other splits: training on those contaminates this task (declared by
    hand, or measured: ``ftbench contamination --write-tasks``)."""
    prompt: PromptSpec | None = None
    """How causal LMs are prompted on a classification task (none: only classifiers take it)."""
    perplexity: PerplexitySpec | None = None
    """Documents and windows of a perplexity task."""

    @field_validator("labels")
    @classmethod
    def _labels_fit_the_type(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("label names must be distinct")
        kind = info.data.get("type", "classification")
        if kind == "classification" and len(v) < 2:
            raise ValueError("needs at least two distinct label names")
        if kind == "perplexity" and v:
            raise ValueError("a perplexity task has no labels")
        return v

    @field_validator("primary_metric")
    @classmethod
    def _known_primary(cls, v: str, info: ValidationInfo) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r} (known: {', '.join(METRICS.names())})")
        _fits_type(v, info.data.get("type", "classification"))
        return v

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        unknown = [m for m in v if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS.names())})")
        for name in v:
            _fits_type(name, info.data.get("type", "classification"))
        return v

    @field_validator("prompt")
    @classmethod
    def _a_word_per_label(cls, v: PromptSpec | None, info: ValidationInfo) -> PromptSpec | None:
        labels = info.data.get("labels")
        if v is not None and info.data.get("type") == "perplexity":
            raise ValueError("only classification tasks take a prompt")
        if v is not None and labels is not None and len(v.choices) != len(labels):
            raise ValueError(f"{len(v.choices)} label words (choices) for {len(labels)} labels")
        return v

    @field_validator("perplexity")
    @classmethod
    def _only_for_perplexity(cls, v: PerplexitySpec | None, info: ValidationInfo) -> PerplexitySpec | None:
        if v is not None and info.data.get("type") != "perplexity":
            raise ValueError("only perplexity tasks take perplexity settings")
        return v

    @property
    def scored_by_documents(self) -> bool:
        """True for perplexity tasks (per-document log-likelihoods, no labels)."""
        return self.type == "perplexity"

    @property
    def settings(self) -> PerplexitySpec:
        """The perplexity settings (defaults when the task gives none)."""
        return self.perplexity or PerplexitySpec()

    @cached_property
    def definition_sha256(self) -> str:
        """Hash of the task definition's canonical JSON: changes whenever the task changes."""
        canonical = json.dumps(self._defining_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _defining_fields(self) -> dict:
        """The definition as hashed: every field, but of ``overlaps`` only the hand-declared
        entries' ``dataset``, ``split`` and ``note`` (what the hash covered before overlaps were
        measured, so hashes in existing records stay valid). Measured figures describe the data,
        not how a result is computed: re-measuring must not make records stale."""
        fields = self.model_dump(mode="json", exclude={"overlaps"})
        fields["overlaps"] = [{"dataset": o.dataset, "split": o.split, "note": o.note} for o in self.overlaps if o.note]
        return fields

    @property
    def higher_is_better(self) -> bool:
        """Direction of the primary metric."""
        return METRICS[self.primary_metric].higher_is_better

    def data_path(self, data_dir: Path) -> Path:
        """Location of the held-out file under ``data_dir``."""
        return data_dir / self.dataset / self.data_file


@dataclass(frozen=True)
class Examples:
    """The held-out examples of a task, in file order."""

    idx: tuple[int, ...]
    """Row ids as stored in the data file."""
    texts: tuple[str, ...]
    """Input texts."""
    labels: tuple[int, ...]
    """Gold label ids."""

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int | None) -> Examples:
        """The first ``n`` examples (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return Examples(self.idx[:n], self.texts[:n], self.labels[:n])


def _fits_type(metric: str, task_type: str) -> None:
    """A perplexity task reports perplexity metrics, a classification task the others."""
    by_documents = METRICS[metric].evidence == "documents"
    if by_documents != (task_type == "perplexity"):
        raise ValueError(f"{metric!r} is not a metric of {task_type} tasks")


def _safe_yaml(text: str) -> Any:
    """``yaml.safe_load``, by libyaml's safe loader where PyYAML was built with it (the same
    documents, parsed several times faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_task_file(path: Path) -> Task:
    """Parse and validate one task definition; every problem is reported as an Issue."""
    try:
        raw = _safe_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput([Issue(str(path), "-", f"invalid YAML: {exc}")]) from None
    if not isinstance(raw, dict):
        raise InvalidInput([Issue(str(path), "-", "a task definition must be a mapping")])
    try:
        task = Task.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(str(path), exc)) from None
    if task.name != path.stem:
        raise InvalidInput([Issue(str(path), "name", f"must match the file name {path.stem!r}")])
    return task


def load_tasks(tasks_dir: Path) -> Registry[Task]:
    """All task definitions in ``tasks_dir``, sorted by name."""
    if not tasks_dir.is_dir():
        raise InvalidInput([Issue(str(tasks_dir), "-", "tasks folder not found")])
    registry: Registry[Task] = Registry("task")
    issues: list[Issue] = []
    for path in sorted(tasks_dir.glob("*.yaml")):
        try:
            task = load_task_file(path)
        except InvalidInput as exc:
            issues.extend(exc.issues)
            continue
        registry.add(task.name, task)
    if issues:
        raise InvalidInput(issues)
    return registry


def verify_data(task: Task, data_dir: Path) -> Path:
    """Return the held-out file's path after checking it exists and matches ``data_sha256``."""
    path = task.data_path(data_dir)
    if not path.is_file():
        raise DataIntegrityError(
            f"{path}: data file of task {task.name!r} not found (data directory: {data_dir}; "
            "set FTBENCH_DATA_DIR or --data-dir to the folder holding the datasets)"
        )
    actual = file_sha256(path)
    if actual != task.data_sha256:
        raise DataIntegrityError(
            f"{path}: sha256 {actual} does not match data_sha256 {task.data_sha256} of task "
            f"{task.name!r}; the data changed, so results would not be comparable"
        )
    return path


def read_held_out(tasks: Iterable[Task], data_dir: Path) -> tuple[dict[str, Examples], dict[str, str]]:
    """Every task's held-out examples that can be read (checked against their sha256), and
    why each other task's cannot: what the audit of records is checked against."""
    examples, errors = {}, {}
    for task in tasks:
        try:
            examples[task.name] = load_examples(task, data_dir)
        except (DataIntegrityError, OSError, ValueError) as exc:
            errors[task.name] = str(exc)
    return examples, errors


def task_data_issues(task: Task, data_dir: Path, shown: str) -> list[Issue]:
    """What is wrong with a task's held-out data, without loading a model: the dataset folder,
    the file and its sha256, the row count, the text field, every label within the task's
    labels, and the task's labels against the dataset's ``meta.json`` (when it has one)."""
    try:
        examples = load_examples(task, data_dir)
    except DataIntegrityError as exc:
        message = str(exc)
        field = (
            "data_sha256"
            if "does not match data_sha256" in message
            else "num_examples"
            if " rows, task says" in message
            else "-"
        )
        return [Issue(shown, field, message)]
    except (OSError, ValueError) as exc:
        return [Issue(shown, "data_file", f"cannot be read ({exc})")]
    issues = []
    meta = _meta(data_dir, task.dataset)
    declared = meta.get("labels") if isinstance(meta, dict) else None
    if isinstance(declared, list) and list(declared) != list(task.labels):
        issues.append(Issue(shown, "labels", f"differ from {task.dataset}/meta.json's labels {declared}"))
    if task.type == "classification" and len(set(examples.labels)) < 2:
        issues.append(Issue(shown, "labels", "the held-out data holds fewer than two distinct labels"))
    return issues


def split_exists(data_dir: Path, dataset: str, split: str) -> bool | None:
    """Whether ``dataset`` has ``split`` according to its ``meta.json``; None when the data
    directory does not know the dataset (a Hub dataset, say)."""
    meta = _meta(data_dir, dataset)
    if not isinstance(meta, dict) or not isinstance(meta.get("splits"), dict):
        return None
    return split in meta["splits"]


def split_sha256(data_dir: Path, dataset: str, split: str) -> str | None:
    """The sha256 that ``dataset``'s ``meta.json`` declares for ``split``; None when the data
    directory does not know the dataset or the split (the file itself is not read)."""
    meta = _meta(data_dir, dataset)
    splits = meta.get("splits") if isinstance(meta, dict) else None
    entry = splits.get(split) if isinstance(splits, dict) else None
    sha = entry.get("sha256") if isinstance(entry, dict) else None
    return sha if isinstance(sha, str) else None


def _meta(data_dir: Path, dataset: str) -> object:
    try:
        return json.loads((data_dir / dataset / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_examples(task: Task, data_dir: Path) -> Examples:
    """Read a task's held-out examples after verifying the file's checksum: labelled texts,
    or a perplexity task's documents (ids 0..n-1, no labels)."""
    path = verify_data(task, data_dir)
    if task.scored_by_documents:
        docs = split_documents(path.read_text(encoding="utf-8"), task.settings.documents)
        if len(docs) != task.num_examples:
            raise DataIntegrityError(f"{path}: {len(docs)} documents, task says {task.num_examples}")
        return Examples(idx=tuple(range(len(docs))), texts=tuple(docs), labels=())
    rows = read_jsonl(path)
    if len(rows) != task.num_examples:
        raise DataIntegrityError(f"{path}: {len(rows)} rows, task says {task.num_examples}")
    return _rows_to_examples(task, path, rows)


def _rows_to_examples(task: Task, path: Path, rows: Sequence[dict]) -> Examples:
    n_labels = len(task.labels)
    for i, row in enumerate(rows):
        label = row.get(task.label_field)
        if not isinstance(row.get(task.text_field), str):
            raise DataIntegrityError(f"{path}: row {i} has no text field {task.text_field!r}")
        if not isinstance(label, int) or not 0 <= label < n_labels:
            raise DataIntegrityError(f"{path}: row {i} label {label!r} not in 0..{n_labels - 1}")
    return Examples(
        idx=tuple(int(row.get("idx", i)) for i, row in enumerate(rows)),
        texts=tuple(row[task.text_field] for row in rows),
        labels=tuple(row[task.label_field] for row in rows),
    )


def split_documents(text: str, how: str) -> list[str]:
    """A perplexity corpus cut into its documents (see ``PerplexitySpec.documents``).

    >>> split_documents("a\\nb\\n\\n\\nc\\n", "blank-line-paragraphs")
    ['a\\nb', 'c']
    """
    if how == "wikitext-articles":
        return split_articles(text)
    if how == "blank-line-paragraphs":
        return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [text] if text.strip() else []


def load_split(data_dir: Path, dataset: str, split: str) -> Examples:
    """Read any split of a dataset (e.g. for training), verified against its ``meta.json``."""
    meta_path = data_dir / dataset / "meta.json"
    if not meta_path.is_file():
        raise DataIntegrityError(f"{meta_path}: not found (data directory: {data_dir})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    entry = meta.get("splits", {}).get(split)
    if entry is None:
        raise DataIntegrityError(f"{meta_path}:splits: dataset {dataset!r} has no split {split!r}")
    path = data_dir / dataset / entry["file"]
    if not path.is_file() or file_sha256(path) != entry["sha256"]:
        raise DataIntegrityError(f"{path}: missing or its sha256 differs from {meta_path}")
    rows = read_jsonl(path)
    return Examples(
        idx=tuple(int(r.get("idx", i)) for i, r in enumerate(rows)),
        texts=tuple(r["text"] for r in rows),
        labels=tuple(int(r["label"]) for r in rows),
    )


def task_json_schema() -> dict:
    """JSON Schema of a task definition (``tasks/<name>.yaml``)."""
    schema = Task.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ftbench.dev/schema/task-v1.json"
    return schema


def task_lines(tasks: Iterable[Task]) -> list[str]:
    """``ftbench tasks``: a header and one aligned line per task."""
    lines = [f"{'task':20} {'scores':16} {'dataset/split':28} {'examples':>8} {'labels':>6}  primary metric"]
    for t in tasks:
        arrow = "higher is better" if t.higher_is_better else "lower is better"
        kind = "LMs (perplexity)" if t.type == "perplexity" else ("classifiers, LMs" if t.prompt else "classifiers")
        labels = str(len(t.labels)) if t.labels else "-"
        lines.append(
            f"{t.name:20} {kind:16} {t.dataset + '/' + t.split:28} {t.num_examples:>8} "
            f"{labels:>6}  {t.primary_metric} ({arrow})"
        )
    return lines
