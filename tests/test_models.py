"""The model stage: the backend registry and the one way a job's model is loaded."""

from __future__ import annotations

import pytest

from conftest import plan
from ftbench.models import backends
from ftbench.models.backends import LoadRequest, backend_for, load_model, register_backend
from ftbench.models.dummy import DummyClassifier
from ftbench.registry import Registry


def test_each_task_type_has_its_default_backend():
    assert backend_for("classification").name == "hf-sequence-classification"
    assert backend_for("classification", "causal-lm").name == "hf-causal-lm"
    assert backend_for("perplexity", "causal-lm").name == "hf-causal-lm"
    with pytest.raises(KeyError, match="no model backend serves classifier models on perplexity tasks"):
        backend_for("perplexity")


def test_the_registry_refuses_a_second_name_or_a_second_default(monkeypatch):
    monkeypatch.setattr(backends, "BACKENDS", Registry("model backend"))

    @register_backend("mine", task_types=("toy",))
    def mine(request: LoadRequest):
        return DummyClassifier(len(request.labels))

    assert backend_for("toy").load is mine
    with pytest.raises(ValueError, match="duplicate model backend name: 'mine'"):
        register_backend("mine")(mine)
    with pytest.raises(ValueError, match="task type 'toy' already has a default backend"):
        register_backend("other", task_types=("toy",))(mine)


def test_load_model_resolves_the_pinned_base_and_the_adapter(board, make_submission):
    make_submission()
    config, [job] = plan(board)
    seen: list[LoadRequest] = []

    def spy(request: LoadRequest):
        seen.append(request)
        return DummyClassifier(len(request.labels))

    loaded = load_model(job, config, "cpu", spy)
    [request] = seen
    assert request.labels == job.task.labels and request.device == "cpu" and request.precision == "fp32"
    assert request.base == loaded.base.folder and loaded.base.origin.startswith("local mirror")
    assert (request.base / "config.json").is_file()
    assert request.adapter == job.submission.folder / "adapter" and loaded.adapter is not None
    assert isinstance(loaded.model, DummyClassifier) and loaded.load_seconds >= 0
    assert isinstance(load_model(job, config, "cpu", "dummy").model, DummyClassifier)  # by name
