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
from ftbench.efficiency import release_memory
from ftbench.models.base import Classifier, LanguageModel
from ftbench.models.dummy import DummyClassifier, DummyLanguageModel
from ftbench.models.resolve import ResolvedWeights, resolve
from ftbench.models.runtime import warm_runtime
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
    gguf_file: str | None = None
    """A GGUF checkpoint in ``base`` to dequantise (causal LMs)."""
    cache_dir: Path | None = None
    """Where converted checkpoints are kept."""
    merge_adapter: bool = True
    """Merge the adapter into the base weights (False: run it unmerged, as some deploy it)."""


Backend = Callable[[LoadRequest], Any]
"""A loader: a request in, a model implementing its family's Protocol out."""


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend."""

    name: str
    """Registry name (recorded in provenance through the model's ``info.backend``)."""
    task_types: tuple[str, ...]
    """Task types (``Task.type``) this backend is the default for."""
    model_kind: str
    """The kind of model it loads (``model.kind`` of a submission: ``classifier``, ``causal-lm``)."""
    load: Backend
    """The loader."""


BACKENDS: Registry[BackendEntry] = Registry("model backend")


def register_backend(
    name: str, *, task_types: tuple[str, ...] = (), model_kind: str = "classifier"
) -> Callable[[Backend], Backend]:
    """Class or function decorator: register a loader under ``name`` (a second use of a name
    is an error), as the default backend of ``task_types`` for models of ``model_kind``."""

    def add(load: Backend) -> Backend:
        taken = [t for t in task_types for e in BACKENDS.values() if t in e.task_types and e.model_kind == model_kind]
        if taken:
            raise ValueError(f"task type {taken[0]!r} already has a default backend for {model_kind} models")
        BACKENDS.add(name, BackendEntry(name, task_types, model_kind, load))
        return load

    return add


def backend_for(task_type: str, model_kind: str = "classifier") -> BackendEntry:
    """The default backend of a task type for a kind of model."""
    for entry in BACKENDS.values():
        if task_type in entry.task_types and entry.model_kind == model_kind:
            return entry
    raise KeyError(
        f"no model backend serves {model_kind} models on {task_type} tasks (backends: {', '.join(BACKENDS.names())})"
    )


@dataclass(frozen=True)
class LoadedModel:
    """A job's model, where its weights came from, and how long loading took."""

    model: Any
    """The model, implementing its family's Protocol (``Classifier`` or ``LanguageModel``)."""
    base: ResolvedWeights
    """The base weights as resolved."""
    adapter: ResolvedWeights | None
    """The adapter as resolved."""
    load_seconds: float
    """Wall time of loading (resolving excluded, converting included)."""
    rss_before_mb: float = 0.0
    """The process's resident memory just before loading (freed memory handed back first):
    what a peak is measured against to give the memory the model itself takes."""


def load_model(
    job: EvalJob,
    config: BoardConfig,
    device: str = "auto",
    backend: str | Backend | None = None,
    merge_adapter: bool = True,
) -> LoadedModel:
    """Resolve the job's pinned weights to local folders and load them with ``backend`` (a
    registered name or a loader; default: the backend registered for the task's type); an
    adapter is merged unless ``merge_adapter`` is False."""
    folder = job.submission.folder
    base = resolve(job.base, folder, config.local_models)
    adapter = resolve(job.adapter, folder, config.local_models) if job.adapter else None
    if backend is None:
        load = backend_for(job.task.type, job.model_kind).load
    else:
        load = BACKENDS[backend].load if isinstance(backend, str) else backend
    request = LoadRequest(
        base=base.folder,
        adapter=adapter.folder if adapter else None,
        labels=tuple(job.task.labels),
        precision=job.precision,
        device=device,
        gguf_file=job.base.gguf_file,
        cache_dir=(config.cache_dir or config.root / ".ftbench-cache") / "gguf",
        merge_adapter=merge_adapter,
    )
    warm_runtime(base.folder)  # the libraries' own memory is not the model's
    before = release_memory()
    start = time.perf_counter()
    model = load(request)
    seconds = time.perf_counter() - start
    release_memory()  # what loading freed (file buffers, merge temporaries) is not the model's either
    return LoadedModel(model, base, adapter, seconds, before)


@register_backend("hf-sequence-classification", task_types=("classification",))
def hf_sequence_classification(request: LoadRequest) -> Classifier:
    """transformers ``AutoModelForSequenceClassification`` (safetensors, no remote code), with
    an optional PEFT adapter merged in."""
    from ftbench.models.hf import load_classifier

    return load_classifier(
        request.base,
        request.adapter,
        request.labels,
        request.precision,
        request.device,
        seed=request.seed,
        merge_adapter=request.merge_adapter,
    )


@register_backend("hf-causal-lm", task_types=("classification", "perplexity"), model_kind="causal-lm")
def hf_causal_lm(request: LoadRequest) -> LanguageModel:
    """transformers ``AutoModelForCausalLM`` (safetensors, no remote code; a GGUF base
    dequantised once into the cache), with an optional PEFT adapter merged in."""
    from ftbench.models.causal import load_language_model

    if request.cache_dir is None:
        raise ValueError("a causal-LM load needs a cache folder")
    return load_language_model(
        request.base,
        request.adapter,
        request.gguf_file,
        request.precision,
        request.device,
        request.cache_dir,
        seed=request.seed,
        merge_adapter=request.merge_adapter,
    )


@register_backend("dummy")
def dummy(request: LoadRequest) -> Classifier:
    """Weightless, deterministic scores (tests and dry runs; never a task's default)."""
    return DummyClassifier(len(request.labels))


@register_backend("dummy-lm", model_kind="causal-lm")
def dummy_lm(request: LoadRequest) -> LanguageModel:
    """A weightless bigram language model over bytes (tests and dry runs; never a default)."""
    return DummyLanguageModel(request.seed)
