"""Model backends: one registry, one way to resolve and load the model of a job.

A backend turns local weight folders into an object that implements the interface of its task
family (``ftbench.models.base``). Backends register under a name, as lm-evaluation-harness
registers its model classes, and declare the task types they serve::

    @register_backend("hf-sequence-classification", task_types=("classification",))
    def hf_sequence_classification(request: LoadRequest) -> Classifier: ...

:func:`load_model` is the only place where a job's weights are resolved and a model is loaded
(``ftbench evaluate`` and ``ftbench verify`` both call it). A new model family adds a
backend here and a Protocol in ``base``; the evaluation code does not change.

This module stays light: a backend imports its library (torch, transformers, peft) only when
it is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftbench.config import BoardConfig
from ftbench.models.base import Classifier
from ftbench.models.dummy import DummyClassifier
from ftbench.models.resolve import ResolvedWeights, resolve
from ftbench.registry import Registry

if TYPE_CHECKING:  # a job is planned above this stage; only its fields are read here
    from ftbench.jobs import EvalJob

SEED = 0
"""Seed set before a model is loaded (a head missing from a checkpoint starts the same every run)."""


@dataclass(frozen=True)
class LoadRequest:
    """What a backend is asked to load: local folders and how to run them."""

    base: Path
    """Folder of the base (or fully fine-tuned) checkpoint."""
    adapter: Path | None
    """Folder of a PEFT adapter to apply, if any."""
    labels: tuple[str, ...]
    """The task's label names (index = label id)."""
    precision: str
    """``fp32``, ``fp16``, ``bf16``, ``int8`` or ``int4``, as the submission declares it."""
    device: str
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    seed: int = SEED
    """Seed set before loading."""


Backend = Callable[[LoadRequest], Any]
"""A loader: a request in, a model implementing its family's Protocol out."""


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend."""

    name: str
    """Registry name (recorded in provenance through the model's ``info.backend``)."""
    task_types: tuple[str, ...]
    """Task types (``Task.type``) this backend is the default for."""
    load: Backend
    """The loader."""


BACKENDS: Registry[BackendEntry] = Registry("model backend")


def register_backend(name: str, *, task_types: tuple[str, ...] = ()) -> Callable[[Backend], Backend]:
    """Class or function decorator: register a loader under ``name`` (a second use of a name
    is an error), as the default backend of ``task_types``."""

    def add(load: Backend) -> Backend:
        taken = [t for t in task_types for e in BACKENDS.values() if t in e.task_types]
        if taken:
            raise ValueError(f"task type {taken[0]!r} already has a default backend")
        BACKENDS.add(name, BackendEntry(name, task_types, load))
        return load

    return add


def backend_for(task_type: str) -> BackendEntry:
    """The default backend of a task type."""
    for entry in BACKENDS.values():
        if task_type in entry.task_types:
            return entry
    raise KeyError(f"no model backend serves task type {task_type!r} (backends: {', '.join(BACKENDS.names())})")


@dataclass(frozen=True)
class LoadedModel:
    """A job's model, where its weights came from, and how long loading took."""

    model: Any
    """The model, implementing its family's Protocol (``Classifier`` for classification)."""
    base: ResolvedWeights
    """The base weights as resolved."""
    adapter: ResolvedWeights | None
    """The adapter as resolved."""
    load_seconds: float
    """Wall time of loading (resolving excluded)."""


def load_model(
    job: EvalJob, config: BoardConfig, device: str = "auto", backend: str | Backend | None = None
) -> LoadedModel:
    """Resolve the job's pinned weights to local folders and load them with ``backend`` (a
    registered name or a loader; default: the backend registered for the task's type)."""
    folder = job.submission.folder
    base = resolve(job.base, folder, config.local_models)
    adapter = resolve(job.adapter, folder, config.local_models) if job.adapter else None
    if backend is None:
        load = backend_for(job.task.type).load
    else:
        load = BACKENDS[backend].load if isinstance(backend, str) else backend
    request = LoadRequest(
        base=base.folder,
        adapter=adapter.folder if adapter else None,
        labels=tuple(job.task.labels),
        precision=job.precision,
        device=device,
    )
    start = time.perf_counter()
    model = load(request)
    return LoadedModel(model, base, adapter, time.perf_counter() - start)


@register_backend("hf-sequence-classification", task_types=("classification",))
def hf_sequence_classification(request: LoadRequest) -> Classifier:
    """transformers ``AutoModelForSequenceClassification`` (safetensors, no remote code), with
    an optional PEFT adapter merged in."""
    from ftbench.models.hf import load_classifier

    return load_classifier(
        request.base, request.adapter, request.labels, request.precision, request.device, seed=request.seed
    )


@register_backend("dummy")
def dummy(request: LoadRequest) -> Classifier:
    """Weightless, deterministic scores (tests and dry runs; never a task's default)."""
    return DummyClassifier(len(request.labels))
