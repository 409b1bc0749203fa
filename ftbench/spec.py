"""The submission format: frozen pydantic models, one docstring per field (they become the
JSON Schema's descriptions, so editors can show them while a contributor writes YAML)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ftbench.errors import Issue
from ftbench.strict import STRICT

SPEC_VERSION: Literal[1] = 1
_ID = r"^[a-z0-9][a-z0-9._\-]{1,79}$"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

Method = Literal[
    "full",
    "lora",
    "qlora",
    "dora",
    "ia3",
    "prefix",
    "prompt-tuning",
    "head-only",
    "prompting",
    "sft",
    "instruction-tuning",
    "dpo",
    "orpo",
    "kto",
    "simpo",
    "rlhf",
    "ppo",
    "distillation",
    "other",
]
"""How the weights were produced. ``prompting``: none (the base as published, scored through a
prompt). Adapter methods (lora, qlora, dora, ia3, prefix, prompt-tuning) need an adapter."""
Objective = Literal[
    "classification", "language-modeling", "sft", "instruction-tuning", "dpo", "orpo", "kto", "simpo", "rlhf", "other"
]
ModelKind = Literal["classifier", "causal-lm"]
Precision = Literal["fp32", "fp16", "bf16", "int8", "int4"]


class WeightsRef(BaseModel):
    """Where weights live: a Hub repository pinned at a commit, or a folder in the submission."""

    model_config = STRICT
    hub: str | None = None
    """Hugging Face Hub repository id (``owner/name``)."""
    revision: str | None = None
    """Commit hash (40 hex digits) that pins ``hub``; branches and tags can move."""
    path: str | None = None
    """Folder relative to the submission folder (must stay inside it)."""
    gguf_file: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.gguf$")
    """A GGUF checkpoint in that folder (a file name, no path): dequantised by transformers'
    GGUF support and evaluated in fp32 (causal LMs only)."""

    @model_validator(mode="after")
    def _one_source(self) -> WeightsRef:
        if (self.hub is None) == (self.path is None):
            raise ValueError("give exactly one of 'hub' (with 'revision') or 'path'")
        if self.hub is not None:
            if not _HUB_ID.match(self.hub):
                raise ValueError(f"'hub' must look like owner/name, got {self.hub!r}")
            if self.revision is None or not _COMMIT.match(self.revision):
                raise ValueError("'revision' must be a full 40-hex commit hash pinning 'hub'")
        elif self.revision is not None:
            raise ValueError("'revision' only goes with 'hub'")
        return self

    @property
    def label(self) -> str:
        """``owner/name@abcdef1`` or ``./path``, for display."""
        where = f"{self.hub}@{self.revision[:7]}" if self.hub and self.revision else f"./{self.path}"
        return f"{where}/{self.gguf_file}" if self.gguf_file else where


class Prompting(BaseModel):
    """How a causal LM is prompted on a classification task (the task declares the template and
    label words; these settings are the submission's)."""

    model_config = STRICT
    chat_template: bool = False
    """Wrap the prompt in the tokenizer's chat template (instruction-tuned models): the label
    word is then scored as the start of the assistant's reply."""
    num_fewshot: int = Field(default=0, ge=0, le=32)
    """Demonstrations drawn from the task's train split and put before every example."""
    fewshot_seed: int = Field(default=1234, ge=0, lt=2**32)
    """Seed of the draw of demonstrations (recorded; the same seed gives the same prompt)."""


class ModelSpec(BaseModel):
    """The model that is evaluated: a base checkpoint, optionally with an adapter on top."""

    model_config = STRICT
    base: WeightsRef
    """The base (or fully fine-tuned) checkpoint, in safetensors."""
    adapter: WeightsRef | None = None
    """A PEFT adapter (``adapter_config.json`` + ``adapter_model.safetensors``) applied to ``base``."""
    precision: Precision = "fp32"
    """Weights' precision at evaluation. int8/int4 describe a quantised base (QLoRA-style)."""
    kind: ModelKind = "classifier"
    """``classifier``: a sequence classifier with a head over the task's labels (encoders).
    ``causal-lm``: a language model, scored by log-likelihood (perplexity tasks) or through
    the task's prompt and label words (classification tasks)."""
    prompting: Prompting = Field(default_factory=Prompting)
    """Prompt settings for a causal LM on classification tasks (ignored for classifiers)."""

    @model_validator(mode="after")
    def _gguf_only_for_a_causal_base(self) -> ModelSpec:
        if self.adapter is not None and self.adapter.gguf_file is not None:
            raise ValueError("'gguf_file' names a base checkpoint, not an adapter")
        if self.base.gguf_file is not None and self.kind != "causal-lm":
            raise ValueError("a GGUF base is a language model: set kind: causal-lm")
        return self


class DataRef(BaseModel):
    """A dataset split used for training."""

    model_config = STRICT
    dataset: str
    """Dataset name (as in the data directory, or a Hub id)."""
    split: str = "train"
    """Split used."""


class TaskEntry(BaseModel):
    """Per-task settings: empty to use the submission's model, or another adapter/checkpoint."""

    model_config = STRICT
    adapter: WeightsRef | None = None
    """Adapter for this task (task-specific fine-tunes), replacing ``model.adapter``."""
    base: WeightsRef | None = None
    """Checkpoint for this task, replacing ``model.base``."""
    training_data: tuple[DataRef, ...] | None = None
    """Data this task's adapter/checkpoint was trained on, replacing ``fine_tuning.training_data``."""
    prompting: Prompting | None = None
    """Prompt settings for this task, replacing ``model.prompting``."""


class FineTuning(BaseModel):
    """How the model was fine-tuned, as the submitter declares it."""

    model_config = STRICT
    method: Method
    """full, lora, qlora, dora, ia3, prefix, prompt-tuning, head-only, prompting (no training),
    sft, instruction-tuning, dpo, orpo, kto, simpo, rlhf, ppo, distillation or other."""
    objective: Objective | None = None
    """What training optimised, when ``method`` names the parameterisation (LoRA trained with
    DPO: ``method: lora``, ``objective: dpo``)."""
    trainable_parameters: int | None = Field(default=None, ge=0)
    """Parameters updated by training (adapter + trained heads)."""
    training_data: tuple[DataRef, ...] = ()
    """Every dataset split the model was trained on (checked against known overlaps)."""
    hyperparameters: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)
    """Key settings: learning rate, epochs, batch size, LoRA rank/alpha/targets, seed."""
    script: str | None = None
    """Command or script that produced the weights, for reproduction."""


class Submitter(BaseModel):
    """Who submitted the model."""

    model_config = STRICT
    name: str = Field(min_length=1)
    """Person or organisation."""
    github: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,39}$")
    """GitHub handle, without @."""


class Submission(BaseModel):
    """One leaderboard entry: ``submissions/<id>/submission.yaml``."""

    model_config = STRICT
    spec_version: Literal[1] = SPEC_VERSION
    """Version of this format."""
    id: str = Field(pattern=_ID)
    """Unique id, lower-case; must equal the folder name."""
    name: str = Field(min_length=1, max_length=120)
    """Display name on the board."""
    description: str = Field(default="", max_length=500)
    """One or two sentences shown under the name."""
    submitter: Submitter
    """Who submitted it."""
    date: dt.date
    """Submission date (YYYY-MM-DD)."""
    license: str = Field(min_length=1)
    """License of the submitted weights (SPDX id where there is one)."""
    model_card: str = "README.md"
    """Markdown model card, relative to the submission folder."""
    model: ModelSpec
    """The model evaluated on every task unless a task entry overrides it."""
    fine_tuning: FineTuning
    """How it was trained."""
    tasks: dict[str, TaskEntry] = Field(min_length=1)
    """Task name -> settings (``{}`` for defaults). Only these tasks are evaluated."""

    @field_validator("date")
    @classmethod
    def _not_in_the_future(cls, v: dt.date) -> dt.date:
        # a day of slack for time zones; a date far ahead would date the whole site
        if v > dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1):
            raise ValueError(f"{v.isoformat()} is in the future")
        return v

    @field_validator("tasks", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: ({} if e is None else e) for k, e in v.items()}
        return v

    def training_data_for(self, task: str) -> tuple[DataRef, ...]:
        """The data the model evaluated on ``task`` was trained on."""
        own = self.tasks[task].training_data
        return own if own is not None else self.fine_tuning.training_data

    def prompting_for(self, task: str) -> Prompting:
        """The prompt settings of ``task``."""
        own = self.tasks[task].prompting
        return own if own is not None else self.model.prompting

    def weights_for(self, task: str) -> tuple[WeightsRef, WeightsRef | None]:
        """The (base, adapter) pair evaluated on ``task``."""
        entry = self.tasks[task]
        base = entry.base or self.model.base
        adapter = entry.adapter if entry.adapter is not None else self.model.adapter
        if entry.base is not None and entry.adapter is None:
            adapter = None  # a task-specific checkpoint does not inherit the default adapter
        return base, adapter


def pydantic_issues(path: str, exc: ValidationError, prefix: str = "") -> list[Issue]:
    """Turn a pydantic ValidationError into ``path:field: message`` issues."""
    issues = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-")) or "-"
        field = f"{prefix}{loc}" if loc != "-" else (prefix.rstrip(".") or "-")
        issues.append(Issue(path, field, _message(err)))
    return issues


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check spelling; `ftbench schema submission` lists the allowed keys)"
    if kind == "missing":
        return "required key missing"
    if kind == "literal_error":
        return f"must be one of {err['ctx']['expected']}, got {err.get('input')!r}"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def submission_json_schema() -> dict:
    """JSON Schema of ``submission.yaml``."""
    schema = Submission.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ftbench.dev/schema/submission-v1.json"
    return schema
