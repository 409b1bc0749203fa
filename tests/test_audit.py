"""Forged records: each is refused by `ftbench check`, left off the built site, and not taken by
`ftbench collect`; an honest record passes every check (catalogue of issue #9's forgeries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT
from ftbench.audit import audit_record
from ftbench.check import check_board
from ftbench.collect import collect_records
from ftbench.config import load_config
from ftbench.record import ResultRecord, dumps, read_record
from ftbench.site import build_site
from ftbench.tasks import load_examples, load_tasks


def _record_path(config) -> Path:
    return config.results_dir / "my-model" / "sst2.json"


def _forge(config, change) -> dict:
    """Apply ``change`` to the record's JSON and write it back as a contributor could."""
    path = _record_path(config)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
    return doc


def _ranked_on_site(config, tmp_path) -> bool:
    site = tmp_path / "site"
    build_site(config.with_overrides(templates_dir=ROOT / "templates", site_dir=site), force=True)
    table = (site / "tasks" / "sst2.html").read_text()
    return "models/my-model.html" in table and (site / "records" / "my-model" / "sst2.json").exists()


def _set(path: str, value):
    def change(doc):
        node = doc
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _shift_accuracy(doc):
    doc["metrics"]["accuracy"] = min(1.0, doc["metrics"]["accuracy"] + 0.05)


def _unknown_ids(doc):
    doc["predictions"]["idx"][0] = 999_999


def _drop_examples(doc):
    for key in ("idx", "pred", "prob"):
        doc["predictions"][key] = doc["predictions"][key][:-10]


def _flip_confusion(doc):
    doc["confusion_matrix"][0][0] += 1
    doc["confusion_matrix"][0][1] -= 1


def _widen_interval(doc):
    low, high = doc["intervals"]["bounds"]["accuracy"]
    doc["intervals"]["bounds"]["accuracy"] = [max(0.0, low - 0.1), high]


FORGERIES = {
    "accuracy edited": (_shift_accuracy, "metrics.accuracy"),
    "accuracy 42": (_set("metrics.accuracy", 42.0), "metrics.accuracy"),
    "accuracy negative": (_set("metrics.accuracy", -5.0), "metrics.accuracy"),
    "macro F1 edited": (_set("metrics.f1_macro", 0.99), "metrics.f1_macro"),
    "unknown example ids": (_unknown_ids, "predictions.idx"),
    "examples missing": (_drop_examples, "task.num_examples"),
    "empty predictions": (_set("predictions", {"idx": [], "pred": [], "prob": []}), "task.num_examples"),
    "label out of range": (lambda d: d["predictions"]["pred"].__setitem__(0, 7), "predictions.pred"),
    "confusion matrix edited": (_flip_confusion, "confusion_matrix"),
    "per-class edited": (_set("per_class.positive.f1", 1.0), "per_class.positive"),
    "interval widened": (_widen_interval, "intervals.bounds.accuracy"),
    "negative throughput": (_set("efficiency.examples_per_s", -1.0), "efficiency.examples_per_s"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_record_is_refused_everywhere(name, evaluated, tmp_path):
    change, field = FORGERIES[name]
    assert check_board(evaluated) == [] and _ranked_on_site(evaluated, tmp_path / "before")
    _forge(evaluated, change)
    errors = [i for i in check_board(evaluated) if i.severity == "error"]
    assert field in {i.field for i in errors}, errors
    assert not _ranked_on_site(evaluated, tmp_path / "after")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "sst2.json").write_bytes(_record_path(evaluated).read_bytes())
    _record_path(evaluated).unlink()
    [line] = collect_records([artifacts], evaluated)
    assert line.startswith("skipped") and not _record_path(evaluated).exists()


def test_a_key_given_twice_is_refused_by_check_and_not_ranked(evaluated, tmp_path):
    path = _record_path(evaluated)
    text = path.read_text()
    forged = text.replace('\n "provenance": ', '\n "metrics": {"accuracy": 1.0, "f1_macro": 1.0},\n "provenance": ', 1)
    path.write_text(forged)
    assert ("metrics", "key appears twice in one object") in {(i.field, i.message) for i in check_board(evaluated)}
    assert not _ranked_on_site(evaluated, tmp_path)


def test_a_record_without_predictions_is_neither_checked_ok_nor_ranked(evaluated, tmp_path):
    _forge(evaluated, lambda doc: doc.pop("predictions"))
    assert any(i.field == "predictions" for i in check_board(evaluated))
    assert not _ranked_on_site(evaluated, tmp_path)


def test_a_record_at_another_batch_size_is_stale_everywhere(evaluated, tmp_path):
    import tomllib

    pyproject = evaluated.root / "pyproject.toml"
    settings = tomllib.loads(pyproject.read_text())["tool"]["ftbench"]
    assert "batch_size" not in settings  # the board's batch size is the default, 64
    pyproject.write_text(pyproject.read_text().replace("[tool.ftbench]\n", "[tool.ftbench]\nbatch_size = 32\n", 1))
    config = load_config(evaluated.root)
    assert any(i.field == "content_key" and "batch_size" in i.message for i in check_board(config))
    assert not _ranked_on_site(config, tmp_path)


def test_an_honest_record_proves_itself(evaluated):
    record = read_record(_record_path(evaluated), strict=True)
    task = load_tasks(evaluated.tasks_dir)["sst2"]
    gold = load_examples(task, evaluated.data_dir)
    assert audit_record(record, task, gold, "r", intervals=True) == []
    assert dumps(ResultRecord.model_validate_json(dumps(record))) == dumps(record)


def test_a_record_cannot_prove_itself_without_the_held_out_data(evaluated):
    record = read_record(_record_path(evaluated))
    task = load_tasks(evaluated.tasks_dir)["sst2"]
    [issue] = audit_record(record, task, None, "r")
    assert "held-out data of task 'sst2' is unavailable" in issue.message


REVIEWED = {
    # found by a review of the defences: each was ranked, or crashed check or build, before it was fixed
    "task data sha256 changed, key kept": (_set("task.data_sha256", "0" * 64), "task.data_sha256"),
    "NaN per-class score": (_set("per_class.positive.precision", float("nan")), "per_class.positive"),
    "huge label id": (lambda d: d["predictions"]["pred"].__setitem__(0, 2**70), "predictions.pred.0"),
    "negative bootstrap seed": (_set("intervals.seed", -1), "intervals.seed"),
    "two hundred thousand resamples": (_set("intervals.resamples", 200_000), "intervals.resamples"),
    "interval level 3": (_set("intervals.level", 3), "intervals.level"),
}


@pytest.mark.parametrize("name", sorted(REVIEWED))
def test_reviewed_forgeries_are_refused_without_a_crash(name, evaluated, tmp_path):
    change, field = REVIEWED[name]
    _forge(evaluated, change)
    errors = [i for i in check_board(evaluated) if i.severity == "error"]
    assert field in {i.field for i in errors}, errors
    assert not _ranked_on_site(evaluated, tmp_path)
